package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rebound-go/rebound/ratelimit"
)

func anthropicHeader(limit, remaining int, reset time.Time) http.Header {
	h := http.Header{}
	h.Set("anthropic-ratelimit-requests-limit", strconv.Itoa(limit))
	h.Set("anthropic-ratelimit-requests-remaining", strconv.Itoa(remaining))
	h.Set("anthropic-ratelimit-requests-reset", reset.UTC().Format(time.RFC3339))
	return h
}

func TestProbeFirst(t *testing.T) {
	l := ratelimit.New(ratelimit.Config{})
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	p, d := l.AllowAt(now, 0)
	if d != 0 {
		t.Fatalf("first call waits %v", d)
	}
	if _, d := l.AllowAt(now, 0); d == 0 {
		t.Fatal("second call admitted before the probe's response")
	}
	p.ObserveAt(now.Add(200*time.Millisecond), anthropicHeader(20, 19, now.Add(time.Second)), 200)
	if _, d := l.AllowAt(now.Add(200*time.Millisecond), 0); d != 0 {
		t.Fatalf("after the probe's response the call waits %v", d)
	}
}

func TestProbeTimesOut(t *testing.T) {
	l := ratelimit.New(ratelimit.Config{ProbeTimeout: time.Second})
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	l.AllowAt(now, 0)
	if _, d := l.AllowAt(now.Add(500*time.Millisecond), 0); d != 500*time.Millisecond {
		t.Fatalf("wait = %v, want the rest of the probe timeout", d)
	}
	if _, d := l.AllowAt(now.Add(time.Second), 0); d != 0 {
		t.Fatalf("a lost probe blocks: wait %v", d)
	}
}

func TestPacesFromRemaining(t *testing.T) {
	l := ratelimit.New(ratelimit.Config{Reserve: -1})
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	p, _ := l.AllowAt(now, 0)
	// The bucket holds 3 of 20 and is full again in 1 s: 3 calls go now, the 4th waits.
	p.ObserveAt(now, anthropicHeader(20, 3, now.Add(time.Second)), 200)
	for i := range 3 {
		if _, d := l.AllowAt(now, 0); d != 0 {
			t.Fatalf("call %d waits %v", i, d)
		}
	}
	_, d := l.AllowAt(now, 0)
	if d <= 0 || d > time.Second {
		t.Fatalf("4th call: wait %v, want a wait under the reset", d)
	}
	// A later report of the same bucket, for a call sent after the three, frees room.
	p2, _ := l.AllowAt(now.Add(d), 0)
	p2.ObserveAt(now.Add(d+200*time.Millisecond), anthropicHeader(20, 10, now.Add(time.Second)), 200)
	if _, d := l.AllowAt(now.Add(d+200*time.Millisecond), 0); d != 0 {
		t.Fatalf("after a report of room: wait %v", d)
	}
}

func TestTooManyRequestsBlocks(t *testing.T) {
	l := ratelimit.New(ratelimit.Config{})
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	p, _ := l.AllowAt(now, 0)
	h := http.Header{}
	h.Set("retry-after", "3")
	p.ObserveAt(now, h, http.StatusTooManyRequests)
	if _, d := l.AllowAt(now.Add(time.Second), 0); d != 2*time.Second {
		t.Fatalf("wait = %v, want the rest of retry-after", d)
	}
	if _, d := l.AllowAt(now.Add(3*time.Second), 0); d != 0 {
		t.Fatalf("after retry-after: wait %v", d)
	}
}

func TestNoHeadersNoPacing(t *testing.T) {
	l := ratelimit.New(ratelimit.Config{})
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	p, _ := l.AllowAt(now, 0)
	p.ObserveAt(now, http.Header{}, 200)
	for i := range 1000 {
		if _, d := l.AllowAt(now, 0); d != 0 {
			t.Fatalf("call %d waits %v without any limit known", i, d)
		}
	}
}

