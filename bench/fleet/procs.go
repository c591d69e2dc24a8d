package main

// Multi-process mode (-processes N): the fake server runs in this process and N child
// processes (this program re-executed, REBOUND_FLEET_CHILD set) each run -agents agents, with
// Rebound's state either shared through Redis (package fleet/redis: limiter, retry budget,
// breaker evidence) or each process's own. Scenarios:
//
//	rate       one key limited to -rps (burst -burst): goodput, 429s, calls given up
//	redis-kill the same through a private redis-server (started on a free port), SIGKILLed
//	           half-way through the run
//	outage     the primary model answers 529 from -lead for -outage; a fallback model is
//	           healthy: primary requests per call, answers, time to the primary's recovery;
//	           with -limited every key is also limited to -rps (burst -burst): 429s too
//	breaker    processes 0 and 1 are busy (-agents each), the others light (2 agents, 100 ms
//	           between calls); process 0 alone fails for 2 s (quorum: the others must not
//	           open), then every process's path fails: how long after the quorum of breakers
//	           opened (the second process's own breaker) each light process's breaker opens

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
	"github.com/rebound-go/rebound/fakellm"
	fleetredis "github.com/rebound-go/rebound/fleet/redis"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/anthropicllm"
	"github.com/rebound-go/rebound/llm/openaillm"
	"github.com/rebound-go/rebound/ratelimit"
	"github.com/rebound-go/rebound/retry"
)

// ProcConfig is one multi-process run.
type ProcConfig struct {
	Scenario   string // rate, redis-kill, outage, breaker
	Processes  int
	Agents     int // per process
	RPS, Burst float64
	Latency    time.Duration
	Duration   time.Duration // rate, redis-kill
	Lead       time.Duration // outage: run time before the outage; breaker: before process 0's lone failure
	Outage     time.Duration // outage: its length
	Tail       time.Duration // outage: run time after it
	Limited    bool          // outage: every key is also limited to RPS (burst Burst)
	Redis      string        // Redis URL for the fleet strategies (rate, outage, breaker)
	Strategies []string      // rebound-fleet, rebound-local, sdk-default, naive-article
}

// burst is the bucket's size: Burst, or RPS when it is not set.
func (c ProcConfig) burst() float64 {
	if c.Burst > 0 {
		return c.Burst
	}
	return c.RPS
}

// childConfig is what a child process is told, as JSON in REBOUND_FLEET_CHILD.
type childConfig struct {
	Index    int
	Scenario string
	Strategy string
	URL      string // the fake server
	Redis    string // "" for the local strategies
	Name     string // the fleet's key prefix
	Agents   int
	Pause    time.Duration // between an agent's calls
	Start    int64         // unix ns: when the agents start
	End      int64         // unix ns: when they stop
	OutFrom  int64         // unix ns: the outage's window (outage scenario)
	OutTo    int64
	LoneFrom int64 // unix ns: process 0's lone failure (breaker scenario)
	LoneTo   int64
}

// childResult is what a child process reports on stdout.
type childResult struct {
	Answers, GaveUp         int64
	InOutage, Answered      int64
	Degraded                int64
	Latencies               []int64 // ms, answered calls
	Errors                  map[string]int64
	OwnOpen, Forced         []int64 // unix ns of the breaker's openings, on its own failures / forced by the fleet
	RefusedLone             int64   // calls refused by an open breaker during process 0's lone failure
	RedisErrors             int64
	RedisErrorSample        string
	PrimaryAfterFirstForced int64 // primary requests this process sent after its breaker was first forced open
}

const childEnv = "REBOUND_FLEET_CHILD"

