package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestResearchExample(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{
		"publish waits for a person: irreversible_action",
		"Completed: 6 steps, 6 of them executed exactly once",
		"rate_limited on anthropic/research-large, retried (2×)",
		"breaker anthropic/research-large closed → open",
		"answered by anthropic/research-small instead of anthropic/research-large (degraded)",
		"on resume, 5 finished steps were skipped",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
