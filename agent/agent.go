package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/llm"
)

// Config configures an Agent. Model and Tools are required; the zero value of everything else
// works.
type Config struct {
	// Model answers the turns: wrap it in llm.Resilient (and llm.Fallback) for its own retries,
	// breaker and fallback.
	Model llm.Model
	// System is the system prompt.
	System string
	// Tools are the tools the model may call.
	Tools []Tool
	// MaxTokens bounds each answer. Zero: llm.DefaultMaxTokens.
	MaxTokens int
	// Limits bound the loop (see Limits for the defaults).
	Limits Limits
	// MinConfidence is the confidence under which a tool's result (one with a Confidence()
	// float64 method) or the final answer (AnswerConfidence) escalates low_confidence. Zero:
	// confidence is not checked.
	MinConfidence float64
	// AnswerConfidence, if set, reads the confidence of the final answer (ok false: none given).
	AnswerConfidence func(text string) (confidence float64, ok bool)
	// Breakers is the set the tools' breakers come from ("tool/NAME"), unless a Tool has a
	// Breaker of its own. Share it with a dashboard to list them. Nil: a new Set per Agent with
	// breaker's defaults.
	Breakers *breaker.Set
	// Hook receives the tool_started, tool_completed and tool_failed events, on the run's
	// goroutine (they also go to the run's own hook through the step's rebound.Scope).
	Hook rebound.Hook
}

// Agent is a tool-calling loop that runs inside a checkpoint.Run: each model turn is a step,
// each tool call is a step keyed by its call id. It is safe for concurrent use by several runs.
type Agent struct {
	cfg   Config
	lim   Limits
	tools map[string]*tool
	order []*tool
	specs []llm.Tool
}

// New returns an Agent, or an error naming what in c is wrong.
func New(c Config) (*Agent, error) {
	if c.Model == nil {
		return nil, errors.New("agent: Config.Model is nil")
	}
	return build(c)
}

// build returns the Agent of c, without checking its Model (a Toolset has none).
func build(c Config) (*Agent, error) {
	lim, err := c.Limits.withDefaults()
	if err != nil {
		return nil, err
	}
	a := &Agent{cfg: c, lim: lim, tools: map[string]*tool{}}
	set := c.Breakers
	if set == nil {
		if set, err = breaker.NewSet(breaker.SetConfig{}); err != nil {
			return nil, fmt.Errorf("agent: breakers: %w", err)
		}
	}
	for _, t := range c.Tools {
		tt, err := newTool(t, set)
		if err != nil {
			return nil, err
		}
		if a.tools[tt.Name] != nil {
			return nil, fmt.Errorf("agent: two tools are named %q", tt.Name)
		}
		a.tools[tt.Name] = tt
		a.order = append(a.order, tt)
		a.specs = append(a.specs, llm.Tool{Name: tt.Name, Description: tt.Description, InputSchema: tt.raw})
	}
	for _, t := range a.order {
		if t.Fallback != "" && a.tools[t.Fallback] == nil {
			return nil, fmt.Errorf("agent: tool %q falls back to %q, which is not one of the tools", t.Name, t.Fallback)
		}
		if t.Fallback == t.Name {
			return nil, fmt.Errorf("agent: tool %q falls back to itself", t.Name)
		}
	}
	return a, nil
}

// Result is what a finished run of the agent came to.
type Result struct {
	// Text is the model's final answer (or a reviewer's, if one responded to it).
	Text string
	// Turns is the number of model turns.
	Turns int
	// Usage is the tokens of every turn.
	Usage llm.Usage
	// Calls are the outcomes of every tool call, in order.
	Calls []Outcome
}

// turnRecord is the journaled result of a model turn; the answer itself is journaled as the
// step's assistant message.
type turnRecord struct {
	Text  string          `json:"text,omitempty"`
	Calls []rebound.Block `json:"calls,omitempty"`
	Usage llm.Usage       `json:"usage"`
	Stop  string          `json:"stop,omitempty"`
	Model string          `json:"model,omitempty"`
}

