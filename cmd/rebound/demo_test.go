package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
)

// The quick start's path: the default demo shows every pattern and stops at publish (exit 3)
// with the commands to go on; resolving with approve and resuming completes the run and writes
// the report, without repeating a step.
func TestDemoEscalatesThenResolveAndResumeCompletes(t *testing.T) {
	dir := chdirTemp(t)
	store := tempStore(t)

	r := cli(t, nil, "demo", "--run-id", "e2e", store)
	mustCode(t, r, exitEscalated, "demo")
	for _, want := range []string{
		"outline: attempt 1 on anthropic/demo-large failed (rate_limited)",
		"outline: retry in",
		"section_1: attempt 1 on anthropic/demo-large failed (timeout)",
		"section_2: attempt 1 on anthropic/demo-large failed (malformed)",
		"breaker anthropic/demo-large: closed → open",
		"section_3: fallback anthropic/demo-large → anthropic/demo-small (degraded)",
		"publish: escalated (irreversible_action)",
		// the summary
		"waiting for a person: 5 of 6 steps done",
		"waited as the server asked",
		"cut by the attempt timeout",
		"repaired by re-asking",
		"anthropic/demo-small answered instead, marked degraded",
		"rebound escalations resolve esc_",
		"rebound runs resume e2e",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Fatalf("demo output:\n%s", r.stdout)
	}
	// The printed commands are the ones to run.
	m := regexp.MustCompile(`rebound escalations resolve (esc_\S+) --action approve --by (\S+) (--store \S+)`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no resolve command in the summary:\n%s", r.stdout)
	}
	esc := m[1]
	if got := escalationID(t, store, "--status", "open", "--reason", "irreversible_action"); got != esc {
		t.Fatalf("escalations list: %s, the summary said %s", got, esc)
	}
	if _, err := os.Stat(filepath.Join(dir, "reports", "e2e.md")); !os.IsNotExist(err) {
		t.Fatalf("the report exists before approval: %v", err)
	}

	// list --json carries the fields scripts rely on.
	list := cli(t, nil, "escalations", "list", "--json", store)
	var items []map[string]any
	if err := json.Unmarshal([]byte(list.stdout), &items); err != nil || len(items) != 1 {
		t.Fatalf("escalations list --json: %v %s", err, list.stdout)
	}
	for _, k := range []string{"id", "run_id", "step", "reason", "status", "class", "error", "created_at"} {
		if _, ok := items[0][k]; !ok {
			t.Errorf("escalations list --json: item lacks %q", k)
		}
	}
	if items[0]["run_id"] != "e2e" || items[0]["step"] != "publish" || items[0]["status"] != "open" {
		t.Errorf("escalation item: %v", items[0])
	}

	resolved := cli(t, nil, "escalations", "resolve", esc, "--action", "approve", "--by", "alice", "--note", "looks right", store)
	mustCode(t, resolved, 0, "resolve")
	// The command it prints to go on names the same store.
	if want := "rebound runs resume e2e " + m[3]; !strings.Contains(resolved.stdout, want) {
		t.Errorf("resolve output lacks %q:\n%s", want, resolved.stdout)
	}
	// A second decision does not apply, and changes nothing.
	before := snapshot(t, store)
	again := cli(t, nil, "escalations", "resolve", esc, "--action", "reject", "--by", "bob", store)
	mustCode(t, again, exitUsage, "second resolve")
	if !strings.Contains(again.stderr, "is resolved") {
		t.Errorf("second resolve: %s", again.stderr)
	}
	if snapshot(t, store) != before {
		t.Errorf("the refused second decision changed the store")
	}

	res := cli(t, nil, "runs", "resume", "e2e", store)
	mustCode(t, res, 0, "runs resume")
	for _, s := range demoSteps[:5] {
		if !strings.Contains(res.stdout, s+": done earlier, skipped") {
			t.Errorf("resume did not skip %s:\n%s", s, res.stdout)
		}
	}
	if !strings.Contains(res.stdout, "publish: done") || !strings.Contains(res.stdout, "Report: reports/e2e.md") {
		t.Errorf("resume output:\n%s", res.stdout)
	}
	report, err := os.ReadFile(filepath.Join(dir, "reports", "e2e.md"))
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	for _, want := range []string{"# How production LLM agents recover from failures", "## Section 3", "Degraded: written by the fallback model anthropic/demo-small"} {
		if !strings.Contains(string(report), want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}

	human := cli(t, nil, "runs", "show", "e2e", store)
	mustCode(t, human, 0, "runs show")
	for _, want := range []string{"Run e2e (research): completed", "2× rate_limited on anthropic/demo-large",
		"anthropic/demo-large not called: breaker open", "fallback anthropic/demo-large → anthropic/demo-small"} {
		if !strings.Contains(human.stdout, want) {
			t.Errorf("runs show lacks %q:\n%s", want, human.stdout)
		}
	}
	show := cli(t, nil, "runs", "show", "e2e", "--json", store)
	mustCode(t, show, 0, "runs show")
	var run struct {
		Status string
		Steps  []struct {
			Name       string
			Status     string
			Executions int
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(show.stdout), &run); err != nil {
		t.Fatal(err)
	}
	if run.Status != "completed" || len(run.Steps) != 6 {
		t.Fatalf("runs show: %+v", run)
	}
	for _, s := range run.Steps {
		if s.Status != "completed" || s.Executions != 1 {
			t.Errorf("step %s: %s after %d executions, want completed after 1", s.Name, s.Status, s.Executions)
		}
	}
	// Resuming a completed run does nothing and succeeds.
	mustCode(t, cli(t, nil, "runs", "resume", "e2e", store), 0, "second resume")
	if got := cli(t, nil, "escalations", "list", "--status", "open", "--json", store).stdout; strings.TrimSpace(got) != "[]" {
		t.Errorf("open escalations after approval: %s", got)
	}
}

// With --json, stdout holds only the JSON events of docs/cli.md, one a line; the summary goes to
// stderr.
func TestDemoJSONEvents(t *testing.T) {
	chdirTemp(t)
	r := cli(t, nil, "demo", "--json", "--run-id", "j1", tempStore(t))
	mustCode(t, r, exitEscalated, "demo --json")
	seen := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("stdout line is not JSON: %q", sc.Text())
		}
		kind, _ := e["event"].(string)
		if !designEvents[rebound.EventKind(kind)] {
			t.Errorf("event %q is not one of docs/cli.md's", kind)
		}
		if _, err := time.Parse(time.RFC3339Nano, e["time"].(string)); err != nil || e["run_id"] != "j1" {
			t.Errorf("event without time or run_id: %s", sc.Text())
		}
		switch kind {
		case "retry_scheduled":
			if _, ok := e["delay_ms"].(float64); !ok {
				t.Errorf("retry_scheduled without delay_ms: %s", sc.Text())
			}
		case "breaker_changed":
			if e["model"] == "" || e["from"] == "" || e["to"] == "" {
				t.Errorf("breaker_changed without model/from/to: %s", sc.Text())
			}
		case "escalated":
			if e["escalation_id"] == nil || e["reason"] != "irreversible_action" {
				t.Errorf("escalated: %s", sc.Text())
			}
		}
		seen[kind]++
	}
	for _, k := range []string{"run_started", "step_started", "attempt_failed", "retry_scheduled", "breaker_changed", "fallback_used", "step_completed", "escalated"} {
		if seen[k] == 0 {
			t.Errorf("no %s event; saw %v", k, seen)
		}
	}
	if !strings.Contains(r.stderr, "rebound escalations resolve") {
		t.Errorf("the summary is not on stderr:\n%s", r.stderr)
	}
}
