package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rebound-go/rebound/agent"
	"github.com/rebound-go/rebound/checkpoint"
)

func newRunsCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "runs",
		Short: "List, show and resume durable runs",
		Long: `A run is one execution of a workflow, journaled step by step. A run that crashed, was killed or
waited for a person resumes at its first unfinished step; finished steps are not repeated.`,
		Example: `  rebound runs list
  rebound runs show demo-1129-001203
  rebound runs resume demo-1129-001203`,
	}
	c.AddCommand(newRunsListCmd(g), newRunsShowCmd(g), newRunsResumeCmd(g))
	return c
}

// runsListCmd is `rebound runs list`.
type runsListCmd struct {
	g      *globals
	status []string
	limit  int
}

func newRunsListCmd(g *globals) *cobra.Command {
	c := &runsListCmd{g: g}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List runs, newest first",
		Example: `  rebound runs list
  rebound runs list --status escalated
  rebound runs list --json | jq -r '.[] | select(.status == "failed") | .id'`,
		Args: exactArgs(),
		RunE: g.runE(c.run),
	}
	cmd.Flags().StringSliceVar(&c.status, "status", nil, "keep runs with this status: running, completed, failed, escalated, canceled (repeatable)")
	cmd.Flags().IntVar(&c.limit, "limit", 50, "show at most this many runs")
	return cmd
}

func parseRunStatuses(vals []string) ([]checkpoint.Status, error) {
	var out []checkpoint.Status
	for _, v := range vals {
		s := checkpoint.Status(strings.ToLower(strings.TrimSpace(v)))
		switch s {
		case checkpoint.StatusRunning, checkpoint.StatusCompleted, checkpoint.StatusFailed,
			checkpoint.StatusEscalated, checkpoint.StatusCanceled:
			out = append(out, s)
		default:
			return nil, usagef("--status %q: want running, completed, failed, escalated or canceled", v)
		}
	}
	return out, nil
}

