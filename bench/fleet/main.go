// Command fleet measures how a pool of agents sharing one API key fares against a provider that
// rate-limits the key: 64 agents against fakellm limited to 20 requests/s (answers take about
// 200 ms), for 30 s, with three client strategies run one after another on fresh servers:
//
//	rebound        llm.Resilient over anthropicllm (pacing from the rate-limit headers, retry
//	               with the server's delay, breaker, budget); SDK retries off
//	sdk-default    anthropic-sdk-go v2.15.0 with its own retries (2 retries, waits retry-after)
//	naive-article  SDK retries off; up to 5 attempts, full-jitter backoff (1 s base, 60 s cap)
//	               on 429, 5xx and connection errors, ignoring retry-after, no pacing
//
// It prints one table row per strategy: goodput (answers per second as a share of the limit),
// HTTP requests per answer, the share of responses that were 429, the logical calls given up,
// and latency of the answered calls.
//
//	go run ./fleet                      # 30 s per strategy
//	go run ./fleet -duration 5s         # a quick look
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/anthropicllm"
)

// Config is one run of the benchmark.
type Config struct {
	Agents     int
	RPS        float64
	Latency    time.Duration
	Duration   time.Duration
	Strategies []string
}

// Result is one strategy's figures.
type Result struct {
	Strategy      string
	Answers       int64 // logical calls answered within the run
	GaveUp        int64 // logical calls that failed (not counting calls cut by the end of the run)
	Requests      int64 // HTTP requests the server saw
	TooMany       int64 // of which answered 429
	Limit         float64
	P50, P99, Max time.Duration
	Elapsed       time.Duration
	Errors        map[string]int64
}

// Goodput is the answers per second as a share of the limit.
func (r Result) Goodput() float64 { return float64(r.Answers) / r.Elapsed.Seconds() / r.Limit }

var strategies = map[string]func(srv *fakellm.Server) call{
	"rebound":       reboundStrategy,
	"sdk-default":   sdkDefault,
	"naive-article": naiveArticle,
}

// call is one logical call of an agent.
type call func(ctx context.Context) error

const modelID = "claude-haiku-4-5"

var prompt = llm.Request{Messages: []llm.Message{llm.User("Summarise the last step in one line.")}, MaxTokens: 64}

func params() anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model:     modelID,
		MaxTokens: 64,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Summarise the last step in one line."))},
	}
}

func client(srv *fakellm.Server, opts ...option.RequestOption) anthropic.Client {
	return anthropic.NewClient(append([]option.RequestOption{
		option.WithAPIKey("sk-ant-fleet"), option.WithBaseURL(srv.AnthropicBaseURL),
	}, opts...)...)
}

func reboundStrategy(srv *fakellm.Server) call {
	m := llm.Resilient(anthropicllm.New(client(srv), modelID), llm.Config{})
	return func(ctx context.Context) error {
		_, err := m.Generate(ctx, prompt)
		return err
	}
}

func sdkDefault(srv *fakellm.Server) call {
	c := client(srv)
	return func(ctx context.Context) error {
		_, err := c.Messages.New(ctx, params())
		return err
	}
}

