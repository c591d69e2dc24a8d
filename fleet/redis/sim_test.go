package fleetredis_test

import (
	"container/heap"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	fleetredis "github.com/rebound-go/rebound/fleet/redis"
)

// simProvider is a provider's requests bucket on the simulation's clock: rps a second, a bucket
// of burst, answering with Anthropic's headers (remaining rounded down, the reset an RFC 3339
// time rounded up to the second), 429s included.
type simProvider struct {
	rps, burst float64
	level      float64
	last       int64 // ms
	ok, t429   int
	warm, end  int64 // ms: okWarm counts the answers from warm on; nothing counts from end
	okWarm     int
}

func (f *simProvider) call(ms int64) (http.Header, int) {
	if f.last != 0 && ms > f.last {
		f.level = math.Min(f.burst, f.level+float64(ms-f.last)/1000*f.rps)
	}
	f.last = max(f.last, ms)
	status := http.StatusOK
	count := ms < f.end
	if f.level < 1 {
		status = http.StatusTooManyRequests
		if count {
			f.t429++
		}
	} else {
		f.level--
		if count {
			f.ok++
			if ms >= f.warm {
				f.okWarm++
			}
		}
	}
	full := time.UnixMilli(ms).Add(time.Duration((f.burst - f.level) / f.rps * float64(time.Second)))
	if full.Nanosecond() != 0 {
		full = full.Truncate(time.Second).Add(time.Second)
	}
	return anthropicHeader(strconv.Itoa(int(f.burst)), strconv.Itoa(int(math.Floor(f.level))), full), status
}

// simEvent is an agent's next step.
type simEvent struct {
	at    int64 // ms
	order int   // ties: in order of scheduling
	agent int
}

type simQueue []simEvent

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	return q[i].at < q[j].at || q[i].at == q[j].at && q[i].order < q[j].order
}
func (q simQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)   { *q = append(*q, x.(simEvent)) }
func (q *simQueue) Pop() any     { e := (*q)[len(*q)-1]; *q = (*q)[:len(*q)-1]; return e }

// simAgent is one caller: it reserves, waits for its turn (asking again every recheck), sends,
// and reports the answer.
type simAgent struct {
	lim    *fleetredis.Limiter
	state  int // 0: reserve next; 1: waiting (ask for the turn again); 2: send; 3: answer
	permit fleetredis.Permit
	sent   int64
	h      http.Header
	status int
}

type simResult struct {
	ok, t429, okWarm int
	limit, warmLimit float64
	proved           []float64 // the fleet's proved rate at each whole second of the run
}

