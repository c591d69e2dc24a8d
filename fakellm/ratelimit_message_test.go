package fakellm_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/rebound-go/rebound/fakellm"
)

func postLimited(t *testing.T, url, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", "k")
	req.Header.Set("Authorization", "Bearer k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

const (
	anthBody = `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`
	oaiBody  = `{"model":"m","messages":[{"role":"user","content":"hi"}]}`
)

// TestRateLimitMessagesSayTheUnit: a limit given per second is refused "per second", one given
// per minute "per minute", on both APIs.
func TestRateLimitMessagesSayTheUnit(t *testing.T) {
	for _, c := range []struct{ script, path, body, want string }{
		{"limit rps=1 burst=1", "/v1/messages", anthBody, "rate limit of 1 requests per second"},
		{"limit rpm=2", "/v1/messages", anthBody, "rate limit of 2 requests per minute"},
		{"limit rps=1 burst=1", "/v1/chat/completions", oaiBody, "on requests per sec (RPS): Limit 1"},
		{"limit rpm=2", "/v1/chat/completions", oaiBody, "on requests per min (RPM): Limit 2"},
	} {
		srv := fakellm.NewServer(t, c.script)
		var last string
		for range 3 {
			_, last = postLimited(t, srv.URL+c.path, c.body)
		}
		if !strings.Contains(last, c.want) {
			t.Errorf("%s on %s: refusal %s, want %q", c.script, c.path, last, c.want)
		}
	}
}

// TestHeadersOfRefusedRequests: what docs/fakellm.md says of the headers: answers to
// well-formed API requests carry the rate-limit headers; a malformed request (400) and an
// unknown path (404) carry the request id only.
func TestHeadersOfRefusedRequests(t *testing.T) {
	srv := fakellm.NewServer(t, "")
	ok, _ := postLimited(t, srv.URL+"/v1/messages", anthBody)
	if ok.Header.Get("Request-Id") == "" || ok.Header.Get("Anthropic-Ratelimit-Requests-Limit") == "" {
		t.Errorf("200: headers %v", ok.Header)
	}
	bad, _ := postLimited(t, srv.URL+"/v1/messages", `{bad`)
	if bad.StatusCode != 400 || bad.Header.Get("Request-Id") == "" || bad.Header.Get("Anthropic-Ratelimit-Requests-Limit") != "" {
		t.Errorf("400: %d, headers %v", bad.StatusCode, bad.Header)
	}
	none, _ := postLimited(t, srv.URL+"/v1/nope", `{}`)
	if none.StatusCode != 404 || none.Header.Get("X-Request-Id") == "" || none.Header.Get("X-Ratelimit-Limit-Requests") != "" {
		t.Errorf("404: %d, headers %v", none.StatusCode, none.Header)
	}
}