// quiet drops go-redis's own log lines (a dial failure per attempt once Redis is killed): the
// Redis errors a run meets are counted through OnError instead.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// RunProcs runs each strategy of c with c.Processes child processes and returns their results.
func RunProcs(c ProcConfig) ([]ProcResult, error) {
	var out []ProcResult
	for _, name := range c.Strategies {
		switch name {
		case "rebound-fleet", "rebound-local", "sdk-default", "naive-article":
		default:
			return nil, fmt.Errorf("unknown strategy %q (want rebound-fleet, rebound-local, sdk-default, naive-article)", name)
		}
		r, err := runProcs(c, name)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// ProcResult is one strategy's figures over every process.
type ProcResult struct {
	Strategy       string
	Elapsed        time.Duration
	Limit          float64
	Answers        int64
	GaveUp         int64
	Requests       int64
	TooMany        int64
	P50, P99       time.Duration
	Errors         map[string]int64
	RedisErrors    int64
	RedisError     string
	InOutage       int64
	Answered       int64
	Degraded       int64
	PrimaryInOut   int64 // primary requests during the outage
	ProbesPerSec   float64
	Recovery       time.Duration
	Recovered      bool
	LoneRefused    int64           // breaker: calls of processes 1.. refused during process 0's lone failure
	Quorum         time.Duration   // breaker: when the second process's own breaker opened, after the outage began
	OpenAfter      []time.Duration // breaker: per light process, its breaker's opening after the quorum
	OpenHow        []string        // "forced" or "own"
	LightRequests  int64           // breaker: primary requests of the light processes after the quorum
	RedisKilledAt  time.Duration
	ChildrenFailed int
}

func runProcs(c ProcConfig, strategy string) (ProcResult, error) {
	r := ProcResult{Strategy: strategy, Limit: c.RPS, Errors: map[string]int64{}}
	var script string
	switch c.Scenario {
	case "rate", "redis-kill":
		script = fmt.Sprintf("limit rps=%g burst=%g\nlatency %s\n", c.RPS, c.burst(), c.Latency)
	case "outage":
		script = fmt.Sprintf("latency %s\nerror 529 model=%s during=%s..%s\n", c.Latency, anthropicModel, c.Lead, c.Lead+c.Outage)
		if c.Limited {
			script = fmt.Sprintf("limit rps=%g burst=%g\n", c.RPS, c.burst()) + script
		}
	case "breaker":
		script = fmt.Sprintf("latency %s\nerror 529 model=%s contains=broken during=%s..%s\nerror 529 model=%s during=%s..\n",
			c.Latency, anthropicModel, c.Lead, c.Lead+2*time.Second, anthropicModel, c.Lead+4*time.Second)
	default:
		return r, fmt.Errorf("unknown scenario %q (want rate, redis-kill, outage, breaker)", c.Scenario)
	}
	h, err := fakellm.New(script, fakellm.Options{LogSize: 1 << 20})
	if err != nil {
		return r, err
	}
	srv := fakellm.Serve(h)
	defer srv.Close()

	redisURL := ""
	var kill func() error
	if strategy == "rebound-fleet" {
		redisURL = c.Redis
		if c.Scenario == "redis-kill" {
			url, k, err := startRedis()
			if err != nil {
				return r, err
			}
			defer k()
			redisURL, kill = url, k
		}
		if redisURL == "" {
			return r, errors.New("rebound-fleet needs -redis (or TEST_REDIS_URL)")
		}
	}

	// The children start together, once all have been built and connected.
	const warm = 1500 * time.Millisecond
	start := time.Now().Add(warm)
	run := c.Duration
	if c.Scenario == "outage" {
		run = c.Lead + c.Outage + c.Tail
	}
	if c.Scenario == "breaker" {
		run = c.Lead + 8*time.Second
	}
	if c.Scenario == "outage" || c.Scenario == "breaker" {
		// Reload the script as the children start, so that its windows count from then.
		go func() {
			time.Sleep(time.Until(start))
			h.SetScript(script)
		}()
	}
	name := fmt.Sprintf("rebound-bench-fleet:%d", time.Now().UnixNano())
	var cmds []*exec.Cmd
	outs := make([]*strings.Builder, c.Processes)
	for i := range c.Processes {
		cc := childConfig{
			Index: i, Scenario: c.Scenario, Strategy: strategy, URL: srv.URL, Redis: redisURL, Name: name,
			Agents: c.Agents, Start: start.UnixNano(), End: start.Add(run).UnixNano(),
		}
		if c.Scenario == "outage" {
			cc.OutFrom, cc.OutTo = start.Add(c.Lead).UnixNano(), start.Add(c.Lead+c.Outage).UnixNano()
		}
		if c.Scenario == "breaker" {
			cc.LoneFrom, cc.LoneTo = start.Add(c.Lead).UnixNano(), start.Add(c.Lead+2*time.Second).UnixNano()
			if i >= 2 {
				cc.Agents, cc.Pause = 2, 100*time.Millisecond
			}
		}
		js, _ := json.Marshal(cc)
		cmd := exec.Command(os.Args[0], childArgs()...)
		cmd.Env = append(os.Environ(), childEnv+"="+string(js))
		outs[i] = new(strings.Builder)
		cmd.Stdout = outs[i]
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			return r, fmt.Errorf("start process %d: %w", i, err)
		}
		cmds = append(cmds, cmd)
	}
	if kill != nil {
		at := start.Add(run / 2)
		go func() {
			time.Sleep(time.Until(at))
			kill()
		}()
		r.RedisKilledAt = run / 2
	}
	var results []childResult
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			r.ChildrenFailed++
			fmt.Fprintf(os.Stderr, "fleet: process %d: %v\n", i, err)
			continue
		}
		var cr childResult
		if err := json.Unmarshal([]byte(outs[i].String()), &cr); err != nil {
			return r, fmt.Errorf("process %d's report: %w", i, err)
		}
		results = append(results, cr)
	}
	r.Elapsed = run
	var lat []int64
	for _, cr := range results {
		r.Answers += cr.Answers
		r.GaveUp += cr.GaveUp
		r.InOutage += cr.InOutage
		r.Answered += cr.Answered
		r.Degraded += cr.Degraded
		r.RedisErrors += cr.RedisErrors
		if r.RedisError == "" {
			r.RedisError = cr.RedisErrorSample
		}
		lat = append(lat, cr.Latencies...)
		for k, v := range cr.Errors {
			r.Errors[k] += v
		}
	}
	slices.Sort(lat)
	if n := len(lat); n > 0 {
		r.P50, r.P99 = time.Duration(lat[n/2])*time.Millisecond, time.Duration(lat[min(n-1, n*99/100)])*time.Millisecond
	}
	cnt := srv.Counters()
	r.Requests, r.TooMany = cnt.Requests, cnt.ByStatus["429"]

	recs := srv.Requests()
	switch c.Scenario {
	case "outage":
		from, to := start.Add(c.Lead), start.Add(c.Lead+c.Outage)
		var late int64 // primary requests after the outage's first second: probes
		for _, rec := range recs {
			if rec.Model != anthropicModel {
				continue
			}
			if !rec.Time.Before(from) && rec.Time.Before(to) {
				r.PrimaryInOut++
				if !rec.Time.Before(from.Add(time.Second)) {
					late++
				}
			}
			if rec.Status == 200 && !rec.Time.Before(to) && !r.Recovered {
				r.Recovered, r.Recovery = true, rec.Time.Sub(to)
			}
		}
		r.ProbesPerSec = float64(late) / (c.Outage - time.Second).Seconds()
	case "breaker":
		if len(results) != c.Processes {
			break
		}
		r.LoneRefused = 0
		for _, cr := range results[1:] {
			r.LoneRefused += cr.RefusedLone
		}
		outAt := start.Add(c.Lead + 4*time.Second).UnixNano()
		var opens []int64
		for _, cr := range results[:2] {
			for _, t := range cr.OwnOpen {
				if t >= outAt {
					opens = append(opens, t)
					break
				}
			}
		}
		if len(opens) < 2 {
			break
		}
		slices.Sort(opens)
		quorum := opens[1]
		r.Quorum = time.Duration(quorum - outAt)
		for i, cr := range results[2:] {
			first, how := int64(0), ""
			for _, t := range cr.Forced {
				if t >= outAt && (first == 0 || t < first) {
					first, how = t, "forced"
				}
			}
			for _, t := range cr.OwnOpen {
				if t >= outAt && (first == 0 || t < first) {
					first, how = t, "own"
				}
			}
			r.OpenAfter = append(r.OpenAfter, time.Duration(first-quorum))
			r.OpenHow = append(r.OpenHow, how)
			tag := fmt.Sprintf("p%d ", i+2)
			for _, rec := range recs {
				if rec.Model == anthropicModel && rec.Time.UnixNano() >= quorum && strings.HasPrefix(rec.Prompt, tag) {
					r.LightRequests++
				}
			}
		}
	}
	return r, nil
}

