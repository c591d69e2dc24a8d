package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
	"github.com/rebound-go/rebound/internal/browsertest"
)

// demoServe is a demo run parked at publish and what `rebound serve --worker` builds over its
// store, served by an httptest server.
type demoServe struct {
	dsn   string
	url   string
	token string
	s     *stores
}

// runDemo runs `rebound demo` in-process into the SQLite store in dir and checks that it stops
// at publish, waiting for approval (exit code 3).
func runDemo(t *testing.T, dsn, runID string, extra ...string) {
	t.Helper()
	var out bytes.Buffer
	args := append([]string{"demo", "--store", dsn, "--run-id", runID}, extra...)
	if code := execute(t.Context(), args, env{stdout: &out, stderr: &out}); code != exitEscalated {
		t.Fatalf("rebound %s: exit code %d, want %d (escalated); output:\n%s", strings.Join(args, " "), code, exitEscalated, out.String())
	}
}

// lineWriter collects what a command prints and hands over the first line with a prefix.
type lineWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	prefix string
	found  chan<- string
	sent   bool
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for _, line := range strings.Split(w.buf.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, w.prefix); ok && !w.sent {
			w.found <- rest // buffered: never blocks
			w.sent = true
		}
	}
	return len(p), nil
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// serveDemo runs `rebound serve --addr 127.0.0.1:0 [--token T] [--worker]` in-process over dsn
// until the test ends, and returns its URL with a second handle on the store for checks.
func serveDemo(t *testing.T, dsn, token string, worker bool) *demoServe {
	t.Helper()
	args := []string{"serve", "--addr", "127.0.0.1:0", "--store", dsn}
	if token != "" {
		args = append(args, "--token", token)
	}
	if worker {
		args = append(args, "--worker", "--worker-interval", "100ms")
	}
	found := make(chan string, 1)
	out := &lineWriter{prefix: "Serving on ", found: found}
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	go func() { code <- execute(ctx, args, env{stdout: out, stderr: out}) }()
	var url string
	select {
	case line := <-found:
		url, _, _ = strings.Cut(line, " ")
	case c := <-code:
		cancel()
		t.Fatalf("rebound %s exited with %d:\n%s", strings.Join(args, " "), c, out.String())
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("rebound %s did not start:\n%s", strings.Join(args, " "), out.String())
	}
	g := &globals{env: env{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }},
		store: dsn, storeSet: true}
	s, err := g.openStores(t.Context())
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if c := <-code; c != exitCompleted {
			t.Errorf("rebound serve exited with %d after its context ended:\n%s", c, out.String())
		}
		s.Close()
	})
	return &demoServe{dsn: dsn, url: url, token: token, s: s}
}

// TestServeDashboardApprovesTheDemo is the end-to-end test of issue 9 in a browser: the demo
// stops at publish; in the dashboard of `rebound serve --worker` a reviewer opens the queue,
// opens the publish escalation, approves it, and sees the run reach completed through the
// worker, which resumed it against the demo's own fake providers and wrote the report. Once
// without a token, once with one.
func TestServeDashboardApprovesTheDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	for _, token := range []string{"", "t0ken-for-the-browser-test"} {
		name := "NoToken"
		if token != "" {
			name = "Token"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir) // the demo writes its report under ./reports
			dsn := "sqlite:" + filepath.Join(dir, "rebound.db")
			runDemo(t, dsn, "demo-browser")
			ds := serveDemo(t, dsn, token, true)
			ctx := browsertest.Browser(t) // after serve: closed first, so serve shuts down at once

			browsertest.Do(t, ctx, "open the queue", chromedp.Navigate(ds.url+"/escalations"))
			if token != "" {
				browsertest.SignIn(t, ctx, token)
			}
			id := browsertest.OpenEscalation(t, ctx, "demo-browser", "publish")
			body := browsertest.Get(t, ctx, "read the escalation", chromedp.Text(chromedp.CSS("main")))
			for _, want := range []string{"irreversible_action", "Research topic", "Audit trail", "Run state"} {
				if !strings.Contains(body, want) {
					t.Errorf("escalation page lacks %q", want)
				}
			}
			browsertest.Resolve(t, ctx, "approve", "", "reviewed in the browser test", "browser-test")
			browsertest.WaitRunStatus(t, ctx, ds.url, "demo-browser", "completed")

			it, err := ds.s.queue.Get(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			if it.Status != escalate.StatusResolved || it.Decision == nil || it.Decision.By != "browser-test" {
				t.Errorf("escalation after approval: %+v", it)
			}
			report, err := os.ReadFile(filepath.Join(dir, "reports", "demo-browser.md"))
			if err != nil {
				t.Fatalf("the approved publish step wrote no report: %v", err)
			}
			if !strings.Contains(string(report), defaultTopic) {
				t.Errorf("the report does not name the demo's topic:\n%s", report)
			}
			rec, err := ds.s.runs.GetRun(t.Context(), "demo-browser")
			if err != nil {
				t.Fatal(err)
			}
			if rec.Status != checkpoint.StatusCompleted {
				t.Fatalf("run is %s", rec.Status)
			}
			for _, st := range rec.Steps {
				if st.Name == "publish" && st.Executions != 1 {
					t.Errorf("publish executed %d times, want once", st.Executions)
				}
			}
		})
	}
}