func TestOpenAITokens(t *testing.T) {
	l := ratelimit.New(ratelimit.Config{Reserve: -1})
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	p, _ := l.AllowAt(now, 100)
	h := http.Header{}
	h.Set("x-ratelimit-limit-requests", "1000")
	h.Set("x-ratelimit-remaining-requests", "999")
	h.Set("x-ratelimit-reset-requests", "60ms")
	h.Set("x-ratelimit-limit-tokens", "10000")
	h.Set("x-ratelimit-remaining-tokens", "500")
	h.Set("x-ratelimit-reset-tokens", "1s")
	p.ObserveAt(now, h, 200)
	if _, d := l.AllowAt(now, 400); d != 0 {
		t.Fatalf("400 tokens of 500: wait %v", d)
	}
	if _, d := l.AllowAt(now, 400); d <= 0 {
		t.Fatal("800 tokens of 500 admitted")
	}
}

func TestWaitBoundedByDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New(ratelimit.Config{})
		p, err := l.Wait(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		h.Set("retry-after", "30")
		p.Observe(h, http.StatusTooManyRequests)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		_, err = l.Wait(ctx, 0)
		if !errors.Is(err, ratelimit.ErrWouldExceedDeadline) {
			t.Fatalf("err = %v, want ErrWouldExceedDeadline", err)
		}
		if time.Since(start) != 0 {
			t.Errorf("gave up after %v, want at once", time.Since(start))
		}
		ctx2, cancel2 := context.WithCancel(context.Background())
		go func() { time.Sleep(time.Second); cancel2() }()
		if _, err := l.Wait(ctx2, 0); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}

// fakeProvider is a provider's token bucket: rps requests a second, burst of rps, answering
// with Anthropic's headers (reset rounded up to the second, as the API does) or OpenAI's
// (reset a duration rounded to the millisecond).
type fakeProvider struct {
	mu       sync.Mutex
	rps      float64
	burst    float64 // the bucket's size; 0: rps
	openai   bool
	level    float64
	last     time.Time
	ok, t429 int
	// warm, if set, is when the steady state starts: okWarm counts the answers from then on.
	warm   time.Time
	okWarm int
}

func (f *fakeProvider) size() float64 {
	if f.burst > 0 {
		return f.burst
	}
	return f.rps
}

func (f *fakeProvider) call(now time.Time) (http.Header, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.last.IsZero() {
		f.level = math.Min(f.size(), f.level+now.Sub(f.last).Seconds()*f.rps)
	}
	f.last = now
	if f.level < 1 {
		f.t429++
		h := http.Header{}
		h.Set("retry-after", strconv.Itoa(int(math.Ceil((1-f.level)/f.rps))))
		return h, http.StatusTooManyRequests
	}
	f.level--
	f.ok++
	if !f.warm.IsZero() && !now.Before(f.warm) {
		f.okWarm++
	}
	size := f.size()
	if f.openai {
		h := http.Header{}
		h.Set("x-ratelimit-limit-requests", strconv.Itoa(int(size)))
		h.Set("x-ratelimit-remaining-requests", strconv.Itoa(int(math.Floor(f.level))))
		h.Set("x-ratelimit-reset-requests", time.Duration((size-f.level)/f.rps*float64(time.Second)).Round(time.Millisecond).String())
		return h, http.StatusOK
	}
	full := now.Add(time.Duration((size - f.level) / f.rps * float64(time.Second)))
	if full.Nanosecond() != 0 {
		full = full.Truncate(time.Second).Add(time.Second)
	}
	return anthropicHeader(int(size), int(math.Floor(f.level)), full), http.StatusOK
}

// 64 goroutines share one key limited to 20 requests a second (answers take 200 ms): paced by
// the limiter, they keep the limit busy and almost never hear a 429.
func TestFleetStaysUnderTheLimit(t *testing.T) {
	for _, openai := range []bool{false, true} {
		name := "anthropic"
		if openai {
			name = "openai"
		}
		t.Run(name, func(t *testing.T) { fleet(t, openai) })
	}
}

