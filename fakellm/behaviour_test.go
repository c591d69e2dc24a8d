package fakellm_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rebound-go/rebound/fakellm"
)

func newHandler(t testing.TB, script string) *fakellm.Handler {
	t.Helper()
	h, err := fakellm.New(script, fakellm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// do sends one request straight to the handler (no network), so that it can run in a synctest bubble.
func do(h http.Handler, openai bool, key, model, text string, stream bool) *httptest.ResponseRecorder {
	path := "/v1/messages"
	if openai {
		path = "/v1/chat/completions"
	}
	body := fmt.Sprintf(`{"model":%q,"max_tokens":500,"stream":%v,"messages":[{"role":"user","content":%q}]}`, model, stream, text)
	r := httptest.NewRequest("POST", path, strings.NewReader(body))
	if key != "" {
		r.Header.Set("Authorization", "Bearer "+key)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestSelectors(t *testing.T) {
	h := newHandler(t, `
error 500 req=2
error 502 contains=boom
error 503 times=2 model=claude-haiku-*
error 504 model-req=3 model=gpt-4o provider=openai
error 529 stream=true model=claude-opus-5-5
`)
	for i, tc := range []struct {
		openai bool
		model  string
		text   string
		stream bool
		want   int
	}{
		{false, "claude-sonnet-4-5", "hi", false, 200},      // 1
		{false, "claude-sonnet-4-5", "hi", false, 500},      // 2: req=2
		{false, "claude-sonnet-4-5", "go boom", false, 502}, // 3: contains
		{false, "claude-haiku-4-5", "hi", false, 503},       // 4: times 1 of 2
		{true, "gpt-4o", "hi", false, 200},                  // 5: gpt-4o #1
		{false, "claude-haiku-4-5", "hi", false, 503},       // 6: times 2 of 2
		{false, "claude-haiku-4-5", "hi", false, 200},       // 7: times used up
		{true, "gpt-4o", "hi", false, 200},                  // 8: gpt-4o #2
		{true, "gpt-4o", "hi", false, 504},                  // 9: gpt-4o #3
		{false, "claude-opus-5-5", "hi", false, 200},        // 10: not streaming
		{false, "claude-opus-5-5", "hi", true, 529},         // 11: streaming
	} {
		if got := do(h, tc.openai, "k", tc.model, tc.text, tc.stream).Code; got != tc.want {
			t.Errorf("request %d (%s %q): status %d, want %d", i+1, tc.model, tc.text, got, tc.want)
		}
	}
	c := h.Counters()
	if c.Requests != 11 || c.ByStatus["503"] != 2 || c.ByModel["gpt-4o"] != 3 || c.ByFault["line 4: error 503"] != 2 {
		t.Errorf("counters %+v", c)
	}
}

func TestProbabilityIsSeeded(t *testing.T) {
	pattern := func(script string) string {
		h := newHandler(t, script)
		var b strings.Builder
		for i := 0; i < 400; i++ {
			if do(h, false, "", "m", "hi", false).Code == 200 {
				b.WriteByte('.')
			} else {
				b.WriteByte('x')
			}
		}
		return b.String()
	}
	a := pattern("seed 1\nerror 500 p=0.25")
	if n := strings.Count(a, "x"); n < 60 || n > 140 {
		t.Errorf("%d of 400 failed at p=0.25", n)
	}
	if b := pattern("seed 1\nerror 500 p=0.25"); b != a {
		t.Error("same seed, different pattern")
	}
	if c := pattern("seed 2\nerror 500 p=0.25"); c == a {
		t.Error("different seed, same pattern")
	}
	if n := strings.Count(pattern("error 500 p=0"), "x"); n != 0 {
		t.Errorf("p=0 failed %d", n)
	}
	if n := strings.Count(pattern("error 500 p=1"), "."); n != 0 {
		t.Errorf("p=1 succeeded %d", n)
	}
}

func TestLatency(t *testing.T) {
	for _, tc := range []struct {
		script   string
		min, max time.Duration
	}{
		{"latency 200ms", 200 * time.Millisecond, 200 * time.Millisecond},
		{"latency 100ms\nlatency 50ms", 150 * time.Millisecond, 150 * time.Millisecond},
		{"latency 100ms..300ms", 100 * time.Millisecond, 300 * time.Millisecond},
		{"latency normal=100ms/10ms", 0, time.Second},
		{"latency exp=100ms", 0, time.Hour},
		{"latency 1s model=other", 0, 0},
	} {
		t.Run(tc.script, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHandler(t, tc.script)
				var total time.Duration
				for i := 0; i < 50; i++ {
					start := time.Now()
					if w := do(h, false, "", "m", "hi", false); w.Code != 200 {
						t.Fatalf("status %d", w.Code)
					}
					d := time.Since(start)
					total += d
					if d < tc.min || d > tc.max {
						t.Fatalf("latency %v outside [%v, %v]", d, tc.min, tc.max)
					}
				}
				if tc.script == "latency normal=100ms/10ms" || tc.script == "latency exp=100ms" {
					if mean := total / 50; mean < 60*time.Millisecond || mean > 160*time.Millisecond {
						t.Errorf("mean %v, want about 100ms", mean)
					}
				}
			})
		})
	}
}

func TestSlowStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHandler(t, "slow 10ms")
		start := time.Now()
		w := do(h, false, "", "m", "one two three", true)
		events := strings.Count(w.Body.String(), "event: ")
		if d := time.Since(start); d != time.Duration(events-1)*10*time.Millisecond {
			t.Errorf("%d events took %v", events, d)
		}
	})
}

func TestOutageWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHandler(t, "error 503 during=1s..2s")
		var got []int
		for i := 0; i < 5; i++ {
			got = append(got, do(h, true, "", "gpt-4o", "hi", false).Code)
			time.Sleep(500 * time.Millisecond)
		}
		if fmt.Sprint(got) != "[200 200 503 503 200]" {
			t.Errorf("statuses %v", got)
		}
	})
}

func TestRateLimitAnthropic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHandler(t, "limit rps=2 burst=2")
		var codes []int
		var remaining []string
		for i := 0; i < 3; i++ {
			w := do(h, false, "key-a", "m", "hi", false)
			codes = append(codes, w.Code)
			remaining = append(remaining, w.Header().Get("anthropic-ratelimit-requests-remaining"))
			if i == 2 {
				if w.Header().Get("retry-after") != "1" {
					t.Errorf("retry-after %q", w.Header().Get("retry-after"))
				}
				var body struct {
					Type  string
					Error struct{ Type, Message string }
				}
				json.Unmarshal(w.Body.Bytes(), &body)
				if body.Type != "error" || body.Error.Type != "rate_limit_error" {
					t.Errorf("body %s", w.Body)
				}
				reset, err := time.Parse(time.RFC3339, w.Header().Get("anthropic-ratelimit-requests-reset"))
				if err != nil || reset.Before(time.Now()) || reset.After(time.Now().Add(2*time.Second)) {
					t.Errorf("reset %q (%v)", w.Header().Get("anthropic-ratelimit-requests-reset"), err)
				}
			}
		}
		if fmt.Sprint(codes) != "[200 200 429]" || fmt.Sprint(remaining) != "[1 0 0]" {
			t.Errorf("codes %v remaining %v", codes, remaining)
		}
		// Another key has its own bucket.
		if w := do(h, false, "key-b", "m", "hi", false); w.Code != 200 {
			t.Errorf("other key: %d", w.Code)
		}
		time.Sleep(500 * time.Millisecond)
		if w := do(h, false, "key-a", "m", "hi", false); w.Code != 200 {
			t.Errorf("after refill: %d", w.Code)
		}
		if c := h.Counters(); c.ByFault["rate-limit"] != 1 {
			t.Errorf("counters %+v", c)
		}
	})
}

