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
// It prints one table row per strategy: goodput (answers per second as a share of the limit, over
// the whole run and after its first 5 s, once the limiter has learnt the limit),
// HTTP requests per answer, the share of responses that were 429, the logical calls given up,
// and latency of the answered calls.
//
//	go run ./fleet                      # 30 s per strategy
//	go run ./fleet -duration 5s         # a quick look
//	go run ./fleet -provider openai     # OpenAI's API and x-ratelimit-* headers
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
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	ooption "github.com/openai/openai-go/v3/option"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/anthropicllm"
	"github.com/rebound-go/rebound/llm/openaillm"
)

// Config is one run of the benchmark.
type Config struct {
	Provider   string // "anthropic" or "openai": the API surface and headers of the fake
	Agents     int
	RPS        float64
	Burst      float64 // the bucket's size; 0: RPS
	Latency    time.Duration
	Duration   time.Duration
	Strategies []string
}

// burst is the bucket's size.
func (c Config) burst() float64 {
	if c.Burst > 0 {
		return c.Burst
	}
	return c.RPS
}

// Result is one strategy's figures.
type Result struct {
	Strategy      string
	Answers       int64 // logical calls answered within the run
	LateAnswers   int64 // of which answered after the run's first warm
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

// Steady is Goodput after the run's first warm, once the limiter has learnt the limit from the
// first answers (with 1 s answers that takes a few seconds); 0 for a run no longer than warm.
func (r Result) Steady() float64 {
	if r.Elapsed <= warm {
		return 0
	}
	return float64(r.LateAnswers) / (r.Elapsed - warm).Seconds() / r.Limit
}

// warm is the part of a run that Steady leaves out.
const warm = 5 * time.Second

// endpoint is where the fake server listens: its base URLs for each SDK.
type endpoint struct{ anthropic, openai string }

func endpointOf(srv *fakellm.Server) endpoint {
	return endpoint{srv.AnthropicBaseURL, srv.OpenAIBaseURL}
}

var strategies = map[string]func(srv endpoint, provider string) call{
	"rebound":       reboundStrategy,
	"sdk-default":   sdkDefault,
	"naive-article": naiveArticle,
}

// call is one logical call of an agent.
type call func(ctx context.Context) error

// The models called on each provider's surface of the fake.
const (
	anthropicModel = "claude-haiku-4-5"
	openaiModel    = "gpt-4o-mini"
)

const text = "Summarise the last step in one line."

var prompt = llm.Request{Messages: []llm.Message{llm.User(text)}, MaxTokens: 64}

func anthropicParams() anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model:     anthropicModel,
		MaxTokens: 64,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(text))},
	}
}

func openaiParams() openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:               openaiModel,
		MaxCompletionTokens: openai.Int(64),
		Messages:            []openai.ChatCompletionMessageParamUnion{openai.UserMessage(text)},
	}
}

// httpClient keeps a connection per agent alive (Go's default keeps 2 idle per host), the same
// for every strategy, so that connection churn is not what is measured.
var httpClient = &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}

func anthropicClient(srv endpoint, opts ...aoption.RequestOption) anthropic.Client {
	return anthropic.NewClient(append([]aoption.RequestOption{
		aoption.WithAPIKey("sk-ant-fleet"), aoption.WithBaseURL(srv.anthropic), aoption.WithHTTPClient(httpClient),
	}, opts...)...)
}

func openaiClient(srv endpoint, opts ...ooption.RequestOption) openai.Client {
	return openai.NewClient(append([]ooption.RequestOption{
		ooption.WithAPIKey("sk-fleet"), ooption.WithBaseURL(srv.openai), ooption.WithHTTPClient(httpClient),
	}, opts...)...)
}

func reboundStrategy(srv endpoint, provider string) call {
	var inner llm.Model = anthropicllm.New(anthropicClient(srv), anthropicModel)
	if provider == "openai" {
		inner = openaillm.New(openaiClient(srv), openaiModel)
	}
	m, err := llm.Resilient(inner, llm.Config{})
	if err != nil {
		panic(err)
	}
	return func(ctx context.Context) error {
		_, err := m.Generate(ctx, prompt)
		return err
	}
}

func sdkDefault(srv endpoint, provider string) call {
	if provider == "openai" {
		c := openaiClient(srv)
		return func(ctx context.Context) error {
			_, err := c.Chat.Completions.New(ctx, openaiParams())
			return err
		}
	}
	c := anthropicClient(srv)
	return func(ctx context.Context) error {
		_, err := c.Messages.New(ctx, anthropicParams())
		return err
	}
}

