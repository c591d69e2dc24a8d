package reboundeino_test

import (
	"os"
	"strings"
	"testing"
)

// The README's "after" lines are the Example's; TestREADME checks that the README still says
// what example_test.go runs, and that the root README lists the adapter.
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
		{`llm.Resilient(anthropicllm.New(`, `llm.Resilient(anthropicllm.New(`},
		{`llm.Resilient(openaillm.New(`, `llm.Resilient(openaillm.New(`},
		{`reboundeino.ToolsConfig(ctx, reboundeino.Tools{Tools: []tool.BaseTool{`, `reboundeino.ToolsConfig(ctx, reboundeino.Tools{Tools: []tool.BaseTool{`},
		{`Effects: map[string]agent.Effect{"lookup_order": agent.ReadOnly`, `Effects: map[string]agent.Effect{"lookup_order": agent.ReadOnly`},
		{`ToolCallingModel: reboundeino.NewModel(llm.Fallback(primary, backup)),`, `ToolCallingModel: reboundeino.NewModel(llm.Fallback(primary, backup))`},
		{`ToolsConfig:      tools,`, `ToolsConfig: tools`},
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
	for _, s := range []string{"reboundeino.NewModel(", "reboundeino.ToolsConfig(", "contrib/eino"} {
		if !strings.Contains(string(root), s) {
			t.Errorf("the root README's Integrations section lacks %q", s)
		}
	}
}
