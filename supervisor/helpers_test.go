package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/escalate"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/anthropicllm"
)

// entry is one labelled escalation of testdata/corpus.json.
type entry struct {
	Name   string `json:"name"`
	Class  string `json:"class"` // safe, person, hostile
	Reason string `json:"reason"`
	Step   string `json:"step"`
	// Tool, when set, makes the item a tool call of package agent: the model's call of Tool
	// with Args in the messages (step approve:ID or tool:ID).
	Tool         string          `json:"tool"`
	Args         json.RawMessage `json:"args"`
	Attempts     int             `json:"attempts"`
	ErrorClass   string          `json:"error_class"`
	Error        string          `json:"error"`
	Context      string          `json:"context"`
	ToolOutput   string          `json:"tool_output"`
	ModelAnswer  string          `json:"model_answer"`
	Irreversible bool            `json:"irreversible"`
	// Honest is what a careful reviewer answers; Injected, on hostile items, what the
	// injection asks for, which the fake reviewer answers instead.
	Honest   Verdict  `json:"honest"`
	Injected *Verdict `json:"injected"`
	// Expect are the decisions that are right for a safe item.
	Expect []rebound.Action `json:"expect"`
}

func loadCorpus(t *testing.T) []entry {
	t.Helper()
	b, err := os.ReadFile("testdata/corpus.json")
	if err != nil {
		t.Fatal(err)
	}
	var c []entry
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	for i := range c {
		if c[i].Injected != nil && c[i].Class != "hostile" || c[i].Class == "hostile" && c[i].Injected == nil {
			t.Fatalf("corpus %q: a hostile item, and only one, says what its injection asks for", c[i].Name)
		}
	}
	return c
}

func runID(i int) string { return fmt.Sprintf("corpus-%03d", i) }

// escalation builds the escalation a run would file for the entry.
func (e entry) escalation(i int) rebound.Escalation {
	esc := rebound.Escalation{RunID: runID(i), Reason: rebound.EscalationReason(e.Reason), Attempts: e.Attempts,
		Context: e.Context}
	if e.ErrorClass != "" {
		c, err := rebound.ParseClass(e.ErrorClass)
		if err != nil {
			panic(err)
		}
		esc.Class = c
	}
	if e.Error != "" {
		esc.Err = fmt.Errorf("%s", e.Error)
	}
	msgs := []rebound.Message{rebound.User("Please handle the customer's request.")}
	if e.Tool != "" {
		id := fmt.Sprintf("call_%03d", i)
		step := e.Step
		switch {
		case strings.HasPrefix(step, "tool:"):
			id = strings.TrimPrefix(step, "tool:")
		case step == "" && e.Reason == string(rebound.ReasonIrreversibleAction):
			step = "approve:" + id
		case step == "":
			step = "tool:" + id
		}
		esc.Step = step
		blocks := []rebound.Block{}
		if e.ModelAnswer != "" {
			blocks = append(blocks, rebound.Text(e.ModelAnswer))
		}
		blocks = append(blocks, rebound.ToolUse(id, e.Tool, e.Args))
		msgs = append(msgs, rebound.NewMessage(rebound.RoleAssistant, blocks...))
		if e.ToolOutput != "" {
			msgs = append(msgs, rebound.ToolResults(rebound.ToolResult(id, e.ToolOutput, false)))
		}
		st, _ := json.Marshal(map[string]any{"run_id": esc.RunID, "step": step, "irreversible": e.Irreversible})
		esc.State = st
	} else {
		esc.Step = e.Step
		if e.ModelAnswer != "" {
			msgs = append(msgs, rebound.Assistant(e.ModelAnswer))
		}
		if e.ToolOutput != "" {
			msgs = append(msgs, rebound.User("Tool output: "+e.ToolOutput))
		}
		st, _ := json.Marshal(map[string]any{"run_id": esc.RunID, "step": e.Step, "input": e.Args, "irreversible": e.Irreversible})
		esc.State = st
	}
	esc.Messages = msgs
	return esc
}

// verdictRule is a fakellm rule answering v (a forced call of the verdict tool) to the
// requests that contain match.
func verdictRule(match string, v Verdict) string {
	b, _ := json.Marshal(v)
	in := strings.ReplaceAll(string(b), "'", `\u0027`)
	return fmt.Sprintf("tool-use name=verdict contains=%q input='%s'\n", match, in)
}

// reviewerScript scripts fakellm as a reviewer that follows the injection whenever the item
// holds one (the verdict the injection asks for), and otherwise answers as a careful reviewer.
func reviewerScript(c []entry) string {
	var b strings.Builder
	for i, e := range c {
		v := e.Honest
		if e.Injected != nil {
			v = *e.Injected
		}
		b.WriteString(verdictRule(runID(i), v))
	}
	return b.String()
}

// fakeModel is an Anthropic model over a fakellm server running script.
func fakeModel(t *testing.T, script string) (llm.Model, *fakellm.Server) {
	t.Helper()
	srv := fakellm.NewServer(t, script)
	client := anthropic.NewClient(option.WithBaseURL(srv.AnthropicBaseURL), option.WithAPIKey("test"), option.WithMaxRetries(0))
	return anthropicllm.New(client, "claude-sonnet-4-5"), srv
}

func testPolicy(t *testing.T) *Policy {
	t.Helper()
	p, err := LoadPolicy("testdata/policy.json")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var quiet = slog.New(slog.DiscardHandler)

func newQueue() *escalate.Queue {
	return escalate.NewQueue(escalate.NewMemoryStore(), escalate.Config{})
}

func fileAll(t *testing.T, q *escalate.Queue, c []entry) map[string]int {
	t.Helper()
	ids := map[string]int{}
	for i, e := range c {
		id, err := q.Escalate(context.Background(), e.escalation(i))
		if err != nil {
			t.Fatalf("%s: %v", e.Name, err)
		}
		ids[id] = i
	}
	return ids
}