// simulate runs processes limiters of agents each on one key for run (ms on the simulation's
// clock), through real Redis scripts: answers take latency ±50 ms, a call reaches the provider
// 0–2 ms after it is sent, and sends carry up to MinJitter (5 ms) of jitter; seed draws them.
func simulate(t *testing.T, burst float64, latency, run, warm time.Duration, recheck time.Duration, seed uint64) simResult {
	c, prefix := testRedis(t)
	ctx := t.Context()
	const rps, processes, agents = 20, 4, 16
	start := int64(1764633600123) // 2026-12-02T00:00:00.123Z
	f := &simProvider{rps: rps, burst: burst, level: burst, warm: start + warm.Milliseconds(), end: start + run.Milliseconds()}
	rnd := rand.New(rand.NewPCG(1, 2+seed))
	var res simResult
	var lims []*fleetredis.Limiter
	for range processes {
		lims = append(lims, fleetredis.NewLimiter(c, fleetredis.LimiterConfig{Name: prefix, Recheck: recheck, OnError: failOnError(t)}))
	}
	var q simQueue
	order := 0
	at := func(ms int64, a int) {
		order++
		heap.Push(&q, simEvent{at: ms, order: order, agent: a})
	}
	var as []*simAgent
	for p := range processes {
		for i := range agents {
			as = append(as, &simAgent{lim: lims[p]})
			// One probe per process first; the others once the fleet has heard the provider.
			if i == 0 {
				at(start, len(as)-1)
			} else {
				at(start+latency.Milliseconds()+200, len(as)-1)
			}
		}
	}
	end := start + run.Milliseconds()
	jitter := func(d time.Duration) int64 { return int64(rnd.Float64() * float64(d.Milliseconds())) }
	wait := func(now int64, a int, w time.Duration) {
		ag := as[a]
		if recheck > 0 && w > recheck {
			ag.state = 1
			at(now+recheck.Milliseconds(), a)
			return
		}
		ag.state = 2
		at(now+w.Milliseconds()+jitter(5*time.Millisecond), a)
	}
	nextLog := start
	for q.Len() > 0 {
		e := heap.Pop(&q).(simEvent)
		now, ag := e.at, as[e.agent]
		if now >= nextLog && now < end {
			st, err := lims[0].State(ctx, providerKey)
			if err != nil {
				t.Fatal(err)
			}
			res.proved = append(res.proved, st.Proved)
			if testing.Verbose() && os.Getenv("SIM_LOG") != "" {
				t.Logf("t=%5dms ok %4d 429 %3d rate %.2f proved %.2f level %.1f", now-start, f.ok, f.t429, st.Requests.Rate, st.Proved, st.Requests.Level)
			}
			nextLog += 1000
		}
		switch ag.state {
		case 0:
			if now >= end {
				continue
			}
			p, w, err := ag.lim.ReserveAt(ctx, providerKey, 0, now)
			if err != nil {
				t.Fatal(err)
			}
			ag.permit = p
			wait(now, e.agent, w)
		case 1:
			w, err := ag.lim.TurnAt(ctx, &ag.permit, now)
			if err != nil {
				t.Fatal(err)
			}
			wait(now, e.agent, w)
		case 2:
			ag.sent = now
			ag.h, ag.status = f.call(now + jitter(2*time.Millisecond))
			ag.state = 3
			at(now+latency.Milliseconds()-50+jitter(100*time.Millisecond), e.agent)
		case 3:
			ag.permit.ObserveAt(ctx, ag.h, ag.status, ag.sent, now)
			ag.state = 0
			at(now, e.agent)
		}
	}
	res.ok, res.t429, res.okWarm = f.ok, f.t429, f.okWarm
	res.limit, res.warmLimit = rps*run.Seconds()+burst, rps*(run-warm).Seconds()
	return res
}

// TestFleetPacingUsesTheWholeLimit: 4 processes of 16 agents on one key limited to 20 requests a
// second, with a bucket of 20, 5 or 2, Anthropic's headers (remaining rounded down, reset rounded
// up to the second), answers after 150-250 ms, run through the real scripts on a clock of the
// test's own (so the figures are exact and do not depend on the machine), for six draws of the
// jitter. Once the fleet has learnt the rate (the first 5 s of 20) it admits at least 95 % of the
// limit with at most 2 % 429s, and no report ever proves a rate above the true one. Before waiting
// calls asked for their turn again, turns given while the rate was still being learnt were kept:
// 47 % at burst 5 (and 10 % at burst 2). Before a report left out the calls sent just before its
// own whose answers came back first, the sixth draw proved 22.5/s in its first second for the
// true 20/s and kept it: 12 429s at burst 20, one every second or two.
func TestFleetPacingUsesTheWholeLimit(t *testing.T) {
	for _, burst := range []float64{20, 5, 2} {
		for seed := range uint64(6) {
			t.Run(fmt.Sprintf("burst=%v/seed=%d", burst, seed), func(t *testing.T) {
				r := simulate(t, burst, 200*time.Millisecond, 20*time.Second, 5*time.Second, fleetredis.DefaultRecheck, seed)
				steady, share := float64(r.okWarm)/r.warmLimit, float64(r.t429)/float64(r.ok+r.t429)
				t.Logf("after 5 s: %.1f %% of the limit; whole run: %d answers, %.1f %% of the limit (burst included); 429: %d (%.1f %%)",
					100*steady, r.ok, 100*float64(r.ok)/r.limit, r.t429, 100*share)
				// Known shortfall: a bucket of 2 under whole-second resets is found full by most
				// reports until the fleet paces faster than it has proved, which it tries 10 % at a
				// time until a 429.
				if steady < 0.95 && burst != 2 || steady < 0.75 {
					t.Errorf("goodput after 5 s: %.1f %% of the limit, want at least 95 %%", 100*steady)
				}
				if share > 0.02 && burst != 2 || share > 0.05 {
					t.Errorf("%.1f %% of the responses were 429", 100*share)
				}
				for i, p := range r.proved {
					if p > 20*1.01 {
						t.Errorf("at %d s the fleet proved %.2f requests/s, above the true 20", i, p)
						break
					}
				}
			})
		}
	}
}
