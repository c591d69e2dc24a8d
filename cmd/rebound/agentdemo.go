package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/agent"
	"github.com/rebound-go/rebound/checkpoint"
)

// agentWorkflow is the name `rebound demo agent` records its runs under, so that `runs
// resume` knows how to continue them.
const agentWorkflow = "support_agent"

// agentTicket is the support ticket the demo's agent answers.
const agentTicket = "Order 1042 arrived broken. I want my money back."

// agentInput is the support agent's input, recorded with the run: the provider flags of
// `demo` and the ledger the irreversible tools write to.
type agentInput struct {
	demoInput
	Ticket string `json:"ticket"`
	// Ledger is the file every executed irreversible call appends one JSON line to (absolute).
	Ledger string `json:"ledger"`
}

// demoAgentCmd is `rebound demo agent`.
type demoAgentCmd struct {
	g      *globals
	runID  string
	ledger string
	prov   providerFlags
}

func newDemoAgentCmd(g *globals) *cobra.Command {
	c := &demoAgentCmd{g: g}
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run a support agent that calls tools, and watch it recover",
		Long: `Run a support agent as a durable run. It answers the ticket "` + agentTicket + `"
with three tools: lookup_order (read-only), issue_refund (irreversible; a refund over 50.00 needs
a person's approval) and send_email (irreversible). Every executed irreversible call appends one
JSON line (run_id, tool, call_id, arguments) to the ledger file (--ledger, default ledger.jsonl
beside the store).

Against the built-in fake LLM (the default) its script shows, in one run: lookup_order down (its
breaker opens, the model is told the tool is unavailable, it tries again later and succeeds), an
invalid tool input that the model corrects, and the refund of 79.99 waiting for approval:

  rebound escalations resolve ESC_ID --action approve --by NAME
  rebound runs resume RUN_ID

Then the refund and the email happen, once each. With --base-url the model at that URL decides
which tools to call. Killed at any moment (kill -9) and run again with the same --run-id, it
resumes and never executes an irreversible call twice.`,
		Example: `  rebound demo agent
  rebound demo agent --run-id ticket-1042 --json | jq -c 'select(.event | startswith("tool_"))'
  rebound demo agent --provider anthropic --base-url http://127.0.0.1:8089`,
		Args: exactArgs(),
		RunE: g.runE(c.run),
	}
	cmd.Flags().StringVar(&c.runID, "run-id", "", "the run's ID; the same ID resumes it (default: agent-MMDD-HHMMSS)")
	cmd.Flags().StringVar(&c.ledger, "ledger", "", "the ledger file of the irreversible calls (default: ledger.jsonl beside the store)")
	c.prov.register(cmd.Flags())
	cmd.PreRun = func(cmd *cobra.Command, _ []string) { c.prov.changed(cmd.Flags()) }
	return cmd
}

