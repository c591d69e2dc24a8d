package dashboard

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Cookie names. Both cookies are Secure, HttpOnly and SameSite=Strict. Browsers keep Secure
// cookies set over plain HTTP only for loopback hosts (localhost, 127.0.0.1, ::1); anywhere else
// the dashboard must be reached over HTTPS (a TLS-terminating proxy in front of `rebound serve`)
// for the login to stick. The API's bearer header works either way.
const (
	sessionCookie = "rebound_session"
	csrfCookie    = "rebound_csrf"
)

// keys holds the secrets derived at construction. With a token, every key derives from it, so
// sessions and CSRF tokens survive a restart and die with a token change; without one, a random
// secret is drawn per process.
type keys struct {
	token   []byte // the configured token; empty: no authentication
	session []byte // HMAC key for session cookies
	csrf    []byte // HMAC key for CSRF tokens

	mu      sync.Mutex
	revoked map[string]int64 // session IDs signed out, to their expiry (unix seconds)
}

func deriveKey(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("rebound-dashboard/" + label))
	return m.Sum(nil)
}

// checkToken compares a presented token with the configured one in constant time.
func (k *keys) checkToken(presented string) bool {
	if len(k.token) == 0 || presented == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(presented), k.token) == 1
}

// newSession returns a new session's cookie value, valid until exp: "<unix seconds>.<id>.<mac>",
// with a random ID of its own, so that no two sign-ins share a cookie and signing out ends one
// session. The cookie never holds the token itself.
func (k *keys) newSession(exp time.Time) string {
	id := make([]byte, 16)
	_, _ = rand.Read(id) // crypto/rand.Read never fails (Go 1.24+)
	msg := strconv.FormatInt(exp.Unix(), 10) + "." + base64.RawURLEncoding.EncodeToString(id)
	return msg + "." + k.mac(k.session, msg)
}

// parseSession returns the ID and expiry of a session cookie this server issued, or ok false.
func (k *keys) parseSession(v string) (id string, exp int64, ok bool) {
	i := strings.LastIndexByte(v, '.')
	if i < 0 {
		return "", 0, false
	}
	msg, mac := v[:i], v[i+1:]
	e, id, found := strings.Cut(msg, ".")
	if !found || id == "" {
		return "", 0, false
	}
	sec, err := strconv.ParseInt(e, 10, 64)
	if err != nil || !hmac.Equal([]byte(mac), []byte(k.mac(k.session, msg))) {
		return "", 0, false
	}
	return id, sec, true
}

// checkSession reports whether v is a session this server issued that has not expired at now
// and was not signed out.
func (k *keys) checkSession(v string, now time.Time) bool {
	id, exp, ok := k.parseSession(v)
	if !ok || now.Unix() >= exp {
		return false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	_, out := k.revoked[id]
	return !out
}

// revoke ends the session of cookie v (signing out), if it is a live one; sessions signed out
// are forgotten once they would have expired anyway.
func (k *keys) revoke(v string, now time.Time) {
	id, exp, ok := k.parseSession(v)
	if !ok || now.Unix() >= exp {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.revoked == nil {
		k.revoked = map[string]int64{}
	}
	for rid, rexp := range k.revoked {
		if now.Unix() >= rexp {
			delete(k.revoked, rid)
		}
	}
	k.revoked[id] = exp
}

func (k *keys) mac(key []byte, msg string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// bearer returns the token of an "Authorization: Bearer X" header, or "".
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// authKind is how a request proved who it is.
type authKind int

const (
	authNone    authKind = iota // no valid credential
	authOpen                    // no token configured: everything is open
	authBearer                  // Authorization: Bearer <token>
	authSession                 // the session cookie from the login form
)

func (s *Server) authenticate(r *http.Request) authKind {
	if len(s.keys.token) == 0 {
		return authOpen
	}
	if s.keys.checkToken(bearer(r)) {
		return authBearer
	}
	if c, err := r.Cookie(sessionCookie); err == nil && s.keys.checkSession(c.Value, s.now()) {
		return authSession
	}
	return authNone
}

// requireAuth lets a request through when it carries the token (bearer header) or a valid
// session cookie. Otherwise an API call gets 401 with a JSON body and a page is redirected to
// the login form, which returns to the page after signing in.
func (s *Server) requireAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind := s.authenticate(r)
		if kind != authNone {
			next.ServeHTTP(w, r.WithContext(withAuth(r.Context(), kind)))
			return
		}
		switch {
		case isAPI(r) || r.URL.Path == "/metrics":
			w.Header().Set("WWW-Authenticate", `Bearer realm="rebound"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong token: send Authorization: Bearer <token>")
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			// A form sent after the session ended: say so rather than lose it silently.
			w.Header().Set("WWW-Authenticate", `Bearer realm="rebound"`)
			s.renderError(w, r, http.StatusUnauthorized, "Your sign-in has expired or this browser is not signed in. Sign in again, then send the form again.")
		default:
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		}
	})
}

// safeNext keeps a post-login redirect on this site: a local absolute path, never "//host".
// A path holding a backslash, a space or any control character is refused whole: browsers drop
// tabs and newlines from a Location and read a backslash as '/', so "/\t/evil.example" would leave.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	for _, c := range next {
		if c <= ' ' || c == 0x7f || c == '\\' || (c >= 0x80 && c <= 0x9f) {
			return "/"
		}
	}
	return next
}

func (s *Server) handleLoginForm(w http.ResponseWriter, r *http.Request) {
	if len(s.keys.token) == 0 || s.authenticate(r) != authNone {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "login", loginPage{Next: safeNext(r.URL.Query().Get("next")), PlainHTTP: insecureHost(r)})
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.PostFormValue("next"))
	if len(s.keys.token) == 0 {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	if !s.keys.checkToken(r.PostFormValue("token")) {
		s.render(w, r, http.StatusUnauthorized, "login", loginPage{Next: next, Failed: true, PlainHTTP: insecureHost(r)})
		return
	}
	exp := s.now().Add(s.cfg.SessionTTL)
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: s.keys.newSession(exp), Path: "/",
		Expires: exp, MaxAge: int(s.cfg.SessionTTL.Seconds()),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.keys.revoke(c.Value, s.now())
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
	dest := "/"
	if len(s.keys.token) > 0 {
		dest = "/login"
	}
	http.Redirect(w, r, dest, http.StatusSeeOther)
}

// insecureHost returns the request's host when it came over plain HTTP to a host that is not
// loopback (browsers keep Secure cookies over plain HTTP only for loopback hosts), or "".
func insecureHost(r *http.Request) string {
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		return ""
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return ""
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return ""
	}
	return r.Host
}

func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }
