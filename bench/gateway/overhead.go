package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rebound-go/rebound/fakellm"
)

// OverheadOptions say what the overhead mode measures.
type OverheadOptions struct {
	Start    starter       // starts a gateway
	Rate     int           // requests per second through the gateway (as many again direct)
	Duration time.Duration // of each measured run (a warm-up of a tenth, at least 1 s, first)
	Peak     bool          // ramp the rate through the gateway to find the peak
	Memory   int           // instead: this many requests at Rate, sampling the gateway's RSS
	Log      io.Writer
}

// Latency is one path's latency distribution.
type Latency struct {
	N, Errors       int
	P50, P90, P99   time.Duration
	Max             time.Duration
	SchedulerLagP99 time.Duration // how late the generator sent (same for both paths)
}

// OverheadRun is one interleaved run: the same requests direct and through the gateway.
type OverheadRun struct {
	Stream          bool
	Rate            int
	Direct, Gateway Latency
	Load            string
	// SelfP50, SelfP99: the gateway's own account of its share
	// (rebound_gateway_added_latency_seconds over the run), when it exports one.
	SelfP50, SelfP99 time.Duration
	Self             bool
	// GatewayCPU is the CPU time the gateway process used during the run (user plus system,
	// from /proc), BenchCPU this program's (the generator and the fake, both paths); InProcess
	// says the gateway ran in this program (then the two are one figure).
	GatewayCPU, BenchCPU time.Duration
	InProcess            bool
}

// perRequest is d over n requests, in microseconds.
func perRequest(d time.Duration, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(d.Nanoseconds()) / 1000 / float64(n)
}

// PeakStep is one step of the ramp.
type PeakStep struct {
	Target   int
	Achieved float64
	Errors   int
	P50, P99 time.Duration
	OK       bool
	Why      string
	Load     string
	// Served counts the requests answered; GatewayCPU is the gateway process's CPU time during
	// the step.
	Served     int
	GatewayCPU time.Duration
}

// MemSample is the gateway's RSS after some requests.
type MemSample struct {
	Requests int64
	Elapsed  time.Duration
	RSSKB    int64
}

// OverheadResult is the outcome of the overhead mode.
type OverheadResult struct {
	Runs    []OverheadRun
	Peak    []PeakStep
	Memory  []MemSample
	MemErrs int64
	Took    time.Duration
}

// addedMetric is the gateway's histogram of its own share of each request's time.
const addedMetric = "rebound_gateway_added_latency_seconds"

func anthropicBody(stream bool) []byte {
	return fmt.Appendf(nil, `{"model":"claude-healthy","max_tokens":64,"stream":%v,"messages":[{"role":"user","content":%q}]}`, stream, prompt)
}

// target is one path: a URL and the key it takes.
type target struct {
	url, key string
	client   *http.Client
}