func (c *demoAgentCmd) run(ctx context.Context, _ []string, w io.Writer) error {
	id := c.runID
	if id == "" {
		id = "agent-" + time.Now().Format("0102-150405")
	}
	if err := checkRunID(id); err != nil {
		return err
	}
	in := agentInput{Ticket: agentTicket}
	if err := c.prov.apply(&in.demoInput, false); err != nil {
		return err
	}
	in.useAgentFaults(c.prov)
	if err := c.g.checkKeys(in.demoInput); err != nil {
		return err
	}
	s, err := c.g.openStores(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	rec, err := s.runs.GetRun(ctx, id)
	switch {
	case err == nil:
		prev, err := recordedAgentInput(rec.RunInfo)
		if err != nil {
			return err
		}
		if c.ledger != "" {
			if abs, _ := filepath.Abs(c.ledger); abs != prev.Ledger {
				return usagef("run %q writes its ledger to %s; drop --ledger to resume it, or choose another --run-id", id, prev.Ledger)
			}
		}
		if err := c.prov.apply(&prev.demoInput, true); err != nil {
			return err
		}
		in = prev
	case !errors.Is(err, checkpoint.ErrRunNotFound):
		return fmt.Errorf("read run %q: %w", id, err)
	default:
		path := c.ledger
		if path == "" {
			path = "ledger.jsonl"
			if d, err := c.g.resolveDSN(); err == nil && d.kind == "sqlite" {
				path = filepath.Join(filepath.Dir(d.target), "ledger.jsonl")
			}
		}
		if in.Ledger, err = filepath.Abs(path); err != nil {
			return usagef("--ledger %q: %w", path, err)
		}
	}
	return c.g.runAgentDemo(ctx, s, id, in, w)
}

// useAgentFaults makes the fake provider play the agent's script rather than the research
// pipeline's faults, unless --faults named a script.
func (in *agentInput) useAgentFaults(p providerFlags) {
	if in.Provider == providerFake && !p.set["faults"] && in.Faults == demoFaults {
		in.Faults = agentFaults
	}
}

// recordedAgentInput reads the support agent's input from a run, refusing runs of other
// workflows.
func recordedAgentInput(info checkpoint.RunInfo) (agentInput, error) {
	if info.Workflow != agentWorkflow {
		wf := info.Workflow
		if wf == "" {
			wf = "(none recorded)"
		}
		return agentInput{}, usagef("run %q belongs to workflow %s, not the agent demo's %q; choose another --run-id", info.ID, wf, agentWorkflow)
	}
	var in agentInput
	if err := json.Unmarshal(info.Input, &in); err != nil {
		return agentInput{}, fmt.Errorf("run %q: damaged workflow input: %w", info.ID, err)
	}
	return in, nil
}

// runAgentDemo runs (or resumes) the support agent as run id, shows it, and prints what
// happened. The error decides the exit code.
func (g *globals) runAgentDemo(ctx context.Context, s *stores, id string, in agentInput, w io.Writer) error {
	disp := g.newRunDisplay(w, fmt.Sprintf("rebound demo agent · run %s · %s", id, providerLabel(in.demoInput)), nil)
	models, err := g.buildModels(ctx, in.demoInput)
	if err != nil {
		return err
	}
	defer models.close()
	a, err := supportAgent(in, models)
	if err != nil {
		return err
	}
	runner := s.runner(disp.hook, nil)
	var res *agent.Result
	disp.start()
	start := time.Now()
	err = runner.Run(ctx, id, func(ctx context.Context, run *checkpoint.Run) error {
		r, err := a.Run(ctx, run, rebound.User(in.Ticket))
		res = r
		return err
	}, checkpoint.WithWorkflow(agentWorkflow, in))
	elapsed := time.Since(start)
	disp.stop()

	var held *checkpoint.LeaseHeldError
	if errors.As(err, &held) {
		return usagef("run %q is held by another live worker, %s, until %s; wait for it, or run 'rebound runs show %s'",
			id, held.Owner, held.Expires.Local().Format(time.TimeOnly), id)
	}
	human := w
	if g.json {
		human = g.stderr
	}
	g.printAgentSummary(human, id, in, res, err, ctx.Err() != nil, elapsed)
	if err != nil {
		return &silentError{err}
	}
	return nil
}

// printAgentSummary writes how the run ended and, when it waits, the commands that decide and
// resume it.
func (g *globals) printAgentSummary(w io.Writer, id string, in agentInput, res *agent.Result, err error, interrupted bool, elapsed time.Duration) {
	storeFlag := g.storeArg()
	var esc *checkpoint.EscalatedError
	fmt.Fprintln(w)
	switch {
	case err == nil:
		fmt.Fprintf(w, "✓ run %s completed: %d turns, %d tool calls, %.1fs.\n", id, res.Turns, len(res.Calls), elapsed.Seconds())
		for _, c := range res.Calls {
			status := "ok"
			if c.IsError {
				status = "error (" + c.Class + ")"
			}
			fmt.Fprintf(w, "  %-12s %-13s %s %s\n", c.Tool, c.Effect, status, c.Input)
		}
		fmt.Fprintf(w, "\nAnswer: %s\nLedger: %s\n", strings.TrimSpace(res.Text), relPath(in.Ledger))
	case errors.As(err, &esc):
		fmt.Fprintf(w, "⚑ run %s is waiting for a person: step %s (%s), escalation %s.\n", id, esc.Step, esc.Reason, esc.EscalationID)
		fmt.Fprintf(w, "Look at it, decide, then resume:\n")
		fmt.Fprintf(w, "  %s escalations show %s%s\n", g.self(), esc.EscalationID, storeFlag)
		fmt.Fprintf(w, "  %s escalations resolve %s --action approve --by %s%s\n", g.self(), esc.EscalationID, shellQuote(g.reviewer()), storeFlag)
		fmt.Fprintf(w, "  %s runs resume %s%s\n", g.self(), id, storeFlag)
	case interrupted:
		fmt.Fprintf(w, "■ run %s stopped (interrupted). Nothing finished is lost. Resume it:\n  %s runs resume %s%s\n", id, g.self(), id, storeFlag)
	default:
		fmt.Fprintf(w, "✗ run %s failed: %v\n", id, err)
		fmt.Fprintf(w, "Look at it with '%s runs show %s%s'.\n", g.self(), id, storeFlag)
	}
}
