package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
)

// pending is a call about to run: the tool, its arguments, and the decisions taken on it.
type pending struct {
	t      *tool
	name   string
	input  json.RawMessage
	parsed any
	// problem is why the call cannot run as it is (unknown tool, invalid input): it is then
	// answered with an error result.
	problem string
	class   string
}

// prepare resolves a call's tool and checks its input against the tool's schema.
func (a *Agent) prepare(name string, input json.RawMessage) pending {
	p := pending{name: name, input: input, t: a.tools[name]}
	if p.t == nil {
		p.class = ClassUnknownTool
		p.problem = fmt.Sprintf("Error: %q is not a tool. The tools are: %s.", name, toolNames(a.order))
		return p
	}
	if err := p.t.schema.validate(input); err != nil {
		p.class = ClassInvalidInput
		p.problem = fmt.Sprintf("Error: invalid arguments for tool %s: %v. Fix the arguments and call it again.", name, err)
		return p
	}
	in, err := p.t.Handler.decode(input)
	if err != nil {
		p.class = ClassInvalidInput
		p.problem = fmt.Sprintf("Error: invalid arguments for tool %s: %v. Fix the arguments and call it again.", name, err)
		return p
	}
	p.parsed = in
	return p
}

// jsonInput returns the model's arguments as canonical JSON; arguments that are not JSON are
// kept as a JSON string, so that the journal can hold them.
func jsonInput(raw json.RawMessage) json.RawMessage {
	if c, err := canonical(raw); err == nil {
		return c
	}
	b, _ := json.Marshal(string(raw))
	return b
}

// call runs one tool call of the model: its approvals, then its step.
func (a *Agent) call(ctx context.Context, run *checkpoint.Run, said string, c rebound.Block) (Outcome, error) {
	input := jsonInput(c.Input)
	p := a.prepare(c.Name, input)
	orig := p
	var dec decision
	if p.problem == "" && p.t.Approval.needed(p.input) {
		var err error
		if p, dec, err = a.approve(ctx, run, c.ID, said, p); err != nil {
			return Outcome{}, err
		}
	}
	var opts []checkpoint.StepOption
	opts = append(opts, checkpoint.DecidesItself())
	if p.t != nil && p.t.Effect == Irreversible {
		opts = append(opts, checkpoint.Irreversible())
	}
	o, err := checkpoint.Step(ctx, run, "tool:"+c.ID, func(ctx context.Context) (Outcome, error) {
		return a.execute(ctx, c.ID, said, p, orig, dec)
	}, opts...)
	if err != nil {
		return Outcome{}, err
	}
	return a.checkConfidence(ctx, run, o)
}

// approve asks a reviewer about a call that needs approval, as many times as an edit asks
// again (an edit to another tool that needs approval of its own, or an edit that is invalid).
func (a *Agent) approve(ctx context.Context, run *checkpoint.Run, id, said string, p pending) (pending, decision, error) {
	cur, problem := p, ""
	for round := 1; ; round++ {
		name := "approve:" + id
		if round > 1 {
			name += ":" + strconv.Itoa(round)
		}
		d, err := ask(ctx, run, name, rebound.ReasonIrreversibleAction, approvalText(cur, id, said, problem))
		if err != nil {
			return cur, d, err
		}
		if rebound.Action(d.Action) != rebound.ActionEdit {
			return cur, d, nil
		}
		next, err := a.edited(cur, d.Answer)
		switch {
		case err != nil:
			problem = "The previous edit could not be used: " + err.Error()
			continue
		case next.t != cur.t && next.t.Approval.needed(next.input):
			problem = fmt.Sprintf("A reviewer edited the call to tool %s, whose approval rule (%s) needs approval of its own.", next.name, next.t.Approval.rule)
			cur = next
			continue
		}
		return next, d, nil
	}
}

// edited applies an edit's answer to a call: the edited arguments (a JSON object), or
// {"tool": NAME, "arguments": {...}} to call another tool.
func (a *Agent) edited(cur pending, answer string) (pending, error) {
	name, args := cur.name, json.RawMessage(answer)
	var env map[string]json.RawMessage
	if err := json.Unmarshal([]byte(answer), &env); err != nil || env == nil {
		return cur, fmt.Errorf("the edited arguments are not a JSON object")
	}
	if t, ok := env["tool"]; ok && len(env) == 2 {
		if ar, ok := env["arguments"]; ok && bytes.HasPrefix(bytes.TrimSpace(ar), []byte("{")) {
			if err := json.Unmarshal(t, &name); err != nil {
				return cur, fmt.Errorf(`"tool" is not a string`)
			}
			args = ar
		}
	}
	next := a.prepare(name, jsonInput(args))
	if next.problem != "" {
		return cur, fmt.Errorf("%s", strings.TrimPrefix(next.problem, "Error: "))
	}
	return next, nil
}

// approvalText is what the reviewer of a call is shown.
func approvalText(p pending, id, said, problem string) string {
	var b strings.Builder
	if problem != "" {
		b.WriteString(problem)
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "The model calls %s (%s; approval: %s).\n", p.name, p.t.Effect, p.t.Approval.rule)
	fmt.Fprintf(&b, "Call %s arguments: %s\n", id, p.input)
	if s := strings.TrimSpace(said); s != "" {
		fmt.Fprintf(&b, "The model said before the call: %s\n", s)
	} else {
		b.WriteString("The model said nothing before the call.\n")
	}
	fmt.Fprintf(&b, "Approving runs %s once with exactly these arguments", p.name)
	if p.t.Effect == Irreversible {
		b.WriteString(" (irreversible: it cannot be undone)")
	}
	b.WriteString(". Reject tells the model the call was refused (with your note) and the run goes on; " +
		"respond makes your answer the call's result without running it; edit runs it with the arguments you give.")
	return b.String()
}

