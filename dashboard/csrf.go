package dashboard

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"mime"
	"net/http"
)

// CSRF protection is a signed double submit: a random value in an HttpOnly cookie, and in every
// form a hidden field holding the HMAC of that value under a server key. A forged form from
// another site can neither read the cookie nor compute the MAC. The API, called with a bearer
// token, needs no CSRF token (a browser never sends that header on its own); called with the
// session cookie instead, it needs the same token in an X-CSRF-Token header. On top of both,
// net/http's CrossOriginProtection refuses cross-origin unsafe requests by their Fetch metadata.

const (
	csrfField  = "csrf"
	csrfHeader = "X-CSRF-Token"
)

// csrfToken returns the token for forms on the page being rendered, setting the cookie it is
// bound to when the request did not carry one.
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 32 {
		return s.keys.mac(s.keys.csrf, c.Value)
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	v := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{
		Name: csrfCookie, Value: v, Path: "/",
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
	// Later reads of r (a page rendering two forms) must see the same value.
	r.AddCookie(&http.Cookie{Name: csrfCookie, Value: v})
	return s.keys.mac(s.keys.csrf, v)
}

// validCSRF reports whether presented is the token bound to the request's CSRF cookie.
func (s *Server) validCSRF(r *http.Request, presented string) bool {
	c, err := r.Cookie(csrfCookie)
	if err != nil || len(c.Value) < 32 || presented == "" {
		return false
	}
	return hmac.Equal([]byte(presented), []byte(s.keys.mac(s.keys.csrf, c.Value)))
}

// requireFormCSRF guards a form POST: 403 unless its csrf field matches the cookie.
func (s *Server) requireFormCSRF(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if !s.validCSRF(r, r.PostFormValue(csrfField)) {
			s.renderError(w, r, http.StatusForbidden,
				"The form's CSRF token is missing or stale. Go back, reload the page and try again.")
			return
		}
		next(w, r)
	}
}

// requireAPIWrite guards an API call that changes something. With the bearer token it passes.
// With the session cookie it needs the X-CSRF-Token header. In every case the body must be
// JSON: a cross-site HTML form cannot send that content type without a CORS preflight, which
// this server never grants.
func (s *Server) requireAPIWrite(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if authFrom(r.Context()) == authSession && !s.validCSRF(r, r.Header.Get(csrfHeader)) {
			writeError(w, http.StatusForbidden, "missing or wrong "+csrfHeader+" header (needed when calling the API with the session cookie)")
			return
		}
		if r.ContentLength != 0 {
			mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if mt != "application/json" {
				writeError(w, http.StatusUnsupportedMediaType, "send the body as Content-Type: application/json")
				return
			}
		}
		next(w, r)
	}
}
