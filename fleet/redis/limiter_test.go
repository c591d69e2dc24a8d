package fleetredis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	fleetredis "github.com/rebound-go/rebound/fleet/redis"
	"github.com/rebound-go/rebound/ratelimit"
)

const providerKey = "anthropic/team-a"

// anthropicHeader is a response's requests limit as Anthropic reports it.
func anthropicHeader(limit, remaining string, reset time.Time) http.Header {
	h := http.Header{}
	h.Set("anthropic-ratelimit-requests-limit", limit)
	h.Set("anthropic-ratelimit-requests-remaining", remaining)
	h.Set("anthropic-ratelimit-requests-reset", reset.UTC().Format(time.RFC3339))
	return h
}

// openaiHeader is a response's requests limit as OpenAI reports it.
func openaiHeader(limit, remaining, reset string) http.Header {
	h := http.Header{}
	h.Set("x-ratelimit-limit-requests", limit)
	h.Set("x-ratelimit-remaining-requests", remaining)
	h.Set("x-ratelimit-reset-requests", reset)
	return h
}

// within returns a context that ends after d, with that deadline.
func within(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestLimiterSharedAcrossProcesses(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := t.Context()
	a := fleetredis.NewLimiter(c, fleetredis.LimiterConfig{Name: prefix, OnError: failOnError(t)})
	b := fleetredis.NewLimiter(newClient(t, c), fleetredis.LimiterConfig{Name: prefix, OnError: failOnError(t)})

	// Process a's first response: 9 of 10 requests left, full again in a minute.
	p, err := a.Wait(ctx, providerKey, 0)
	if err != nil || !p.Fleet() {
		t.Fatalf("first Wait = %v, fleet %v", err, p.Fleet())
	}
	p.Observe(ctx, anthropicHeader("10", "9", time.Now().Add(time.Minute)), http.StatusOK)

	// The fleet now holds 9, and keeps a reserve of 5 % of 10: 8 more calls go out at once,
	// whichever process makes them; the next one would wait about 30 s.
	admitted := 0
	for i := range 20 {
		l := a
		if i%2 == 1 {
			l = b
		}
		p, err := l.Wait(within(t, 200*time.Millisecond), providerKey, 0)
		if err != nil {
			if !errors.Is(err, ratelimit.ErrWouldExceedDeadline) {
				t.Fatalf("Wait %d: %v, want an error matching ErrWouldExceedDeadline", i, err)
			}
			if !strings.Contains(err.Error(), providerKey) {
				t.Fatalf("error %q does not name the key", err)
			}
			break
		}
		if !p.Fleet() || p.Waited() != 0 {
			t.Fatalf("Wait %d: fleet %v, waited %v", i, p.Fleet(), p.Waited())
		}
		admitted++
		p.Observe(ctx, nil, http.StatusOK) // no headers: nothing for the fleet, no round trip
	}
	if admitted != 8 {
		t.Fatalf("%d calls admitted fleet-wide from a report of 9 left of 10, want 8", admitted)
	}
	st, err := b.State(ctx, providerKey)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Requests.Known || st.Requests.Limit != 10 || st.Requests.Level < 0.9 || st.Requests.Level > 1.2 || st.Admitted != 9 || st.Tokens.Known {
		t.Fatalf("State = %+v, want limit 10, level about 1, 9 admitted, no tokens bucket", st)
	}
}

// warm lets l's local limiter hear a first response (without rate-limit headers) on key, so
// that it stops sending one probe at a time.
func warm(t *testing.T, l *fleetredis.Limiter, key string) {
	t.Helper()
	p, err := l.Wait(t.Context(), key, 0)
	if err != nil {
		t.Fatalf("warm up: %v", err)
	}
	p.Observe(t.Context(), nil, http.StatusOK)
}

func TestLimiterLaterReportWins(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := t.Context()
	a := fleetredis.NewLimiter(c, fleetredis.LimiterConfig{Name: prefix, OnError: failOnError(t)})
	b := fleetredis.NewLimiter(newClient(t, c), fleetredis.LimiterConfig{Name: prefix, OnError: failOnError(t)})
	warm(t, b, providerKey)
	first, _ := a.Wait(ctx, providerKey, 0)
	second, _ := b.Wait(ctx, providerKey, 0)
	third, _ := b.Wait(ctx, providerKey, 0)
	reset := time.Now().Add(time.Minute)
	// The second call's report arrives first: 50 left; the third call was admitted after it.
	second.Observe(ctx, anthropicHeader("100", "50", reset), http.StatusOK)
	st, _ := a.State(ctx, providerKey)
	if l := st.Requests.Level; l < 48.9 || l > 49.5 {
		t.Fatalf("level %v after a report of 50 left and one later admission, want 49", l)
	}
	// The first call's report is older: it must not undo the second's.
	first.Observe(ctx, anthropicHeader("100", "90", reset), http.StatusOK)
	st, _ = a.State(ctx, providerKey)
	if l := st.Requests.Level; l < 48.9 || l > 49.5 {
		t.Fatalf("level %v after an older report, want still 49", l)
	}
	third.Observe(ctx, anthropicHeader("100", "20", reset), http.StatusOK)
	st, _ = a.State(ctx, providerKey)
	if l := st.Requests.Level; l < 19.9 || l > 20.5 {
		t.Fatalf("level %v after the latest report of 20 left, want 20", l)
	}
}

func TestLimiterFleetWaitsItsTurn(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := t.Context()
	cfg := fleetredis.LimiterConfig{Name: prefix, OnError: failOnError(t)}
	limiters := []*fleetredis.Limiter{fleetredis.NewLimiter(c, cfg), fleetredis.NewLimiter(newClient(t, c), cfg)}
	p, err := limiters[0].Wait(ctx, providerKey, 0)
	if err != nil {
		t.Fatal(err)
	}
	warm(t, limiters[1], providerKey)
	// Empty, 4 requests refilled over 400 ms: one every 100 ms.
	p.Observe(ctx, openaiHeader("4", "0", "400ms"), http.StatusOK)
	var mu sync.Mutex
	var turns []time.Time
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			p, err := limiters[i%2].Wait(ctx, providerKey, 0)
			if err != nil {
				t.Errorf("Wait: %v", err)
				return
			}
			if !p.Fleet() {
				t.Errorf("call admitted without the fleet")
			}
			mu.Lock()
			turns = append(turns, p.Turn())
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(turns) != 4 {
		t.FailNow()
	}
	// The turns Redis gave out, on its clock (a schedule, not a measured time): from an empty
	// bucket at the first call's turn, four calls and the reserve (0.2) need 420 ms of refill.
	var last time.Time
	for _, turn := range turns {
		if turn.After(last) {
			last = turn
		}
	}
	if span := last.Sub(p.Turn()); span < 400*time.Millisecond {
		t.Fatalf("last turn %v after the report of an empty bucket refilling 1 per 100 ms, want at least 400ms", span)
	}
}

func TestLimiterTokens(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := t.Context()
	l := fleetredis.NewLimiter(c, fleetredis.LimiterConfig{Name: prefix, OnError: failOnError(t)})
	p, _ := l.Wait(ctx, providerKey, 1000)
	h := anthropicHeader("1000", "999", time.Now().Add(time.Minute))
	h.Set("anthropic-ratelimit-tokens-limit", "10000")
	h.Set("anthropic-ratelimit-tokens-remaining", "5000")
	h.Set("anthropic-ratelimit-tokens-reset", time.Now().Add(time.Minute).UTC().Format(time.RFC3339))
	p.Observe(ctx, h, http.StatusOK)
	admitted := 0
	for range 10 {
		p, err := l.Wait(within(t, 200*time.Millisecond), providerKey, 1000)
		if err != nil {
			if !errors.Is(err, ratelimit.ErrWouldExceedDeadline) {
				t.Fatal(err)
			}
			break
		}
		admitted++
		p.Observe(ctx, nil, http.StatusOK)
	}
	// 5000 tokens, a reserve of 500: four calls of 1000.
	if admitted != 4 {
		t.Fatalf("%d calls of 1000 tokens admitted from 5000 left, want 4", admitted)
	}
	st, _ := l.State(ctx, providerKey)
	if !st.Tokens.Known || st.Tokens.Limit != 10000 || st.Tokens.Level > 1100 {
		t.Fatalf("tokens bucket %+v", st.Tokens)
	}
}

func TestLimiterCancelGivesTurnBack(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := t.Context()
	l := fleetredis.NewLimiter(c, fleetredis.LimiterConfig{Name: prefix, OnError: failOnError(t)})
	p, _ := l.Wait(ctx, providerKey, 0)
	p.Observe(ctx, anthropicHeader("10", "0", time.Now().Add(time.Minute)), http.StatusOK)
	before, _ := l.State(ctx, providerKey)

	// Too short a deadline: refused at once, nothing reserved.
	if _, err := l.Wait(within(t, 100*time.Millisecond), providerKey, 0); !errors.Is(err, ratelimit.ErrWouldExceedDeadline) {
		t.Fatalf("Wait = %v, want ErrWouldExceedDeadline", err)
	}
	// No deadline: a turn is reserved, then the caller gives up; the turn goes back.
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := l.Wait(cctx, providerKey, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want context.Canceled", err)
	}
	after, _ := l.State(ctx, providerKey)
	if after.Requests.Level < before.Requests.Level-0.1 {
		t.Fatalf("level %v after a refused and a cancelled wait, was %v: a turn was kept", after.Requests.Level, before.Requests.Level)
	}
}

// TestLimiterNotSentGivesTurnBack: a call admitted and then not sent (a breaker refused it once
// its turn came) reports no response, and its turn goes back to the fleet's bucket: kept, it
// counted as a request the provider never saw, and pairs of reports around such calls proved a
// faster refill than the bucket has.
func TestLimiterNotSentGivesTurnBack(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := t.Context()
	l := fleetredis.NewLimiter(c, fleetredis.LimiterConfig{Name: prefix, OnError: failOnError(t)})
	p, _ := l.Wait(ctx, providerKey, 0)
	p.Observe(ctx, anthropicHeader("10", "8", time.Now().Add(time.Minute)), http.StatusOK)
	before, _ := l.State(ctx, providerKey)
	p, err := l.Wait(ctx, providerKey, 0)
	if err != nil {
		t.Fatal(err)
	}
	taken, _ := l.State(ctx, providerKey)
	if taken.Requests.Level > before.Requests.Level-0.9 {
		t.Fatalf("level %v after an admission, was %v", taken.Requests.Level, before.Requests.Level)
	}
	p.Observe(ctx, nil, 0)
	after, _ := l.State(ctx, providerKey)
	if after.Requests.Level < before.Requests.Level-0.1 {
		t.Fatalf("level %v after a call not sent, was %v: its turn was kept", after.Requests.Level, before.Requests.Level)
	}
}

func TestLimiter429BlocksFleet(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := t.Context()
	a := fleetredis.NewLimiter(c, fleetredis.LimiterConfig{Name: prefix, OnError: failOnError(t)})
	b := fleetredis.NewLimiter(newClient(t, c), fleetredis.LimiterConfig{Name: prefix, OnError: failOnError(t)})
	p, _ := a.Wait(ctx, providerKey, 0)
	h := http.Header{}
	h.Set("retry-after", "2")
	p.Observe(ctx, h, http.StatusTooManyRequests)
	st, err := b.State(ctx, providerKey)
	if err != nil || st.BlockedFor <= time.Second || st.BlockedFor > 2*time.Second {
		t.Fatalf("BlockedFor %v (%v) after a 429 asking for 2 s", st.BlockedFor, err)
	}
	// Process b has heard nothing itself, yet its calls wait for the 429's delay.
	if _, err := b.Wait(within(t, 500*time.Millisecond), providerKey, 0); !errors.Is(err, ratelimit.ErrWouldExceedDeadline) {
		t.Fatalf("Wait in another process = %v, want ErrWouldExceedDeadline", err)
	}
}

func TestLimiterKeysExpire(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := t.Context()
	l := fleetredis.NewLimiter(c, fleetredis.LimiterConfig{Name: prefix, Idle: 5 * time.Second, OnError: failOnError(t)})
	p, _ := l.Wait(ctx, providerKey, 0)
	p.Observe(ctx, anthropicHeader("10", "9", time.Now().Add(time.Minute)), http.StatusOK)
	keys, err := c.Keys(ctx, "{"+prefix+"}*").Result()
	if err != nil || len(keys) == 0 || len(keys) > 4 {
		t.Fatalf("keys %v (%v), want at most a hash, a set of reservations, a history of reports and a set of members per provider key", keys, err)
	}
	for _, k := range keys {
		ttl, err := c.PTTL(ctx, k).Result()
		if err != nil || ttl <= 0 || ttl > 5*time.Second {
			t.Fatalf("key %s has TTL %v (%v), want within (0, 5s]", k, ttl, err)
		}
	}
}

// downRedis returns a client of a Redis that is not there.
func downRedis(t testing.TB) *redis.Client {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { client.Close() })
	return client
}

