package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/fakellm"
)

// researchWorkflow is the name the demo's runs are recorded under, so that `runs resume` knows
// how to continue them.
const researchWorkflow = "research"

// demoSteps are the steps of the research pipeline, in order.
var demoSteps = []string{"outline", "section_1", "section_2", "section_3", "summary", "publish"}

// The CLI's lease: short, so that a run whose process died is taken over soon (and at once when
// the process is known dead on this host).
const (
	cliLeaseTTL   = 10 * time.Second
	cliHeartbeat  = 3 * time.Second
	defaultTopic  = "How production LLM agents recover from failures"
	providerFake  = "fake"
	providerAnth  = "anthropic"
	providerOAI   = "openai"
	reportDirName = "reports"
)

// providerFlags are the flags that choose the models, shared by `demo` and `runs resume`.
type providerFlags struct {
	provider      string
	baseURL       string
	model         string
	fallbackModel string
	faults        string
	timeout       time.Duration
	set           map[string]bool
}

func (p *providerFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&p.provider, "provider", providerFake, "fake (the built-in fake LLM), anthropic (ANTHROPIC_API_KEY) or openai (OPENAI_API_KEY)")
	fs.StringVar(&p.baseURL, "base-url", "", "the provider's base URL, for any compatible server")
	fs.StringVar(&p.model, "model", "", "the primary model (default: demo-large on fake, claude-sonnet-4-6 on anthropic, gpt-4.1 on openai)")
	fs.StringVar(&p.fallbackModel, "fallback-model", "", "the model that answers when the primary cannot (default: demo-small on fake, none otherwise)")
	fs.StringVar(&p.faults, "faults", "", "a fault script file for the built-in fake (default: the demo's script; see 'rebound fakellm --help')")
	fs.DurationVar(&p.timeout, "attempt-timeout", 0, "how long one model call may take before it is cut and retried (default: 2s on fake, 1m30s otherwise)")
}

// recordedDefaults makes the provider flags of `runs resume` say what they default to there:
// what was recorded with the run, not the defaults of a new run (--provider fake).
func (p *providerFlags) recordedDefaults(fs *pflag.FlagSet) {
	p.provider = ""
	for n, usage := range map[string]string{
		"provider":        "fake, anthropic (ANTHROPIC_API_KEY) or openai (OPENAI_API_KEY) (default: the provider recorded with the run)",
		"base-url":        "the provider's base URL, for any compatible server (default: the one recorded with the run)",
		"model":           "the primary model (default: the one recorded with the run)",
		"fallback-model":  "the model that answers when the primary cannot (default: the one recorded with the run)",
		"faults":          "a fault script file for the built-in fake (default: the script recorded with the run)",
		"attempt-timeout": "how long one model call may take before it is cut and retried (default: the one recorded with the run)",
	} {
		if f := fs.Lookup(n); f != nil {
			f.Usage, f.DefValue = usage, f.Value.String()
		}
	}
}

// changed records which flags were given on the command line.
func (p *providerFlags) changed(fs *pflag.FlagSet) {
	p.set = map[string]bool{}
	for _, n := range []string{"provider", "base-url", "model", "fallback-model", "faults", "attempt-timeout"} {
		p.set[n] = fs.Changed(n)
	}
}

// demoInput is the research workflow's input, recorded with the run so that a resume uses the
// same topic, providers and faults. It never holds an API key: keys come from the environment.
type demoInput struct {
	Topic         string `json:"topic"`
	Provider      string `json:"provider"`
	BaseURL       string `json:"base_url,omitempty"`
	Model         string `json:"model"`
	FallbackModel string `json:"fallback_model,omitempty"`
	// Faults is the fault script's text, for the fake provider.
	Faults string `json:"faults,omitempty"`
	// AttemptTimeout is --attempt-timeout when given (0: the provider's default).
	AttemptTimeout jsonDuration `json:"attempt_timeout,omitempty"`
	// ReportDir is where publish writes the report (absolute).
	ReportDir string `json:"report_dir"`
}