func newTarget(base, key string) *target {
	tr := &http.Transport{MaxIdleConns: 4096, MaxIdleConnsPerHost: 4096, IdleConnTimeout: 60 * time.Second}
	return &target{url: base + "/v1/messages", key: key, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// do sends one request and reads the whole answer (a stream to its end).
func (t *target) do(body []byte) (time.Duration, bool) {
	req, _ := http.NewRequest(http.MethodPost, t.url, bytes.NewReader(body))
	req.Header.Set("x-api-key", t.key)
	req.Header.Set("anthropic-version", "2023-06-01")
	req.Header.Set("content-type", "application/json")
	start := time.Now()
	resp, err := t.client.Do(req)
	if err != nil {
		return time.Since(start), false
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	return d, err == nil && resp.StatusCode == http.StatusOK
}

type sample struct {
	d   time.Duration
	ok  bool
	lag time.Duration
}

// openLoop sends n requests per second for dur: at each tick one request to each target (in
// alternating order), each in its own goroutine, so that a slow answer never delays the next
// request. It returns each target's samples.
func openLoop(targets []*target, body []byte, rate int, dur time.Duration) [][]sample {
	interval := time.Second / time.Duration(rate)
	n := int(dur / interval)
	out := make([][]sample, len(targets))
	for i := range out {
		out[i] = make([]sample, n)
	}
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if w := time.Until(due); w > 0 {
			time.Sleep(w)
		}
		lag := time.Since(due)
		for k := range targets {
			j := (i + k) % len(targets) // alternate which path goes first
			wg.Add(1)
			go func(i, j int) {
				defer wg.Done()
				d, ok := targets[j].do(body)
				out[j][i] = sample{d, ok, lag}
			}(i, j)
		}
	}
	wg.Wait()
	return out
}

func latencyOf(ss []sample) Latency {
	l := Latency{N: len(ss)}
	ds := make([]time.Duration, 0, len(ss))
	lags := make([]time.Duration, 0, len(ss))
	for _, s := range ss {
		if !s.ok {
			l.Errors++
			continue
		}
		ds = append(ds, s.d)
		lags = append(lags, s.lag)
	}
	if len(ds) == 0 {
		return l
	}
	slices.Sort(ds)
	slices.Sort(lags)
	q := func(xs []time.Duration, p float64) time.Duration { return xs[min(len(xs)-1, int(p*float64(len(xs))))] }
	l.P50, l.P90, l.P99, l.Max = q(ds, 0.5), q(ds, 0.9), q(ds, 0.99), ds[len(ds)-1]
	l.SchedulerLagP99 = q(lags, 0.99)
	return l
}

// RunOverhead measures the gateway's added latency, its peak rate, or its memory.
func RunOverhead(o OverheadOptions) (*OverheadResult, error) {
	start := time.Now()
	if o.Log == nil {
		o.Log = io.Discard
	}
	f, err := startFake("upstream", fakellm.Options{LogSize: 100})
	if err != nil {
		return nil, err
	}
	defer f.close()
	cfg := gatewayConfig{
		ClientKeys: []map[string]string{{"env": "GW_CLIENT_KEY"}},
		Upstreams: []map[string]any{{"name": "anthropic-a", "provider": "anthropic", "base_url": f.url, "key_env": "KEY_A",
			"models": []string{"claude-healthy"}}},
		Routes: map[string][]string{"claude-healthy": {"anthropic-a/claude-healthy"}},
	}
	gw, err := o.Start(cfg)
	if err != nil {
		return nil, err
	}
	defer gw.stop()
	direct, through := newTarget(f.url, upstreamKeyA), newTarget(gw.url, clientKey)
	res := &OverheadResult{}
	if o.Memory > 0 {
		res.Memory, res.MemErrs = memoryRun(o, gw, through)
		res.Took = time.Since(start)
		return res, nil
	}
	warm := max(time.Second, o.Duration/10)
	for _, stream := range []bool{false, true} {
		body := anthropicBody(stream)
		fmt.Fprintf(o.Log, "overhead: stream=%v, %d/s each path, %v (+%v warm-up)\n", stream, o.Rate, o.Duration, warm)
		openLoop([]*target{direct, through}, body, o.Rate, warm)
		load := loadAvg()
		before := scrapeHistogram(gw.url, addedMetric)
		gw0, self0 := gw.cpu(), selfCPU()
		ss := openLoop([]*target{direct, through}, body, o.Rate, o.Duration)
		gw1, self1 := gw.cpu(), selfCPU()
		run := OverheadRun{Stream: stream, Rate: o.Rate, Direct: latencyOf(ss[0]), Gateway: latencyOf(ss[1]), Load: load,
			GatewayCPU: gw1 - gw0, BenchCPU: self1 - self0, InProcess: gw.cmd == nil}
		after := scrapeHistogram(gw.url, addedMetric)
		run.SelfP50, run.Self = quantile(before, after, 0.5)
		run.SelfP99, _ = quantile(before, after, 0.99)
		res.Runs = append(res.Runs, run)
	}
	if o.Peak {
		body := anthropicBody(false)
		step := max(2*time.Second, o.Duration/5)
		for _, rate := range []int{1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 10000, 12000} {
			load := loadAvg()
			t0, cpu0 := time.Now(), gw.cpu()
			ss := openLoop([]*target{through}, body, rate, step)
			took, cpu1 := time.Since(t0), gw.cpu()
			l := latencyOf(ss[0])
			ps := PeakStep{Target: rate, Achieved: float64(l.N-l.Errors) / took.Seconds(), Errors: l.Errors, P50: l.P50, P99: l.P99, Load: load,
				Served: l.N - l.Errors, GatewayCPU: cpu1 - cpu0}
			switch {
			case l.Errors > l.N/1000:
				ps.Why = fmt.Sprintf("%d errors", l.Errors)
			case ps.Achieved < 0.95*float64(rate):
				ps.Why = fmt.Sprintf("served %.0f/s", ps.Achieved)
			case l.P99 > 100*time.Millisecond:
				ps.Why = "p99 over 100ms"
			default:
				ps.OK = true
			}
			fmt.Fprintf(o.Log, "peak: %d/s -> %.0f/s p50 %v p99 %v errors %d, gateway CPU %.1f µs a request %s\n", rate, ps.Achieved, l.P50, l.P99, l.Errors,
				perRequest(ps.GatewayCPU, ps.Served), ps.Why)
			res.Peak = append(res.Peak, ps)
			if !ps.OK {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	res.Took = time.Since(start)
	return res, nil
}

// memoryRun sends o.Memory requests at o.Rate through the gateway (streamed and not,
// alternately) and samples its RSS every 5 s.
func memoryRun(o OverheadOptions, gw *gatewayProc, t *target) ([]MemSample, int64) {
	var done, errs atomic.Int64
	bodies := [][]byte{anthropicBody(false), anthropicBody(true)}
	start := time.Now()
	var samples []MemSample
	sampleNow := func() {
		kb, _ := rssKB(gw.pid())
		samples = append(samples, MemSample{Requests: done.Load(), Elapsed: time.Since(start), RSSKB: kb})
		fmt.Fprintf(o.Log, "memory: %d requests, %v, RSS %.1f MB, load %s\n", done.Load(), time.Since(start).Round(time.Second), float64(kb)/1024, loadAvg())
	}
	sampleNow()
	stop := make(chan struct{})
	go func() {
		tk := time.NewTicker(5 * time.Second)
		defer tk.Stop()
		for {
			select {
			case <-tk.C:
				sampleNow()
			case <-stop:
				return
			}
		}
	}()
	interval := time.Second / time.Duration(o.Rate)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2048)
	for i := range o.Memory {
		due := start.Add(time.Duration(i) * interval)
		if w := time.Until(due); w > 0 {
			time.Sleep(w)
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			if _, ok := t.do(bodies[i%2]); !ok {
				errs.Add(1)
			}
			done.Add(1)
		}(i)
	}
	wg.Wait()
	close(stop)
	time.Sleep(10 * time.Millisecond)
	sampleNow()
	return samples, errs.Load()
}

func fmtMS(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d.Microseconds())/1000) }

// Print writes the overhead tables.
func (r *OverheadResult) Print(w io.Writer) {
	if len(r.Runs) > 0 {
		fmt.Fprintln(w, "| body | rate (each path) | direct p50 | direct p99 | gateway p50 | gateway p99 | added p50 | added p99 | gateway's own p50 / p99 | gateway CPU a request | bench CPU a request | errors | load average |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
		for _, x := range r.Runs {
			body := "non-streamed"
			if x.Stream {
				body = "streamed"
			}
			self := "—"
			if x.Self {
				self = fmtMS(x.SelfP50) + " / " + fmtMS(x.SelfP99) + " ms"
			}
			gwCPU := fmt.Sprintf("%.1f µs", perRequest(x.GatewayCPU, x.Gateway.N))
			if x.InProcess {
				gwCPU = "(in-process)"
			}
			fmt.Fprintf(w, "| %s | %d/s | %s ms | %s ms | %s ms | %s ms | **%s ms** | **%s ms** | %s | %s | %.1f µs | %d / %d | %s |\n", body, x.Rate,
				fmtMS(x.Direct.P50), fmtMS(x.Direct.P99), fmtMS(x.Gateway.P50), fmtMS(x.Gateway.P99),
				fmtMS(x.Gateway.P50-x.Direct.P50), fmtMS(x.Gateway.P99-x.Direct.P99), self, gwCPU,
				perRequest(x.BenchCPU, x.Direct.N+x.Gateway.N), x.Direct.Errors+x.Gateway.Errors, x.Direct.N+x.Gateway.N, x.Load)
		}
		fmt.Fprintln(w, "\n(CPU a request: the gateway process's user+system time over the requests sent through it; the bench's, the generator and the fake together, over every request of both paths)")
		fmt.Fprintf(w, "\n(generator's send lag p99: %s ms)\n\n", fmtMS(r.Runs[0].Gateway.SchedulerLagP99))
	}
	if len(r.Peak) > 0 {
		fmt.Fprintln(w, "| offered (through the gateway) | served | p50 | p99 | gateway CPU a request | errors | verdict | load average |")
		fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---|---|")
		best := 0.0
		for _, p := range r.Peak {
			v := "held"
			if !p.OK {
				v = "not held: " + p.Why
			} else {
				best = max(best, p.Achieved)
			}
			fmt.Fprintf(w, "| %d/s | %.0f/s | %s ms | %s ms | %.1f µs | %d | %s | %s |\n", p.Target, p.Achieved, fmtMS(p.P50), fmtMS(p.P99),
				perRequest(p.GatewayCPU, p.Served), p.Errors, v, p.Load)
		}
		fmt.Fprintf(w, "\npeak held: %.0f requests/s\n\n", best)
	}
	if len(r.Memory) > 0 {
		fmt.Fprintln(w, "| requests | elapsed | gateway RSS |")
		fmt.Fprintln(w, "|---:|---:|---:|")
		step := max(1, len(r.Memory)/12)
		for i, m := range r.Memory {
			if i%step == 0 || i == len(r.Memory)-1 {
				fmt.Fprintf(w, "| %d | %v | %.1f MB |\n", m.Requests, m.Elapsed.Round(time.Second), float64(m.RSSKB)/1024)
			}
		}
		fmt.Fprintf(w, "\nerrors: %d\n", r.MemErrs)
	}
	fmt.Fprintf(w, "took %v\n", r.Took.Round(time.Second))
}