// Run runs the agent inside run: prompt is appended to the run's history (recognised, not
// written again, on resume), then the model is asked for turns and its tool calls run until it
// answers without calling a tool. On resume every turn and call the journal holds is replayed
// without asking the model or running the tool again, and the loop continues at the first
// unfinished call. A call or guard that needs a person returns the run's *checkpoint.
// EscalatedError; a guard's escalation a reviewer rejects returns a *StoppedError.
func (a *Agent) Run(ctx context.Context, run *checkpoint.Run, prompt ...rebound.Message) (*Result, error) {
	if err := run.Append(ctx, prompt...); err != nil {
		return nil, err
	}
	st := &loopState{}
	res := &Result{}
	for turn := 1; ; turn++ {
		tr, err := checkpoint.Step(ctx, run, "turn:"+strconv.Itoa(turn), func(ctx context.Context) (turnRecord, error) {
			resp, err := a.cfg.Model.Generate(ctx, llm.Request{
				System: a.cfg.System, Messages: run.Messages(), Tools: a.specs, MaxTokens: a.cfg.MaxTokens,
			})
			if err != nil {
				return turnRecord{}, err
			}
			msg, calls := sanitize(resp)
			if err := run.Append(ctx, msg); err != nil {
				return turnRecord{}, err
			}
			return turnRecord{Text: resp.Text, Calls: calls, Usage: resp.Usage,
				Stop: string(resp.StopReason), Model: resp.Provenance.Model}, nil
		})
		if err != nil {
			return nil, err
		}
		res.Turns = turn
		res.Usage.InputTokens += tr.Usage.InputTokens
		res.Usage.OutputTokens += tr.Usage.OutputTokens
		st.addTurn(tr.Usage, a.lim)

		if len(tr.Calls) == 0 {
			text, done, err := a.checkAnswer(ctx, run, turn, tr.Text)
			if err != nil {
				return nil, err
			}
			if done {
				res.Text = text
				return res, nil
			}
			continue
		}

		blocks := make([]rebound.Block, 0, len(tr.Calls)+1)
		for _, c := range tr.Calls {
			o, err := a.call(ctx, run, tr.Text, c)
			if err != nil {
				return nil, err
			}
			res.Calls = append(res.Calls, o)
			st.add(o)
			blocks = append(blocks, o.Block())
		}
		note, err := a.checkLoop(ctx, run, st, turn)
		if err != nil {
			return nil, err
		}
		if note != "" {
			blocks = append(blocks, rebound.Text(note))
		}
		if err := run.Append(ctx, rebound.ToolResults(blocks...)); err != nil {
			return nil, err
		}
	}
}

// StoppedError is a run a reviewer stopped: a guard's escalation (a loop, a runaway, a low
// confidence answer) was rejected.
type StoppedError struct {
	RunID        string
	Reason       rebound.EscalationReason
	EscalationID string
	By           string
	Note         string
}

func (e *StoppedError) Error() string {
	s := fmt.Sprintf("run %q stopped by a reviewer (%s)", e.RunID, e.Reason)
	if e.By != "" {
		s += " " + e.By
	}
	if e.Note != "" {
		s += ": " + e.Note
	}
	return s
}

// decision is the journaled result of a step that waited for a reviewer.
type decision struct {
	Action string `json:"action"`
	Answer string `json:"answer,omitempty"`
	Note   string `json:"note,omitempty"`
	By     string `json:"by,omitempty"`
}

// ask is a step that escalates with reason and text, and once decided returns the decision.
func ask(ctx context.Context, run *checkpoint.Run, name string, reason rebound.EscalationReason, text string) (decision, error) {
	return checkpoint.Step(ctx, run, name, func(ctx context.Context) (decision, error) {
		d, ok := checkpoint.DecisionOf(ctx)
		if !ok {
			return decision{}, checkpoint.Escalate(reason, text, nil)
		}
		return decision{Action: string(d.Action), Answer: d.Answer, Note: d.Note, By: d.By}, nil
	}, checkpoint.DecidesItself())
}

// checkAnswer checks the final answer's confidence: done false means a reviewer rejected it
// and the model was told.
func (a *Agent) checkAnswer(ctx context.Context, run *checkpoint.Run, turn int, text string) (string, bool, error) {
	if a.cfg.MinConfidence <= 0 || a.cfg.AnswerConfidence == nil {
		return text, true, nil
	}
	c, ok := a.cfg.AnswerConfidence(text)
	if !ok || c >= a.cfg.MinConfidence {
		return text, true, nil
	}
	d, err := ask(ctx, run, "confidence:answer:"+strconv.Itoa(turn), rebound.ReasonLowConfidence,
		fmt.Sprintf("The model's final answer has confidence %.2f, under %.2f. Answer: %s\n"+
			"Approve accepts it; respond replaces it with your answer; reject tells the model and it tries again.",
			c, a.cfg.MinConfidence, text))
	if err != nil {
		return "", false, err
	}
	switch rebound.Action(d.Action) {
	case rebound.ActionRespond, rebound.ActionEdit:
		return d.Answer, true, nil
	case rebound.ActionReject:
		msg := "A reviewer rejected your answer."
		if d.Note != "" {
			msg += " " + d.Note
		}
		return "", false, run.Append(ctx, rebound.User(msg))
	}
	return text, true, nil
}

// sanitize returns the answer as the assistant message to journal and its tool calls. A call
// whose arguments are not JSON (a model can send anything) keeps them as a JSON string in the
// call, so that the call is answered with an invalid-input error, and goes into the history with
// empty arguments, which a provider accepts back.
func sanitize(resp *llm.Response) (rebound.Message, []rebound.Block) {
	msg := resp.Message()
	msg.Blocks = append([]rebound.Block(nil), msg.Blocks...)
	var calls []rebound.Block
	for i, b := range msg.Blocks {
		if b.Type != rebound.BlockToolUse {
			continue
		}
		if !json.Valid(b.Input) {
			raw, _ := json.Marshal(string(b.Input))
			msg.Blocks[i].Input = json.RawMessage(`{}`)
			b.Input = raw
		}
		calls = append(calls, b)
	}
	return msg, calls
}