type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (e *errorLog) add(err error) {
	e.mu.Lock()
	e.errs = append(e.errs, err)
	e.mu.Unlock()
}

func (e *errorLog) all() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.errs...)
}

func TestLimiterRedisDownPacesLocally(t *testing.T) {
	var log errorLog
	l := fleetredis.NewLimiter(downRedis(t), fleetredis.LimiterConfig{Name: "down", OnError: log.add})
	ctx := t.Context()
	p, err := l.Wait(ctx, providerKey, 0)
	if err != nil || p.Fleet() {
		t.Fatalf("Wait with Redis down = %v, fleet %v; want a local admission", err, p.Fleet())
	}
	p.Observe(ctx, anthropicHeader("10", "0", time.Now().Add(time.Minute)), http.StatusOK)
	// The local limiter learnt the empty bucket: the next call cannot go out within 100 ms.
	if _, err := l.Wait(within(t, 100*time.Millisecond), providerKey, 0); !errors.Is(err, ratelimit.ErrWouldExceedDeadline) {
		t.Fatalf("Wait = %v, want the local limiter's ErrWouldExceedDeadline", err)
	}
	errs := log.all()
	if len(errs) != 1 { // then Redis is left alone for RetryRedis
		t.Fatalf("OnError told of %d errors, want 1: %v", len(errs), errs)
	}
	if !strings.Contains(errs[0].Error(), "rate limiter {down}") || !strings.Contains(errs[0].Error(), providerKey) {
		t.Fatalf("error %q does not name the limiter and the key", errs[0])
	}
}

