package escalate

import (
	"encoding/json"
	"fmt"
)

// answerSpec is what the run said, in the item's state snapshot ("answer"), a person may
// answer in the escalated step's place: any text (kind "text"), or JSON of a type (kind
// "json", its JSON type and an example). package checkpoint writes it (checkpoint.AnswerSpec).
type answerSpec struct {
	Kind    string          `json:"kind"`
	Type    string          `json:"type"`
	Example json.RawMessage `json:"example"`
}

// checkAnswer refuses, when it is given, an answer that cannot become the step's result: one
// that is not JSON (or not JSON of the right type) for a step whose result is JSON. An item
// whose state says nothing of its answer accepts any.
func checkAnswer(it *Item, answer string) error {
	var st struct {
		Answer *answerSpec `json:"answer"`
	}
	if len(it.State) == 0 || json.Unmarshal(it.State, &st) != nil || st.Answer == nil || st.Answer.Kind != "json" {
		return nil
	}
	want := st.Answer.Type
	what := "JSON"
	if want != "" {
		what = "a JSON " + want
	}
	hint := ""
	if len(st.Answer.Example) > 0 && len(st.Answer.Example) <= 300 {
		hint = " shaped like " + string(st.Answer.Example)
	}
	var v any
	if err := json.Unmarshal([]byte(answer), &v); err != nil {
		return &InvalidError{Field: "answer", Reason: fmt.Sprintf("step %q's result is %s, and the answer is not JSON (%v): answer with %s%s",
			it.Step, what, err, what, hint)}
	}
	if got := jsonType(v); want != "" && got != want && got != "null" {
		return &InvalidError{Field: "answer", Reason: fmt.Sprintf("step %q's result is %s, and the answer is a JSON %s: answer with %s%s",
			it.Step, what, got, what, hint)}
	}
	return nil
}

func jsonType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	}
	return "null"
}
