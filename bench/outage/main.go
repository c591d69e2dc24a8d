// Command outage measures how agents fare when their primary model goes down: 32 agents call
// a primary model (anthropic/claude-sonnet-4-5 on fakellm), which answers 529 overloaded to
// everything for an outage of 10 s, then of 20 s (10 s into the run, 10 s before its end), while
// a fallback model (openai/gpt-4o on the same fake) stays healthy. Strategies, run one after
// another on fresh servers, once per outage length:
//
//	rebound        llm.Fallback(llm.Resilient(primary), llm.Resilient(fallback)) with one
//	               breaker set and one retry budget
//	sdk-default    anthropic-sdk-go v2.15.0 with its own retries, no fallback
//	naive-article  SDK retries off; 5 attempts of full-jitter backoff (1 s base, 60 s cap), no
//	               fallback
//
// Figures: requests sent to the primary per logical call started during the outage, the share
// of those calls answered (and by the fallback, marked degraded), the calls that failed, and
// the time from the primary's recovery to its first served call, next to the breaker's open
// time in force at the recovery.
//
//	go run ./outage                           # outages of 10 s and 20 s, 30 s and 40 s a strategy
//	go run ./outage -outages 3s -lead 3s -tail 3s    # a quick look
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	ooption "github.com/openai/openai-go/v3/option"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/anthropicllm"
	"github.com/rebound-go/rebound/llm/openaillm"
	"github.com/rebound-go/rebound/retry"
)

// Config is one run of the benchmark.
type Config struct {
	Agents  int
	Latency time.Duration
	// Lead is the run before the outage, Outage the outage's length, Tail the run after it.
	Lead, Outage, Tail time.Duration
	Strategies         []string
}

// outage returns when the primary is down, measured from the start of the run.
func (c Config) outage() (from, to time.Duration) { return c.Lead, c.Lead + c.Outage }

// duration is the length of the run.
func (c Config) duration() time.Duration { return c.Lead + c.Outage + c.Tail }

// Result is one strategy's figures.
type Result struct {
	Strategy        string
	Outage          time.Duration
	InOutage        int64 // logical calls started during the outage
	PrimaryRequests int64 // requests the primary received for them (started during the outage)
	Answered        int64 // calls started during the outage that were answered
	Degraded        int64 // of which by the fallback, marked degraded
	Failed          int64 // calls that failed, over the whole run
	Recovery        time.Duration
	Recovered       bool
	OpenTime        time.Duration // the breaker's open time in force when the outage ended
}

const (
	primaryID  = "claude-sonnet-4-5"
	fallbackID = "gpt-4o"
)

var prompt = llm.Request{Messages: []llm.Message{llm.User("Draft the next section.")}, MaxTokens: 64}

// call is one logical call: it reports whether the answer was degraded.
type call func(ctx context.Context) (degraded bool, err error)

type setup struct {
	srv   *fakellm.Server
	hook  rebound.Hook
	begin time.Time
}

// httpClient keeps a connection per agent alive (Go's default keeps 2 idle per host), the same
// for every strategy, so that connection churn is not what is measured.
var httpClient = &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}

func anthropicClient(srv *fakellm.Server, opts ...aoption.RequestOption) anthropic.Client {
	return anthropic.NewClient(append([]aoption.RequestOption{
		aoption.WithAPIKey("sk-ant-outage"), aoption.WithBaseURL(srv.AnthropicBaseURL), aoption.WithHTTPClient(httpClient),
	}, opts...)...)
}

func params() anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model: primaryID, MaxTokens: 64,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Draft the next section."))},
	}
}

