package fleetredis_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/redis/go-redis/v9"

	fleetredis "github.com/rebound-go/rebound/fleet/redis"
	"github.com/rebound-go/rebound/httpx"
	"github.com/rebound-go/rebound/llm"
)

// The fleet limiter plugs into llm.Resilient and httpx.Transport; with Redis down it paces
// locally and the call goes ahead.
func TestPaceFitsLLMAndHTTPX(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer rdb.Close()
	lim := fleetredis.NewLimiter(rdb, fleetredis.LimiterConfig{OnError: func(error) {}})
	cfg := llm.Config{Pace: lim.Pace("anthropic/k")}
	hc := httpx.Config{Pace: lim.PaceRequest}
	report, err := cfg.Pace(context.Background(), "anthropic/claude-x", 10)
	if err != nil {
		t.Fatal(err)
	}
	report(http.Header{}, http.StatusOK)
	report, err = hc.Pace(context.Background(), "api.example", 0)
	if err != nil {
		t.Fatal(err)
	}
	report(nil, 0)
}
