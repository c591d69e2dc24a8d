package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/pipeline"
	"github.com/rebound-go/rebound/retry"
)

// Effect is what a tool call does to the world, declared by the tool. It decides what a failure
// or a crash in the middle of a call may do: a read-only or idempotent call may run again, an
// irreversible one never runs again without a person.
type Effect uint8

// The effects. The zero value is Irreversible: a tool that declares nothing is taken for the
// most dangerous kind (as MCP's defaults take an unannotated tool for destructive).
const (
	// Irreversible: running the call twice does the thing twice (a payment, an email).
	Irreversible Effect = iota
	// Idempotent: running the call again with the same arguments and idempotency key has no
	// further effect (a PUT, an upsert, an API that deduplicates by Idempotency-Key).
	Idempotent
	// ReadOnly: the call changes nothing.
	ReadOnly
)

// String returns "irreversible", "idempotent" or "read_only".
func (e Effect) String() string {
	switch e {
	case Irreversible:
		return "irreversible"
	case Idempotent:
		return "idempotent"
	case ReadOnly:
		return "read_only"
	}
	return fmt.Sprintf("effect(%d)", uint8(e))
}

// Call is one tool call as its handler sees it.
type Call struct {
	// ID is the model's id of the call.
	ID string
	// Tool is the tool called.
	Tool string
	// Input is the call's arguments, canonical JSON (keys sorted).
	Input json.RawMessage
	// Key is the call's idempotency key: derived from the run and the call, the same on every
	// attempt and every resume of the call. Pass it to APIs that deduplicate.
	Key string
	// Fence is the call's fencing token (run, lease epoch, key): pass it to a system that can
	// refuse the late request of a worker whose run was taken over (see checkpoint.Fencing).
	Fence checkpoint.FencingToken
}

// Handler runs a tool's calls. Build one with Handle.
type Handler struct {
	in     reflect.Type
	decode func(input json.RawMessage) (any, error)
	run    func(ctx context.Context, call Call, in any) (any, error)
}

// Handle returns the Handler that decodes a call's arguments into In (unknown fields refused)
// and calls fn. The tool's input schema, unless given, is derived from In (see Schema). fn's
// result is sent to the model as JSON (a string as it is); a result with a method
// Confidence() float64 reports its confidence (see Config.MinConfidence).
func Handle[In, Out any](fn func(ctx context.Context, call Call, in In) (Out, error)) Handler {
	return Handler{
		in: reflect.TypeFor[In](),
		decode: func(input json.RawMessage) (any, error) {
			var in In
			err := decodeStrict(input, &in)
			return in, err
		},
		run: func(ctx context.Context, call Call, in any) (any, error) {
			return fn(ctx, call, in.(In))
		},
	}
}

// Approval says which calls of a tool need a person's approval before they run. The zero value
// needs none.
type Approval struct {
	always bool
	rule   string
	when   func(input json.RawMessage) (bool, error)
}

// Always is the Approval of a tool every call of which needs approval.
func Always() Approval { return Approval{always: true, rule: "every call"} }

// When is the Approval of a tool whose calls need approval when f says so of their input: rule
// describes the condition to the reviewer ("amount_cents > 5000").
func When[In any](rule string, f func(in In) bool) Approval {
	return Approval{rule: rule, when: func(input json.RawMessage) (bool, error) {
		var in In
		if err := decodeStrict(input, &in); err != nil {
			return false, err
		}
		return f(in), nil
	}}
}

// needed reports whether a call with input needs approval. An input the predicate cannot read
// needs it (a person looks rather than a guess).
func (a Approval) needed(input json.RawMessage) bool {
	if a.always {
		return true
	}
	if a.when == nil {
		return false
	}
	ok, err := a.when(input)
	return ok || err != nil
}

// Defaults of Tool.
const (
	DefaultToolTimeout     = 30 * time.Second
	DefaultToolMaxAttempts = 3
)