func (c *runsListCmd) run(ctx context.Context, _ []string, w io.Writer) error {
	st, err := parseRunStatuses(c.status)
	if err != nil {
		return err
	}
	if c.limit <= 0 {
		return usagef("--limit %d: want 1 or more", c.limit)
	}
	s, err := c.g.openStoresToRead(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	runs, err := s.runs.ListRuns(ctx, checkpoint.RunFilter{Status: st, Limit: c.limit})
	if err != nil {
		return fmt.Errorf("list runs: %w", err)
	}
	now := c.g.now()
	if c.g.json {
		b, err := checkpoint.MarshalRunsAt(runs, now) // docs/api.md, "Runs as JSON"
		if err != nil {
			return err
		}
		return writeJSON(w, json.RawMessage(b))
	}
	if len(runs) == 0 {
		fmt.Fprintln(w, "No runs. Start one with 'rebound demo'.")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tWORKFLOW\tSTATUS\tSTEPS\tATTEMPTS\tLAST STEP\tUPDATED")
	abandoned := 0
	for _, r := range runs {
		status := string(r.Status)
		if r.Status == checkpoint.StatusEscalated && r.EscalationID != "" {
			status += " (" + r.EscalationID + ")"
		}
		if r.LeaseAt(now) == checkpoint.LeaseExpired {
			abandoned++
		}
		status += leaseNote(r, now)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s ago\n", r.ID, orDash(r.Workflow), status, r.StepCount,
			r.AttemptCount, orDash(r.LastStep), humanAge(now.Sub(r.UpdatedAt)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if abandoned > 0 {
		verb := "has"
		if abandoned > 1 {
			verb = "have"
		}
		fmt.Fprintf(w, "\n%s %s no worker (its process died or stalled). '%s serve --worker' recovers abandoned runs of the demo; or resume one: %s runs resume ID\n",
			plural(abandoned, "running run"), verb, c.g.self(), c.g.self())
	}
	return nil
}

// leaseNote is what a running run's lease says of its worker at now, to follow its status:
// " — held by OWNER until 15:04:05", or " — no worker: lease of OWNER expired 3m ago";
// empty for a run that is not running.
func leaseNote(r checkpoint.RunInfo, now time.Time) string {
	switch r.LeaseAt(now) {
	case checkpoint.LeaseHeld:
		return fmt.Sprintf(" — held by %s until %s", orUnknown(r.Owner), r.LeaseExpires.Local().Format(time.TimeOnly))
	case checkpoint.LeaseExpired:
		return fmt.Sprintf(" — no worker: lease of %s expired %s ago", orUnknown(r.Owner), humanAge(now.Sub(r.LeaseExpires)))
	}
	return ""
}

// runsShowCmd is `rebound runs show`.
type runsShowCmd struct{ g *globals }

func newRunsShowCmd(g *globals) *cobra.Command {
	c := &runsShowCmd{g: g}
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show a run: its steps, their attempts and what recovered",
		Example: `  rebound runs show demo-1129-001203
  rebound runs show demo-1129-001203 --json`,
		Args: exactArgs("ID"),
		RunE: g.runE(c.run),
	}
}

func (c *runsShowCmd) run(ctx context.Context, args []string, w io.Writer) error {
	s, err := c.g.openStoresToRead(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	v, err := checkpoint.Get(ctx, s.runs, args[0])
	if v == nil {
		return runError(err, args[0])
	}
	// A damaged run is shown with its damaged records marked, and the command still fails.
	if c.g.json {
		b, jerr := v.MarshalJSONAt(c.g.now()) // docs/api.md, "Runs as JSON"
		if jerr != nil {
			return jerr
		}
		if werr := writeJSON(w, json.RawMessage(b)); werr != nil {
			return werr
		}
	} else {
		showRun(w, v, c.g.now(), c.g.self(), c.g.storeArg(), s.queue.RedactText)
	}
	if err != nil {
		return runError(err, args[0])
	}
	return nil
}

// showRun prints a run as `runs show` does, its lease judged at now; self and store make the
// commands it suggests (the invocation and its --store argument).
func showRun(w io.Writer, v *checkpoint.RunView, now time.Time, self, store string, redact func(string) string) {
	fmt.Fprintf(w, "Run %s (%s): %s%s\n", v.ID, orDash(v.Workflow), v.Status, leaseNote(v.RunInfo, now))
	fmt.Fprintf(w, "  created %s, updated %s ago; %s, %s, %s\n",
		v.CreatedAt.Local().Format(time.DateTime), humanAge(now.Sub(v.UpdatedAt)), plural(len(v.Steps), "step"),
		plural(v.AttemptCount, "attempt"), plural(len(v.Messages), "message"))
	if v.LeaseAt(now) == checkpoint.LeaseExpired {
		fmt.Fprintln(w, "  Nothing runs it now: its worker died or stalled past its lease.")
		if v.Workflow == researchWorkflow || v.Workflow == agentWorkflow {
			fmt.Fprintf(w, "  Resume it:\n    %s runs resume %s%s\n", self, v.ID, store)
			if v.Workflow == researchWorkflow {
				fmt.Fprintf(w, "  or let a worker recover it with every abandoned run of the demo:\n    %s serve --worker%s\n", self, store)
			}
		} else {
			fmt.Fprintf(w, "  Resume it from the program that started it (workflow %s), or under a worker that recovers abandoned runs (checkpoint.WorkerConfig.Recover).\n", orDash(v.Workflow))
		}
	}
	if v.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", v.Error)
	}
	for _, d := range v.Damaged {
		fmt.Fprintf(w, "  damaged record: %s\n", d)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  #\tSTEP\tSTATUS\tRUNS\tTIME\tWHAT HAPPENED")
	for _, st := range v.Steps {
		var notes []string
		for _, a := range st.Attempts {
			switch a.Kind {
			case checkpoint.KindRefused:
				notes = append(notes, fmt.Sprintf("%s not called: breaker open", orUnknown(a.Model)))
			case "attempt_failed":
				// A record written before refusals were journaled as such keeps the refusal as an
				// attempt_failed whose error reads "circuit … open".
				if strings.HasPrefix(a.Error, "circuit ") {
					notes = append(notes, fmt.Sprintf("%s not called: breaker open", orUnknown(a.Model)))
				} else {
					notes = append(notes, fmt.Sprintf("%s on %s", a.Class, orUnknown(a.Model)))
				}
			case "fallback_used":
				notes = append(notes, fmt.Sprintf("fallback %s → %s", a.From, a.To))
			case "breaker_changed":
				notes = append(notes, fmt.Sprintf("breaker %s %s→%s", a.Model, a.From, a.To))
			}
		}
		status := string(st.Status)
		if st.Damaged != "" {
			status = "damaged"
		}
		if st.Reason != "" {
			status += " (" + st.Reason + ")"
		}
		if st.Irreversible {
			status += " [irreversible]"
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%d\t%s\t%s\n", st.Index+1, st.Name, status, st.Executions,
			st.Duration.Round(10*time.Millisecond), oneLine(strings.Join(compact(notes), "; "), 100))
	}
	_ = tw.Flush()
	showToolCalls(w, v, redact)
	if v.Status == checkpoint.StatusEscalated && v.EscalationID != "" {
		fmt.Fprintf(w, "\nWaiting for a person:\n  %[1]s escalations show %[2]s\n  %[1]s escalations resolve %[2]s --action approve --by NAME\n  %[1]s runs resume %[3]s\n",
			self, v.EscalationID, v.ID)
	}
}

// compact folds repeated notes: "a; a; b" becomes "2× a; b".
func compact(notes []string) []string {
	var out []string
	for i := 0; i < len(notes); {
		j := i
		for j < len(notes) && notes[j] == notes[i] {
			j++
		}
		if j-i > 1 {
			out = append(out, fmt.Sprintf("%d× %s", j-i, notes[i]))
		} else {
			out = append(out, notes[i])
		}
		i = j
	}
	return out
}

// runError turns a missing run into a usage error naming it.
func runError(err error, id string) error {
	if errors.Is(err, checkpoint.ErrRunNotFound) {
		return usagef("run %q not found (list them with 'rebound runs list')", id)
	}
	return fmt.Errorf("read run %q: %w", id, err)
}

// showToolCalls lists an agent run's tool calls: tool, effect, arguments (redacted) and result or
// error, with the reviewer's decision and the original call of an edit.
func showToolCalls(w io.Writer, v *checkpoint.RunView, redact func(string) string) {
	first := true
	for _, st := range v.Steps {
		o, ok := agent.StepOutcome(st.Name, st.Result)
		if !ok {
			if strings.HasPrefix(st.Name, "tool:") && st.Status != checkpoint.StepCompleted {
				if first {
					fmt.Fprintln(w, "\nTool calls:")
					first = false
				}
				fmt.Fprintf(w, "  %s  %s (no result yet)\n", strings.TrimPrefix(st.Name, "tool:"), st.Status)
			}
			continue
		}
		if first {
			fmt.Fprintln(w, "\nTool calls:")
			first = false
		}
		status := "ok"
		if o.IsError {
			status = "error (" + o.Class + ")"
		}
		fmt.Fprintf(w, "  %s  %s [%s] %s → %s\n", o.CallID, o.Tool, o.Effect, oneLine(redact(string(o.Input)), 120), status)
		if o.Decision != "" {
			fmt.Fprintf(w, "      decision: %s by %s\n", o.Decision, orDash(o.By))
		}
		if o.OriginalTool != "" {
			fmt.Fprintf(w, "      edited from: %s %s\n", o.OriginalTool, oneLine(redact(string(o.OriginalInput)), 120))
		}
		fmt.Fprintf(w, "      %s\n", oneLine(redact(o.Content), 160))
	}
}