// TestServeDashboardAPI checks the wiring of serve's handler: the API over the demo's store,
// the token rule for pages, API and /metrics, and /healthz left open.
func TestServeDashboardAPI(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	dsn := "sqlite:" + filepath.Join(dir, "rebound.db")
	runDemo(t, dsn, "demo-api")
	const token = "api-test-token"
	ds := serveDemo(t, dsn, token, false)

	get := func(path, tok string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, ds.url+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	for path, want := range map[string]int{"/healthz": 200, "/metrics": 401, "/api/v1/escalations": 401, "/api/v1/runs/demo-api": 401} {
		if got := get(path, "").StatusCode; got != want {
			t.Errorf("GET %s without token: %d, want %d", path, got, want)
		}
	}
	resp := get("/api/v1/escalations?status=open", token)
	var items []escalate.Item
	if err := json.NewDecoder(resp.Body).Decode(&items); err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || items[0].RunID != "demo-api" || items[0].Step != "publish" || items[0].Reason != rebound.ReasonIrreversibleAction {
		t.Fatalf("open escalations = %+v", items)
	}
	resp = get("/api/v1/runs/demo-api", token)
	var run struct {
		Status string `json:"status"`
		Steps  []struct {
			Name     string `json:"name"`
			Fallback string `json:"fallback"`
			Events   []struct {
				Event string `json:"event"`
			} `json:"events"`
		} `json:"steps"`
		BreakerEvents []struct {
			Model string `json:"model"`
			To    string `json:"to"`
		} `json:"breaker_events"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&run); err != nil {
		t.Fatal(err)
	}
	if run.Status != "escalated" || len(run.Steps) != 6 || len(run.BreakerEvents) == 0 {
		t.Fatalf("run = %+v", run)
	}
	fallbacks := 0
	for _, st := range run.Steps {
		if st.Fallback != "" {
			fallbacks++
		}
	}
	if fallbacks == 0 {
		t.Errorf("no step of the demo is marked as answered by a fallback: %+v", run.Steps)
	}
	metrics := get("/metrics", token)
	b, _ := io.ReadAll(metrics.Body)
	if metrics.StatusCode != 200 || !strings.Contains(string(b), "rebound_") {
		t.Errorf("/metrics with token: %d\n%s", metrics.StatusCode, b)
	}
}

// TestServeRefusesOpenAddressWithoutToken: bound to a non-loopback address without a token,
// serve exits with code 2 before opening anything.
func TestServeRefusesOpenAddressWithoutToken(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:8080"} {
		var out bytes.Buffer
		code := execute(t.Context(), []string{"serve", "--addr", addr, "--store", "memory:"}, env{stdout: &out, stderr: &out})
		if code != exitUsage || !strings.Contains(out.String(), "token") {
			t.Errorf("serve --addr %s without a token: exit %d, want %d; output:\n%s", addr, code, exitUsage, out.String())
		}
	}
}

// TestServeDashboardScreenshots writes the README's screenshots of real pages of real demo
// runs into $REBOUND_SCREENSHOTS (docs/img in the repository): the queue, the publish
// escalation, an escalation after an outage, and a run's timeline. Four demo runs: one waiting
// at publish, one claimed by a reviewer, one approved and finished by the worker, and one whose
// summary failed on both models (an outage added to its fault script).
//
//	REBOUND_SCREENSHOTS=$PWD/docs/img go test ./cmd/rebound -run TestServeDashboardScreenshots
func TestServeDashboardScreenshots(t *testing.T) {
	out := os.Getenv("REBOUND_SCREENSHOTS")
	if out == "" {
		t.Skip("set REBOUND_SCREENSHOTS to a directory to write the dashboard's screenshots")
	}
	out, err := filepath.Abs(out)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	dsn := "sqlite:" + filepath.Join(dir, "rebound.db")
	runDemo(t, dsn, "report-tide-pools", "--topic", "Tide pools of the North Atlantic")
	runDemo(t, dsn, "report-agents")
	runDemo(t, dsn, "report-batteries", "--topic", "Recycling lithium-ion batteries")
	// A run whose summary fails on both models: retries spent, no fallback left.
	faults := filepath.Join(dir, "outage.faults")
	if err := os.WriteFile(faults, []byte(demoFaults+"error 503 contains=\"[summary]\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runDemo(t, dsn, "report-heat-pumps", "--topic", "Heat pumps in cold climates", "--faults", faults)
	ds := serveDemo(t, dsn, "", true)
	ctx := browsertest.Browser(t)

	items, err := ds.s.queue.List(t.Context(), escalate.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	byRun := map[string]string{}
	for _, it := range items {
		byRun[it.RunID] = it.ID
	}
	if _, err := ds.s.queue.Resolve(t.Context(), byRun["report-tide-pools"], rebound.Decision{
		Action: rebound.ActionApprove, Note: "Sources checked; fine to publish.", By: "maria"}); err != nil {
		t.Fatal(err)
	}
	browsertest.WaitRunStatus(t, ctx, ds.url, "report-tide-pools", "completed")
	if _, err := ds.s.queue.Claim(t.Context(), byRun["report-batteries"], "alice", time.Hour); err != nil {
		t.Fatal(err)
	}

	save := func(name string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(out, name), browsertest.Screenshot(t, ctx), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	browsertest.Do(t, ctx, "open the queue", chromedp.EmulateViewport(1360, 600), chromedp.Navigate(ds.url+"/escalations"))
	save("dashboard-queue.png")
	browsertest.Do(t, ctx, "open the escalation", chromedp.EmulateViewport(1360, 900),
		chromedp.Navigate(ds.url+"/escalations/"+byRun["report-agents"]))
	save("dashboard-escalation.png")
	browsertest.Do(t, ctx, "open the outage's escalation", chromedp.Navigate(ds.url+"/escalations/"+byRun["report-heat-pumps"]))
	save("dashboard-escalation-outage.png")
	browsertest.Do(t, ctx, "open the run", chromedp.Navigate(ds.url+"/runs/report-agents"))
	save("dashboard-run.png")
}
