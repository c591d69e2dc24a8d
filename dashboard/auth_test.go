package dashboard_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rebound-go/rebound/escalate"
)

const testToken = "s3cret-token-0123456789"

func TestTokenGuardsEverything(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{token: testToken})
	id := b.escalatedRun(t, "run-1")

	pages := []string{"/", "/escalations", "/escalations/" + id, "/runs", "/runs/run-1", "/breakers", "/nowhere"}
	apis := []string{"/api/v1/escalations", "/api/v1/escalations/stats", "/api/v1/escalations/" + id,
		"/api/v1/escalations/" + id + "/audit", "/api/v1/runs", "/api/v1/runs/run-1", "/api/v1/breakers", "/api/v1/nothing"}

	t.Run("PagesRedirectToLogin", func(t *testing.T) {
		for _, p := range pages {
			rec := b.get(t, p)
			wantStatus(t, rec, http.StatusSeeOther)
			if loc := rec.Header().Get("Location"); loc != "/login?next="+url.QueryEscape(p) {
				t.Errorf("%s: Location = %q", p, loc)
			}
			wantNoBody(t, rec, "Research topic", "irreversible_action")
		}
	})
	t.Run("APIWithoutToken", func(t *testing.T) {
		for _, p := range apis {
			rec := b.get(t, p)
			wantAPIError(t, rec, http.StatusUnauthorized, "token")
			if rec.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("%s: no WWW-Authenticate", p)
			}
		}
		for _, op := range []string{"claim", "resolve", "dismiss", "reopen"} {
			rec := b.api(t, "POST", "/api/v1/escalations/"+id+"/"+op, `{"by":"eve","action":"approve"}`,
				func(r *http.Request) { r.Header.Del("Authorization") })
			wantAPIError(t, rec, http.StatusUnauthorized, "token")
		}
	})
	t.Run("APIWrongToken", func(t *testing.T) {
		for _, tok := range []string{"wrong", testToken + "x", strings.ToUpper(testToken), ""} {
			for _, p := range apis {
				wantAPIError(t, b.get(t, p, withBearer(tok)), http.StatusUnauthorized, "token")
			}
		}
		rec := b.get(t, "/api/v1/escalations", func(r *http.Request) { r.Header.Set("Authorization", "Basic "+testToken) })
		wantAPIError(t, rec, http.StatusUnauthorized, "token")
	})
	t.Run("APIWithToken", func(t *testing.T) {
		for _, p := range apis[:7] {
			if rec := b.get(t, p, withBearer(testToken)); rec.Code != http.StatusOK {
				t.Errorf("%s: status %d", p, rec.Code)
			}
		}
		it := decode[escalate.Item](t, b.api(t, "POST", "/api/v1/escalations/"+id+"/claim", `{"by":"api"}`))
		if it.ClaimedBy != "api" {
			t.Fatalf("claim with token: %+v", it)
		}
	})
	t.Run("PagesWithBearer", func(t *testing.T) {
		wantStatus(t, b.get(t, "/escalations", withBearer(testToken)), http.StatusOK)
	})
	t.Run("FormPostsWithoutSession", func(t *testing.T) {
		var s formSession
		b.open(t, &s, "/login")
		rec := b.post(t, &s, "/escalations/"+id+"/resolve", url.Values{"csrf": {s.csrf}, "by": {"eve"}, "action": {"approve"}})
		wantStatus(t, rec, http.StatusUnauthorized)
		wantBody(t, rec, "Sign in again", `href="/login"`)
	})
	t.Run("HealthzOpen", func(t *testing.T) {
		rec := b.get(t, "/healthz")
		wantStatus(t, rec, http.StatusOK)
		wantBody(t, rec, "ok")
	})
	t.Run("MetricsNeedToken", func(t *testing.T) {
		wantStatus(t, b.get(t, "/metrics"), http.StatusUnauthorized)
		wantStatus(t, b.get(t, "/metrics", withBearer("nope")), http.StatusUnauthorized)
		rec := b.get(t, "/metrics", withBearer(testToken))
		wantStatus(t, rec, http.StatusOK)
		wantBody(t, rec, "rebound_up 1")
	})
	t.Run("StaticOpen", func(t *testing.T) {
		wantStatus(t, b.get(t, "/static/style.css"), http.StatusOK)
	})
}

func TestWithoutTokenMetricsOpen(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	wantStatus(t, b.get(t, "/metrics"), http.StatusOK)
	wantStatus(t, b.get(t, "/healthz"), http.StatusOK)
	// The login form has nothing to do without a token.
	wantStatus(t, b.get(t, "/login"), http.StatusSeeOther)
}