// childArgs are the arguments a child is started with: none for the program; under go test,
// the test binary runs only TestMain's child branch.
func childArgs() []string {
	if strings.HasSuffix(os.Args[0], ".test") {
		return []string{"-test.run=^$"}
	}
	return nil
}

// startRedis starts a private redis-server on a free port, without persistence, and returns
// its URL and a function that SIGKILLs it.
func startRedis() (string, func() error, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("redis-kill needs redis-server: %w", err)
	}
	var once sync.Once
	kill := func() error {
		once.Do(func() {
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
		})
		return nil
	}
	url := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	opt, _ := redis.ParseURL(url)
	c := redis.NewClient(opt)
	defer c.Close()
	for i := 0; ; i++ {
		if c.Ping(context.Background()).Err() == nil {
			break
		}
		if i == 50 {
			kill()
			return "", nil, errors.New("private redis-server did not answer")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return url, kill, nil
}

// childMain runs a child process's agents and writes its childResult to stdout.
func childMain(js string) {
	var cc childConfig
	if err := json.Unmarshal([]byte(js), &cc); err != nil {
		fmt.Fprintln(os.Stderr, "fleet child:", err)
		os.Exit(2)
	}
	res := runChild(cc)
	json.NewEncoder(os.Stdout).Encode(res)
}

func runChild(cc childConfig) childResult {
	redis.SetLogger(quiet{})
	res := childResult{Errors: map[string]int64{}}
	ep := endpoint{cc.URL, cc.URL + "/v1/"}
	var mu sync.Mutex
	var redisErrs atomic.Int64
	onError := func(err error) {
		if redisErrs.Add(1) == 1 {
			mu.Lock()
			res.RedisErrorSample = err.Error()
			mu.Unlock()
		}
	}
	text := fmt.Sprintf("p%d Summarise the last step in one line.", cc.Index)
	if cc.Scenario == "breaker" && cc.Index == 0 {
		text = "p0 broken path: summarise the last step in one line."
	}
	req := llm.Request{Messages: []llm.Message{llm.User(text)}, MaxTokens: 64}

	var do func(ctx context.Context) (degraded bool, err error)
	var guards *fleetredis.Guards
	switch cc.Strategy {
	case "rebound-fleet", "rebound-local":
		var hook rebound.Hook = func(_ context.Context, e rebound.Event) {
			if e.Kind != rebound.BreakerChanged || e.To != "open" || e.Model != "anthropic/"+anthropicModel {
				return
			}
			forced := guards != nil && guards.Get(e.Model).Forced()
			mu.Lock()
			if forced {
				res.Forced = append(res.Forced, e.Time.UnixNano())
			} else {
				res.OwnOpen = append(res.OwnOpen, e.Time.UnixNano())
			}
			mu.Unlock()
		}
		set, err := breaker.NewSet(breaker.SetConfig{Settings: breaker.Settings{Hook: hook}})
		if err != nil {
			panic(err)
		}
		cfg := llm.Config{Breakers: set, Retry: retry.Policy{Budget: new(retry.Budget)}}
		var fleetLim *fleetredis.Limiter
		if cc.Strategy == "rebound-fleet" {
			opt, err := redis.ParseURL(cc.Redis)
			if err != nil {
				panic(err)
			}
			opt.MaxRetries = -1
			rdb := redis.NewClient(opt)
			lim := fleetredis.NewLimiter(rdb, fleetredis.LimiterConfig{Name: cc.Name + ":limit", OnError: onError})
			budget := fleetredis.NewBudget(rdb, fleetredis.BudgetConfig{Name: cc.Name + ":budget", Local: new(retry.Budget), OnError: onError})
			guards = fleetredis.NewEvidence(rdb, fleetredis.EvidenceConfig{Name: cc.Name + ":breaker", OnError: onError}).Guards(set)
			cfg.Pace = lim.Pace("anthropic/sk-ant-fleet")
			fleetLim = lim
			cfg.Retry.Budget = budget
			cfg.BreakerFor = guards.BreakerFor
		}
		primary, err := llm.Resilient(anthropicllm.New(anthropicClient(ep), anthropicModel), cfg)
		if err != nil {
			panic(err)
		}
		var m llm.Model = primary
		if cc.Scenario == "outage" {
			fcfg := cfg
			fcfg.Pace = nil // the fallback is another provider, another key: its own pacing
			if fleetLim != nil {
				fcfg.Pace = fleetLim.Pace("openai/sk-fleet")
			}
			backup, err := llm.Resilient(openaillm.New(openaiClient(ep), openaiModel), fcfg)
			if err != nil {
				panic(err)
			}
			m = llm.Fallback(primary, backup)
		}
		do = func(ctx context.Context) (bool, error) {
			resp, err := m.Generate(ctx, req)
			if err != nil {
				return false, err
			}
			return resp.Provenance.Degraded, nil
		}
	default:
		mk := strategies[cc.Strategy]
		call := mk(ep, "anthropic")
		do = func(ctx context.Context) (bool, error) { return false, call(ctx) }
	}

	time.Sleep(time.Until(time.Unix(0, cc.Start)))
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, cc.End))
	defer cancel()
	var wg sync.WaitGroup
	for range cc.Agents {
		wg.Go(func() {
			for ctx.Err() == nil {
				t0 := time.Now()
				inOutage := cc.OutTo > 0 && t0.UnixNano() >= cc.OutFrom && t0.UnixNano() < cc.OutTo
				inLone := cc.LoneTo > 0 && t0.UnixNano() >= cc.LoneFrom && t0.UnixNano() < cc.LoneTo
				degraded, err := do(ctx)
				d := time.Since(t0)
				mu.Lock()
				switch {
				case err == nil:
					res.Answers++
					res.Latencies = append(res.Latencies, d.Milliseconds())
					if inOutage {
						res.InOutage++
						res.Answered++
						if degraded {
							res.Degraded++
						}
					}
				case errors.Is(err, ratelimit.ErrWouldExceedDeadline):
					// The call's turn would come after the run's end: cut by the end of the run.
					mu.Unlock()
					return
				case ctx.Err() == nil:
					if inOutage {
						res.InOutage++
					}
					if inLone && errors.Is(err, rebound.ErrCircuitOpen) {
						res.RefusedLone++
					}
					if cc.Scenario != "breaker" {
						res.GaveUp++
						res.Errors[describe(err)]++
					}
				}
				mu.Unlock()
				if cc.Pause > 0 {
					select {
					case <-time.After(cc.Pause):
					case <-ctx.Done():
					}
				}
			}
		})
	}
	wg.Wait()
	res.RedisErrors = redisErrs.Load()
	return res
}