// benchRedis returns a client for TEST_REDIS_URL and a prefix whose keys are deleted after the
// benchmark.
func benchRedis(b *testing.B) (*redis.Client, string) {
	url := os.Getenv("TEST_REDIS_URL")
	if url == "" {
		b.Skip("TEST_REDIS_URL is not set")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		b.Fatal(err)
	}
	c := redis.NewClient(opt)
	var rb [6]byte
	rand.Read(rb[:])
	prefix := "rebound-bench:" + hex.EncodeToString(rb[:])
	b.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, "{"+prefix+"}*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		c.Close()
	})
	return c, prefix
}

// BenchmarkLimiterWaitObserve is one paced call: a reservation and a report with headers, two
// round trips.
func BenchmarkLimiterWaitObserve(b *testing.B) {
	c, prefix := benchRedis(b)
	ctx := context.Background()
	l := fleetredis.NewLimiter(c, fleetredis.LimiterConfig{Name: prefix, OnError: func(err error) { b.Fatal(err) }})
	h := anthropicHeader("1000000000", "999999999", time.Now().Add(time.Minute))
	b.ReportAllocs()
	for b.Loop() {
		p, err := l.Wait(ctx, providerKey, 100)
		if err != nil {
			b.Fatal(err)
		}
		p.Observe(ctx, h, http.StatusOK)
	}
}

