package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rebound-go/rebound/gateway"
)

func redisURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("TEST_REDIS_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TEST_REDIS_URL is not set (CI=true: a missing service fails)")
		}
		t.Skip("TEST_REDIS_URL is not set")
	}
	return u
}

func post(t *testing.T, base, path, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
	req.Header.Set("x-api-key", clientKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func health(t *testing.T, base string) gateway.Health {
	t.Helper()
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h gateway.Health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	return h
}

// Two replicas behind one Redis: the outage both saw opens the breaker of a replica that saw
// too little of it to open its own, and its next request skips the dead model.
func TestReplicasShareBreakerEvidence(t *testing.T) {
	u := redisURL(t)
	// Local breakers slow to open on their own (50 failures in a row), so that only the fleet's
	// evidence can open B's.
	cfg := baseConfig + "  breaker: {consecutive_failures: 50, min_calls: 40}\n" +
		fmt.Sprintf("redis: %s\nredis_prefix: gwtest-%d\n", u, time.Now().UnixNano())
	a := newRig(t, "error 503 model=claude-a\n", cfg)
	b := newRig(t, "error 503 model=claude-a\n", cfg)
	if h := health(t, a.srv.URL); h.Redis != "up" || h.State != "shared" {
		t.Fatalf("healthz %+v: want redis up, shared", h)
	}
	body := `{"model":"claude-a","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`
	for range 8 {
		post(t, a.srv.URL, "/v1/messages", body) // 16 failures on claude-a, then claude-b answers
	}
	post(t, b.srv.URL, "/v1/messages", body) // B's own: 2 failures, its breaker closed
	start := time.Now()
	deadline := start.Add(3 * time.Second)
	for {
		resp := post(t, b.srv.URL, "/v1/messages", body)
		if f := resp.Header.Get(gateway.HeaderFailures); f == "ant/claude-a circuit_open" {
			if resp.Header.Get(gateway.HeaderModel) != "claude-b" {
				t.Errorf("answered by %q", resp.Header.Get(gateway.HeaderModel))
			}
			if n := b.fake.Counters().ByModel["claude-a"]; n >= 50 {
				t.Errorf("replica B sent %d requests to claude-a before skipping it: its own breaker opened, not the fleet's evidence", n)
			}
			t.Logf("B skipped claude-a %s after its own first failures, having sent it %d requests", time.Since(start).Round(time.Millisecond), b.fake.Counters().ByModel["claude-a"])
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("replica B still sends to claude-a (failures %q): the fleet's evidence did not reach it", f)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Two replicas behind one Redis, the default breakers (5 failures in a row): once replica A's
// breaker has opened on the outage, replica B pays one upstream attempt, not its own five
// failures: A's open breaker makes the model suspect, and B's first failure trips its breaker
// (the retry stops there); its next request goes straight to the fallback.
func TestReplicaHonoursPeersOpenBreaker(t *testing.T) {
	u := redisURL(t)
	cfg := baseConfig + fmt.Sprintf("redis: %s\nredis_prefix: gwtest-peer-%d\n", u, time.Now().UnixNano())
	a := newRig(t, "error 529 model=claude-a\n", cfg)
	b := newRig(t, "error 529 model=claude-a\n", cfg)
	body := `{"model":"claude-a","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`
	for i := 0; ; i++ {
		if i == 10 {
			t.Fatalf("replica A's breaker for claude-a did not open in 10 requests (%d sent)", a.fake.Counters().ByModel["claude-a"])
		}
		if resp := post(t, a.srv.URL, "/v1/messages", body); resp.Header.Get(gateway.HeaderFailures) == "ant/claude-a circuit_open" {
			break
		}
	}
	resp := post(t, b.srv.URL, "/v1/messages", body)
	if n := b.fake.Counters().ByModel["claude-a"]; n != 1 || resp.Header.Get(gateway.HeaderModel) != "claude-b" {
		t.Fatalf("replica B's first request: %d attempts reached claude-a, answered by %q; want 1, claude-b",
			n, resp.Header.Get(gateway.HeaderModel))
	}
	resp = post(t, b.srv.URL, "/v1/messages", body)
	if f := resp.Header.Get(gateway.HeaderFailures); f != "ant/claude-a circuit_open" || b.fake.Counters().ByModel["claude-a"] != 1 {
		t.Fatalf("replica B's second request: failures %q, %d attempts in all on claude-a; want its breaker open, still 1",
			f, b.fake.Counters().ByModel["claude-a"])
	}
}

// With Redis down, each replica goes on with its local state, and says so.
func TestRedisDownGoesOnLocally(t *testing.T) {
	r := newRig(t, "", baseConfig+"redis: redis://127.0.0.1:1/0\n")
	resp := post(t, r.srv.URL, "/v1/messages", `{"model":"claude-a","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: want the answer, Redis or not", resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		h := health(t, r.srv.URL)
		if h.Redis == "down" && h.State == "local" && h.Status == "degraded" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("healthz %+v: want redis down, local state", h)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mresp, err := http.Get(r.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	if !strings.Contains(string(mb), "rebound_gateway_redis_up 0") || !strings.Contains(string(mb), "rebound_gateway_redis_errors_total{part=") {
		t.Errorf("metrics:\n%s", grepLines(string(mb), "redis"))
	}
}
