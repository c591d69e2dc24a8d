package reboundlangchaingo_test

import (
	"os"
	"strings"
	"testing"
)

// The README's "after" lines are the Example's; TestREADME checks that the README still says
// what example_test.go runs.
func TestREADME(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]string{
		{`reboundlangchaingo.AgentTool(lookup, agent.ReadOnly),`, `reboundlangchaingo.AgentTool(lookup, agent.ReadOnly)`},
		{`agents.NewOpenAIFunctionsAgent(reboundlangchaingo.New(llm.Fallback(primary, backup)), reboundlangchaingo.Tools(ts))`,
			`agents.NewOpenAIFunctionsAgent(model, reboundlangchaingo.Tools(ts))`},
		{`llm.Resilient(anthropicllm.New(`, `llm.Resilient(anthropicllm.New(`},
		{`llm.Resilient(openaillm.New(`, `llm.Resilient(openaillm.New(`},
		{`agent.NewToolset(agent.ToolsetConfig{Tools: []agent.Tool{`, `agent.NewToolset(agent.ToolsetConfig{Tools: []agent.Tool{`},
	} {
		if !strings.Contains(string(readme), pair[0]) {
			t.Errorf("README.md lacks %q", pair[0])
		}
		if !strings.Contains(string(example), pair[1]) {
			t.Errorf("example_test.go lacks %q", pair[1])
		}
	}
	root, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(root), "reboundlangchaingo.New(") {
		t.Error("the root README's Integrations section lacks the langchaingo adapter")
	}
}