// BenchmarkLimiterWait is a reservation alone (a response without headers costs no round trip).
func BenchmarkLimiterWait(b *testing.B) {
	c, prefix := benchRedis(b)
	ctx := context.Background()
	l := fleetredis.NewLimiter(c, fleetredis.LimiterConfig{Name: prefix, OnError: func(err error) { b.Fatal(err) }})
	p, _ := l.Wait(ctx, providerKey, 0)
	p.Observe(ctx, anthropicHeader("1000000000", "999999999", time.Now().Add(time.Minute)), http.StatusOK)
	b.ReportAllocs()
	for b.Loop() {
		p, err := l.Wait(ctx, providerKey, 0)
		if err != nil {
			b.Fatal(err)
		}
		p.Observe(ctx, nil, http.StatusOK)
	}
}

// TestLimiterStateLost: after the key's state is lost (Redis restarted, or Idle passed while a
// long call was out), a report of a call admitted before does not block the reports after.
func TestLimiterStateLost(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := t.Context()
	l := fleetredis.NewLimiter(c, fleetredis.LimiterConfig{Name: prefix, OnError: failOnError(t)})
	warm(t, l, providerKey)
	var old fleetredis.Permit
	for range 3 {
		old, _ = l.Wait(ctx, providerKey, 0)
	}
	if err := c.Del(ctx, "{"+prefix+"}:k:"+providerKey, "{"+prefix+"}:p:"+providerKey).Err(); err != nil {
		t.Fatal(err)
	}
	reset := time.Now().Add(time.Minute)
	old.Observe(ctx, anthropicHeader("100", "10", reset), http.StatusOK)
	if st, _ := l.State(ctx, providerKey); st.Requests.Known {
		t.Fatalf("a report from before the state was lost set the bucket: %+v", st.Requests)
	}
	p, _ := l.Wait(ctx, providerKey, 0)
	p.Observe(ctx, anthropicHeader("100", "60", reset), http.StatusOK)
	if st, _ := l.State(ctx, providerKey); st.Requests.Level < 59.9 || st.Requests.Level > 60.5 {
		t.Fatalf("level %v after the first report since the loss, want 60", st.Requests.Level)
	}
}

