package agent

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/llm"
)

// Defaults of Limits, from what the anchors ship:
//
//   - DefaultMaxTurns 20: OpenAI's Agents SDK stops at 10 model calls and users raise it; Eino's
//     agents at 20; Google ADK's REST runtime at 100. 20 turns of a support agent is far past a
//     finished task, and still short of a runaway bill.
//   - DefaultRepeatedCall 4: OpenHands' stuck detector fires on 4 identical actions with 4
//     identical observations (Gemini CLI on 5 identical calls, Roo Code on the 4th).
//   - DefaultFailedCall 3: OpenHands fires on 3 identical actions that each failed; ADK's
//     retry-and-reflect plugin stops a tool after 3 failures.
//   - DefaultInvalidInput 3: Anthropic documents that Claude retries an invalid call 2-3 times
//     with corrections; a third refusal in a row means it will not get there alone.
//   - DefaultAlternating 6: OpenHands' alternating pattern, 6 calls (A B A B A B) each with the
//     same result.
//   - DefaultWindow 20: OpenHands scans the last 20 events.
const (
	DefaultMaxTurns     = 20
	DefaultRepeatedCall = 4
	DefaultFailedCall   = 3
	DefaultInvalidInput = 3
	DefaultAlternating  = 6
	DefaultWindow       = 20
)

// Limits bound an agent's loop. Each limit reached escalates with its own reason; a reviewer's
// approve (or retry) lets the loop go on with the counters started afresh, respond sends the
// answer to the model with the tool results and starts them afresh too, reject stops the run (a
// *StoppedError). The counters are derived from the journal: a resumed run counts what the
// crashed one did. Zero fields take the defaults; a negative field turns its limit off.
type Limits struct {
	// MaxTurns is the number of model turns. Reason max_turns_exceeded. Default 20.
	MaxTurns int
	// RepeatedCall is how many times the same call (tool and canonical arguments) may return
	// the same result. Reason loop_detected. Default 4.
	RepeatedCall int
	// FailedCall is how many times the same call may fail. Reason repeated_failure. Default 3.
	FailedCall int
	// InvalidInput is how many times in a row a tool may refuse the model's arguments. Reason
	// repeated_failure. Default 3.
	InvalidInput int
	// Alternating is the length of a run of two calls alternating (A B A B ...), each with the
	// same result every time. Reason alternating_calls. Default 6.
	Alternating int
	// Window is how many of the latest calls the repetition rules look at. Default 20.
	Window int
	// MaxTokens is the tokens (input and output) all turns may use. Reason budget_exceeded.
	// Zero: no token budget (MaxTurns still bounds the run).
	MaxTokens int
	// MaxCost is what all turns may cost, in Cost's unit. Reason budget_exceeded. Zero: none.
	MaxCost float64
	// Cost prices a turn's usage. Required with MaxCost.
	Cost func(llm.Usage) float64
}

func (l Limits) withDefaults() (Limits, error) {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&l.MaxTurns, DefaultMaxTurns)
	def(&l.RepeatedCall, DefaultRepeatedCall)
	def(&l.FailedCall, DefaultFailedCall)
	def(&l.InvalidInput, DefaultInvalidInput)
	def(&l.Alternating, DefaultAlternating)
	def(&l.Window, DefaultWindow)
	if l.MaxCost > 0 && l.Cost == nil {
		return l, errors.New("agent: Limits.MaxCost needs Limits.Cost to price a turn")
	}
	if l.Alternating > 0 && l.Alternating < 4 {
		return l, fmt.Errorf("agent: Limits.Alternating %d: want at least 4 (two rounds of two calls)", l.Alternating)
	}
	return l, nil
}

// loopState is what the guards count since the run began or a reviewer let it go on. It is
// rebuilt from the journal on resume, as the turns and calls replay.
type loopState struct {
	hist   []Outcome
	turns  int
	tokens int
	cost   float64
}

func (s *loopState) addTurn(u llm.Usage, l Limits) {
	s.turns++
	s.tokens += u.InputTokens + u.OutputTokens
	if l.Cost != nil {
		s.cost += l.Cost(u)
	}
}

func (s *loopState) add(o Outcome) { s.hist = append(s.hist, o) }

func (s *loopState) reset() { *s = loopState{} }

// sameCall reports whether two outcomes are of the same call: tool and canonical arguments.
func sameCall(a, b Outcome) bool { return a.Tool == b.Tool && string(a.Input) == string(b.Input) }

