package browsertest_test

import (
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/rebound-go/rebound/internal/browsertest"
)

// A browser test of a dashboard served at url: sign in, approve the publish escalation of a
// run, wait for the run to complete. (Not run here: it needs chromium and a server.)
func Example() {
	var t *testing.T // the test's own
	url, token := "http://127.0.0.1:8080", "s3cret"

	ctx := browsertest.Browser(t) // skips without chromium, fails under CI=true
	browsertest.Do(t, ctx, "open the queue", chromedp.Navigate(url+"/escalations"))
	browsertest.SignIn(t, ctx, token)
	browsertest.OpenEscalation(t, ctx, "report-001", "publish")
	browsertest.Resolve(t, ctx, "approve", "", "checked the sources", "alice")
	browsertest.WaitRunStatus(t, ctx, url, "report-001", "completed")
}
