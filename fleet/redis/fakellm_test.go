package fleetredis_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rebound-go/rebound/fakellm"
	fleetredis "github.com/rebound-go/rebound/fleet/redis"
	"github.com/rebound-go/rebound/ratelimit"
)

// TestLimiterFleetAgainstFakeLLM runs two processes of eight agents each against one key of a
// fake Anthropic API limited to 10 requests a second (burst 10) for two seconds: paced by the
// fleet's view of the key, they draw the limit without discovering it by 429s.
func TestLimiterFleetAgainstFakeLLM(t *testing.T) {
	c, prefix := testRedis(t)
	srv := fakellm.NewServer(t, "limit rps=10 burst=10\nlatency 20ms\n")
	cfg := fleetredis.LimiterConfig{Name: prefix, OnError: failOnError(t)}
	limiters := []*fleetredis.Limiter{fleetredis.NewLimiter(c, cfg), fleetredis.NewLimiter(newClient(t, c), cfg)}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	const body = `{"model":"claude-sonnet-4-6","max_tokens":16,"messages":[{"role":"user","content":"hello"}]}`
	var ok, limited, other atomic.Int64
	var wg sync.WaitGroup
	for i := range 16 {
		lim := limiters[i%2]
		wg.Go(func() {
			for {
				p, err := lim.Wait(ctx, "anthropic/k", 0)
				if err != nil {
					if ctx.Err() == nil && !errors.Is(err, ratelimit.ErrWouldExceedDeadline) {
						t.Errorf("Wait: %v", err)
					}
					return
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v1/messages", strings.NewReader(body))
				req.Header.Set("x-api-key", "k")
				req.Header.Set("anthropic-version", "2023-06-01")
				req.Header.Set("content-type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					p.Observe(context.WithoutCancel(ctx), nil, 0)
					continue // the run ended mid-call
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				p.Observe(context.WithoutCancel(ctx), resp.Header, resp.StatusCode)
				switch resp.StatusCode {
				case http.StatusOK:
					ok.Add(1)
				case http.StatusTooManyRequests:
					limited.Add(1)
				default:
					other.Add(1)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("200: %d, 429: %d, other: %d", ok.Load(), limited.Load(), other.Load())
	if other.Load() != 0 {
		t.Fatalf("%d unexpected statuses", other.Load())
	}
	// The limit allows about 10 + 2·10 = 30 in two seconds.
	if ok.Load() < 15 {
		t.Fatalf("%d calls answered in 2 s of a 10 rps limit, want at least 15", ok.Load())
	}
	if n, total := limited.Load(), ok.Load()+limited.Load(); n > max(2, total/10) {
		t.Fatalf("%d of %d responses were 429s: the fleet did not pace from the headers", n, total)
	}
}