// execute is the body of a call's step: it answers a call that cannot run, applies a
// reviewer's decision, or runs the tool.
func (a *Agent) execute(ctx context.Context, id, said string, p, orig pending, dec decision) (Outcome, error) {
	o := Outcome{CallID: id, Tool: p.name, Input: p.input, Key: callKey(ctx, p.name, id), Decision: dec.Action, By: dec.By}
	if p.t != nil {
		o.Effect = p.t.Effect.String()
	}
	if orig.name != p.name || !bytes.Equal(orig.input, p.input) {
		o.OriginalTool, o.OriginalInput = orig.name, orig.input
	}
	// The call's own escalation (in doubt) decided: it wins over the approval's decision.
	if d, ok := checkpoint.DecisionOf(ctx); ok {
		dec = decision{Action: string(d.Action), Answer: d.Answer, Note: d.Note, By: d.By}
		o.Decision, o.By = dec.Action, dec.By
		if d.Action == rebound.ActionEdit {
			next, err := a.edited(p, d.Answer)
			if err != nil {
				return o, checkpoint.Escalate(rebound.ReasonAmbiguousState, "The edit could not be used: "+err.Error(), nil)
			}
			p = next
			o.Tool, o.Input, o.Effect = p.name, p.input, p.t.Effect.String()
			if o.OriginalTool == "" {
				o.OriginalTool, o.OriginalInput = orig.name, orig.input
			}
		}
	}
	emit := func(kind rebound.EventKind, o Outcome) {
		e := rebound.Event{Kind: kind, Tool: o.Tool, CallID: id, Effect: o.Effect}
		if kind == rebound.ToolFailed {
			e.FailureClass = o.Class
			if o.Error != "" {
				e.Err = fmt.Errorf("%s", o.Error)
			}
		}
		rebound.Hook(a.cfg.Hook).Emit(ctx, e)
	}
	emit(rebound.ToolStarted, o)
	o, err := a.decide(ctx, id, p, dec, o)
	switch {
	case err != nil:
		var esc *checkpoint.EscalateError
		fo := o
		if asEscalate(err, &esc) {
			fo.Class = string(esc.Reason)
		} else if fo.Class == "" {
			fo.Class = rebound.ClassCanceled.String()
		}
		fo.Error = err.Error()
		emit(rebound.ToolFailed, fo)
	case o.IsError:
		emit(rebound.ToolFailed, o)
	default:
		emit(rebound.ToolCompleted, o)
	}
	return o, err
}

func (a *Agent) decide(ctx context.Context, id string, p pending, dec decision, o Outcome) (Outcome, error) {
	if p.problem != "" {
		return failed(o, p.class, p.problem, nil), nil
	}
	switch rebound.Action(dec.Action) {
	case rebound.ActionReject:
		msg := fmt.Sprintf("Error: a reviewer rejected this call of %s; it was not run.", p.name)
		if dec.Note != "" {
			msg += " The reviewer said: " + dec.Note
		}
		return failed(o, ClassRejected, msg, nil), nil
	case rebound.ActionRespond:
		o.Content = dec.Answer
		return o, nil
	}
	fence, _ := checkpoint.Fencing(ctx)
	call := Call{ID: id, Tool: p.name, Input: p.input, Key: o.Key, Fence: fence}
	return a.run(ctx, p.t, call, p.parsed, o, map[string]bool{p.name: true})
}

// checkConfidence escalates a result whose confidence is under the threshold.
func (a *Agent) checkConfidence(ctx context.Context, run *checkpoint.Run, o Outcome) (Outcome, error) {
	if a.cfg.MinConfidence <= 0 || o.Confidence == nil || *o.Confidence >= a.cfg.MinConfidence || o.IsError {
		return o, nil
	}
	d, err := ask(ctx, run, "confidence:"+o.CallID, rebound.ReasonLowConfidence,
		fmt.Sprintf("Tool %s answered call %s (%s) with confidence %.2f, under %.2f. Result: %s\n"+
			"Approve gives the model this result; respond gives it your answer instead; reject tells the model the result was refused.",
			o.Tool, o.CallID, o.Input, *o.Confidence, a.cfg.MinConfidence, o.Content))
	if err != nil {
		return o, err
	}
	switch rebound.Action(d.Action) {
	case rebound.ActionRespond, rebound.ActionEdit:
		o.Content, o.Decision, o.By = d.Answer, d.Action, d.By
	case rebound.ActionReject:
		msg := fmt.Sprintf("Error: a reviewer refused the result of this call of %s (its confidence was too low).", o.Tool)
		if d.Note != "" {
			msg += " The reviewer said: " + d.Note
		}
		o = failed(o, ClassRejected, msg, nil)
		o.Decision, o.By = d.Action, d.By
	}
	return o, nil
}

func asEscalate(err error, target **checkpoint.EscalateError) bool { return errors.As(err, target) }
