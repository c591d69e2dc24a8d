//go:build noopenai

package main

import (
	"strings"
	"testing"
)

// openAIRefusal is what `demo --provider openai` says in a build without the provider.
const openAIRefusal = "needs a rebound built without -tags noopenai"

// TestDemoOpenAIRefused: with -tags noopenai, --provider openai is a usage error that says how
// to get the provider, asked before the key, and it starts no run.
func TestDemoOpenAIRefused(t *testing.T) {
	chdirTemp(t)
	store := tempStore(t)
	r := cli(t, map[string]string{"OPENAI_API_KEY": "sk-test"}, "demo", "--run-id", "o1", "--provider", "openai", store)
	mustCode(t, r, exitUsage, "demo --provider openai")
	for _, want := range []string{"without -tags noopenai", "go install github.com/rebound-go/rebound/cmd/rebound@latest"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the refusal lacks %q: %s", want, r.stderr)
		}
	}
	if r := cli(t, nil, "runs", "show", "o1", store); r.code == 0 {
		t.Errorf("a refused demo left run o1 in the store:\n%s", r.stdout)
	}
}