// naiveArticle is the loop of the article the project started from.
func naiveArticle(srv *fakellm.Server) call {
	c := client(srv, option.WithMaxRetries(0))
	return func(ctx context.Context) error {
		var err error
		for attempt := range 5 {
			if _, err = c.Messages.New(ctx, params()); err == nil {
				return nil
			}
			var apiErr *anthropic.Error
			if errors.As(err, &apiErr) && apiErr.StatusCode != 429 && apiErr.StatusCode < 500 {
				return err
			}
			if ctx.Err() != nil || attempt == 4 {
				break
			}
			d := time.Duration(rand.Float64() * float64(min(60*time.Second, time.Second<<attempt)))
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return err
	}
}

// Run runs each strategy of c in turn and returns their results.
func Run(c Config) ([]Result, error) {
	var out []Result
	for _, name := range c.Strategies {
		mk, ok := strategies[name]
		if !ok {
			return nil, fmt.Errorf("unknown strategy %q (want rebound, sdk-default, naive-article)", name)
		}
		r, err := runOne(c, name, mk)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func runOne(c Config, name string, mk func(*fakellm.Server) call) (Result, error) {
	script := fmt.Sprintf("limit rps=%g burst=%g\nlatency %s\n", c.RPS, c.RPS, c.Latency)
	h, err := fakellm.New(script, fakellm.Options{LogSize: -1})
	if err != nil {
		return Result{}, fmt.Errorf("fake server script: %w", err)
	}
	srv := fakellm.Serve(h)
	defer srv.Close()
	do := mk(srv)

	ctx, cancel := context.WithTimeout(context.Background(), c.Duration)
	defer cancel()
	start := time.Now()
	var (
		mu      sync.Mutex
		lat     []time.Duration
		answers int64
		gaveUp  int64
		errs    = map[string]int64{}
		wg      sync.WaitGroup
	)
	for range c.Agents {
		wg.Go(func() {
			for ctx.Err() == nil {
				t0 := time.Now()
				err := do(ctx)
				d := time.Since(t0)
				mu.Lock()
				switch {
				case err == nil:
					answers++
					lat = append(lat, d)
				case ctx.Err() == nil:
					gaveUp++
					errs[describe(err)]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cnt := srv.Counters()
	r := Result{
		Strategy: name, Answers: answers, GaveUp: gaveUp, Limit: c.RPS, Elapsed: elapsed,
		Requests: cnt.Requests, TooMany: cnt.ByStatus["429"], Errors: errs,
	}
	slices.Sort(lat)
	if n := len(lat); n > 0 {
		r.P50, r.P99, r.Max = lat[n/2], lat[min(n-1, n*99/100)], lat[n-1]
	}
	return r, nil
}

func describe(err error) string {
	c, _ := rebound.Classify(err)
	var gu *rebound.GiveUpError
	if errors.As(err, &gu) {
		return fmt.Sprintf("%s (%s)", c, gu.Reason)
	}
	var apiErr *anthropic.Error
	if errors.As(err, &apiErr) {
		return fmt.Sprintf("status %d", apiErr.StatusCode)
	}
	return c.String()
}

// Print writes the table of results.
func Print(w io.Writer, c Config, rs []Result) {
	fmt.Fprintf(w, "%d agents, one key limited to %g requests/s (burst %g), answers after %s, %s per strategy\n\n",
		c.Agents, c.RPS, c.RPS, c.Latency, c.Duration)
	fmt.Fprintln(w, "| strategy | goodput (% of limit) | HTTP requests per answer | responses that were 429 | calls given up | p50 latency | p99 latency |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	for _, r := range rs {
		perAnswer, share := 0.0, 0.0
		if r.Answers > 0 {
			perAnswer = float64(r.Requests) / float64(r.Answers)
		}
		if r.Requests > 0 {
			share = float64(r.TooMany) / float64(r.Requests)
		}
		calls := r.Answers + r.GaveUp
		fmt.Fprintf(w, "| %s | %.1f %% | %.2f | %.1f %% (%d of %d) | %d of %d | %s | %s |\n",
			r.Strategy, 100*r.Goodput(), perAnswer, 100*share, r.TooMany, r.Requests, r.GaveUp, calls,
			r.P50.Round(time.Millisecond), r.P99.Round(time.Millisecond))
	}
	for _, r := range rs {
		if len(r.Errors) == 0 {
			continue
		}
		keys := make([]string, 0, len(r.Errors))
		for k := range r.Errors {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s ×%d", k, r.Errors[k])
		}
		fmt.Fprintf(w, "\n%s gave up with: %s", r.Strategy, strings.Join(parts, ", "))
	}
	fmt.Fprintln(w)
}

func main() {
	var c Config
	var strats string
	flag.IntVar(&c.Agents, "agents", 64, "concurrent agents sharing one key")
	flag.Float64Var(&c.RPS, "rps", 20, "the key's limit in requests per second (burst the same)")
	flag.DurationVar(&c.Latency, "latency", 200*time.Millisecond, "time the fake takes to answer")
	flag.DurationVar(&c.Duration, "duration", 30*time.Second, "run time of each strategy")
	flag.StringVar(&strats, "strategies", "rebound,sdk-default,naive-article", "comma-separated strategies to run")
	flag.Parse()
	c.Strategies = strings.Split(strats, ",")
	if c.Agents < 1 || c.RPS <= 0 || c.Duration <= 0 {
		fmt.Fprintln(os.Stderr, "fleet: -agents, -rps and -duration must be positive")
		os.Exit(2)
	}
	rs, err := Run(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
	Print(os.Stdout, c, rs)
}