func TestRateLimitOpenAI(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHandler(t, "limit rpm=60 tpm=600")
		w := do(h, true, "k", "gpt-4o", "hi", false)
		if w.Code != 200 || w.Header().Get("x-ratelimit-remaining-requests") != "59" || w.Header().Get("x-ratelimit-reset-requests") != "1s" {
			t.Fatalf("%d remaining %q reset %q", w.Code, w.Header().Get("x-ratelimit-remaining-requests"), w.Header().Get("x-ratelimit-reset-requests"))
		}
		tok, _ := strconv.Atoi(w.Header().Get("x-ratelimit-remaining-tokens"))
		if tok <= 0 || tok >= 600 {
			t.Errorf("remaining tokens %d", tok)
		}
		if _, err := time.ParseDuration(w.Header().Get("x-ratelimit-reset-tokens")); err != nil {
			t.Error(err)
		}
		// A prompt bigger than the whole token bucket: 429 that waiting cannot fix, no retry-after.
		w = do(h, true, "k", "gpt-4o", strings.Repeat("word ", 1000), false)
		var body struct {
			Error struct{ Type, Code, Message string }
		}
		json.Unmarshal(w.Body.Bytes(), &body)
		if w.Code != 429 || body.Error.Type != "tokens" || body.Error.Code != "rate_limit_exceeded" || !strings.HasPrefix(body.Error.Message, "Request too large") || w.Header().Get("retry-after") != "" {
			t.Errorf("%d %s retry-after %q", w.Code, w.Body, w.Header().Get("retry-after"))
		}
		// Exhaust the request bucket.
		h2 := newHandler(t, "limit rps=1")
		do(h2, true, "k", "gpt-4o", "hi", false)
		w = do(h2, true, "k", "gpt-4o", "hi", false)
		json.Unmarshal(w.Body.Bytes(), &body)
		if w.Code != 429 || body.Error.Type != "requests" || w.Header().Get("retry-after") != "1" || w.Header().Get("x-ratelimit-remaining-requests") != "0" {
			t.Errorf("%d %s", w.Code, w.Body)
		}
	})
}

func TestRequireKey(t *testing.T) {
	h, err := fakellm.New("", fakellm.Options{RequireKey: true})
	if err != nil {
		t.Fatal(err)
	}
	if w := do(h, false, "", "m", "hi", false); w.Code != 401 || !strings.Contains(w.Body.String(), "authentication_error") {
		t.Errorf("%d %s", w.Code, w.Body)
	}
	if w := do(h, false, "k", "m", "hi", false); w.Code != 200 {
		t.Errorf("%d %s", w.Code, w.Body)
	}
}

