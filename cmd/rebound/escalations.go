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

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
)

func newEscalationsCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:     "escalations",
		Aliases: []string{"esc"},
		Short:   "List, show, claim and resolve what runs could not resolve by themselves",
		Long: `The escalation queue holds what a run could not resolve by itself: retries exhausted, an
irreversible action that needs approval, an ambiguous state after a crash, low confidence.
A person resolves an item; its run then continues with 'rebound runs resume RUN_ID'.`,
		Example: `  rebound escalations list
  rebound escalations show ESC_ID
  rebound escalations resolve ESC_ID --action approve --by alice
  rebound escalations override ESC_ID --action reject --note "not this customer" --by alice`,
	}
	c.AddCommand(newEscListCmd(g), newEscShowCmd(g), newEscClaimCmd(g), newEscResolveCmd(g), newEscOverrideCmd(g))
	return c
}

// escListCmd is `rebound escalations list`.
type escListCmd struct {
	g      *globals
	status []string
	reason []string
	runID  string
	actor  string
	limit  int
}

func newEscListCmd(g *globals) *cobra.Command {
	c := &escListCmd{g: g}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List escalations, waiting ones first",
		Example: `  rebound escalations list
  rebound escalations list --status open --reason irreversible_action
  rebound escalations list --actor supervisor
  rebound escalations list --actor alice
  rebound escalations list --json | jq -r '.[].id'`,
		Args: exactArgs(),
		RunE: g.runE(c.run),
	}
	cmd.Flags().StringSliceVar(&c.status, "status", nil, "keep items with this status: open, claimed, resolved, dismissed (repeatable)")
	cmd.Flags().StringSliceVar(&c.reason, "reason", nil, "keep items with this reason, e.g. irreversible_action, max_retries_exceeded (repeatable)")
	cmd.Flags().StringVar(&c.runID, "run", "", "keep the items of one run")
	cmd.Flags().StringVar(&c.actor, "actor", "", "keep decided items by who decided: person, supervisor, or a decider's exact name (a person's, or a supervisor's \"model policy:version\")")
	cmd.Flags().IntVar(&c.limit, "limit", 100, "show at most this many items (0: all)")
	return cmd
}

func parseStatuses(vals []string) ([]escalate.Status, error) {
	var out []escalate.Status
	for _, v := range vals {
		s := escalate.Status(strings.ToLower(strings.TrimSpace(v)))
		switch s {
		case escalate.StatusOpen, escalate.StatusClaimed, escalate.StatusResolved, escalate.StatusDismissed:
			out = append(out, s)
		default:
			return nil, usagef("--status %q: want open, claimed, resolved or dismissed", v)
		}
	}
	return out, nil
}

