package supervisor

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/escalate"
)

// subject is what the policy looks at in an item: its reason, its step, the tool the step
// calls and that call's arguments. Everything is read from the item as stored; nothing a model
// said about it counts.
type subject struct {
	reason       rebound.EscalationReason
	step         string
	tool         string // "" when the step is not a tool call of package agent
	args         any    // the call's arguments (decoded JSON), or the run's input; nil if none
	attempts     int
	age          time.Duration
	class        string
	irreversible bool
}

// subjectOf reads the item: for a step of package agent ("tool:CALL_ID", "approve:CALL_ID" and
// "approve:CALL_ID:N") the tool and arguments are those of the model's call with that id in the
// item's messages (the last such call); for any other step the tool is the step's name and the
// arguments the run's input from the state snapshot.
func subjectOf(it escalate.Item, now time.Time) subject {
	s := subject{reason: it.Reason, step: it.Step, attempts: it.Attempts, age: it.Age(now), class: it.Class.String()}
	var st struct {
		Input        json.RawMessage `json:"input"`
		Irreversible bool            `json:"irreversible"`
	}
	if len(it.State) > 0 && json.Unmarshal(it.State, &st) == nil {
		s.irreversible = st.Irreversible
	}
	if ids := agentCallIDs(it.Step); ids != nil {
		for _, id := range ids {
			for _, m := range it.Messages {
				for _, b := range m.Blocks {
					if b.Type == rebound.BlockToolUse && b.ID == id {
						s.tool, s.args = b.Name, decode(b.Input)
					}
				}
			}
			if s.tool != "" {
				break
			}
		}
		return s
	}
	s.tool = it.Step
	s.args = decode(st.Input)
	return s
}

// agentCallIDs returns the model's call id a package agent step name may carry, most likely
// first ("approve:ID:2" is the second round of approve:ID, unless the id itself ends in ":2").
func agentCallIDs(step string) []string {
	if id, ok := strings.CutPrefix(step, "tool:"); ok && id != "" {
		return []string{id}
	}
	rest, ok := strings.CutPrefix(step, "approve:")
	if !ok || rest == "" {
		return nil
	}
	ids := []string{rest}
	if i := strings.LastIndexByte(rest, ':'); i > 0 {
		if n := rest[i+1:]; n != "" && strings.Trim(n, "0123456789") == "" {
			ids = []string{rest[:i], rest}
		}
	}
	return ids
}

func decode(raw json.RawMessage) any {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil || dec.More() {
		return nil
	}
	return v
}

func (s subject) itemField(name string) (any, bool) {
	switch name {
	case "@attempts":
		return float64(s.attempts), true
	case "@age_seconds":
		return s.age.Seconds(), true
	case "@class":
		return s.class, true
	case "@step":
		return s.step, true
	case "@tool":
		return s.tool, s.tool != ""
	case "@irreversible":
		return s.irreversible, true
	}
	return nil, false
}

// irreversibleAction reports whether the item is about an action that cannot be taken back.
func (s subject) irreversibleAction() bool {
	return s.irreversible || s.reason == rebound.ReasonIrreversibleAction || s.reason == rebound.ReasonAmbiguousState
}
