package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rebound-go/rebound/escalate"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/supervisor"
)

// defaultFakeVerdicts is the built-in fake reviewer's script: every item goes to a person.
const defaultFakeVerdicts = `tool-use name=verdict input='{"decision":"person","rationale":"the built-in fake reviewer hands every item to a person","confidence":1,"risk":"not reviewed"}'`

// supervisorFlags choose the supervisor's policy and model; `supervise` and `serve --supervise`
// share them.
type supervisorFlags struct {
	policy   string
	provider string
	model    string
	baseURL  string
	verdicts string
	instance string
	claimFor time.Duration
	fs       *pflag.FlagSet

	// Set by check.
	pol *supervisor.Policy
	in  demoInput
}

func (f *supervisorFlags) register(fs *pflag.FlagSet) {
	f.fs = fs
	fs.StringVar(&f.policy, "policy", "", "the supervisor's policy file (JSON; see docs/supervisor.md)")
	fs.StringVar(&f.provider, "provider", providerAnth, "the supervisor's model provider: anthropic (ANTHROPIC_API_KEY), openai (OPENAI_API_KEY) or fake (the built-in fake LLM)")
	fs.StringVar(&f.model, "model", "", "the supervisor's model (default: claude-sonnet-4-6 on anthropic, gpt-4.1 on openai, supervisor-fake on fake)")
	fs.StringVar(&f.baseURL, "base-url", "", "the provider's base URL, for any compatible server")
	fs.StringVar(&f.verdicts, "fake-verdicts", "", "a fakellm script answering the reviews, for --provider fake (default: every item to a person)")
	fs.StringVar(&f.instance, "instance", "", "this supervisor's name in its claims (default: host, pid and a random suffix)")
	fs.DurationVar(&f.claimFor, "claim-for", 0, "how long the supervisor holds an item it reviews (default: twice the policy's timeout plus 30s)")
}

// check checks the flags and reads the policy, before anything is opened.
func (f *supervisorFlags) check(g *globals) error {
	if strings.TrimSpace(f.policy) == "" {
		return usagef("--policy is required: the file that says what the supervisor may decide (see docs/supervisor.md)")
	}
	var err error
	f.pol, err = supervisor.LoadPolicy(f.policy)
	if err != nil {
		return usagef("--policy: %w", err)
	}
	if f.claimFor < 0 || (f.fs != nil && f.fs.Changed("claim-for") && f.claimFor == 0) {
		return usagef("--claim-for %s: want a positive duration, e.g. 2m", f.claimFor)
	}
	in := demoInput{Provider: strings.ToLower(strings.TrimSpace(f.provider)), Model: strings.TrimSpace(f.model), BaseURL: strings.TrimSpace(f.baseURL)}
	switch in.Provider {
	case providerFake:
		if in.BaseURL != "" {
			return usagef("--base-url applies to --provider anthropic or openai (the fake is built in)")
		}
		in.Model = cmpOr(in.Model, "supervisor-fake")
		in.Faults = defaultFakeVerdicts
		if f.verdicts != "" {
			b, err := os.ReadFile(f.verdicts)
			if err != nil {
				return usagef("--fake-verdicts: %w", err)
			}
			if _, err := fakellm.ParseScript(string(b)); err != nil {
				return usagef("--fake-verdicts %s: %w", f.verdicts, err)
			}
			in.Faults = string(b)
		}
	case providerAnth:
		in.Model = cmpOr(in.Model, "claude-sonnet-4-6")
	case providerOAI:
		in.Model = cmpOr(in.Model, "gpt-4.1")
	default:
		return usagef("--provider %q: want anthropic, openai or fake", f.provider)
	}
	if f.verdicts != "" && in.Provider != providerFake {
		return usagef("--fake-verdicts applies only to --provider fake")
	}
	if in.BaseURL != "" && !strings.HasPrefix(in.BaseURL, "http://") && !strings.HasPrefix(in.BaseURL, "https://") {
		return usagef("--base-url %q: want an http:// or https:// URL", in.BaseURL)
	}
	in.AttemptTimeout = jsonDuration(f.pol.Timeout)
	f.in = in
	return g.checkKeys(in)
}

