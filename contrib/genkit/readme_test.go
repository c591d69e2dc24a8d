package reboundgenkit_test

import (
	"os"
	"strings"
	"testing"
)

// The README's "after" lines are the Example's; TestREADME checks that the README still says
// what example_test.go runs, and that go.mod has the replace the README tells users to add.
func TestREADME(t *testing.T) {
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	readme, example, gomod, root := read("README.md"), read("example_test.go"), read("go.mod"), read("../../README.md")
	for _, l := range []string{
		`primary, err := llm.Resilient(openaillm.New(primaryClient, "gpt-4o"), cfg)`,
		`backup, err := llm.Resilient(openaillm.New(backupClient, "gpt-4o-mini"), cfg)`,
		`lookupTool, err := reboundgenkit.AgentTool(lookup, agent.ReadOnly)`,
		`ts, err := agent.NewToolset(agent.ToolsetConfig{Tools: []agent.Tool{lookupTool}})`,
		`tools, err := reboundgenkit.Tools(g, ts)`,
		`model := reboundgenkit.DefineModel(g, "rebound/support", llm.Fallback(primary, backup), reboundgenkit.Config{})`,
		`resp, err := genkit.Generate(ctx, g, ai.WithModel(model), ai.WithTools(tools...), ai.WithPrompt("Where is order 1042?"))`,
	} {
		if !strings.Contains(readme, l) {
			t.Errorf("README.md lacks %q", l)
		}
		if !strings.Contains(example, strings.TrimSpace(l)) {
			t.Errorf("example_test.go lacks %q", l)
		}
	}
	const replace = "replace github.com/invopop/jsonschema => github.com/invopop/jsonschema v0.13.0"
	if !strings.Contains(readme, replace) || !strings.Contains(gomod, replace) {
		t.Errorf("README.md and go.mod must both have %q", replace)
	}
	if !strings.Contains(root, "reboundgenkit.DefineModel(") {
		t.Error("the root README's Integrations section lacks the Genkit adapter")
	}
}