var strategies = map[string]func(s setup) call{
	"rebound": func(s setup) call {
		set, err := breaker.NewSet(breaker.SetConfig{Settings: breaker.Settings{Hook: s.hook}})
		if err != nil {
			panic(err)
		}
		cfg := llm.Config{Breakers: set, Retry: retry.Policy{Budget: new(retry.Budget)}}
		primary := anthropicllm.New(anthropicClient(s.srv), primaryID)
		backup := openaillm.New(openai.NewClient(ooption.WithAPIKey("sk-outage"), ooption.WithBaseURL(s.srv.OpenAIBaseURL), ooption.WithHTTPClient(httpClient)), fallbackID)
		rp, err := llm.Resilient(primary, cfg)
		if err != nil {
			panic(err)
		}
		rb, err := llm.Resilient(backup, cfg)
		if err != nil {
			panic(err)
		}
		m := llm.Fallback(rp, rb)
		return func(ctx context.Context) (bool, error) {
			resp, err := m.Generate(ctx, prompt)
			if err != nil {
				return false, err
			}
			return resp.Provenance.Degraded, nil
		}
	},
	"sdk-default": func(s setup) call {
		c := anthropicClient(s.srv)
		return func(ctx context.Context) (bool, error) {
			_, err := c.Messages.New(ctx, params())
			return false, err
		}
	},
	"naive-article": func(s setup) call {
		c := anthropicClient(s.srv, aoption.WithMaxRetries(0))
		return func(ctx context.Context) (bool, error) {
			var err error
			for attempt := range 5 {
				if _, err = c.Messages.New(ctx, params()); err == nil {
					return false, nil
				}
				var apiErr *anthropic.Error
				if errors.As(err, &apiErr) && apiErr.StatusCode != 429 && apiErr.StatusCode < 500 {
					return false, err
				}
				if ctx.Err() != nil || attempt == 4 {
					break
				}
				d := time.Duration(rand.Float64() * float64(min(60*time.Second, time.Second<<attempt)))
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return false, ctx.Err()
				}
			}
			return false, err
		}
	},
}

// Run runs each strategy of c in turn.
func Run(c Config) ([]Result, error) {
	var out []Result
	for _, name := range c.Strategies {
		mk, ok := strategies[name]
		if !ok {
			return nil, fmt.Errorf("unknown strategy %q (want rebound, sdk-default, naive-article)", name)
		}
		out = append(out, runOne(c, name, mk))
	}
	return out, nil
}

type breakerChange struct {
	at       time.Time
	from, to string
}