func TestLogin(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	now.Store(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC).Unix())
	clock := func() time.Time { return time.Unix(now.Load(), 0) }
	b := setup(t, setupOpts{token: testToken, now: clock})
	id := b.escalatedRun(t, "run-1")

	var s formSession
	rec := b.open(t, &s, "/login?next="+url.QueryEscape("/escalations/"+id))
	wantStatus(t, rec, http.StatusOK)
	wantBody(t, rec, `type="password"`, `name="next" value="/escalations/`+id+`"`)
	wantNoBody(t, rec, testToken)

	t.Run("PlainHTTPOffLoopback", func(t *testing.T) {
		// Browsers drop Secure cookies over plain HTTP off loopback: the login page says so
		// there, and only there.
		for host, warn := range map[string]bool{
			"dash.example.com:8080": true, "10.0.0.5:8080": true,
			"127.0.0.1:8080": false, "localhost:8080": false, "[::1]:8080": false,
		} {
			req := httptest.NewRequest("GET", "/login", nil)
			req.Host = host
			rec := b.do(t, req)
			wantStatus(t, rec, http.StatusOK)
			if got := strings.Contains(rec.Body.String(), "came over plain HTTP"); got != warn {
				t.Errorf("host %s: warning shown = %v, want %v", host, got, warn)
			}
		}
		req := httptest.NewRequest("GET", "/login", nil)
		req.Host = "dash.example.com"
		req.Header.Set("X-Forwarded-Proto", "https")
		if strings.Contains(b.do(t, req).Body.String(), "came over plain HTTP") {
			t.Error("warned behind a TLS proxy")
		}
	})
	t.Run("WrongToken", func(t *testing.T) {
		rec := b.post(t, &s, "/login", url.Values{"csrf": {s.csrf}, "token": {"guess"}, "next": {"/"}})
		wantStatus(t, rec, http.StatusUnauthorized)
		wantBody(t, rec, "not the one")
		wantNoBody(t, rec, "guess", testToken)
		if _, ok := s.cookies["rebound_session"]; ok {
			t.Fatal("a wrong token got a session")
		}
	})
	t.Run("MissingCSRF", func(t *testing.T) {
		rec := b.post(t, &s, "/login", url.Values{"token": {testToken}})
		wantStatus(t, rec, http.StatusForbidden)
	})

	rec = b.post(t, &s, "/login", url.Values{"csrf": {s.csrf}, "token": {testToken}, "next": {"/escalations/" + id}})
	wantStatus(t, rec, http.StatusSeeOther)
	if loc := rec.Header().Get("Location"); loc != "/escalations/"+id {
		t.Errorf("after login Location = %q", loc)
	}
	var session *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == "rebound_session" {
			session = c
		}
	}
	if session == nil || !session.Secure || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != "/" {
		t.Fatalf("session cookie = %+v, want Secure, HttpOnly, SameSite=Strict, Path=/", session)
	}
	if strings.Contains(session.Value, testToken) {
		t.Fatal("the session cookie holds the token")
	}

	t.Run("SessionOpensPagesAndForms", func(t *testing.T) {
		rec := b.open(t, &s, "/escalations/"+id)
		wantStatus(t, rec, http.StatusOK)
		wantBody(t, rec, "Sign out")
		wantNoBody(t, rec, testToken)
		rec = b.post(t, &s, "/escalations/"+id+"/claim", url.Values{"csrf": {s.csrf}, "by": {"alice"}})
		wantStatus(t, rec, http.StatusSeeOther)
	})
	t.Run("SessionAPIReadsNeedNoHeader", func(t *testing.T) {
		rec := b.get(t, "/api/v1/escalations", withCookies(s.list()...))
		wantStatus(t, rec, http.StatusOK)
	})
	t.Run("SessionAPIWritesNeedCSRFHeader", func(t *testing.T) {
		noBearer := func(r *http.Request) {
			r.Header.Del("Authorization")
			for _, c := range s.list() {
				r.AddCookie(c)
			}
		}
		rec := b.api(t, "POST", "/api/v1/escalations/"+id+"/claim", `{"by":"alice"}`, noBearer)
		wantAPIError(t, rec, http.StatusForbidden, "X-CSRF-Token")
		rec = b.api(t, "POST", "/api/v1/escalations/"+id+"/claim", `{"by":"alice"}`, noBearer,
			func(r *http.Request) { r.Header.Set("X-CSRF-Token", "forged") })
		wantAPIError(t, rec, http.StatusForbidden, "X-CSRF-Token")
		rec = b.api(t, "POST", "/api/v1/escalations/"+id+"/claim", `{"by":"alice"}`, noBearer,
			func(r *http.Request) { r.Header.Set("X-CSRF-Token", s.csrf) })
		wantStatus(t, rec, http.StatusOK)
	})
	t.Run("TamperedSession", func(t *testing.T) {
		bad := *session
		bad.Value = "99999999999." + strings.SplitN(session.Value, ".", 2)[1]
		rec := b.get(t, "/escalations", withCookies(&bad))
		wantStatus(t, rec, http.StatusSeeOther)
	})
	t.Run("ExpiredSession", func(t *testing.T) {
		now.Add(int64((13 * time.Hour).Seconds()))
		defer now.Add(-int64((13 * time.Hour).Seconds()))
		rec := b.get(t, "/escalations", withCookies(session))
		wantStatus(t, rec, http.StatusSeeOther)
	})
	t.Run("AnotherServersSession", func(t *testing.T) {
		other := setup(t, setupOpts{token: "another-token", now: clock})
		rec := other.get(t, "/escalations", withCookies(session))
		wantStatus(t, rec, http.StatusSeeOther)
	})
	t.Run("Logout", func(t *testing.T) {
		rec := b.post(t, &s, "/logout", url.Values{"csrf": {s.csrf}})
		wantStatus(t, rec, http.StatusSeeOther)
		if _, ok := s.cookies["rebound_session"]; ok {
			t.Fatal("logout kept the session cookie")
		}
		wantStatus(t, b.get(t, "/escalations", withCookies(s.list()...)), http.StatusSeeOther)
		// The cookie signed out with, replayed, no longer opens anything.
		wantStatus(t, b.get(t, "/escalations", withCookies(session)), http.StatusSeeOther)
		wantStatus(t, b.get(t, "/api/v1/escalations", withCookies(session)), http.StatusUnauthorized)
	})
}