func fleet(t *testing.T, openai bool) {
	synctest.Test(t, func(t *testing.T) {
		const rps, agents, run = 20, 64, 30 * time.Second
		f := &fakeProvider{rps: rps, level: rps, openai: openai}
		l := ratelimit.New(ratelimit.Config{})
		ctx, cancel := context.WithTimeout(context.Background(), run)
		defer cancel()
		var wg sync.WaitGroup
		for range agents {
			wg.Go(func() {
				for ctx.Err() == nil {
					p, err := l.Wait(ctx, 0)
					if err != nil {
						return
					}
					// The way to the provider takes 0–30 ms, so requests may arrive out of
					// the order they were admitted in.
					time.Sleep(time.Duration(rand.Float64() * float64(30*time.Millisecond)))
					h, status := f.call(time.Now())
					time.Sleep(150*time.Millisecond + time.Duration(rand.Float64()*float64(100*time.Millisecond)))
					p.Observe(h, status)
				}
			})
		}
		wg.Wait()
		limit := rps * run.Seconds()
		if good := float64(f.ok) / limit; good < 0.95 {
			t.Errorf("goodput %.1f %% of the limit, want at least 95 %%", 100*good)
		}
		if share := float64(f.t429) / float64(f.ok+f.t429); share > 0.02 {
			t.Errorf("%.1f %% of requests answered 429, want at most 2 %%", 100*share)
		}
		t.Logf("ok %d, 429 %d, limit %.0f", f.ok, f.t429, limit)
	})
}

// TestPacingUsesTheWholeLimit: 64 goroutines on one key limited to 20 requests a second, with a
// bucket of 20, 5 or 2 requests, answers after 200 ms or 1 s, Anthropic's headers (reset rounded
// up to the second) or OpenAI's (a duration): once the limiter has learnt the rate (the first 5 s
// of 30: with 1 s answers, each lesson takes a second to come back), it admits at least 95 % of
// the limit, and no call is answered 429 over the whole run. (A limiter that capped the bucket
// at its size before taking the calls in flight off kept about limit-2 calls outstanding: 46.8 %
// of the limit with 1 s answers; one that inferred the rate from whole-second resets alone paced
// a burst of 5 at 3.75/s.)
func TestPacingUsesTheWholeLimit(t *testing.T) {
	for _, openai := range []bool{false, true} {
		for _, burst := range []float64{20, 5, 2} {
			for _, latency := range []time.Duration{200 * time.Millisecond, time.Second} {
				name := fmt.Sprintf("anthropic/burst=%v/latency=%v", burst, latency)
				if openai {
					name = fmt.Sprintf("openai/burst=%v/latency=%v", burst, latency)
				}
				t.Run(name, func(t *testing.T) { pace(t, paceCase{openai: openai, burst: burst, latency: latency}) })
			}
		}
	}
}

// TestPacingHarderSettings: the settings of TestPacingUsesTheWholeLimit made harder (other seeds,
// a minute's run, 2 s answers, 32 and 128 agents, a way to the provider of 0–20 ms) keep 95 % of
// the limit after the warm-up and no 429. Known shortfalls, not asserted: a bucket of 2 with 2 s
// answers (88.8 % after 5 s), and a bucket of 2 with a 0–20 ms way to the provider (2–14 429s
// in 30 s, 53–82 %): calls that overtake each other on the way make the reports of a bucket of
// two disagree with the order of admission.
func TestPacingHarderSettings(t *testing.T) {
	for _, c := range []paceCase{
		{burst: 2, latency: time.Second, seed: 7},
		{burst: 2, latency: time.Second, seed: 99},
		{burst: 2, latency: time.Second, run: time.Minute},
		{burst: 5, latency: 2 * time.Second},
		{burst: 20, latency: 2 * time.Second},
		{burst: 2, latency: time.Second, agents: 32},
		{burst: 2, latency: time.Second, agents: 128},
		{burst: 5, latency: time.Second, way: 20 * time.Millisecond},
		{burst: 20, latency: 200 * time.Millisecond, way: 20 * time.Millisecond},
		{openai: true, burst: 2, latency: 2 * time.Second},
	} {
		name := fmt.Sprintf("openai=%v/burst=%v/latency=%v/agents=%d/run=%v/seed=%d/way=%v", c.openai, c.burst, c.latency, c.agents, c.run, c.seed, c.way)
		t.Run(name, func(t *testing.T) { pace(t, c) })
	}
}

