package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestTriageExample(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{
		"T-1002  outage",
		"reply by anthropic/support-small (degraded: the large model timed out)",
		"T-1005  escalated (low_confidence)",
		"T-1005  answered by dana (category account); resuming",
		"T-1005  account",
		"1 ticket escalated for low confidence",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if n := strings.Count(text, "(degraded: the large model timed out)"); n != 2 {
		t.Errorf("%d degraded replies, want the 2 outage tickets:\n%s", n, text)
	}
	if n := strings.Count(text, "reply by anthropic/support-large"); n != 4 {
		t.Errorf("%d replies by the large model, want 4:\n%s", n, text)
	}
}
