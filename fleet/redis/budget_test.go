package fleetredis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rebound-go/rebound"
	fleetredis "github.com/rebound-go/rebound/fleet/redis"
	"github.com/rebound-go/rebound/retry"
)

// testRedis returns a client for TEST_REDIS_URL and a key prefix of the test's own, whose keys
// are deleted when the test ends. Without TEST_REDIS_URL the test is skipped, except under
// CI=true, where that is a failure.
func testRedis(t *testing.T) (*redis.Client, string) {
	t.Helper()
	url := os.Getenv("TEST_REDIS_URL")
	if url == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TEST_REDIS_URL is not set (required when CI=true)")
		}
		t.Skip("TEST_REDIS_URL is not set")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("parse TEST_REDIS_URL: %v", err)
	}
	client := redis.NewClient(opt)
	if err := client.Ping(t.Context()).Err(); err != nil {
		t.Fatalf("ping redis at TEST_REDIS_URL: %v", err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := strings.NewReplacer("/", "-", "*", "", "?", "", "[", "", "]", "", "\\", "").Replace(t.Name())
	prefix := "rebound-test:" + name + ":" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx := context.WithoutCancel(t.Context())
		iter := client.Scan(ctx, 0, "{"+prefix+"}*", 100).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("clean up keys of %s: %v", prefix, err)
		}
		client.Close()
	})
	return client, prefix
}

// newClient opens a second connection, as another process of the fleet would.
func newClient(t *testing.T, c *redis.Client) *redis.Client {
	t.Helper()
	other := redis.NewClient(c.Options())
	t.Cleanup(func() { other.Close() })
	return other
}

func failOnError(t *testing.T) func(error) {
	return func(err error) { t.Errorf("redis error: %v", err) }
}

func TestBudgetSharedAcrossProcesses(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := t.Context()
	a := fleetredis.NewBudget(c, fleetredis.BudgetConfig{Name: prefix, OnError: failOnError(t)})
	b := fleetredis.NewBudget(newClient(t, c), fleetredis.BudgetConfig{Name: prefix, OnError: failOnError(t)})
	for range 60 {
		a.Begin(ctx)
	}
	for range 40 {
		b.Begin(ctx)
	}
	granted := 0
	for i := range 50 {
		p := a
		if i%2 == 1 {
			p = b
		}
		if p.AcquireRetry(ctx) {
			granted++
			p.ReleaseRetry(ctx) // the retry ended; the fleet's window still counts it
		}
	}
	if granted != 20 {
		t.Fatalf("%d retries granted fleet-wide after 100 calls, want 20", granted)
	}
	calls, retries, err := b.Counts(ctx)
	if err != nil || calls != 100 || retries != 20 {
		t.Fatalf("Counts = %d, %d, %v; want 100, 20", calls, retries, err)
	}
	if a.Limit(100) != 20 || a.Limit(0) != 3 {
		t.Fatalf("Limit(100) = %d, Limit(0) = %d", a.Limit(100), a.Limit(0))
	}
}

func TestBudgetMinRetries(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := t.Context()
	for _, tt := range []struct {
		min  int
		want int
	}{{0, 3}, {5, 5}, {-1, 0}} {
		bud := fleetredis.NewBudget(c, fleetredis.BudgetConfig{Name: prefix + ":" + string(rune('a'+tt.want)), MinRetries: tt.min, OnError: failOnError(t)})
		granted := 0
		for range 10 {
			if bud.AcquireRetry(ctx) {
				granted++
				bud.ReleaseRetry(ctx)
			}
		}
		if granted != tt.want {
			t.Errorf("MinRetries %d: %d retries granted with no calls, want %d", tt.min, granted, tt.want)
		}
	}
}

// TestBudgetConcurrent checks under -race that concurrent processes never exceed the limit.
func TestBudgetConcurrent(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := t.Context()
	budgets := []*fleetredis.Budget{
		fleetredis.NewBudget(c, fleetredis.BudgetConfig{Name: prefix, OnError: failOnError(t)}),
		fleetredis.NewBudget(newClient(t, c), fleetredis.BudgetConfig{Name: prefix, OnError: failOnError(t)}),
	}
	for i := range 50 {
		budgets[i%2].Begin(ctx)
	}
	var granted atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			bud := budgets[g%2]
			for range 10 {
				if bud.AcquireRetry(ctx) {
					granted.Add(1)
					bud.ReleaseRetry(ctx)
				}
			}
		})
	}
	wg.Wait()
	if got := granted.Load(); got != 10 {
		t.Fatalf("%d retries granted by 8 concurrent workers after 50 calls, want exactly 10", got)
	}
}