// naiveArticle is the loop of the article the project started from.
func naiveArticle(srv endpoint, provider string) call {
	send := func(ctx context.Context) (int, error) {
		c := anthropicClient(srv, aoption.WithMaxRetries(0))
		_, err := c.Messages.New(ctx, anthropicParams())
		var apiErr *anthropic.Error
		if errors.As(err, &apiErr) {
			return apiErr.StatusCode, err
		}
		return 0, err
	}
	if provider == "openai" {
		c := openaiClient(srv, ooption.WithMaxRetries(0))
		send = func(ctx context.Context) (int, error) {
			_, err := c.Chat.Completions.New(ctx, openaiParams())
			var apiErr *openai.Error
			if errors.As(err, &apiErr) {
				return apiErr.StatusCode, err
			}
			return 0, err
		}
	}
	return func(ctx context.Context) error {
		var err error
		for attempt := range 5 {
			var status int
			if status, err = send(ctx); err == nil {
				return nil
			}
			if status != 0 && status != 429 && status < 500 {
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

func runOne(c Config, name string, mk func(endpoint, string) call) (Result, error) {
	script := fmt.Sprintf("limit rps=%g burst=%g\nlatency %s\n", c.RPS, c.burst(), c.Latency)
	h, err := fakellm.New(script, fakellm.Options{LogSize: -1})
	if err != nil {
		return Result{}, fmt.Errorf("fake server script: %w", err)
	}
	srv := fakellm.Serve(h)
	defer srv.Close()
	do := mk(endpointOf(srv), c.Provider)

	ctx, cancel := context.WithTimeout(context.Background(), c.Duration)
	defer cancel()
	start := time.Now()
	var (
		mu      sync.Mutex
		lat     []time.Duration
		answers int64
		late    int64
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
					if time.Since(start) >= warm {
						late++
					}
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
		Strategy: name, Answers: answers, LateAnswers: late, GaveUp: gaveUp, Limit: c.RPS, Elapsed: elapsed,
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
	var oErr *openai.Error
	if errors.As(err, &oErr) {
		return fmt.Sprintf("status %d", oErr.StatusCode)
	}
	return c.String()
}

// Print writes the table of results.
func Print(w io.Writer, c Config, rs []Result) {
	fmt.Fprintf(w, "%d agents, one key limited to %g requests/s (burst %g), %s API and headers, answers after %s, %s per strategy\n\n",
		c.Agents, c.RPS, c.burst(), c.Provider, c.Latency, c.Duration)
	fmt.Fprintln(w, "| strategy | goodput (% of limit) | after the first 5 s | HTTP requests per answer | responses that were 429 | calls given up | p50 latency | p99 latency |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rs {
		perAnswer, share := 0.0, 0.0
		if r.Answers > 0 {
			perAnswer = float64(r.Requests) / float64(r.Answers)
		}
		if r.Requests > 0 {
			share = float64(r.TooMany) / float64(r.Requests)
		}
		calls := r.Answers + r.GaveUp
		fmt.Fprintf(w, "| %s | %.1f %% | %.1f %% | %.2f | %.1f %% (%d of %d) | %d of %d | %s | %s |\n",
			r.Strategy, 100*r.Goodput(), 100*r.Steady(), perAnswer, 100*share, r.TooMany, r.Requests, r.GaveUp, calls,
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
	if js := os.Getenv(childEnv); js != "" {
		childMain(js)
		return
	}
	var c Config
	var pc ProcConfig
	var strats string
	flag.StringVar(&c.Provider, "provider", "anthropic", "API surface of the fake: anthropic or openai")
	flag.IntVar(&c.Agents, "agents", 64, "concurrent agents sharing one key")
	flag.Float64Var(&c.RPS, "rps", 20, "the key's limit in requests per second")
	flag.Float64Var(&c.Burst, "burst", 0, "the key's bucket size (0: the same as -rps)")
	flag.DurationVar(&c.Latency, "latency", 200*time.Millisecond, "time the fake takes to answer")
	flag.DurationVar(&c.Duration, "duration", 30*time.Second, "run time of each strategy")
	flag.StringVar(&strats, "strategies", "rebound,sdk-default,naive-article", "comma-separated strategies to run")
	flag.IntVar(&pc.Processes, "processes", 0, "multi-process mode: this many processes of -agents agents each (see -scenario)")
	flag.StringVar(&pc.Scenario, "scenario", "rate", "multi-process scenario: rate, redis-kill, outage, breaker")
	flag.StringVar(&pc.Redis, "redis", os.Getenv("TEST_REDIS_URL"), "Redis URL for rebound-fleet (default $TEST_REDIS_URL)")
	flag.DurationVar(&pc.Lead, "lead", 5*time.Second, "outage, breaker: run time before the outage (breaker: before process 0's lone failure)")
	flag.DurationVar(&pc.Outage, "outage", 10*time.Second, "outage: its length")
	flag.DurationVar(&pc.Tail, "tail", 5*time.Second, "outage: run time after it")
	flag.BoolVar(&pc.Limited, "limited", false, "outage: every key is also limited to -rps (burst -burst)")
	flag.Parse()
	if pc.Processes > 0 {
		pc.Agents, pc.RPS, pc.Burst, pc.Latency, pc.Duration = c.Agents, c.RPS, c.Burst, c.Latency, c.Duration
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["agents"] {
			pc.Agents = 16
		}
		if !set["duration"] {
			pc.Duration = 20 * time.Second
		}
		pc.Strategies = strings.Split(strats, ",")
		if !set["strategies"] {
			pc.Strategies = []string{"rebound-fleet", "rebound-local", "sdk-default", "naive-article"}
			if pc.Scenario != "rate" {
				pc.Strategies = []string{"rebound-fleet", "rebound-local"}
			}
			if pc.Scenario == "redis-kill" {
				pc.Strategies = []string{"rebound-fleet"}
			}
		}
		rs, err := RunProcs(pc)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fleet:", err)
			os.Exit(1)
		}
		PrintProcs(os.Stdout, pc, rs)
		return
	}
	c.Strategies = strings.Split(strats, ",")
	if c.Provider != "anthropic" && c.Provider != "openai" {
		fmt.Fprintln(os.Stderr, "fleet: -provider must be anthropic or openai")
		os.Exit(2)
	}
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