// build returns the supervisor over q, after check.
func (f *supervisorFlags) build(ctx context.Context, g *globals, q *escalate.Queue, logger *slog.Logger, onOut func(supervisor.Outcome), interval time.Duration) (*supervisor.Supervisor, func(), error) {
	pol, in := f.pol, f.in
	models, err := g.buildModels(ctx, in)
	if err != nil {
		return nil, nil, err
	}
	s, err := supervisor.New(supervisor.Config{Queue: q, Model: models.text, Policy: pol, Instance: f.instance,
		ClaimFor: f.claimFor, Interval: interval, Logger: logger, OnOutcome: onOut})
	if err != nil {
		models.close()
		return nil, nil, usagef("%w", err)
	}
	return s, models.close, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// superviseCmd is `rebound supervise`.
type superviseCmd struct {
	g        *globals
	f        supervisorFlags
	dryRun   bool
	once     bool
	interval time.Duration
}

func newSuperviseCmd(g *globals) *cobra.Command {
	c := &superviseCmd{g: g}
	cmd := &cobra.Command{
		Use:   "supervise --policy FILE",
		Short: "Resolve the escalations a policy allows, and hand the rest to a person with reasons",
		Long: `Review the open escalations of the store with a model, within a policy. For each item the
supervisor either resolves it (the decision names the model and policy version, with a rationale,
a confidence and the policy's hold), routes it to a person (the item stays open, with the
supervisor's rationale and the risk it saw in its audit trail), or records that it was unavailable
(a timeout, an error, an invalid verdict, its budget spent: the item stays open for a person, and
this is never a denial). Whatever the model answers, the policy is checked in code afterwards; the
escalation's content is given to the model as untrusted data. An item the supervisor has handled
under the same policy version is not looked at again.

It can never decide an ambiguous_state item, edit a call, reject, or act outside the policy
(docs/supervisor.md, "What the supervisor can never do").

With --dry-run it prints what it would decide for each item and changes nothing (the model is
still asked). With --once it makes one pass over the open items; otherwise it looks again every
--interval until interrupted. 'rebound serve --worker --supervise --policy FILE' runs it in the
server's process, beside the resume worker.

Exit codes: 0 done (or interrupted), 1 the store failed during a pass, 2 bad flags, an unreadable
or invalid policy file, a missing API key, or a store that cannot be opened.`,
		Example: `  rebound supervise --policy policy.json --dry-run
  ANTHROPIC_API_KEY=... rebound supervise --policy policy.json --once
  rebound supervise --store postgres://... --policy policy.json --interval 10s --model claude-sonnet-4-6
  rebound supervise --policy policy.json --provider openai --base-url http://127.0.0.1:8000/v1 --model local`,
		Args: exactArgs(),
		RunE: g.runE(c.run),
	}
	c.f.register(cmd.Flags())
	cmd.Flags().BoolVar(&c.dryRun, "dry-run", false, "print what the supervisor would decide for each item; change nothing")
	cmd.Flags().BoolVar(&c.once, "once", false, "one pass over the open items, then exit")
	cmd.Flags().DurationVar(&c.interval, "interval", 10*time.Second, "how often to look for open items (without --once)")
	return cmd
}

func (c *superviseCmd) run(ctx context.Context, _ []string, w io.Writer) error {
	if c.interval <= 0 {
		return usagef("--interval %s: want a positive duration, e.g. 10s", c.interval)
	}
	if (c.once || c.dryRun) && c.f.fs.Changed("interval") {
		return usagef("--interval applies without --once and --dry-run (they make one pass)")
	}
	if err := c.f.check(c.g); err != nil {
		return err
	}
	s, err := c.g.openExistingStores(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	counts := map[supervisor.Kind]int{}
	show := func(o supervisor.Outcome) {
		counts[o.Kind]++
		if c.g.json {
			_ = writeJSON(w, outcomeJSON(o))
			return
		}
		fmt.Fprintln(w, outcomeLine(o))
	}
	sup, closeModel, err := c.f.build(ctx, c.g, s.queue, logger, show, c.interval)
	if err != nil {
		return err
	}
	defer closeModel()
	summary := func() {
		calls, tokens := sup.Spent()
		verb := ""
		if c.dryRun {
			verb = "would be "
		}
		fmt.Fprintf(c.g.human(), "%d %sresolved, %d %srouted to a person, %d supervisor unavailable; %d model calls, %d tokens (policy %s)\n",
			counts[supervisor.Resolved], verb, counts[supervisor.Routed], verb, counts[supervisor.Unavailable], calls, tokens, sup.By())
	}
	switch {
	case c.dryRun:
		_, err = sup.DryRun(ctx)
	case c.once:
		_, err = sup.Once(ctx)
	default:
		fmt.Fprintf(c.g.human(), "Supervising the escalations of %s as %s (every %s)\n", s.dsn, sup.By(), c.interval)
		err = sup.Run(ctx)
		if errors.Is(err, context.Canceled) {
			err = nil
		}
	}
	summary()
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("supervise: %w", err)
	}
	return nil
}

func outcomeLine(o supervisor.Outcome) string {
	head := fmt.Sprintf("%s run %s step %s (%s)", o.ItemID, o.RunID, o.Step, o.Reason)
	would := ""
	if o.DryRun {
		would = "would be "
	}
	switch o.Kind {
	case supervisor.Resolved:
		d := o.Decision
		s := fmt.Sprintf("%s: %sresolved: %s", head, would, d.Action)
		if d.Answer != "" {
			s += fmt.Sprintf(" %q", oneLine(d.Answer, 60))
		}
		return s + fmt.Sprintf(" (confidence %.2f, %s, hold %s): %s", d.Confidence, o.Why, d.Hold, oneLine(d.Rationale, 160))
	case supervisor.Routed:
		s := fmt.Sprintf("%s: %srouted to a person: %s", head, would, oneLine(o.Why, 160))
		if o.Risk != "" {
			s += "; risk: " + oneLine(o.Risk, 80)
		}
		return s
	case supervisor.Unavailable:
		return fmt.Sprintf("%s: supervisor unavailable (left for a person): %s", head, oneLine(o.Why, 160))
	}
	return fmt.Sprintf("%s: %s: %s", head, o.Kind, oneLine(o.Why, 160))
}

func outcomeJSON(o supervisor.Outcome) any {
	type decision struct {
		Action     string  `json:"action"`
		Answer     string  `json:"answer,omitempty"`
		By         string  `json:"by"`
		Rationale  string  `json:"rationale"`
		Confidence float64 `json:"confidence"`
		HoldNS     int64   `json:"hold_ns"`
	}
	out := struct {
		Item     string              `json:"item"`
		Run      string              `json:"run_id"`
		Step     string              `json:"step"`
		Reason   string              `json:"reason"`
		Tool     string              `json:"tool,omitempty"`
		Outcome  supervisor.Kind     `json:"outcome"`
		DryRun   bool                `json:"dry_run,omitempty"`
		Why      string              `json:"why,omitempty"`
		Risk     string              `json:"risk,omitempty"`
		Decision *decision           `json:"decision,omitempty"`
		Verdict  *supervisor.Verdict `json:"verdict,omitempty"`
	}{Item: o.ItemID, Run: o.RunID, Step: o.Step, Reason: string(o.Reason), Tool: o.Tool, Outcome: o.Kind, DryRun: o.DryRun,
		Why: o.Why, Risk: o.Risk, Verdict: o.Verdict}
	if d := o.Decision; d != nil {
		out.Decision = &decision{Action: string(d.Action), Answer: d.Answer, By: d.By, Rationale: d.Rationale, Confidence: d.Confidence, HoldNS: int64(d.Hold)}
	}
	return json.RawMessage(mustJSON(out))
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// superviseServe is `serve --supervise`: the supervisor in the server's process.
type superviseServe struct {
	on bool
	f  supervisorFlags
}

func (d *superviseServe) register(fs *pflag.FlagSet) {
	fs.BoolVar(&d.on, "supervise", false, "also run the supervisor in this process (needs --policy; see 'rebound supervise --help')")
	d.f.register(fs)
}

func (d *superviseServe) check(g *globals) error {
	if !d.on && d.f.fs != nil {
		for _, n := range []string{"policy", "provider", "model", "base-url", "fake-verdicts", "instance", "claim-for"} {
			if d.f.fs.Changed(n) {
				return usagef("--%s applies with --supervise", n)
			}
		}
	}
	if !d.on {
		return nil
	}
	if strings.TrimSpace(d.f.policy) == "" {
		return usagef("--supervise needs --policy FILE")
	}
	return d.f.check(g)
}

// start runs the supervisor until ctx ends or the returned stop is called.
func (d *superviseServe) start(ctx context.Context, g *globals, q *escalate.Queue, logger *slog.Logger) (stop func(), err error) {
	if !d.on {
		return func() {}, nil
	}
	sup, closeModel, err := d.f.build(ctx, g, q, logger, nil, 5*time.Second)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = sup.Run(sctx)
	}()
	fmt.Fprintf(g.human(), "Supervising the escalation queue as %s\n", sup.By())
	var once sync.Once
	return func() { once.Do(func() { cancel(); <-done; closeModel() }) }, nil
}
