package dashboardtest_test

import (
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/rebound-go/rebound/dashboard/dashboardtest"
)

// A browser test of a dashboard served at url: sign in, approve the publish escalation of a
// run, wait for the run to complete. (Not run here: it needs chromium and a server.)
func Example() {
	var t *testing.T // the test's own
	url, token := "http://127.0.0.1:8080", "s3cret"

	ctx := dashboardtest.Browser(t) // skips without chromium, fails under CI=true
	dashboardtest.Do(t, ctx, "open the queue", chromedp.Navigate(url+"/escalations"))
	dashboardtest.SignIn(t, ctx, token)
	dashboardtest.OpenEscalation(t, ctx, "report-001", "publish")
	dashboardtest.Resolve(t, ctx, "approve", "", "checked the sources", "alice")
	dashboardtest.WaitRunStatus(t, ctx, url, "report-001", "completed")
}
