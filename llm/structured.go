package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/rebound-go/rebound"
)

// DefaultMaxRepairs is the number of re-asks of a zero StructuredConfig.
const DefaultMaxRepairs = 2

// DefaultMaxTokensCap is StructuredConfig.MaxTokensCap's default.
const DefaultMaxTokensCap = 16384

// StructuredConfig configures Structured. Its zero value works.
type StructuredConfig[T any] struct {
	// Validate, if set, checks a decoded answer; its error is a soft failure, sent back to the
	// model to repair.
	Validate func(T) error
	// MaxRepairs is how many times a soft failure is sent back to the model. Default 2 (3
	// answers in all); negative: none.
	MaxRepairs int
	// Instruction is appended to the system prompt. Default: ask for one JSON value only, shaped
	// like the JSON of T's zero value.
	Instruction string
	// MaxTokensCap bounds the doubling of MaxTokens after a max_tokens stop. Default 16,384:
	// past about 21,000 the Anthropic SDK refuses a non-streaming request ("streaming is
	// required"), which would end the repair as class invalid instead of malformed.
	MaxTokensCap int
	// Tool, when set, gets the answer through a forced tool call rather than text: the request
	// offers one tool of that name whose input schema is Schema, with ToolChoice forcing it
	// (both adapters' providers support a forced tool), and the call's input is the value. The
	// provider then holds the answer to an object of the schema's shape; a call whose input
	// still fails to decode or validate is answered with an error tool result and re-asked, as
	// a text answer would be. T must be a struct or a map (a tool's input is a JSON object).
	Tool string
	// Schema is the JSON Schema of T's JSON (an object schema), the tool's input schema.
	// Required with Tool.
	Schema json.RawMessage
}

// MalformedError is the last answer of a Structured call that never produced a usable value.
// Structured returns it inside a *rebound.Error of class malformed, the last failure of a
// *rebound.GiveUpError.
type MalformedError struct {
	// Answer is the model's last answer, as it came.
	Answer string
	// Answers is the number of answers received.
	Answers int
	// Err is why the last answer was refused.
	Err error
}

func (e *MalformedError) Error() string {
	return fmt.Sprintf("no usable answer after %d: %v", e.Answers, e.Err)
}

func (e *MalformedError) Unwrap() error { return e.Err }

// LastAnswer returns the refused answer and why it was refused: what a person shown the
// escalation of a step that gave up on it needs (package checkpoint puts it in the escalation).
func (e *MalformedError) LastAnswer() (answer, refused string) {
	why := ""
	if e.Err != nil {
		why = e.Err.Error()
	}
	return e.Answer, why
}

// Structured asks m for a JSON value of type T and decodes it. A soft failure (an answer that
// is not JSON, JSON of the wrong shape, a Validate error, or a max_tokens stop) is sent back:
// the answer is appended as an assistant turn and the failure as a user turn asking for a
// corrected answer (after a max_tokens stop, with MaxTokens doubled), at most MaxRepairs times.
// Then Structured gives up: repairs spent are retries spent, so it fails with a
// *rebound.GiveUpError (reason exhausted, errors.Is rebound.ErrGaveUp) whose last failure is a
// *rebound.Error of class malformed wrapping a *MalformedError with the last answer. Inside a
// checkpoint step that give-up escalates by default (max_retries_exceeded, with the last answer
// and why it was refused), so a person can answer in its place or ask for a retry. Failures of
// m itself are returned as they are.
//
// The Response is that of the answer used (or the last one, on a soft failure).
func Structured[T any](ctx context.Context, m Model, req Request, c StructuredConfig[T]) (T, *Response, error) {
	var zero T
	if c.MaxRepairs == 0 {
		c.MaxRepairs = DefaultMaxRepairs
	} else if c.MaxRepairs < 0 {
		c.MaxRepairs = 0
	}
	if c.MaxTokensCap <= 0 {
		c.MaxTokensCap = DefaultMaxTokensCap
	}
	if c.Tool != "" {
		return structuredTool(ctx, m, req, c)
	}
	instruction := c.Instruction
	if instruction == "" {
		instruction = "Answer with one JSON value and nothing else: no prose, no code fence."
		if shape, err := json.Marshal(zero); err == nil && string(shape) != "null" {
			instruction += " Its shape: " + string(shape)
		}
	}
	if req.System != "" {
		req.System += "\n\n"
	}
	req.System += instruction
	req.Messages = append([]Message(nil), req.Messages...)
	var resp *Response
	var soft error
	for answers := 1; ; answers++ {
		var err error
		resp, err = m.Generate(ctx, req)
		if err != nil {
			return zero, nil, err
		}
		var v T
		v, soft = decodeAnswer(resp, c.Validate)
		if soft == nil {
			return v, resp, nil
		}
		if answers > c.MaxRepairs {
			return zero, resp, &rebound.GiveUpError{Reason: rebound.Exhausted, Attempts: answers, Last: &rebound.Error{
				Class:   rebound.ClassMalformed,
				Message: fmt.Sprintf("%s: no usable answer after %d", m.Name(), answers),
				Err:     &MalformedError{Answer: resp.Text, Answers: answers, Err: soft},
			}}
		}
		if resp.Truncated() {
			// Doubled, but never past MaxTokensCap (nor lowered below what was asked).
			req.MaxTokens = max(min(2*req.MaxTokensOrDefault(), c.MaxTokensCap), req.MaxTokensOrDefault())
		}
		req.Messages = append(req.Messages,
			Assistant(resp.Text),
			User("That answer could not be used: "+soft.Error()+". Answer again with only the corrected JSON value."))
	}
}