func (c *escListCmd) run(ctx context.Context, _ []string, w io.Writer) error {
	f := escalate.Filter{RunID: c.runID, Limit: c.limit}
	var err error
	if f.Status, err = parseStatuses(c.status); err != nil {
		return err
	}
	for _, r := range c.reason {
		r = strings.TrimSpace(r)
		if r == "" {
			return usagef("--reason is empty")
		}
		f.Reason = append(f.Reason, rebound.EscalationReason(r))
	}
	if c.limit < 0 {
		return usagef("--limit %d: want 0 (all) or more", c.limit)
	}
	if c.actor != "" {
		f.Actor, f.DecidedBy = parseActor(c.actor)
		if f.Actor == nil && f.DecidedBy == "" {
			return usagef("--actor is empty: want person, supervisor or a decider's name")
		}
	}
	s, err := c.g.openStoresToRead(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	items, err := s.queue.List(ctx, f)
	if err != nil {
		return err
	}
	if c.g.json {
		if items == nil {
			items = []escalate.Item{}
		}
		return writeJSON(w, items)
	}
	if len(items) == 0 {
		fmt.Fprintln(w, "No escalations.")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRUN\tSTEP\tREASON\tSTATUS\tDECIDED BY\tAGE\tERROR")
	now := time.Now()
	for _, it := range items {
		status := string(it.Status)
		if it.Status == escalate.StatusClaimed {
			status += " by " + it.ClaimedBy
		}
		if it.Decision != nil {
			status += " (" + string(it.Decision.Action) + ")"
		}
		errText := it.Error
		if it.Damaged != "" {
			// Shown, not hidden: one damaged row must not hide the queue.
			status, errText = "DAMAGED "+status, it.Damaged
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", it.ID, it.RunID, it.Step, it.Reason, status,
			decidedBy(it, now), humanAge(now.Sub(it.CreatedAt)), oneLine(errText, 60))
	}
	return tw.Flush()
}

// parseActor reads --actor: the kinds person and supervisor, or else a decider's exact name.
func parseActor(v string) ([]rebound.Actor, string) {
	v = strings.TrimSpace(v)
	switch a := rebound.Actor(strings.ToLower(v)); a {
	case rebound.ActorPerson, rebound.ActorSupervisor:
		return []rebound.Actor{a}, ""
	}
	return nil, v
}

// decidedBy says who decided the item, in a few words: "supervisor model policy:v3 (held
// 4m12s)", "person alice", "-" while undecided.
func decidedBy(it escalate.Item, now time.Time) string {
	if it.Decision == nil {
		return "-"
	}
	s := string(it.DecidedByActor()) + " " + oneLine(it.Decision.By, 40)
	if it.Held(now) {
		s += " (held " + it.HoldUntil().Sub(now).Round(time.Second).String() + ")"
	}
	return s
}

// escShowCmd is `rebound escalations show`.
type escShowCmd struct{ g *globals }

func newEscShowCmd(g *globals) *cobra.Command {
	c := &escShowCmd{g: g}
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show an escalation: why, the run's state and recent messages, its audit trail",
		Example: `  rebound escalations show esc_0192f3a4b5c6d7e8f9a0b1
  rebound escalations show ESC_ID --json`,
		Args: exactArgs("ID"),
		RunE: g.runE(c.run),
	}
}

func (c *escShowCmd) run(ctx context.Context, args []string, w io.Writer) error {
	s, err := c.g.openStoresToRead(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	it, err := s.queue.Get(ctx, args[0])
	if err != nil {
		return escError(err, args[0])
	}
	audit, err := s.queue.Audit(ctx, args[0])
	if err != nil {
		return escError(err, args[0])
	}
	if c.g.json {
		// The item's own JSON, with its audit trail added.
		b, err := json.Marshal(it)
		if err != nil {
			return err
		}
		var obj map[string]any
		if err := json.Unmarshal(b, &obj); err != nil {
			return err
		}
		if audit == nil {
			audit = []escalate.AuditEntry{}
		}
		obj["audit"] = audit
		return writeJSON(w, obj)
	}
	var run *checkpoint.RunInfo
	if it.RunID != "" {
		if rec, err := s.runs.GetRun(ctx, it.RunID); err == nil {
			run = &rec.RunInfo
		}
	}
	showItem(w, it, audit, run, c.g.self())
	return nil
}

// decisionGuide says what each decision will do to the item's step, so that nobody approves
// without knowing: for a step waiting for approval, approving runs it (its context says what it
// does).
func decisionGuide(it escalate.Item) [][2]string {
	approve := "the step runs again as it is"
	switch it.Reason {
	case rebound.ReasonIrreversibleAction:
		approve = "step " + it.Step + " runs now, once; it is irreversible"
		if strings.HasPrefix(it.Context, "Approving will ") {
			approve = "it will " + strings.TrimPrefix(it.Context, "Approving will ")
		}
	case rebound.ReasonAmbiguousState:
		approve = "step " + it.Step + " runs again: check first that its effect did not happen"
	}
	return [][2]string{
		{"approve", approve},
		{"reject", "the run fails; step " + it.Step + " does not run"},
		{"respond", "your --answer becomes the step's result; the step does not run"},
		{"retry", "the step runs again from the start"},
	}
}

// showItem writes an item for people: what, why, the decision, recent messages, the audit trail.
// run, when known, is the item's run as it stands (for the hint at the end).
func showItem(w io.Writer, it escalate.Item, audit []escalate.AuditEntry, run *checkpoint.RunInfo, self string) {
	fmt.Fprintf(w, "Escalation %s\n", it.ID)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  run\t%s\n  step\t%s\n  reason\t%s\n  status\t%s\n", it.RunID, it.Step, it.Reason, it.Status)
	if it.Error != "" {
		fmt.Fprintf(tw, "  error\t%s (%s)\n", it.Error, it.Class)
	}
	if it.Attempts > 0 {
		fmt.Fprintf(tw, "  attempts\t%d\n", it.Attempts)
	}
	fmt.Fprintf(tw, "  created\t%s (%s ago)\n", it.CreatedAt.Local().Format(time.DateTime), humanAge(time.Since(it.CreatedAt)))
	if it.ClaimedBy != "" {
		fmt.Fprintf(tw, "  claimed by\t%s until %s\n", it.ClaimedBy, it.ClaimedUntil.Local().Format(time.DateTime))
	}
	now := time.Now()
	if d := it.Decision; d != nil {
		fmt.Fprintf(tw, "  decision\t%s by %s (%s), %s\n", d.Action, d.By, it.DecidedByActor(),
			it.DecidedAt.Local().Format(time.DateTime))
		if d.Answer != "" {
			fmt.Fprintf(tw, "  answer\t%s\n", oneLine(d.Answer, 200))
		}
		if d.Note != "" {
			fmt.Fprintf(tw, "  note\t%s\n", oneLine(d.Note, 200))
		}
		if d.Rationale != "" {
			fmt.Fprintf(tw, "  rationale\t%s\n", oneLine(d.Rationale, 400))
		}
		if it.DecidedByActor() == rebound.ActorSupervisor {
			fmt.Fprintf(tw, "  confidence\t%.2f\n", d.Confidence)
		}
		switch u := it.HoldUntil(); {
		case u.IsZero():
		case it.Held(now):
			fmt.Fprintf(tw, "  hold\t%s left (until %s): the run waits; a person may override it until then\n",
				u.Sub(now).Round(time.Second), u.Local().Format(time.DateTime))
		case !it.ActedAt.IsZero():
			fmt.Fprintf(tw, "  hold\tover at %s; the run took the decision at %s\n", u.Local().Format(time.DateTime),
				it.ActedAt.Local().Format(time.DateTime))
		default:
			fmt.Fprintf(tw, "  hold\tover at %s\n", u.Local().Format(time.DateTime))
		}
	}
	_ = tw.Flush()
	if it.Context != "" {
		// In full: for a tool call it is the exact call and what approving it does.
		fmt.Fprintln(w, "\nContext:")
		for _, ln := range strings.Split(strings.TrimSpace(it.Context), "\n") {
			fmt.Fprintf(w, "  %s\n", wrap(ln, summaryWidth-2, "  "))
		}
	}
	if n := len(it.Messages); n > 0 {
		if n > 6 {
			fmt.Fprintf(w, "\nRecent messages (the last 6 of %d):\n", n)
		} else {
			fmt.Fprintf(w, "\nRecent messages (%d):\n", n)
		}
		for _, m := range it.Messages[max(0, n-6):] {
			mark := ""
			if m.Degraded {
				mark = " [degraded: " + m.Source + "]"
			}
			fmt.Fprintf(w, "  %-9s %s%s\n", m.Role, oneLine(messageLine(m), 100), mark)
		}
	}
	if len(audit) > 0 {
		fmt.Fprintln(w, "\nAudit trail:")
		for _, a := range audit {
			line := fmt.Sprintf("  %s  %-9s %s → %s", a.At.Local().Format(time.DateTime), a.Event, orDash(string(a.From)), a.To)
			if a.By != "" {
				line += " by " + a.By
			}
			if a.Action != "" {
				line += " (" + string(a.Action) + ")"
			}
			if a.Actor == rebound.ActorSupervisor {
				line += fmt.Sprintf(" [supervisor, confidence %.2f", a.Confidence)
				if a.Hold > 0 {
					line += ", hold " + a.Hold.String()
				}
				line += "]"
			}
			if a.Note != "" {
				line += ": " + oneLine(a.Note, 80)
			}
			if a.Rationale != "" && a.Rationale != a.Note {
				line += " — " + oneLine(a.Rationale, 120)
			}
			if a.Answer != "" {
				line += " answer: " + oneLine(a.Answer, 80)
			}
			fmt.Fprintln(w, line)
		}
	}
	switch {
	case it.Held(now):
		fmt.Fprintf(w, "\nThe supervisor decided %s; the run waits for the hold to end. Override it before then:\n  %s escalations override %s --action approve|reject|respond|edit|retry --by NAME\n",
			it.Decision.Action, self, it.ID)
	case it.Status == escalate.StatusOpen || it.Status == escalate.StatusClaimed:
		fmt.Fprintln(w, "\nWhat each decision does (none is made for you):")
		for _, d := range decisionGuide(it) {
			fmt.Fprintf(w, "  %-8s %s\n", d[0], d[1])
		}
		fmt.Fprintf(w, "\nResolve it:\n  %s escalations resolve %s --action approve|reject|respond|edit|retry --by NAME\n", self, it.ID)
	case run != nil && run.Status.Finished():
		fmt.Fprintf(w, "\nRun %s is %s: nothing left to do.\n", it.RunID, run.Status)
	case run != nil && run.Workflow != researchWorkflow:
		fmt.Fprintf(w, "\nRun %s belongs to workflow %s: resume it from the program that started it (or 'rebound serve --worker' where that program registers it).\n", it.RunID, orDash(run.Workflow))
	case it.Status == escalate.StatusResolved && it.Decision != nil && it.Decision.Action == rebound.ActionReject:
		fmt.Fprintf(w, "\nThe run fails by this decision when it resumes:\n  %s runs resume %s\n", self, it.RunID)
	case it.Status == escalate.StatusResolved:
		fmt.Fprintf(w, "\nContinue the run:\n  %s runs resume %s\n", self, it.RunID)
	}
}

// escClaimCmd is `rebound escalations claim`.
type escClaimCmd struct {
	g   *globals
	by  string
	dur time.Duration
}

func newEscClaimCmd(g *globals) *cobra.Command {
	c := &escClaimCmd{g: g}
	cmd := &cobra.Command{
		Use:   "claim ID --by NAME",
		Short: "Hold an escalation so that no one else works on it meanwhile",
		Example: `  rebound escalations claim ESC_ID --by alice
  rebound escalations claim ESC_ID --by alice --for 1h`,
		Args: exactArgs("ID"),
		RunE: g.runE(c.run),
	}
	cmd.Flags().StringVar(&c.by, "by", "", "who claims it (required)")
	cmd.Flags().DurationVar(&c.dur, "for", 15*time.Minute, "how long the claim lasts")
	return cmd
}

func (c *escClaimCmd) run(ctx context.Context, args []string, w io.Writer) error {
	if strings.TrimSpace(c.by) == "" {
		return usagef("--by is required: name who claims the escalation")
	}
	if c.dur <= 0 {
		return usagef("--for %s: want a positive duration, e.g. 15m", c.dur)
	}
	s, err := c.g.openExistingStores(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	it, err := s.queue.Claim(ctx, args[0], c.by, c.dur)
	if err != nil {
		return escError(err, args[0])
	}
	if c.g.json {
		return writeJSON(w, it)
	}
	fmt.Fprintf(w, "Claimed %s for %s until %s.\n", it.ID, it.ClaimedBy, it.ClaimedUntil.Local().Format(time.DateTime))
	return nil
}

// escResolveCmd is `rebound escalations resolve`.
type escResolveCmd struct {
	g      *globals
	action string
	answer string
	note   string
	by     string
}

func newEscResolveCmd(g *globals) *cobra.Command {
	c := &escResolveCmd{g: g}
	cmd := &cobra.Command{
		Use:   "resolve ID --action approve|reject|respond|edit|retry --by NAME",
		Short: "Record a decision on an escalation (the run continues with 'runs resume')",
		Long: `Record a decision on an escalation. It does not run the workflow: the run continues with
'rebound runs resume RUN_ID' (or under a worker), where the escalated step receives the decision:

  approve   the step runs (an irreversible step, once)
  reject    the run fails, with the note as the reason
  respond   the answer (--answer) becomes the step's result
  edit      an agent's tool call runs with --answer (a JSON object) as its arguments, or
            {"tool": NAME, "arguments": {...}} to call another tool; the original stays in the
            audit trail
  retry     the step runs again with a fresh retry budget

For an agent's tool call (rebound demo agent), reject does not fail the run: the model is told
the call was refused (with the note) and goes on.`,
		Example: `  rebound escalations resolve ESC_ID --action approve --by alice
  rebound escalations resolve ESC_ID --action respond --answer "Use the cached figures." --by bob
  rebound escalations resolve ESC_ID --action reject --note "wrong audience" --by carol`,
		Args: exactArgs("ID"),
		RunE: g.runE(c.run),
	}
	cmd.Flags().StringVar(&c.action, "action", "", "approve, reject, respond, edit or retry (required)")
	cmd.Flags().StringVar(&c.answer, "answer", "", "the step's result, for --action respond; the edited arguments, for --action edit")
	cmd.Flags().StringVar(&c.note, "note", "", "a note kept in the audit trail (for reject: the reason)")
	cmd.Flags().StringVar(&c.by, "by", "", "who decides (required)")
	return cmd
}

func (c *escResolveCmd) run(ctx context.Context, args []string, w io.Writer) error {
	if c.action == "" {
		return usagef("--action is required: approve, reject, respond, edit or retry")
	}
	action, err := escalate.ParseAction(c.action)
	if err != nil {
		return usagef("--action %q: want approve, reject, respond, edit or retry", c.action)
	}
	if action == rebound.ActionRespond && strings.TrimSpace(c.answer) == "" {
		return usagef("--action respond needs --answer TEXT: the answer becomes the step's result")
	}
	if action == rebound.ActionEdit && strings.TrimSpace(c.answer) == "" {
		return usagef(`--action edit needs --answer '{"arg": ...}': the call's edited arguments, a JSON object`)
	}
	if action != rebound.ActionRespond && action != rebound.ActionEdit && c.answer != "" {
		return usagef("--answer applies only to --action respond and edit (got --action %s)", action)
	}
	if strings.TrimSpace(c.by) == "" {
		return usagef("--by is required: name who decides")
	}
	d := rebound.Decision{Action: action, Answer: c.answer, Note: c.note, By: c.by}
	if err := escalate.ValidateDecision(d); err != nil {
		return asUsage(err)
	}
	s, err := c.g.openExistingStores(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	it, err := s.queue.Resolve(ctx, args[0], d)
	if err != nil {
		return escError(err, args[0])
	}
	if c.g.json {
		return writeJSON(w, it)
	}
	fmt.Fprintf(w, "Resolved %s: %s by %s.\n", it.ID, action, it.Decision.By)
	if it.RunID != "" {
		fmt.Fprintf(w, "The run waits to continue:\n  %s runs resume %s%s\n", c.g.self(), it.RunID, c.g.storeArg())
	}
	return nil
}

// escError turns the queue's refusals into usage errors (exit code 2) that name the item.
func escError(err error, id string) error {
	var st *escalate.StatusError
	var cl *escalate.ClaimedError
	switch {
	case errors.Is(err, escalate.ErrNotFound):
		return usagef("escalation %q not found (list them with 'rebound escalations list')", id)
	case errors.As(err, &st):
		return usagef("escalation %q is %s: %s does not apply (see 'rebound escalations show %s')", id, st.Status, st.Op, id)
	case errors.As(err, &cl):
		return usagef("escalation %q is claimed by %s until %s", id, cl.By, cl.Until.Local().Format(time.DateTime))
	case errors.Is(err, escalate.ErrConflict), errors.Is(err, escalate.ErrInvalid):
		return asUsage(err)
	}
	return err
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func humanAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// oneLine shortens s to one line of at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// messageLine is a message in one line: its text, its tool calls (→ tool args) and tool results
// (← call: result).
func messageLine(m rebound.Message) string {
	var parts []string
	for _, b := range m.Parts() {
		switch b.Type {
		case rebound.BlockText:
			parts = append(parts, b.Text)
		case rebound.BlockToolUse:
			parts = append(parts, fmt.Sprintf("→ %s %s", b.Name, b.Input))
		case rebound.BlockToolResult:
			mark := ""
			if b.IsError {
				mark = " [error]"
			}
			parts = append(parts, fmt.Sprintf("← %s%s: %s", b.CallID, mark, b.ResultText()))
		case rebound.BlockImage:
			parts = append(parts, "[image]")
		}
	}
	return strings.Join(parts, " · ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