func TestBadRequests(t *testing.T) {
	h := newHandler(t, "")
	for _, tc := range []struct{ path, body, want string }{
		{"/v1/messages", `{`, "not valid JSON"},
		{"/v1/messages", `{"model":"m","messages":[{"role":"user","content":"x"}]}`, "max_tokens: Field required"},
		{"/v1/messages", `{"max_tokens":5,"messages":[{"role":"user","content":"x"}]}`, "model: Field required"},
		{"/v1/chat/completions", `{"model":"m"}`, "Missing required parameter: 'messages'."},
		{"/v1/messages", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":5}]}`, "neither a string"},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("POST", tc.path, strings.NewReader(tc.body)))
		if w.Code != 400 || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("%s %s: %d %s", tc.path, tc.body, w.Code, w.Body)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/v1/messages", nil))
	if w.Code != 405 {
		t.Errorf("GET: %d", w.Code)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/v1/embeddings", strings.NewReader("{}")))
	if w.Code != 404 || !strings.Contains(w.Body.String(), `"error":{`) {
		t.Errorf("unknown path: %d %s", w.Code, w.Body)
	}
}

func TestControlPlane(t *testing.T) {
	srv := fakellm.NewServer(t, "")
	call := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := call("PUT", "/_fakellm/script", "error 529\nexplode now"); code != 400 || !strings.Contains(body, `"line": 2`) && !strings.Contains(body, `"line":2`) {
		t.Errorf("bad script: %d %s", code, body)
	}
	if code, _ := call("PUT", "/_fakellm/script", "error 529 req=1"); code != 204 {
		t.Errorf("put script: %d", code)
	}
	if _, body := call("GET", "/_fakellm/script", ""); body != "error 529 req=1" {
		t.Errorf("script %q", body)
	}
	const key = "sk-ant-very-secret-key"
	for i := 0; i < 2; i++ {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/messages", strings.NewReader(`{"model":"claude-x","max_tokens":9,"messages":[{"role":"user","content":"step one please"}]}`))
		req.Header.Set("x-api-key", key)
		req.Header.Set("X-Stainless-Retry-Count", strconv.Itoa(i))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	_, body := call("GET", "/_fakellm/counters", "")
	var c fakellm.Counters
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		t.Fatal(err)
	}
	if c.Requests != 2 || c.ByStatus["529"] != 1 || c.ByStatus["200"] != 1 || c.ByModel["claude-x"] != 2 || c.ByFault["line 1: error 529"] != 1 {
		t.Errorf("counters %s", body)
	}
	_, body = call("GET", "/_fakellm/requests", "")
	if strings.Contains(body, key) || strings.Contains(body, "very-secret") {
		t.Fatal("request log holds the key")
	}
	var log []fakellm.RequestRecord
	if err := json.Unmarshal([]byte(body), &log); err != nil {
		t.Fatal(err)
	}
	if len(log) != 2 || log[0].RetryCount != "0" || log[1].RetryCount != "1" || !log[0].HasKey || log[0].AuthHeader != "x-api-key" ||
		log[0].Status != 529 || log[1].Prompt != "step one please" || log[0].Seq != 1 {
		t.Errorf("log %s", body)
	}
	if code, _ := call("POST", "/_fakellm/reset", ""); code != 204 {
		t.Errorf("reset: %d", code)
	}
	if srv.Counters().Requests != 0 || len(srv.Requests()) != 0 {
		t.Error("reset kept counters")
	}
}

func TestRequestLogIsBounded(t *testing.T) {
	h, _ := fakellm.New("", fakellm.Options{LogSize: 3})
	for i := 0; i < 10; i++ {
		do(h, false, "", "m", fmt.Sprint("request ", i), false)
	}
	log := h.Requests()
	if len(log) != 3 || log[0].Prompt != "request 7" || log[2].Prompt != "request 9" {
		t.Errorf("log %+v", log)
	}
}

// TestCloseReleasesHang: closing the server drops a hanging request's connection rather than
// answering it (an empty 200 would look like a reply).
func TestCloseReleasesHang(t *testing.T) {
	srv := fakellm.NewServer(t, "hang")
	errc := make(chan error, 1)
	go func() {
		body := `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`
		res, err := http.Post(srv.URL+"/v1/messages", "application/json", strings.NewReader(body))
		if err == nil {
			res.Body.Close()
			err = fmt.Errorf("answered with status %d", res.StatusCode)
		}
		errc <- err
	}()
	// Wait for the request to reach the handler: bounded, and failing at once if the request
	// ends before it gets there.
	deadline := time.After(10 * time.Second)
	for srv.Counters().InFlight == 0 {
		select {
		case err := <-errc:
			t.Fatalf("the request ended before it reached the server: %v", err)
		case <-deadline:
			t.Fatal("the request did not reach the server within 10s")
		case <-time.After(time.Millisecond):
		}
	}
	srv.Close()
	if err := <-errc; err == nil || strings.Contains(err.Error(), "answered") {
		t.Fatalf("err %v, want a dropped connection", err)
	}
	if c := srv.Counters(); c.InFlight != 0 || c.ByStatus["0"] != 1 {
		t.Errorf("counters %+v", c)
	}
}

// TestStreamOnlyKinds: a stream fault never consumes its count on a non-streaming request.
func TestStreamOnlyKinds(t *testing.T) {
	h := newHandler(t, "stream-error times=1\ntruncate times=1 after=1")
	if w := do(h, false, "", "m", "hi", false); w.Code != 200 || !strings.Contains(w.Body.String(), `"stop_reason":"end_turn"`) {
		t.Fatalf("non-streaming: %d %s", w.Code, w.Body)
	}
	if w := do(h, false, "", "m", "hi", true); !strings.Contains(w.Body.String(), "event: error") {
		t.Errorf("first stream: %s", w.Body)
	}
	if w := do(h, false, "", "m", "hi", true); strings.Count(w.Body.String(), "event: ") != 1 {
		t.Errorf("second stream: %s", w.Body)
	}
	if w := do(h, false, "", "m", "hi", true); !strings.Contains(w.Body.String(), "event: message_stop") {
		t.Errorf("third stream: %s", w.Body)
	}
}