// TestLimiterReportLeavesOutEarlierTurns: a call admitted before the reported one but given a
// later turn has not reached the provider; the report cannot have counted it.
func TestLimiterReportLeavesOutEarlierTurns(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := t.Context()
	l := fleetredis.NewLimiter(c, fleetredis.LimiterConfig{Name: prefix, OnError: failOnError(t)})
	other := fleetredis.NewLimiter(newClient(t, c), fleetredis.LimiterConfig{Name: prefix, OnError: failOnError(t)})
	warm(t, other, providerKey)
	p0, _ := l.Wait(ctx, providerKey, 0)
	reset := time.Now().Add(10 * time.Second)
	p0.Observe(ctx, anthropicHeader("10", "0", reset), http.StatusOK) // empty, 1 a second

	// j, in the other process, queues for a turn about 1.5 s out.
	jctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := other.Wait(jctx, providerKey, 0)
		done <- err
	}()
	deadline := time.Now().Add(2 * time.Second)
	for {
		st, _ := l.State(ctx, providerKey)
		if st.Admitted == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the queued call was not admitted to a turn")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// A late report says the bucket had room after all: k goes out now, before j's turn.
	p0.Observe(ctx, anthropicHeader("10", "9", reset), http.StatusOK)
	k, err := other.Wait(within(t, 100*time.Millisecond), providerKey, 0)
	if err != nil || k.Waited() != 0 {
		t.Fatalf("Wait after the report = %v, waited %v; want at once", err, k.Waited())
	}
	k.Observe(ctx, anthropicHeader("10", "5", reset), http.StatusOK)
	st, _ := l.State(ctx, providerKey)
	if lv := st.Requests.Level; lv < 3.9 || lv > 4.3 {
		t.Fatalf("level %v after a report of 5 left while an earlier call still waits its turn, want 4", lv)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("queued Wait = %v, want context.Canceled", err)
	}
}