// paceCase is a run of pace: the provider's headers, its bucket and its answers' latency, and
// the fleet (64 agents, 30 s, seed 1, the way to the provider 0–2 ms unless set).
type paceCase struct {
	openai  bool
	burst   float64
	latency time.Duration
	agents  int
	run     time.Duration
	seed    uint64
	way     time.Duration
}

func pace(t *testing.T, c paceCase) {
	if c.agents == 0 {
		c.agents = 64
	}
	if c.run == 0 {
		c.run = 30 * time.Second
	}
	if c.seed == 0 {
		c.seed = 1
	}
	if c.way == 0 {
		c.way = 2 * time.Millisecond
	}
	synctest.Test(t, func(t *testing.T) {
		const rps, warm = 20, 5 * time.Second
		run := c.run
		f := &fakeProvider{rps: rps, burst: c.burst, level: c.burst, openai: c.openai, warm: time.Now().Add(warm)}
		l := ratelimit.New(ratelimit.Config{})
		ctx, cancel := context.WithTimeout(context.Background(), run)
		defer cancel()
		var mu sync.Mutex
		rnd := rand.New(rand.NewPCG(c.seed, 2))
		delay := func(d time.Duration) time.Duration {
			mu.Lock()
			defer mu.Unlock()
			return time.Duration(rnd.Float64() * float64(d))
		}
		var wg sync.WaitGroup
		for range c.agents {
			wg.Go(func() {
				for ctx.Err() == nil {
					p, err := l.Wait(ctx, 0)
					if err != nil {
						return
					}
					time.Sleep(delay(c.way)) // the way to the provider
					h, status := f.call(time.Now())
					time.Sleep(c.latency - 50*time.Millisecond + delay(100*time.Millisecond))
					p.Observe(h, status)
				}
			})
		}
		wg.Wait()
		steady := float64(f.okWarm) / (rps * (run - warm).Seconds())
		whole := float64(f.ok) / (rps*run.Seconds() + c.burst)
		if steady < 0.95 {
			t.Errorf("goodput after the first %v: %.1f %% of the limit, want at least 95 %%", warm, 100*steady)
		}
		if f.t429 != 0 {
			t.Errorf("%d requests answered 429, want none", f.t429)
		}
		t.Logf("after %v: %.1f %% of the limit; whole run: %d answers, %.1f %% of the limit (burst included); 429: %d", warm, 100*steady, f.ok, 100*whole, f.t429)
	})
}

// TestBareTooManyKeepsTheReport: a 429 without rate-limit headers blocks every call for its delay,
// and does not count as the provider ceasing to report the limit: when the block ends, the
// bucket's last report still paces the calls, so they do not all go out at once into another
// 429. (Counted as a bare response, it made the report expire at its reset: 64 agents behind a
// bucket of 2 then went out together at the end of every block, 62 429s a second.)
func TestBareTooManyKeepsTheReport(t *testing.T) {
	l := ratelimit.New(ratelimit.Config{Reserve: -1, Jitter: -1, MinJitter: -1})
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	p, _ := l.AllowAt(now, 0)
	rep := http.Header{}
	rep.Set("x-ratelimit-limit-requests", "2")
	rep.Set("x-ratelimit-remaining-requests", "1")
	rep.Set("x-ratelimit-reset-requests", "50ms")
	p.ObserveAt(now.Add(100*time.Millisecond), rep, http.StatusOK)
	p, d := l.AllowAt(now.Add(200*time.Millisecond), 0)
	if d != 0 {
		t.Fatalf("second call held %v, want none", d)
	}
	h := http.Header{}
	h.Set("retry-after", "1")
	p.ObserveAt(now.Add(300*time.Millisecond), h, http.StatusTooManyRequests)
	if _, d := l.AllowAt(now.Add(400*time.Millisecond), 0); d == 0 {
		t.Fatal("a call was admitted during the 429's block")
	}
	end := now.Add(1400 * time.Millisecond)
	admitted := 0
	for range 10 {
		if _, d := l.AllowAt(end, 0); d == 0 {
			admitted++
		}
	}
	if admitted > 2 {
		t.Errorf("%d of 10 calls admitted at once when the block ended, want at most the bucket's 2", admitted)
	}
}