func TestBudgetKeysExpire(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := t.Context()
	bud := fleetredis.NewBudget(c, fleetredis.BudgetConfig{Name: prefix, Window: 3 * time.Second, OnError: failOnError(t)})
	bud.Begin(ctx)
	if !bud.AcquireRetry(ctx) {
		t.Fatal("retry refused")
	}
	keys, err := c.Keys(ctx, "{"+prefix+"}*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 2 {
		t.Fatalf("keys %v, want a call counter and a retry counter", keys)
	}
	for _, k := range keys {
		ttl, err := c.TTL(ctx, k).Result()
		if err != nil || ttl <= 0 || ttl > 4*time.Second {
			t.Fatalf("key %s has TTL %v (%v), want within (0, 4s]", k, ttl, err)
		}
	}
}

func TestBudgetWindowSlides(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := t.Context()
	bud := fleetredis.NewBudget(c, fleetredis.BudgetConfig{Name: prefix, Window: time.Second, MinRetries: 1, OnError: failOnError(t)})
	if !bud.AcquireRetry(ctx) {
		t.Fatal("first retry refused")
	}
	bud.ReleaseRetry(ctx)
	if bud.AcquireRetry(ctx) {
		// The second may be granted only if the second ticked over in between.
		bud.ReleaseRetry(ctx)
	}
	// Real time, short window: a retry is granted again once the window has moved on.
	deadline := time.Now().Add(5 * time.Second)
	for !bud.AcquireRetry(ctx) {
		if time.Now().After(deadline) {
			t.Fatal("no retry granted 5 s after a 1 s window")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestBudgetRedisDownFallsBackToLocal(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer client.Close()
	var mu sync.Mutex
	var errs []error
	bud := fleetredis.NewBudget(client, fleetredis.BudgetConfig{Name: "down", OnError: func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}})
	ctx := t.Context()
	bud.Begin(ctx)
	granted := 0
	for range 5 {
		if bud.AcquireRetry(ctx) { // held, not released: the local budget allows 3 at once
			granted++
		}
	}
	if granted != 3 {
		t.Fatalf("%d retries granted with Redis down, want the local budget's 3", granted)
	}
	if len(errs) != 4 { // Begin and three acquisitions reached Redis
		t.Fatalf("OnError told of %d errors, want 4: %v", len(errs), errs)
	}
	for _, err := range errs {
		if !strings.Contains(err.Error(), "retry budget {down}") && !strings.Contains(err.Error(), "from budget {down}") {
			t.Fatalf("error %q does not name the budget", err)
		}
	}
	bud.End(ctx)
}

// TestBudgetOutageWithRetry runs a fleet of two processes into a dependency that is down: the
// fleet's retries stay within a fifth of its calls.
func TestBudgetOutageWithRetry(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := t.Context()
	budgets := []*fleetredis.Budget{
		fleetredis.NewBudget(c, fleetredis.BudgetConfig{Name: prefix, OnError: failOnError(t)}),
		fleetredis.NewBudget(newClient(t, c), fleetredis.BudgetConfig{Name: prefix, OnError: failOnError(t)}),
	}
	const n = 40
	var attempts atomic.Int64
	down := func(context.Context) (string, error) {
		attempts.Add(1)
		return "", rebound.HTTPError(503, nil, time.Now())
	}
	reasons := make(chan rebound.GiveUpReason, n)
	var wg sync.WaitGroup
	for i := range n {
		p := retry.Policy{Budget: budgets[i%2], MaxAttempts: 3, Base: time.Millisecond}
		wg.Go(func() {
			_, err := retry.Do(ctx, p, down)
			var gu *rebound.GiveUpError
			if !errors.As(err, &gu) {
				t.Errorf("Do returned %v", err)
				return
			}
			reasons <- gu.Reason
		})
	}
	wg.Wait()
	close(reasons)
	count := map[rebound.GiveUpReason]int{}
	for r := range reasons {
		count[r]++
	}
	retries := attempts.Load() - n
	if retries > n/5 || retries < 3 {
		t.Fatalf("%d retries for %d calls, want between 3 and %d", retries, n, n/5)
	}
	if count[rebound.BudgetExhausted] < n-int(retries) {
		t.Fatalf("give-up reasons %v after %d retries: the budget refused too few", count, retries)
	}
	_, counted, err := budgets[0].Counts(ctx)
	if err != nil || counted != retries {
		t.Fatalf("fleet counted %d retries (%v), %d were sent", counted, err, retries)
	}
}

func BenchmarkBudgetAcquireRetry(b *testing.B) {
	url := os.Getenv("TEST_REDIS_URL")
	if url == "" {
		b.Skip("TEST_REDIS_URL is not set")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		b.Fatal(err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	var rb [6]byte
	rand.Read(rb[:])
	prefix := "rebound-bench:" + hex.EncodeToString(rb[:])
	defer func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, "{"+prefix+"}*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	}()
	bud := fleetredis.NewBudget(c, fleetredis.BudgetConfig{Name: prefix, Ratio: 1})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		bud.Begin(ctx)
		if bud.AcquireRetry(ctx) {
			bud.ReleaseRetry(ctx)
		}
		bud.End(ctx)
	}
}