// ErrTruncated is the soft failure of an answer that stopped at MaxTokens.
var ErrTruncated = errors.New("the answer stopped at the token limit (max_tokens) before it was complete")

func decodeAnswer[T any](resp *Response, validate func(T) error) (T, error) {
	var v T
	if resp.Truncated() {
		return v, ErrTruncated
	}
	text := ExtractJSON(resp.Text)
	if text == "" {
		return v, errors.New("the answer holds no JSON value")
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, fmt.Errorf("the JSON does not match the expected shape: %w", err)
	}
	if dec.More() {
		return v, errors.New("the answer holds more than one JSON value")
	}
	if validate != nil {
		if err := validate(v); err != nil {
			return v, fmt.Errorf("the value is not valid: %w", err)
		}
	}
	return v, nil
}

// ExtractJSON returns the JSON value in a model's answer: the answer itself, the inside of a
// ``` code fence, or the text from the first '{' or '[' to the last matching '}' or ']'. It
// returns "" when there is none.
func ExtractJSON(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "```"); i >= 0 {
		rest := s[i+3:]
		if nl := strings.IndexByte(rest, '\n'); nl >= 0 {
			rest = rest[nl+1:]
		}
		if j := strings.Index(rest, "```"); j >= 0 {
			s = strings.TrimSpace(rest[:j])
		}
	}
	if json.Valid([]byte(s)) {
		return s
	}
	start := strings.IndexAny(s, "{[")
	if start < 0 {
		return ""
	}
	closer := byte('}')
	if s[start] == '[' {
		closer = ']'
	}
	end := strings.LastIndexByte(s, closer)
	if end < start {
		return ""
	}
	return s[start : end+1]
}

// structuredTool is Structured through a forced call of c.Tool.
func structuredTool[T any](ctx context.Context, m Model, req Request, c StructuredConfig[T]) (T, *Response, error) {
	var zero T
	if len(c.Schema) == 0 || !json.Valid(c.Schema) {
		return zero, nil, &rebound.Error{Class: rebound.ClassInvalid, Message: "StructuredConfig.Tool needs Schema, a JSON Schema of the answer"}
	}
	instruction := c.Instruction
	if instruction == "" {
		instruction = "Answer by calling the tool " + c.Tool + " with the answer as its input."
	}
	if req.System != "" {
		req.System += "\n\n"
	}
	req.System += instruction
	req.Messages = append([]Message(nil), req.Messages...)
	req.Tools = append(append([]Tool(nil), req.Tools...), Tool{
		Name: c.Tool, Description: "Give the answer: its input is the answer.", InputSchema: c.Schema,
	})
	req.ToolChoice = ToolChoice{Mode: ToolChoiceTool, Name: c.Tool}
	for answers := 1; ; answers++ {
		resp, err := m.Generate(ctx, req)
		if err != nil {
			return zero, nil, err
		}
		var v T
		var soft error
		var call *rebound.Block
		for _, b := range resp.ToolCalls() {
			if b.Name == c.Tool {
				call = &b
				break
			}
		}
		answer := resp.Text
		switch {
		case call == nil && resp.Truncated():
			soft = ErrTruncated
		case call == nil:
			soft = fmt.Errorf("the answer calls no tool %s", c.Tool)
		default:
			answer = string(call.Input)
			v, soft = decodeAnswer(&Response{Text: answer}, c.Validate)
		}
		if soft == nil {
			return v, resp, nil
		}
		if answers > c.MaxRepairs {
			return zero, resp, &rebound.GiveUpError{Reason: rebound.Exhausted, Attempts: answers, Last: &rebound.Error{
				Class:   rebound.ClassMalformed,
				Message: fmt.Sprintf("%s: no usable answer after %d", m.Name(), answers),
				Err:     &MalformedError{Answer: answer, Answers: answers, Err: soft},
			}}
		}
		if resp.Truncated() {
			req.MaxTokens = max(min(2*req.MaxTokensOrDefault(), c.MaxTokensCap), req.MaxTokensOrDefault())
		}
		// The turn goes back whole, and every call in it is answered: the failed call with an
		// error result saying why, any other with a result saying it was not run.
		req.Messages = append(req.Messages, resp.Message())
		var results []rebound.Block
		for _, b := range resp.ToolCalls() {
			if call != nil && b.ID == call.ID {
				results = append(results, rebound.ToolResult(b.ID, "That input could not be used: "+soft.Error()+". Call "+c.Tool+" again with the corrected input.", true))
			} else {
				results = append(results, rebound.ToolResult(b.ID, "Not run: only "+c.Tool+" is expected.", true))
			}
		}
		if len(results) > 0 {
			req.Messages = append(req.Messages, rebound.ToolResults(results...))
		} else {
			req.Messages = append(req.Messages, User("That answer could not be used: "+soft.Error()+". Call "+c.Tool+" with the answer as its input."))
		}
	}
}