// apply overrides in with the provider flags given on the command line, and checks the result.
// recorded is false for a new run (defaults fill what the flags leave empty).
func (p *providerFlags) apply(in *demoInput, recorded bool) error {
	if !recorded || p.set["provider"] {
		prov := strings.ToLower(strings.TrimSpace(p.provider))
		switch prov {
		case providerFake, providerAnth, providerOAI:
		default:
			return usagef("--provider %q: want fake, anthropic or openai", p.provider)
		}
		if recorded && prov != in.Provider {
			// Another provider: the recorded models belong to the old one.
			in.Model, in.FallbackModel, in.BaseURL, in.Faults = "", "", "", ""
			in.AttemptTimeout = 0
		}
		in.Provider = prov
	}
	if p.set["base-url"] {
		in.BaseURL = strings.TrimSpace(p.baseURL)
	}
	if p.set["model"] {
		if strings.TrimSpace(p.model) == "" {
			return usagef("--model is empty")
		}
		in.Model = strings.TrimSpace(p.model)
	}
	if p.set["fallback-model"] {
		in.FallbackModel = strings.TrimSpace(p.fallbackModel)
	}
	if in.BaseURL != "" {
		if !strings.HasPrefix(in.BaseURL, "http://") && !strings.HasPrefix(in.BaseURL, "https://") {
			return usagef("--base-url %q: want an http:// or https:// URL", in.BaseURL)
		}
		if in.Provider == providerFake {
			return usagef("--base-url applies to --provider anthropic or openai (the fake is built in); to use a fake you started, pass --provider anthropic --base-url %s", in.BaseURL)
		}
	}
	if p.set["attempt-timeout"] {
		if p.timeout <= 0 {
			return usagef("--attempt-timeout %s: want a positive duration, e.g. 5s", p.timeout)
		}
		in.AttemptTimeout = jsonDuration(p.timeout)
	}
	if p.set["faults"] {
		if in.Provider != providerFake {
			return usagef("--faults applies only to --provider fake (a real provider has no fault script)")
		}
		b, err := os.ReadFile(p.faults)
		if err != nil {
			return usagef("--faults: %w", err)
		}
		if _, err := fakellm.ParseScript(string(b)); err != nil {
			return usagef("--faults %s: %w", p.faults, err)
		}
		in.Faults = string(b)
	}
	switch in.Provider {
	case providerFake:
		if in.Model == "" {
			in.Model = demoPrimary
		}
		if in.FallbackModel == "" && !p.set["fallback-model"] {
			in.FallbackModel = demoFallback
		}
		if in.Faults == "" && !p.set["faults"] {
			in.Faults = demoFaults
		}
	case providerAnth:
		if in.Model == "" {
			in.Model = "claude-sonnet-4-6"
		}
	case providerOAI:
		if in.Model == "" {
			in.Model = "gpt-4.1"
		}
	}
	if in.FallbackModel != "" && in.FallbackModel == in.Model {
		return usagef("--fallback-model %q is the primary model too; name another model", in.FallbackModel)
	}
	return nil
}

// jsonDuration is a time.Duration recorded as text ("5s"), so that a run's recorded input
// reads well in `runs show --json`.
type jsonDuration time.Duration

func (d jsonDuration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

func (d *jsonDuration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = jsonDuration(v)
	return nil
}

// demoCmd is `rebound demo`.
type demoCmd struct {
	g     *globals
	runID string
	topic string
	prov  providerFlags
	// topicSet is true when --topic was given.
	topicSet bool
}

func newDemoCmd(g *globals) *cobra.Command {
	c := &demoCmd{g: g}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the research pipeline and watch it recover",
		Long: `Run a research pipeline of six steps (outline, three sections, summary, publish) as a durable
run. Against the built-in fake LLM (the default) a fault script makes every pattern visible: rate
limits with a retry hint, an overloaded model whose breaker opens so a fallback model answers, a
malformed answer that is repaired, a hung call cut by the attempt timeout. Publish writes the report
to ./reports/ and is irreversible, so it waits for a person's approval:

  rebound escalations resolve ESC_ID --action approve --by NAME
  rebound runs resume RUN_ID

Run it again with the same --run-id (after Ctrl-C, a crash or kill -9) and it resumes: finished
steps are not repeated.`,
		Example: `  rebound demo
  rebound demo --run-id my-run --topic "Tide pools"
  rebound demo --json | jq -c 'select(.event == "retry_scheduled")'
  ANTHROPIC_API_KEY=... rebound demo --provider anthropic --fallback-model claude-haiku-4-5
  rebound demo --provider openai --base-url http://127.0.0.1:8000/v1/ --model local-model`,
		Args: exactArgs(),
		RunE: g.runE(c.run),
	}
	cmd.Flags().StringVar(&c.runID, "run-id", "", "the run's ID; the same ID resumes it (default: demo-MMDD-HHMMSS)")
	cmd.Flags().StringVar(&c.topic, "topic", defaultTopic, "what the report is about")
	c.prov.register(cmd.Flags())
	cmd.PreRun = func(cmd *cobra.Command, _ []string) {
		c.prov.changed(cmd.Flags())
		c.topicSet = cmd.Flags().Changed("topic")
	}
	cmd.AddCommand(newDemoAgentCmd(g))
	return cmd
}

var runIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

func checkRunID(id string) error {
	if !runIDPattern.MatchString(id) {
		return usagef("--run-id %q: use 1 to 128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit", id)
	}
	return nil
}

func (c *demoCmd) run(ctx context.Context, _ []string, w io.Writer) error {
	id := c.runID
	if id == "" {
		id = "demo-" + time.Now().Format("0102-150405")
	}
	if err := checkRunID(id); err != nil {
		return err
	}
	topic := strings.TrimSpace(c.topic)
	if topic == "" {
		return usagef("--topic is empty")
	}
	in := demoInput{Topic: topic}
	if err := c.prov.apply(&in, false); err != nil {
		return err
	}
	if err := c.g.checkKeys(in); err != nil {
		return err
	}
	s, err := c.g.openStores(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	// An existing run keeps what it was started with; flags given now override its providers.
	if rec, err := s.runs.GetRun(ctx, id); err == nil {
		prev, err := recordedInput(rec.RunInfo)
		if err != nil {
			return err
		}
		if c.topicSet && prev.Topic != topic {
			return usagef("run %q was started with --topic %q; drop --topic to resume it, or choose another --run-id", id, prev.Topic)
		}
		if err := c.prov.apply(&prev, true); err != nil {
			return err
		}
		in = prev
	} else if !errors.Is(err, checkpoint.ErrRunNotFound) {
		return fmt.Errorf("read run %q: %w", id, err)
	} else {
		dir, err := filepath.Abs(reportDirName)
		if err != nil {
			return fmt.Errorf("report directory: %w", err)
		}
		in.ReportDir = dir
	}
	return c.g.runResearch(ctx, s, id, in, w)
}

// recordedInput reads the demo's input from a run, refusing runs of other workflows.
func recordedInput(info checkpoint.RunInfo) (demoInput, error) {
	if info.Workflow != researchWorkflow {
		wf := info.Workflow
		if wf == "" {
			wf = "(none recorded)"
		}
		return demoInput{}, usagef("run %q belongs to workflow %s, not the demo's %q; resume it from the program that started it", info.ID, wf, researchWorkflow)
	}
	var in demoInput
	if err := json.Unmarshal(info.Input, &in); err != nil {
		return demoInput{}, fmt.Errorf("run %q: damaged workflow input: %w", info.ID, err)
	}
	return in, nil
}

// runsResumeCmd is `rebound runs resume`.
type runsResumeCmd struct {
	g    *globals
	prov providerFlags
}

func newRunsResumeCmd(g *globals) *cobra.Command {
	c := &runsResumeCmd{g: g}
	cmd := &cobra.Command{
		Use:   "resume ID",
		Short: "Resume a run at its first unfinished step",
		Long: `Resume a run at its first unfinished step, with the providers it was started with (recorded with
the run, keys excepted: they come from ANTHROPIC_API_KEY and OPENAI_API_KEY). Provider flags given
here override the recorded ones. A step that waited for a person receives the decision recorded
with 'rebound escalations resolve'.`,
		Example: `  rebound runs resume demo-1129-001203
  rebound runs resume my-run --base-url http://127.0.0.1:8081 --json`,
		Args: exactArgs("ID"),
		RunE: g.runE(c.run),
	}
	c.prov.register(cmd.Flags())
	c.prov.recordedDefaults(cmd.Flags())
	cmd.PreRun = func(cmd *cobra.Command, _ []string) { c.prov.changed(cmd.Flags()) }
	return cmd
}

func (c *runsResumeCmd) run(ctx context.Context, args []string, w io.Writer) error {
	id := args[0]
	s, err := c.g.openExistingStores(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	rec, err := s.runs.GetRun(ctx, id)
	if err != nil {
		return runError(err, id)
	}
	if rec.Workflow == agentWorkflow {
		in, err := recordedAgentInput(rec.RunInfo)
		if err != nil {
			return err
		}
		if err := c.prov.apply(&in.demoInput, true); err != nil {
			return err
		}
		return c.g.runAgentDemo(ctx, s, id, in, w)
	}
	in, err := recordedInput(rec.RunInfo)
	if err != nil {
		return err
	}
	if err := c.prov.apply(&in, true); err != nil {
		return err
	}
	return c.g.runResearch(ctx, s, id, in, w)
}
