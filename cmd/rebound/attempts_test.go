package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/fakellm"
)

// overloadedDemo runs the demo as run a1 against a compatible server that overloads the primary
// model "big" at every section: section_1 spends its retries and opens big's breaker, and the
// breaker refuses big for the steps after it; "small" answers each time. It returns the
// demo's output, the store's DSN and the server.
func overloadedDemo(t *testing.T) (result, string, *fakellm.Server) {
	t.Helper()
	chdirTemp(t)
	srv := fakellm.NewServer(t, `
error 529 retry-after-ms=10 model=big contains="[section_1]"
error 529 retry-after-ms=10 model=big contains="[section_2]"
error 529 retry-after-ms=10 model=big contains="[section_3]"
`)
	dir := t.TempDir()
	dsn := "sqlite:" + dir + "/rebound.db"
	store := "--store=" + dsn
	r := cli(t, nil, "demo", "--run-id", "a1", "--provider", "anthropic", "--base-url", srv.URL,
		"--model", "big", "--fallback-model", "small", store)
	mustCode(t, r, exitEscalated, "demo")
	return r, dsn, srv
}

// TestOneAttemptCount: one run, one attempt count. The demo against a server that overloads the
// primary model until its retries are spent and its breaker opens (fallbacks, then calls the
// open breaker refuses): the demo's summary, `runs list`, `runs show`, `runs show --json`, the
// dashboard's run page and its API all print the same number of attempts, and it is the number
// of requests the server received (a call the breaker refused sent nothing and is no attempt).
// The three once counted three ways: failures plus successes in this process, executions plus
// retries in the store, and the dashboard read the store.
func TestOneAttemptCount(t *testing.T) {
	r, dsn, srv := overloadedDemo(t)
	store := "--store=" + dsn
	sent := 0
	for _, q := range srv.Requests() {
		if strings.HasSuffix(q.Path, "/messages") {
			sent++
		}
	}
	if !strings.Contains(r.stdout, "fallback") {
		t.Fatalf("the demo did not fall back; output:\n%s", r.stdout)
	}
	counts := map[string]int{"requests the server received": sent}
	number := func(what, re, text string) {
		t.Helper()
		m := regexp.MustCompile(re).FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("%s: no match for %s in:\n%s", what, re, text)
		}
		n, _ := strconv.Atoi(m[1])
		counts[what] = n
	}
	number("the demo's summary", `waiting for a person: \d+ of \d+ steps done, (\d+) attempts`, r.stdout)
	list := cli(t, nil, "runs", "list", store)
	mustCode(t, list, 0, "runs list")
	number("runs list", `(?m)^a1\s+\S+\s+\S+(?: \(\S+\))?\s+\d+\s+(\d+)\s`, list.stdout)
	show := cli(t, nil, "runs", "show", "a1", store)
	mustCode(t, show, 0, "runs show")
	number("runs show", `\d+ steps, (\d+) attempts`, show.stdout)
	js := cli(t, nil, "runs", "show", "a1", "--json", store)
	number("runs show --json", `"attempt_count": (\d+)`, js.stdout)

	// The journaled events, counted by the one definition, give the same sum.
	ds := serveDemo(t, dsn, "", false)
	v, err := checkpoint.Get(t.Context(), ds.s.runs, "a1")
	if err != nil {
		t.Fatal(err)
	}
	sum := 0
	for _, st := range v.Steps {
		if st.Executions > 0 {
			sum += checkpoint.CountAttempts(st.Attempts, st.Status == checkpoint.StepCompleted)
		}
	}
	counts["checkpoint.CountAttempts over the journal"] = sum
	get := func(path string) string {
		resp, err := http.Get(ds.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d\n%s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	number("the dashboard's run page", `<dt>Attempts</dt><dd>(\d+)</dd>`, get("/runs/a1"))
	number("the dashboard's runs page", `(?s)href="/runs/a1".*?<td class="num">\d+</td>\s*<td class="num">(\d+)</td>`, get("/runs"))
	number("the API", `"attempt_count":\s*(\d+)`, get("/api/v1/runs/a1"))
	for what, n := range counts {
		if n != sent {
			t.Errorf("%s: %d attempts, the server received %d requests", what, n, sent)
		}
	}
	t.Logf("counts: %v", counts)
	if t.Failed() {
		t.Logf("demo output:\n%s\nruns show:\n%s", r.stdout, show.stdout)
	}
}

// TestBreakerRefusalIsNoFailedAttempt: a call an open breaker refused sent nothing; it is shown
// as a refusal (live output, `runs show`, `runs show --json`, the dashboard), never as a failed
// attempt of class transient.
func TestBreakerRefusalIsNoFailedAttempt(t *testing.T) {
	r, dsn, _ := overloadedDemo(t)
	store := "--store=" + dsn
	if want := "section_2: anthropic/big not called: its breaker is open"; !strings.Contains(r.stdout, want) {
		t.Errorf("the demo's output lacks %q", want)
	}
	if strings.Contains(r.stdout, "(transient)") {
		t.Errorf("the demo's output shows a failure of class transient:\n%s", r.stdout)
	}
	js := cli(t, nil, "runs", "show", "a1", "--json", store)
	mustCode(t, js, 0, "runs show --json")
	var v struct {
		Steps []struct {
			Name   string
			Events []map[string]any
		}
	}
	if err := json.Unmarshal([]byte(js.stdout), &v); err != nil {
		t.Fatal(err)
	}
	refused := 0
	for _, st := range v.Steps {
		for _, e := range st.Events {
			if e["class"] == "transient" {
				t.Errorf("step %s: event %v has class transient", st.Name, e)
			}
			if e["event"] == checkpoint.KindRefused {
				refused++
				if e["reason"] != "breaker_open" || e["model"] != "anthropic/big" {
					t.Errorf("step %s: refusal %v, want reason breaker_open on anthropic/big", st.Name, e)
				}
			}
		}
	}
	if refused != 3 {
		t.Errorf("%d refusals journaled, want 3 (section_2, section_3, summary):\n%s", refused, js.stdout)
	}
	show := cli(t, nil, "runs", "show", "a1", store)
	if !strings.Contains(show.stdout, "anthropic/big not called: breaker open") || strings.Contains(show.stdout, "transient") {
		t.Errorf("runs show:\n%s", show.stdout)
	}
	ds := serveDemo(t, dsn, "", false)
	resp, err := http.Get(ds.url + "/runs/a1")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "refused</span> not called: its breaker was open") || strings.Contains(string(page), ">transient<") {
		t.Errorf("the dashboard's run page does not show the refusals as such")
	}
}

