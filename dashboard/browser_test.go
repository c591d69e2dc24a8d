package dashboard_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/internal/browsertest"
)

// TestBrowserApprove drives the dashboard in chromium: open the queue, open the run's publish
// escalation, approve it, and see the run reach completed through the resume worker; once
// without a token and once with one (signing in through the login form).
func TestBrowserApprove(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	for _, token := range []string{"", testToken} {
		name := "NoToken"
		if token != "" {
			name = "Token"
		}
		t.Run(name, func(t *testing.T) {
			ctx := browsertest.Browser(t)
			b := setup(t, setupOpts{token: token})
			srv := httptest.NewServer(b.srv)
			t.Cleanup(srv.Close)
			w, err := checkpoint.NewWorker(b.runner, checkpoint.WorkerConfig{Workflows: b.workflows(),
				Interval: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			wctx, stop := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); _ = w.Run(wctx) }()
			t.Cleanup(func() { stop(); <-done })

			b.escalatedRun(t, "run-browser")
			browsertest.Do(t, ctx, "open the queue", chromedp.Navigate(srv.URL+"/escalations"))
			if token != "" {
				browsertest.SignIn(t, ctx, token)
			}
			heading := browsertest.Get(t, ctx, "read the queue", chromedp.Text(chromedp.CSS("h1")))
			if heading != "Escalations" {
				t.Fatalf("landed on %q, want the queue", heading)
			}
			shot(t, ctx, token == "", "queue")
			id := browsertest.OpenEscalation(t, ctx, "run-browser", "publish")
			shot(t, ctx, token == "", "escalation")
			if id == "" {
				t.Fatal("no escalation ID in the row's link")
			}
			body := browsertest.Get(t, ctx, "read the escalation", chromedp.Text(chromedp.CSS("main")))
			for _, want := range []string{"irreversible_action", "Research topic: tides", "Audit trail"} {
				if !strings.Contains(body, want) {
					t.Errorf("escalation page lacks %q", want)
				}
			}
			browsertest.Resolve(t, ctx, "approve", "", "ship it", "Alice Reviewer")
			browsertest.WaitRunStatus(t, ctx, srv.URL, "run-browser", "completed")
			if b.publishN != 1 {
				t.Errorf("publish ran %d times, want once", b.publishN)
			}
			it, err := b.queue.Get(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			if it.Decision == nil || it.Decision.By != "Alice Reviewer" || it.Decision.Note != "ship it" {
				t.Errorf("decision = %+v", it.Decision)
			}
			shot(t, ctx, token == "", "run")
			browsertest.Do(t, ctx, "open the runs", chromedp.Navigate(srv.URL+"/runs"))
			shot(t, ctx, token == "", "runs")
			browsertest.Do(t, ctx, "open the breakers", chromedp.Navigate(srv.URL+"/breakers"))
			shot(t, ctx, token == "", "breakers")
		})
	}
}

// shot saves a screenshot of the page as $REBOUND_SCREENSHOTS/test-NAME.png, for a person
// checking the layout; nothing without the variable.
func shot(t *testing.T, ctx context.Context, want bool, name string) {
	t.Helper()
	dir := os.Getenv("REBOUND_SCREENSHOTS")
	if dir == "" || !want {
		return
	}
	if err := os.WriteFile(filepath.Join(dir, "test-"+name+".png"), browsertest.Screenshot(t, ctx), 0o644); err != nil {
		t.Fatal(err)
	}
}
