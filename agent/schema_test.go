package agent_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rebound-go/rebound/agent"
	"github.com/rebound-go/rebound/llm/llmtest"
)

type email struct {
	To      string          `json:"to" desc:"the address"`
	Subject string          `json:"subject"`
	Body    string          `json:"body,omitempty"`
	CC      []string        `json:"cc,omitempty"`
	Prio    string          `json:"prio,omitempty" enum:"low,high"`
	At      *time.Time      `json:"at"`
	Meta    map[string]int  `json:"meta,omitempty"`
	Raw     json.RawMessage `json:"raw,omitempty"`
	Skip    string          `json:"-"`
	//lint:ignore U1000 an unexported field, which the schema leaves out
	inner int
	Tags  map[string]string `json:"tags,omitempty"`
}

func TestSchemaFromGoType(t *testing.T) {
	got, err := agent.Schema(reflect.TypeFor[email]())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"object","properties":{"to":{"type":"string","description":"the address"},"subject":{"type":"string"},"body":{"type":"string"},"cc":{"type":"array","items":{"type":"string"}},"prio":{"type":"string","enum":["low","high"]},"at":{"type":"string","format":"date-time"},"meta":{"type":"object","additionalProperties":{"type":"integer"}},"raw":{},"tags":{"type":"object","additionalProperties":{"type":"string"}}},"required":["to","subject"],"additionalProperties":false}`
	if string(got) != want {
		t.Fatalf("schema\n got %s\nwant %s", got, want)
	}
	if !json.Valid(got) {
		t.Fatal("not JSON")
	}
	if _, err := agent.Schema(reflect.TypeFor[struct{ C chan int }]()); err == nil {
		t.Fatal("a channel field was accepted")
	}
	type rec struct{ Next *rec }
	if _, err := agent.Schema(reflect.TypeFor[rec]()); err == nil || !strings.Contains(err.Error(), "recursive") {
		t.Fatalf("recursive type: %v", err)
	}
}

func TestNewRefusesBadTools(t *testing.T) {
	h := agent.Handle(func(_ ctxT, _ agent.Call, in orderIn) (string, error) { return "", nil })
	m := &llmtest.Scripted{}
	tests := []struct {
		name string
		c    agent.Config
		want string
	}{
		{"no model", agent.Config{}, "Model is nil"},
		{"bad name", agent.Config{Model: m, Tools: []agent.Tool{{Name: "look up", Handler: h}}}, `tool name "look up"`},
		{"no handler", agent.Config{Model: m, Tools: []agent.Tool{{Name: "a"}}}, "has no Handler"},
		{"twice", agent.Config{Model: m, Tools: []agent.Tool{{Name: "a", Handler: h}, {Name: "a", Handler: h}}}, `two tools are named "a"`},
		{"fallback", agent.Config{Model: m, Tools: []agent.Tool{{Name: "a", Handler: h, Fallback: "b"}}}, `falls back to "b"`},
		{"schema", agent.Config{Model: m, Tools: []agent.Tool{{Name: "a", Handler: h, Schema: json.RawMessage(`{"type":"string"}`)}}}, "must be an object schema"},
		{"cost", agent.Config{Model: m, Limits: agent.Limits{MaxCost: 1}}, "needs Limits.Cost"},
	}
	for _, tt := range tests {
		if _, err := agent.New(tt.c); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestGivenSchemaValidates(t *testing.T) {
	h := newHarness(t)
	n := 0
	tool := agent.Tool{Name: "search", Effect: agent.ReadOnly,
		Schema:  json.RawMessage(`{"type":"object","properties":{"q":{"type":"string","minLength":2},"limit":{"type":"integer","minimum":1,"maximum":50}},"required":["q"]}`),
		Handler: agent.Handle(func(_ ctxT, _ agent.Call, in map[string]any) (string, error) { n++; return "ok", nil })}
	m := &llmtest.Scripted{Script: []*llm_Response{
		use("", tc("a", "search", `{"q":"x","limit":100}`), tc("b", "search", `{"q":"xy","limit":2.5}`), tc("c", "search", `{"q":"xy","limit":5,"extra":true}`)),
		answer("ok"),
	}}
	res, err := h.run(newAgent(t, agent.Config{Model: m, Tools: []agent.Tool{tool}}), "r", "x")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Calls[0].IsError || !strings.Contains(res.Calls[0].Content, "q: shorter than 2") || !strings.Contains(res.Calls[0].Content, "limit: 100 is more than the maximum 50") {
		t.Errorf("call a: %+v", res.Calls[0])
	}
	if !res.Calls[1].IsError || !strings.Contains(res.Calls[1].Content, "limit: want integer, got a number (2.5)") {
		t.Errorf("call b: %+v", res.Calls[1])
	}
	if res.Calls[2].IsError || n != 1 {
		t.Errorf("call c (extra properties allowed by this schema): %+v, %d runs", res.Calls[2], n)
	}
}