// Tool is a tool the model may call: a name, a description, an input schema, a handler and how
// its calls are made safe. Its zero value (with a Name and a Handler) is an irreversible tool
// that needs no approval, with the defaults below.
type Tool struct {
	// Name is how the model calls the tool (letters, digits, '_' and '-').
	Name string
	// Description tells the model what the tool does and when to use it.
	Description string
	// Schema is the JSON Schema of the input, an object schema. Nil: derived from the
	// handler's input type (see Schema).
	Schema json.RawMessage
	// Effect is what the tool's calls do. Zero: Irreversible.
	Effect Effect
	// Approval says which calls need a person's approval first. Zero: none.
	Approval Approval
	// Handler runs the calls (Handle). Required.
	Handler Handler

	// Timeout bounds each attempt: a class timeout failure. Default 30 s; negative: none.
	Timeout time.Duration
	// Retry is the retry policy inside the call's step. Zero: 3 attempts in all, base 200 ms,
	// cap 5 s. An irreversible tool is retried only after failures that show the call was
	// refused before it took effect (rate limited, overloaded, quota, auth, invalid): a timeout
	// or a cut connection leaves it in doubt, and it escalates instead.
	Retry retry.Policy
	// Breaker guards the tool's calls. Nil: the breaker "tool/NAME" of Config.Breakers.
	Breaker *breaker.Breaker
	// Fallback names the tool that answers when this one is unavailable (breaker open or
	// retries exhausted), with the same input. Empty: none.
	Fallback string
	// EscalateUnavailable makes an unavailable tool (with no fallback, or a fallback
	// unavailable too) escalate the run (max_retries_exceeded) instead of telling the model that
	// the tool is unavailable so that it can take another path.
	EscalateUnavailable bool
}

// validName is the tool names both providers accept.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// tool is a Tool ready to run: defaults filled in, schema parsed, its calls' pipeline built.
type tool struct {
	Tool
	schema *schema
	raw    json.RawMessage
	pipe   *pipeline.Pipeline
}

func newTool(t Tool, breakers *breaker.Set) (*tool, error) {
	if !validName(t.Name) {
		return nil, fmt.Errorf("agent: tool name %q: use 1 to 64 letters, digits, '_' or '-'", t.Name)
	}
	if t.Handler.run == nil {
		return nil, fmt.Errorf("agent: tool %q has no Handler (use agent.Handle)", t.Name)
	}
	raw := t.Schema
	if raw == nil {
		var err error
		if raw, err = Schema(t.Handler.in); err != nil {
			return nil, fmt.Errorf("agent: tool %q: %w", t.Name, err)
		}
	}
	sc, err := parseSchema(raw)
	if err != nil {
		return nil, fmt.Errorf("agent: tool %q: schema: %w", t.Name, err)
	}
	if sc.Type != "object" {
		return nil, fmt.Errorf("agent: tool %q: schema: the input must be an object schema, not %q", t.Name, sc.Type)
	}
	if t.Timeout == 0 {
		t.Timeout = DefaultToolTimeout
	}
	p := t.Retry
	if p.MaxAttempts == 0 {
		p.MaxAttempts = DefaultToolMaxAttempts
	}
	if p.Base == 0 {
		p.Base = 200 * time.Millisecond
	}
	if p.Cap == 0 {
		p.Cap = 5 * time.Second
	}
	if t.Effect == Irreversible {
		// Only what shows the call was refused before it took effect is retried.
		retryOn := p.RetryOn
		p.RetryOn = func(c rebound.Class) bool {
			if !refusedClass(c) {
				return false
			}
			if retryOn != nil {
				return retryOn(c)
			}
			return c.Retriable()
		}
	}
	pc := pipeline.Config{Name: "tool/" + t.Name, Retry: p, AttemptTimeout: t.Timeout, Breakers: breakers}
	if b := t.Breaker; b != nil {
		pc.BreakerFor = func(string) pipeline.Breaker { return pipeline.Local(b) }
	}
	pipe, err := pipeline.New(pc)
	if err != nil {
		return nil, fmt.Errorf("agent: tool %q: %w", t.Name, err)
	}
	return &tool{Tool: t, schema: sc, raw: raw, pipe: pipe}, nil
}

func toolNames(ts []*tool) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	return strings.Join(names, ", ")
}
