package dashboard_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/internal/browsertest"
)

// TestBrowserOverride drives the dashboard in chromium: a supervisor approved the run's publish
// with a hold; a person finds it in the queue filtered by actor, reads the supervisor's decision
// and rationale, overrides it with a rejection, and the resume worker fails the run on the
// person's decision without publishing.
func TestBrowserOverride(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	ctx := browsertest.Browser(t)
	b := setup(t, setupOpts{})
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

	id := b.superviseRun(t, "run-held", time.Hour)
	browsertest.Do(t, ctx, "open the queue by supervisor", chromedp.Navigate(srv.URL+"/escalations?actor=supervisor"))
	row := browsertest.Get(t, ctx, "read the queue", chromedp.Text(chromedp.CSS("tbody")))
	if !strings.Contains(row, "supervisor") || !strings.Contains(row, "model-x policy:v3") || !strings.Contains(row, "held") {
		t.Fatalf("queue row does not say the supervisor decided, held: %q", row)
	}
	shot(t, ctx, true, "queue-supervisor")
	browsertest.Do(t, ctx, "open the item",
		chromedp.Click(chromedp.CSS(`a.reason`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action$="/override"]`)))
	body := browsertest.Get(t, ctx, "read the decision", chromedp.Text(chromedp.CSS("#decision")))
	for _, want := range []string{"supervisor", "model-x policy:v3", "cites its sources", "87%", "left"} {
		if !strings.Contains(body, want) {
			t.Errorf("decision card lacks %q: %q", want, body)
		}
	}
	shot(t, ctx, true, "override")
	form := `form[action$="/override"]`
	browsertest.Do(t, ctx, "override with reject",
		chromedp.Click(chromedp.CSS(form+` input[name="action"][value="reject"]`)),
		chromedp.SetValue(chromedp.CSS(form+` input[name="by"]`), "Ana Reviewer"),
		chromedp.SendKeys(chromedp.CSS(form+` textarea[name="note"]`), "not this week"),
		chromedp.Click(chromedp.CSS(form+` button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`p.flash`)))
	browsertest.WaitRunStatus(t, ctx, srv.URL, "run-held", "failed")
	if b.publishN != 0 {
		t.Errorf("publish ran %d times, want never", b.publishN)
	}
	it, err := b.queue.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if it.Decision == nil || it.Decision.By != "Ana Reviewer" || it.Decision.Actor != rebound.ActorPerson ||
		it.Decision.Action != rebound.ActionReject {
		t.Errorf("decision = %+v", it.Decision)
	}
}
