package httpx_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/httpx"
	"github.com/rebound-go/rebound/retry"
)

var fast = retry.Policy{MaxAttempts: 3, Base: time.Millisecond, Cap: 50 * time.Millisecond}

func client(t *testing.T, c httpx.Config) *http.Client {
	t.Helper()
	if c.Retry.MaxAttempts == 0 {
		c.Retry = fast
	}
	tr, err := httpx.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: tr}
}

// answering is a server that answers every request with status, and counts them; it closes
// when the test ends.
func answering(t *testing.T, status int) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestRetriesAndRewindsTheBody(t *testing.T) {
	var n atomic.Int32
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		if n.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "done")
	}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/doc", strings.NewReader("payload"))
	resp, err := client(t, httpx.Config{}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "done" || n.Load() != 3 {
		t.Errorf("%q after %d attempts", b, n.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	for _, body := range bodies {
		if body != "payload" {
			t.Errorf("bodies %q: not rewound", bodies)
		}
	}
}

// A failing answer the transport does not retry, or retries to the end, comes back to the
// caller as the server sent it, body and all.
func TestFailingResponseComesBack(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		header   [2]string // a header of the answer, if any
		body     string
		attempts int32
	}{
		{"not retried", http.StatusNotFound, [2]string{}, "no such thing", 1},
		{"the last of the retries", http.StatusTooManyRequests, [2]string{"retry-after-ms", "5"}, "busy", 3},
		{"x-should-retry false wins", http.StatusInternalServerError, [2]string{"x-should-retry", "false"}, "broken", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n.Add(1)
				if tt.header[0] != "" {
					w.Header().Set(tt.header[0], tt.header[1])
				}
				http.Error(w, tt.body, tt.status)
			}))
			defer srv.Close()
			resp, err := client(t, httpx.Config{}).Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.body) || n.Load() != tt.attempts {
				t.Errorf("%d %q after %d attempts, want %d %q after %d", resp.StatusCode, b, n.Load(), tt.status, tt.body, tt.attempts)
			}
		})
	}
}

func TestNonIdempotentNotRetried(t *testing.T) {
	srv, n := answering(t, http.StatusBadGateway)
	c := client(t, httpx.Config{})
	resp, err := c.Post(srv.URL, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n.Load() != 1 {
		t.Errorf("POST: %d attempts, want 1", n.Load())
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("x"))
	req.Header.Set("Idempotency-Key", "k1")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n.Load() != 4 {
		t.Errorf("POST with an Idempotency-Key: %d attempts in all, want 1+3", n.Load())
	}
}

func TestBreakerPerHost(t *testing.T) {
	srv, n := answering(t, http.StatusServiceUnavailable)
	c := client(t, httpx.Config{Retry: retry.Policy{MaxAttempts: 5, Base: time.Millisecond, Cap: time.Millisecond}})
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n.Load() != 5 {
		t.Fatalf("%d attempts", n.Load())
	}
	_, err = c.Get(srv.URL)
	if !errors.Is(err, rebound.ErrCircuitOpen) || n.Load() != 5 {
		t.Fatalf("err %v after %d attempts, want an open breaker", err, n.Load())
	}
}

// Retry stops the moment the host's breaker opens: no wait that would end at the open breaker.
func TestRetryStopsWhenBreakerOpens(t *testing.T) {
	srv, n := answering(t, http.StatusServiceUnavailable)
	var retries atomic.Int32
	c := client(t, httpx.Config{
		Retry: retry.Policy{MaxAttempts: 8, Base: time.Millisecond, Cap: time.Millisecond},
		Hook: func(_ context.Context, e rebound.Event) {
			if e.Kind == rebound.RetryScheduled {
				retries.Add(1)
			}
		},
	})
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n.Load() != 5 || retries.Load() != 4 || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("%d attempts, %d retries scheduled, status %d: want 5 attempts (the breaker opens), 4 retries, the last 503",
			n.Load(), retries.Load(), resp.StatusCode)
	}
}

func TestAttemptTimeout(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			<-r.Context().Done()
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	var failed []rebound.Class
	c := client(t, httpx.Config{AttemptTimeout: 500 * time.Millisecond, Hook: func(_ context.Context, e rebound.Event) {
		if e.Kind == rebound.AttemptFailed {
			failed = append(failed, e.Class)
		}
	}})
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok" || len(failed) != 1 || failed[0] != rebound.ClassTimeout {
		t.Errorf("%q, failures %v", b, failed)
	}
}

func TestTransportErrorRetried(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			panic(http.ErrAbortHandler)
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	resp, err := client(t, httpx.Config{}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n.Load() != 2 {
		t.Errorf("%d attempts", n.Load())
	}
}

func TestPaceFunc(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-ratelimit-remaining-requests", "7")
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	var keys []string
	var remaining []string
	c := client(t, httpx.Config{Pace: func(_ context.Context, key string, _ int) (func(http.Header, int), error) {
		keys = append(keys, key)
		return func(h http.Header, status int) {
			remaining = append(remaining, h.Get("x-ratelimit-remaining-requests"))
		}, nil
	}})
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(keys) != 1 || !strings.HasPrefix(keys[0], "http/127.0.0.1:") || len(remaining) != 1 || remaining[0] != "7" {
		t.Errorf("keys %v, reports %v", keys, remaining)
	}
}

// closeTracker is a request body that records whether it was closed.
type closeTracker struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeTracker) Close() error { c.closed.Store(true); return nil }

// A RoundTripper must close the request body even when it fails before sending it (here, the
// pacing refuses the request).
func TestBodyClosedWhenNotSent(t *testing.T) {
	refuse := errors.New("no turn")
	c := client(t, httpx.Config{Pace: func(context.Context, string, int) (func(http.Header, int), error) {
		return nil, refuse
	}})
	body := &closeTracker{Reader: strings.NewReader("payload")}
	req, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1:1/doc", body)
	if _, err := c.Do(req); err == nil {
		t.Fatal("sent")
	}
	if !body.closed.Load() {
		t.Error("request body not closed")
	}
}
