package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rebound-go/rebound/fakellm"
)

// ReplicasOptions say what the replicas mode runs.
type ReplicasOptions struct {
	Start  starter // starts a gateway
	Redis  string
	Trials int           // outages, one model each (default 10)
	Load   time.Duration // of the shared-limit run (default 10 s)
	Agents int           // per replica in the shared-limit run (default 16)
	Log    io.Writer
}

// Propagation is one outage trial.
type Propagation struct {
	Model string
	// Seen is from the failure that opened replica 1's breaker to the first request of
	// replica 2 that its breaker turned away; an upper bound when that was replica 2's first
	// request (Before == 0).
	Seen time.Duration
	// Before counts replica 2's requests that still reached the primary; Attempts, the
	// attempts they made there (a request is retried once before it falls back).
	Before, Attempts int
	OK               bool
}

// ReplicasResult is the outcome of the replicas mode.
type ReplicasResult struct {
	Trials []Propagation
	// The shared-limit run.
	Limit, Agents          int
	Duration               time.Duration
	Upstream, Upstream429  int
	Answered, ClientErrors int
	PerReplica             [2]int
	Load                   string
	PropagationLoad        string
}

// RunReplicas starts two gateways sharing one Redis (a fresh key prefix) and measures.
func RunReplicas(o ReplicasOptions) (*ReplicasResult, error) {
	if o.Trials == 0 {
		o.Trials = 10
	}
	if o.Load == 0 {
		o.Load = 10 * time.Second
	}
	if o.Agents == 0 {
		o.Agents = 16
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	// p1 and p2 are the same primary account as each replica reaches it (two fakes, so that
	// the log says which replica sent a request); both are in the same outage.
	p1, err := startFake("primary-via-1", fakellm.Options{})
	if err != nil {
		return nil, err
	}
	defer p1.close()
	p2, err := startFake("primary-via-2", fakellm.Options{})
	if err != nil {
		return nil, err
	}
	defer p2.close()
	fb, err := startFake("fallback", fakellm.Options{})
	if err != nil {
		return nil, err
	}
	defer fb.close()
	limited, err := startFake("limited", fakellm.Options{LogSize: 100})
	if err != nil {
		return nil, err
	}
	defer limited.close()
	const limit = 20
	limited.h.SetScript(fmt.Sprintf("limit rps=%d burst=%d\nlatency 50ms", limit, limit))
	p1.h.SetScript("error 529")
	p2.h.SetScript("error 529")
	prefix := fmt.Sprintf("rebound:bench:%d:%d", os.Getpid(), time.Now().UnixNano())
	var models []string
	for i := range o.Trials {
		models = append(models, fmt.Sprintf("claude-o%d", i+1))
	}
	cfg := func(primary *fake) gatewayConfig {
		routes := map[string][]string{"claude-limited": {"anthropic-l/claude-limited"}}
		for _, m := range models {
			routes[m] = []string{"anthropic-p/" + m, "anthropic-f/claude-fallback"}
		}
		return gatewayConfig{
			ClientKeys: []map[string]string{{"env": "GW_CLIENT_KEY"}},
			Redis:      o.Redis,
			Prefix:     prefix,
			Upstreams: []map[string]any{
				{"name": "anthropic-p", "provider": "anthropic", "base_url": primary.url, "key_env": "KEY_A", "models": models},
				{"name": "anthropic-f", "provider": "anthropic", "base_url": fb.url, "key_env": "KEY_B", "models": []string{"claude-fallback"}},
				{"name": "anthropic-l", "provider": "anthropic", "base_url": limited.url, "key_env": "KEY_A", "models": []string{"claude-limited"}},
			},
			Routes: routes,
		}
	}
	g1, err := o.Start(cfg(p1))
	if err != nil {
		return nil, err
	}
	defer g1.stop()
	g2, err := o.Start(cfg(p2))
	if err != nil {
		return nil, err
	}
	defer g2.stop()
	t1, t2 := newTarget(g1.url, clientKey), newTarget(g2.url, clientKey)
	res := &ReplicasResult{PropagationLoad: loadAvg()}
	for _, m := range models {
		pr, err := propagation(t1, t2, p1, p2, m)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(o.Log, "replicas: %s seen by replica 2 after %v (%d requests, %d attempts reached the primary first)\n", m, pr.Seen, pr.Before, pr.Attempts)
		res.Trials = append(res.Trials, pr)
	}
	// The shared limit: agents on both replicas, closed loop, one upstream limited to 20/s.
	res.Limit, res.Agents, res.Duration, res.Load = limit, o.Agents, o.Load, loadAvg()
	body := []byte(fmt.Sprintf(`{"model":"claude-limited","max_tokens":64,"messages":[{"role":"user","content":%q}]}`, prompt))
	// Warm the pacing: both replicas learn the limit from the headers of a first answer.
	t1.do(body)
	t2.do(body)
	limited.h.Reset()
	var answered, errs atomic.Int64
	var per [2]atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), o.Load)
	defer cancel()
	var wg sync.WaitGroup
	for i := range 2 * o.Agents {
		t := t1
		if i%2 == 1 {
			t = t2
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				_, ok := t.do(body)
				if ctx.Err() != nil {
					return
				}
				if ok {
					answered.Add(1)
					per[i%2].Add(1)
				} else {
					errs.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	c := limited.h.Counters()
	res.Upstream = int(c.Requests)
	res.Upstream429 = int(c.ByStatus["429"])
	res.Answered, res.ClientErrors = int(answered.Load()), int(errs.Load())
	res.PerReplica = [2]int{int(per[0].Load()), int(per[1].Load())}
	return res, nil
}

func propagation(t1, t2 *target, p1, p2 *fake, model string) (Propagation, error) {
	pr := Propagation{Model: model}
	body := []byte(fmt.Sprintf(`{"model":%q,"max_tokens":64,"messages":[{"role":"user","content":%q}]}`, model, prompt))
	// Replica 1 meets the outage until its breaker turns a request away.
	var open time.Time
	for i := 0; ; i++ {
		if i > 100 {
			return pr, fmt.Errorf("replica 1's breaker for %s never opened", model)
		}
		before := len(p1.requests(model))
		t1.do(body)
		recs := p1.requests(model)
		if len(recs) == before && before > 0 {
			last := recs[len(recs)-1]
			open = last.Time.Add(time.Duration(last.Millis) * time.Millisecond)
			break
		}
	}
	// Replica 2, which has sent nothing for this model, now sends one request every 5 ms.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		before := len(p2.requests(model))
		sent := time.Now()
		t2.do(body)
		if len(p2.requests(model)) == before {
			pr.Seen, pr.OK, pr.Attempts = sent.Sub(open), true, before
			return pr, nil
		}
		pr.Before++
		time.Sleep(5 * time.Millisecond)
	}
	pr.Seen, pr.Attempts = 2*time.Second, len(p2.requests(model))
	return pr, nil
}

// Print writes the replicas tables.
func (r *ReplicasResult) Print(w io.Writer) {
	fmt.Fprintf(w, "Outage propagation (load average %s): %d trials\n\n", r.PropagationLoad, len(r.Trials))
	fmt.Fprintln(w, "| model | replica 2 honours replica 1's open breaker after | replica 2 requests that reached the primary first | their attempts there |")
	fmt.Fprintln(w, "|---|---:|---:|---:|")
	var seen []time.Duration
	for _, t := range r.Trials {
		s := t.Seen.Round(100 * time.Microsecond).String()
		if !t.OK {
			s = "not within 2s"
		} else if t.Before == 0 {
			s = "≤ " + s
		}
		seen = append(seen, t.Seen)
		fmt.Fprintf(w, "| %s | %s | %d | %d |\n", t.Model, s, t.Before, t.Attempts)
	}
	slices.Sort(seen)
	if len(seen) > 0 {
		worst := 0
		for _, t := range r.Trials {
			worst = max(worst, t.Before)
		}
		fmt.Fprintf(w, "\nworst: %v (goal ≤ 250ms), %d requests of replica 2 reached the primary (goal ≤ 1)\n\n", seen[len(seen)-1].Round(100*time.Microsecond), worst)
	}
	share := 0.0
	if r.Upstream > 0 {
		share = 100 * float64(r.Upstream429) / float64(r.Upstream)
	}
	fmt.Fprintf(w, "Shared limit: %d agents on each of 2 replicas for %v, upstream limited to %d requests/s (load average %s)\n\n", r.Agents, r.Duration, r.Limit, r.Load)
	fmt.Fprintln(w, "| upstream requests | of which 429 | answered (replica 1 + 2) | goodput (% of limit) | client errors |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|")
	fmt.Fprintf(w, "| %d | %d (%.1f %%) | %d (%d + %d) | %.1f %% | %d |\n", r.Upstream, r.Upstream429, share, r.Answered,
		r.PerReplica[0], r.PerReplica[1], 100*float64(r.Answered)/r.Duration.Seconds()/float64(r.Limit), r.ClientErrors)
}
