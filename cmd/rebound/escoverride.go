package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/escalate"
)

// escOverrideCmd is `rebound escalations override`: a person replaces a supervisor's decision
// during its hold.
type escOverrideCmd struct {
	g         *globals
	action    string
	answer    string
	note      string
	rationale string
	by        string
}

func newEscOverrideCmd(g *globals) *cobra.Command {
	c := &escOverrideCmd{g: g}
	cmd := &cobra.Command{
		Use:   "override ID --action approve|reject|respond|edit|retry --by NAME",
		Short: "Replace a supervisor's decision with yours, during its hold",
		Long: `Replace a supervisor's decision on an escalation with yours, before the run acts on it. A
supervisor may resolve an item with a hold: the run waits until the hold is over ('escalations
show' says how long is left), and until then a person may override it. Your decision acts at
once (it has no hold); the supervisor's stays in the audit trail, next to yours.

Refused when the item was decided by a person (reopen it instead), when the hold is over, or
when the run has already taken the decision; nothing changes then. The actions are those of
'escalations resolve'.

Exit codes: 0 overridden; 1 refused (the message says why: decided by a person, hold over,
already acted on); 2 usage error (a flag, an unknown ID, an item with no decision yet).`,
		Example: `  rebound escalations override ESC_ID --action reject --note "not this customer" --by alice
  rebound escalations override ESC_ID --action respond --answer "Use the cached figures." --by bob`,
		Args: exactArgs("ID"),
		RunE: g.runE(c.run),
	}
	cmd.Flags().StringVar(&c.action, "action", "", "approve, reject, respond, edit or retry (required)")
	cmd.Flags().StringVar(&c.answer, "answer", "", "the step's result, for --action respond; the edited arguments, for --action edit")
	cmd.Flags().StringVar(&c.note, "note", "", "a note kept in the audit trail (for reject: the reason)")
	cmd.Flags().StringVar(&c.rationale, "rationale", "", "why you overrode the supervisor, kept in the audit trail")
	cmd.Flags().StringVar(&c.by, "by", "", "who decides (required)")
	return cmd
}

// personDecision is the decision the flags name, checked as the queue will check it.
func personDecision(actionFlag, answer, note, by string) (rebound.Decision, error) {
	if actionFlag == "" {
		return rebound.Decision{}, usagef("--action is required: approve, reject, respond, edit or retry")
	}
	action, err := escalate.ParseAction(actionFlag)
	if err != nil {
		return rebound.Decision{}, usagef("--action %q: want approve, reject, respond, edit or retry", actionFlag)
	}
	switch {
	case action == rebound.ActionRespond && strings.TrimSpace(answer) == "":
		return rebound.Decision{}, usagef("--action respond needs --answer TEXT: the answer becomes the step's result")
	case action == rebound.ActionEdit && strings.TrimSpace(answer) == "":
		return rebound.Decision{}, usagef(`--action edit needs --answer '{"arg": ...}': the call's edited arguments, a JSON object`)
	case action != rebound.ActionRespond && action != rebound.ActionEdit && answer != "":
		return rebound.Decision{}, usagef("--answer applies only to --action respond and edit (got --action %s)", action)
	case strings.TrimSpace(by) == "":
		return rebound.Decision{}, usagef("--by is required: name who decides")
	}
	d := rebound.Decision{Action: action, Answer: answer, Note: note, By: by, Actor: rebound.ActorPerson}
	if err := escalate.ValidateDecision(d); err != nil {
		return rebound.Decision{}, asUsage(err)
	}
	return d, nil
}

func (c *escOverrideCmd) run(ctx context.Context, args []string, w io.Writer) error {
	d, err := personDecision(c.action, c.answer, c.note, c.by)
	if err != nil {
		return err
	}
	d.Rationale = c.rationale
	s, err := c.g.openExistingStores(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	it, err := s.queue.Override(ctx, args[0], d)
	var oe *escalate.OverrideError
	switch {
	case errors.As(err, &oe):
		return fmt.Errorf("escalation %q not overridden: %s", args[0], strings.TrimPrefix(oe.Error(), fmt.Sprintf("cannot override escalation %q: ", args[0])))
	case err != nil:
		return escError(err, args[0])
	}
	if c.g.json {
		return writeJSON(w, it)
	}
	fmt.Fprintf(w, "Overrode %s at %s: %s by %s; the supervisor's decision stays in the audit trail.\n", it.ID,
		it.DecidedAt.Local().Format(time.DateTime), it.Decision.Action, it.Decision.By)
	if it.RunID != "" {
		fmt.Fprintf(w, "The run may act on it now:\n  %s runs resume %s%s\n", c.g.self(), it.RunID, c.g.storeArg())
	}
	return nil
}