// tooManyShare is the share of the server's responses that were 429.
func (r ProcResult) tooManyShare() float64 {
	if r.Requests == 0 {
		return 0
	}
	return float64(r.TooMany) / float64(r.Requests)
}

// PrintProcs writes the table of a multi-process run.
func PrintProcs(w io.Writer, c ProcConfig, rs []ProcResult) {
	switch c.Scenario {
	case "rate", "redis-kill":
		fmt.Fprintf(w, "%d processes × %d agents, one key limited to %g requests/s (burst %g), answers after %s, %s per strategy", c.Processes, c.Agents, c.RPS, c.burst(), c.Latency, c.Duration)
		if c.Scenario == "redis-kill" {
			fmt.Fprintf(w, "; the fleet's private Redis SIGKILLed at %s", c.Duration/2)
		}
		fmt.Fprint(w, "\n\n| strategy | goodput (% of limit) | HTTP requests per answer | responses that were 429 | calls given up | p50 latency | p99 latency | Redis errors seen |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, r := range rs {
			per := 0.0
			if r.Answers > 0 {
				per = float64(r.Requests) / float64(r.Answers)
			}
			fmt.Fprintf(w, "| %s | %.1f %% | %.2f | %.1f %% (%d of %d) | %d of %d | %s | %s | %d |\n", r.Strategy,
				100*float64(r.Answers)/r.Elapsed.Seconds()/r.Limit, per, 100*r.tooManyShare(), r.TooMany, r.Requests, r.GaveUp, r.Answers+r.GaveUp,
				r.P50.Round(time.Millisecond), r.P99.Round(time.Millisecond), r.RedisErrors)
		}
	case "outage":
		fmt.Fprintf(w, "%d processes × %d agents; the primary (anthropic/%s) answers 529 from t=%s for %s, then %s more; the fallback (openai/%s) is healthy; answers after %s",
			c.Processes, c.Agents, anthropicModel, c.Lead, c.Outage, c.Tail, openaiModel, c.Latency)
		if c.Limited {
			fmt.Fprintf(w, "; each key limited to %g requests/s (burst %g)", c.RPS, c.burst())
		}
		fmt.Fprint(w, "\n\n| strategy | primary requests per call started in the outage | primary requests per second after its first second (fleet-wide) | calls of the outage answered | by the fallback | calls failed (whole run) | primary serving again after the outage | responses that were 429 |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, r := range rs {
			per, ans := 0.0, 0.0
			if r.InOutage > 0 {
				per, ans = float64(r.PrimaryInOut)/float64(r.InOutage), float64(r.Answered)/float64(r.InOutage)
			}
			rec := "not within the run"
			if r.Recovered {
				rec = r.Recovery.Round(10 * time.Millisecond).String()
			}
			fmt.Fprintf(w, "| %s | %.3f | %.1f | %.1f %% (%d of %d) | %d | %d | %s | %.1f %% (%d of %d) |\n", r.Strategy, per, r.ProbesPerSec, 100*ans, r.Answered, r.InOutage, r.Degraded, r.GaveUp, rec, 100*r.tooManyShare(), r.TooMany, r.Requests)
		}
	case "breaker":
		fmt.Fprintf(w, "%d processes: 0 and 1 busy (%d agents each), the others light (2 agents, 100 ms between calls); answers after %s. Process 0's path alone fails for 2 s from t=%s; every path fails from t=%s\n\n",
			c.Processes, c.Agents, c.Latency, c.Lead, c.Lead+4*time.Second)
		fmt.Fprint(w, "| strategy | calls of processes 1.. refused while process 0 failed alone | quorum: second busy process's own breaker open, after the outage began | each light process's breaker open, after the quorum | light processes' primary requests after the quorum |\n|---|---:|---:|---|---:|\n")
		for _, r := range rs {
			var parts []string
			for i, d := range r.OpenAfter {
				parts = append(parts, fmt.Sprintf("%s (%s)", d.Round(time.Millisecond), r.OpenHow[i]))
			}
			fmt.Fprintf(w, "| %s | %d | %s | %s | %d |\n", r.Strategy, r.LoneRefused, r.Quorum.Round(time.Millisecond), strings.Join(parts, ", "), r.LightRequests)
		}
	}
	for _, r := range rs {
		if len(r.Errors) > 0 {
			keys := make([]string, 0, len(r.Errors))
			for k := range r.Errors {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			var parts []string
			for _, k := range keys {
				parts = append(parts, fmt.Sprintf("%s ×%d", k, r.Errors[k]))
			}
			fmt.Fprintf(w, "\n%s gave up with: %s", r.Strategy, strings.Join(parts, ", "))
		}
		if r.RedisError != "" {
			fmt.Fprintf(w, "\n%s: first Redis error: %s", r.Strategy, r.RedisError)
		}
		if r.ChildrenFailed > 0 {
			fmt.Fprintf(w, "\n%s: %d processes failed", r.Strategy, r.ChildrenFailed)
		}
	}
	fmt.Fprintln(w)
}
