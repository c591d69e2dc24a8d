package dashboard

import (
	"strings"
	"testing"
	"time"
)

// FuzzSafeNext: whatever the login form's next field holds, the redirect stays on this site.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/escalations/esc_1?x=1", "//evil.example", "/\\evil", "https://evil.example", "", "/\r\nSet-Cookie: x", "/\t/evil.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		// Browsers drop tabs and newlines from a URL and read '\\' as '/': no control
		// character, blank or backslash may stay.
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") ||
			strings.ContainsFunc(got, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '\\' || (r >= 0x80 && r <= 0x9f) }) {
			t.Fatalf("safeNext(%q) = %q, which may leave the site", next, got)
		}
		if got != "/" && got != next {
			t.Fatalf("safeNext(%q) = %q: a kept path must be kept as it is", next, got)
		}
	})
}

// FuzzSessionCookie: only a cookie this server issued, unexpired and not signed out, opens a
// session; every sign-in gets a cookie of its own.
func FuzzSessionCookie(f *testing.F) {
	f.Add("1893456000.abc", "token")
	f.Add("", "t")
	f.Add("99999999999999999999.x", "token")
	f.Add("1893456000.", "")
	f.Add("1893456000.id.mac", "token")
	f.Fuzz(func(t *testing.T, cookie, token string) {
		if token == "" {
			token = "x"
		}
		k := keys{token: []byte(token), session: deriveKey([]byte(token), "session")}
		now := time.Unix(1_800_000_000, 0)
		if k.checkSession(cookie, now) {
			t.Fatalf("forged session %q accepted", cookie)
		}
		issued := k.newSession(now.Add(time.Hour))
		if !k.checkSession(issued, now) {
			t.Fatalf("issued session %q refused", issued)
		}
		if k.checkSession(issued, now.Add(2*time.Hour)) {
			t.Fatalf("expired session %q accepted", issued)
		}
		other := k.newSession(now.Add(time.Hour))
		if other == issued {
			t.Fatalf("two sessions share the cookie %q", issued)
		}
		k.revoke(issued, now)
		if k.checkSession(issued, now) || !k.checkSession(other, now) {
			t.Fatalf("after signing out %q: it is accepted %v, the other %v", issued, k.checkSession(issued, now), k.checkSession(other, now))
		}
	})
}

// FuzzFilters: the query parameters of the lists are parsed or refused, never misread.
func FuzzFilters(f *testing.F) {
	f.Add("open,claimed", "running", "10", "0")
	f.Add("waiting", "escalated,failed", "", "5")
	f.Add("bogus", "all", "-1", "x")
	f.Fuzz(func(t *testing.T, status, runStatus, limit, offset string) {
		if ss, err := parseStatusFilter(status); err == nil {
			for _, s := range ss {
				switch s {
				case "open", "claimed", "resolved", "dismissed":
				default:
					t.Fatalf("parseStatusFilter(%q) kept %q", status, s)
				}
			}
		}
		f, err := parseRunFilter(map[string][]string{"status": {runStatus}, "limit": {limit}, "offset": {offset}})
		if err == nil && (f.Limit <= 0 || f.Limit > 10000 || f.Offset < 0 || f.Offset > 10000) {
			t.Fatalf("parseRunFilter(%q, %q, %q) = %+v", runStatus, limit, offset, f)
		}
	})
}