// TestRunJSONEventsDocumented: every kind of step event `runs show --json` writes (gave_up and
// refused among them) has its row in docs/api.md's table, and gave_up carries what the table
// says: how many attempts and why.
func TestRunJSONEventsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	_, dsn, _ := overloadedDemo(t)
	js := cli(t, nil, "runs", "show", "a1", "--json", "--store="+dsn)
	mustCode(t, js, 0, "runs show --json")
	var v struct {
		Steps []struct{ Events []map[string]any }
	}
	if err := json.Unmarshal([]byte(js.stdout), &v); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, st := range v.Steps {
		for _, e := range st.Events {
			k, _ := e["event"].(string)
			kinds[k] = true
			if !strings.Contains(string(doc), "\n| `"+k+"` | ") {
				t.Errorf("docs/api.md has no row for the event %q", k)
			}
			if k == "gave_up" && (e["reason"] == nil || e["attempt"] == nil) {
				t.Errorf("gave_up without its reason or attempt count: %v", e)
			}
		}
	}
	for _, k := range []string{"attempt_failed", "retry_scheduled", "breaker_changed", "gave_up", "fallback_used", checkpoint.KindRefused} {
		if !kinds[k] {
			t.Errorf("the run has no %s event: the scenario no longer covers it", k)
		}
	}
}