// TestSessionsAreUniqueAndRevocable: two sign-ins at the same instant get different cookies,
// and signing out one leaves the other signed in.
func TestSessionsAreUniqueAndRevocable(t *testing.T) {
	t.Parallel()
	at := time.Unix(1_900_000_000, 0)
	b := setup(t, setupOpts{token: testToken, now: func() time.Time { return at }})
	login := func() (*formSession, *http.Cookie) {
		s := &formSession{}
		b.open(t, s, "/login")
		rec := b.post(t, s, "/login", url.Values{"csrf": {s.csrf}, "token": {testToken}, "next": {"/"}})
		wantStatus(t, rec, http.StatusSeeOther)
		c := s.cookies["rebound_session"]
		if c == nil {
			t.Fatal("no session cookie")
		}
		return s, c
	}
	s1, c1 := login()
	_, c2 := login()
	if c1.Value == c2.Value {
		t.Fatalf("two sign-ins in the same second got the same cookie %q", c1.Value)
	}
	b.open(t, s1, "/escalations")
	wantStatus(t, b.post(t, s1, "/logout", url.Values{"csrf": {s1.csrf}}), http.StatusSeeOther)
	wantStatus(t, b.get(t, "/escalations", withCookies(c1)), http.StatusSeeOther)
	wantStatus(t, b.get(t, "/escalations", withCookies(c2)), http.StatusOK)
}

// TestNoTokenServesLoopbackHostsOnly: without a token the dashboard answers loopback names
// only, so that a page whose name was rebound to 127.0.0.1 cannot read a form's CSRF token and
// approve an irreversible step; /healthz stays open.
func TestNoTokenServesLoopbackHostsOnly(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	id := b.escalatedRun(t, "run-1")
	for host, ok := range map[string]bool{
		"localhost:8080": true, "127.0.0.1:8080": true, "[::1]:8080": true, "app.localhost": true, "127.0.0.2": true,
		"evil.example:8080": false, "evil.example": false, "10.0.0.5:8080": false, "localhost.evil.example": false,
	} {
		for _, path := range []string{"/escalations/" + id, "/api/v1/escalations"} {
			req := httptest.NewRequest("GET", path, nil)
			req.Host = host
			req.Header.Set("Origin", "http://"+host)
			rec := b.do(t, req)
			if got := rec.Code != http.StatusMisdirectedRequest; got != ok {
				t.Errorf("Host %s, %s: status %d, want served = %v", host, path, rec.Code, ok)
			}
			if !ok && strings.Contains(rec.Body.String(), `name="csrf"`) {
				t.Errorf("Host %s read a CSRF token", host)
			}
		}
	}
	req := httptest.NewRequest("GET", "/healthz", nil)
	req.Host = "10.0.0.5:8080"
	wantStatus(t, b.do(t, req), http.StatusOK)

	// With a token, any Host is served (the token guards it).
	tb := setup(t, setupOpts{token: testToken})
	req = httptest.NewRequest("GET", "/api/v1/escalations", nil)
	req.Host = "dash.example.com"
	req.Header.Set("Authorization", "Bearer "+testToken)
	wantStatus(t, tb.do(t, req), http.StatusOK)
}

func TestLoginNextStaysOnSite(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{token: testToken})
	for _, next := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "",
		"/\t/evil.example", "/\n/evil.example", "/\r//evil.example", "/x\\..\\/evil.example", "/ /evil.example", "/\x7f/evil.example"} {
		var s formSession
		b.open(t, &s, "/login")
		rec := b.post(t, &s, "/login", url.Values{"csrf": {s.csrf}, "token": {testToken}, "next": {next}})
		wantStatus(t, rec, http.StatusSeeOther)
		if loc := rec.Header().Get("Location"); loc != "/" {
			t.Errorf("next %q: Location = %q, want /", next, loc)
		}
	}
}
