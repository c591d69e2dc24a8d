package checkpoint

import (
	"encoding/json"
	"fmt"
	"reflect"
)

// AnswerUnmarshaler is a step result that a person's plain-text answer can become (the
// respond decision): the demo's text parts, say. (Not encoding.TextUnmarshaler, which would
// change how encoding/json decodes the recorded result.)
type AnswerUnmarshaler interface {
	UnmarshalAnswer(text string) error
}

// AnswerSpec says what answer a person may give an escalated step in its place (the respond
// decision): its result is text (a string, or a type that reads itself from text with
// AnswerUnmarshaler), and any text is the result; or its result is JSON of a type, and
// the answer must be JSON of that type's shape. The Runner puts it in the escalation's state
// snapshot under "answer", so that a queue can refuse, when it is given, an answer that cannot
// become the step's result (escalate.Queue.Resolve does).
type AnswerSpec struct {
	// Kind is "text" or "json".
	Kind string `json:"kind"`
	// Type is, for Kind "json", the JSON type of the result: "object", "array", "string",
	// "number", "boolean", or "" when any will do.
	Type string `json:"type,omitempty"`
	// Example is, for Kind "json", the JSON of the result type's zero value.
	Example json.RawMessage `json:"example,omitempty"`
}

// answerSpecOf returns the AnswerSpec of a step whose result is a T.
func answerSpecOf[T any]() AnswerSpec {
	var v T
	if _, ok := any(&v).(*string); ok {
		return AnswerSpec{Kind: "text"}
	}
	if _, ok := any(&v).(AnswerUnmarshaler); ok {
		return AnswerSpec{Kind: "text"}
	}
	spec := AnswerSpec{Kind: "json", Type: jsonKind(reflect.TypeFor[T]())}
	if ex, err := json.Marshal(v); err == nil && string(ex) != "null" {
		spec.Example = ex
	}
	return spec
}

// jsonKind is the JSON type encoding/json writes for values of t, "" when it depends on the
// value (an interface, a type with its own MarshalJSON).
func jsonKind(t reflect.Type) string {
	if t.Implements(reflect.TypeFor[json.Marshaler]()) || reflect.PointerTo(t).Implements(reflect.TypeFor[json.Marshaler]()) {
		return ""
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "string" // []byte is base64 text
		}
		return "array"
	case reflect.Array:
		return "array"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8,
		reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "number"
	}
	return ""
}

// decodeAnswer makes a person's answer a T: a string is the answer itself; an
// AnswerUnmarshaler reads it as text unless it is JSON of the type; any other type decodes it
// from JSON.
func decodeAnswer[T any](answer string) (T, error) {
	var v T
	if s, ok := any(&v).(*string); ok {
		*s = answer
		return v, nil
	}
	jerr := json.Unmarshal([]byte(answer), &v)
	if jerr == nil {
		return v, nil
	}
	var t T
	if au, ok := any(&t).(AnswerUnmarshaler); ok {
		if err := au.UnmarshalAnswer(answer); err != nil {
			return v, fmt.Errorf("the answer cannot become the step's result: %w", err)
		}
		return t, nil
	}
	return v, fmt.Errorf("the step's result is JSON, and the answer is not JSON of its type: %w", jerr)
}