func runOne(c Config, name string, mk func(setup) call) Result {
	from, to := c.outage()
	script := fmt.Sprintf("latency %s\nerror 529 model=%s during=%s..%s\n", c.Latency, primaryID, from, to)
	h, err := fakellm.New(script, fakellm.Options{LogSize: 1 << 20})
	if err != nil {
		panic(fmt.Sprintf("outage: fake server script: %v", err))
	}
	srv := fakellm.Serve(h)
	defer srv.Close()

	var mu sync.Mutex
	var changes []breakerChange
	hook := func(_ context.Context, e rebound.Event) {
		if e.Kind == rebound.BreakerChanged && e.Model == "anthropic/"+primaryID {
			mu.Lock()
			changes = append(changes, breakerChange{e.Time, e.From, e.To})
			mu.Unlock()
		}
	}
	start := time.Now() // the script's time windows count from its load, just before
	do := mk(setup{srv: srv, hook: hook, begin: start})
	ctx, cancel := context.WithTimeout(context.Background(), c.duration())
	defer cancel()
	r := Result{Strategy: name, Outage: c.Outage}
	outFrom, outTo := start.Add(from), start.Add(to)
	var wg sync.WaitGroup
	for range c.Agents {
		wg.Go(func() {
			for ctx.Err() == nil {
				t0 := time.Now()
				inOutage := !t0.Before(outFrom) && t0.Before(outTo)
				degraded, err := do(ctx)
				mu.Lock()
				if inOutage {
					r.InOutage++
				}
				switch {
				case err == nil:
					if inOutage {
						r.Answered++
						if degraded {
							r.Degraded++
						}
					}
				case ctx.Err() == nil:
					r.Failed++
				default:
					if inOutage {
						r.InOutage-- // cut by the end of the run: not a call of the outage
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	// Primary requests sent during the outage, and its first answer after it.
	for _, rec := range srv.Requests() {
		if rec.Model != primaryID {
			continue
		}
		if !rec.Time.Before(outFrom) && rec.Time.Before(outTo) {
			r.PrimaryRequests++
		}
		if rec.Status == 200 && !rec.Time.Before(outTo) && !r.Recovered {
			r.Recovered, r.Recovery = true, rec.Time.Sub(outTo)
		}
	}
	// The open time in force at the end of the outage: from the last opening before it to the
	// next half-open (or the end of the run).
	mu.Lock()
	var openedAt time.Time
	for _, ch := range changes {
		if ch.at.After(outTo) {
			if !openedAt.IsZero() && ch.to != "open" {
				r.OpenTime = ch.at.Sub(openedAt)
			}
			break
		}
		if ch.to == "open" {
			openedAt = ch.at
		}
	}
	mu.Unlock()
	return r
}

// Print writes the table of results (of one or more outage lengths).
func Print(w io.Writer, c Config, rs []Result) {
	fmt.Fprintf(w, "%d agents; the primary (anthropic/%s) answers 529 from t=%s for the outage's length, then %s more; the fallback (openai/%s) is healthy; answers after %s\n\n",
		c.Agents, primaryID, c.Lead, c.Tail, fallbackID, c.Latency)
	fmt.Fprintln(w, "| outage | strategy | primary requests per call started in the outage | calls of the outage answered | by the fallback, marked degraded | calls failed (whole run) | primary serving again after the outage | breaker open time in force |")
	fmt.Fprintln(w, "|---:|---|---:|---:|---:|---:|---|---:|")
	for _, r := range rs {
		per, answered := 0.0, 0.0
		if r.InOutage > 0 {
			per = float64(r.PrimaryRequests) / float64(r.InOutage)
			answered = float64(r.Answered) / float64(r.InOutage)
		}
		rec := "not within the run"
		if r.Recovered {
			rec = r.Recovery.Round(10 * time.Millisecond).String()
		}
		open := "—"
		if r.OpenTime > 0 {
			open = r.OpenTime.Round(10 * time.Millisecond).String()
		}
		fmt.Fprintf(w, "| %s | %s | %.2f | %.1f %% (%d of %d) | %d | %d | %s | %s |\n",
			r.Outage, r.Strategy, per, 100*answered, r.Answered, r.InOutage, r.Degraded, r.Failed, rec, open)
	}
}

func main() {
	var c Config
	var strats, outages string
	flag.IntVar(&c.Agents, "agents", 32, "concurrent agents")
	flag.DurationVar(&c.Latency, "latency", 100*time.Millisecond, "time the fake takes to answer")
	flag.DurationVar(&c.Lead, "lead", 10*time.Second, "run time before the outage")
	flag.DurationVar(&c.Tail, "tail", 10*time.Second, "run time after the outage")
	flag.StringVar(&outages, "outages", "10s,20s", "comma-separated outage lengths, one run of every strategy each")
	flag.StringVar(&strats, "strategies", "rebound,sdk-default,naive-article", "comma-separated strategies to run")
	flag.Parse()
	c.Strategies = strings.Split(strats, ",")
	if c.Agents < 1 || c.Lead <= 0 || c.Tail <= 0 {
		fmt.Fprintln(os.Stderr, "outage: -agents, -lead and -tail must be positive")
		os.Exit(2)
	}
	var all []Result
	for _, o := range strings.Split(outages, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(o))
		if err != nil || d <= 0 {
			fmt.Fprintf(os.Stderr, "outage: -outages: %q is not a positive duration\n", o)
			os.Exit(2)
		}
		c.Outage = d
		rs, err := Run(c)
		if err != nil {
			fmt.Fprintln(os.Stderr, "outage:", err)
			os.Exit(1)
		}
		all = append(all, rs...)
	}
	Print(os.Stdout, c, all)
}