// sameResult reports whether two outcomes are the same call with the same result.
func sameResult(a, b Outcome) bool {
	return sameCall(a, b) && a.IsError == b.IsError && a.Content == b.Content
}

// finding is a guard that fired.
type finding struct {
	reason rebound.EscalationReason
	text   string
}

// inspect applies the rules to the state, in order: a loop, a failing call, refused input,
// alternation, budget, turns.
func (l Limits) inspect(s *loopState) *finding {
	win := s.hist
	if l.Window > 0 && len(win) > l.Window {
		win = win[len(win)-l.Window:]
	}
	if n := l.InvalidInput; n > 0 && len(win) >= n {
		last := win[len(win)-1]
		k := 0
		for i := len(win) - 1; i >= 0 && win[i].Tool == last.Tool && win[i].Class == ClassInvalidInput; i-- {
			k++
		}
		if k >= n {
			return &finding{rebound.ReasonRepeatedFailure,
				fmt.Sprintf("Tool %s refused the model's arguments %d times in a row; the last: %s (%s)", last.Tool, k, last.Input, last.Content)}
		}
	}
	if n := l.Alternating; n > 0 && len(win) >= n {
		tail := win[len(win)-n:]
		alt := !sameCall(tail[0], tail[1])
		for i := 2; alt && i < len(tail); i++ {
			alt = sameResult(tail[i], tail[i-2])
		}
		if alt {
			return &finding{rebound.ReasonAlternatingCalls,
				fmt.Sprintf("The model alternated between %s %s and %s %s %d times, with the same results each time", tail[0].Tool, tail[0].Input, tail[1].Tool, tail[1].Input, n)}
		}
	}
	for i := len(win) - 1; i >= 0; i-- {
		o := win[i]
		same, fails := 0, 0
		for _, p := range win {
			if sameResult(p, o) && !p.IsError {
				same++
			}
			if sameCall(p, o) && p.IsError && p.Class != ClassInvalidInput {
				fails++
			}
		}
		if n := l.FailedCall; n > 0 && o.IsError && fails >= n {
			return &finding{rebound.ReasonRepeatedFailure,
				fmt.Sprintf("The call %s %s failed %d times; the last: %s", o.Tool, o.Input, fails, o.Content)}
		}
		if n := l.RepeatedCall; n > 0 && !o.IsError && same >= n {
			return &finding{rebound.ReasonLoopDetected,
				fmt.Sprintf("The model is stuck in a loop: it made the call %s %s %d times and got the same result each time", o.Tool, o.Input, same)}
		}
	}
	if l.MaxTokens > 0 && s.tokens >= l.MaxTokens {
		return &finding{rebound.ReasonBudgetExceeded, fmt.Sprintf("The run used %d tokens, its budget is %d", s.tokens, l.MaxTokens)}
	}
	if l.MaxCost > 0 && s.cost >= l.MaxCost {
		return &finding{rebound.ReasonBudgetExceeded, fmt.Sprintf("The run cost %.4f, its budget is %.4f", s.cost, l.MaxCost)}
	}
	if l.MaxTurns > 0 && s.turns >= l.MaxTurns {
		return &finding{rebound.ReasonMaxTurns, fmt.Sprintf("The model took %d turns and still calls tools; the limit is %d", s.turns, l.MaxTurns)}
	}
	return nil
}

// checkLoop runs the guards after a turn's calls. It returns guidance to send the model with
// the tool results (a reviewer's answer), or an error that stops the run.
func (a *Agent) checkLoop(ctx context.Context, run *checkpoint.Run, s *loopState, turn int) (string, error) {
	f := a.lim.inspect(s)
	if f == nil {
		return "", nil
	}
	d, err := ask(ctx, run, "guard:"+strconv.Itoa(turn), f.reason, f.text+
		".\nApprove lets the agent go on (the counters start afresh); respond sends your answer to the model with the tool results; reject stops the run.")
	if err != nil {
		return "", err
	}
	switch rebound.Action(d.Action) {
	case rebound.ActionReject:
		return "", &StoppedError{RunID: run.ID(), Reason: f.reason, By: d.By, Note: d.Note}
	case rebound.ActionRespond, rebound.ActionEdit:
		s.reset()
		return "A reviewer says: " + d.Answer, nil
	}
	s.reset()
	return "", nil
}
