package main

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/store/sqlite"
)

// readmeBlock returns the first ```go block under the README's heading "## Using the library".
func readmeBlock(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "\n## Using the library\n")
	if !ok {
		t.Fatal(`README.md has no "## Using the library"`)
	}
	_, after, ok = strings.Cut(after, "```go\n")
	if !ok {
		t.Fatal("no ```go block under \"## Using the library\"")
	}
	block, _, ok := strings.Cut(after, "```\n")
	if !ok {
		t.Fatal("the README's library block is not closed")
	}
	return block
}

// TestREADMEIsReportGo: the README's library snippet is report.go without its package clause,
// line for line, so the program this package builds and the test below runs is the README's.
func TestREADMEIsReportGo(t *testing.T) {
	src, err := os.ReadFile("report.go")
	if err != nil {
		t.Fatal(err)
	}
	want, ok := strings.CutPrefix(string(src), "package main\n\n")
	if !ok {
		t.Fatal("report.go does not start with its package clause")
	}
	if got := readmeBlock(t); got != want {
		gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("README.md's library block differs from report.go at line %d:\nREADME:    %q\nreport.go: %q", i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("README.md's library block has %d lines, report.go %d after its package clause", len(gl), len(wl))
	}
}

// TestREADMELibrary runs the README's program against fakellm through ANTHROPIC_BASE_URL, as the
// README says: every step asks the model for its own part (five distinct prompts), a fault
// aimed at one step's prompt fires on that step and is retried, the run waits at publish, and
// once approved it publishes without asking the model anything again.
func TestREADMELibrary(t *testing.T) {
	t.Chdir(t.TempDir())
	srv := fakellm.NewServer(t, `error 529 retry-after-ms=20 times=1 contains="Write section 2"`)
	t.Setenv("ANTHROPIC_BASE_URL", srv.AnthropicBaseURL)
	t.Setenv("ANTHROPIC_API_KEY", "sk-ant-test")
	ctx := t.Context()
	published := 0
	publish := func(ctx context.Context) (string, error) { published++; return "report-001", nil }

	err := writeReport(ctx, "report-001", "durable agents", publish)
	var esc *checkpoint.EscalatedError
	if !errors.As(err, &esc) || esc.Step != "publish" || esc.Reason != rebound.ReasonIrreversibleAction {
		t.Fatalf("first run: %v, want an escalation at publish", err)
	}
	reqs := srv.Requests()
	prompts := map[string]bool{}
	faulted := ""
	for _, r := range reqs {
		prompts[r.Prompt] = true
		if r.Fault != "" {
			faulted = r.Prompt
		}
	}
	if len(prompts) != len(parts) {
		t.Errorf("%d distinct prompts in %d requests, want one for each of the %d steps: %v", len(prompts), len(reqs), len(parts), prompts)
	}
	if !strings.HasPrefix(faulted, "Write section 2") || len(reqs) != len(parts)+1 {
		t.Errorf("the fault fired on %q; %d requests, want it on section 2's prompt and %d requests (one retry)", faulted, len(reqs), len(parts)+1)
	}

	store, err := sqlite.Open(ctx, "rebound.db")
	if err != nil {
		t.Fatal(err)
	}
	q := escalate.NewQueue(store, escalate.Config{})
	if _, err := q.Resolve(ctx, esc.EscalationID, rebound.Decision{Action: rebound.ActionApprove, By: "alice"}); err != nil {
		t.Fatal(err)
	}
	store.Close()
	if err := writeReport(ctx, "report-001", "durable agents", publish); err != nil {
		t.Fatalf("after approval: %v", err)
	}
	if published != 1 || len(srv.Requests()) != len(reqs) {
		t.Errorf("published %d times, %d requests after resume (before %d): want once and no new request", published, len(srv.Requests()), len(reqs))
	}
}
