// Package browsertest drives the dashboard in a real browser (Debian's chromium, through
// chromedp) for the end-to-end tests of package dashboard and of `rebound serve`: open the
// queue, open an escalation, sign in, resolve, wait for the run to finish, take screenshots.
// It is internal: its API exposes chromedp types and serves only this repository's tests.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian's chromium package installs the browser.
const ChromiumPath = "/usr/bin/chromium"

// findChromium returns the browser to drive: $CHROMIUM if set, else ChromiumPath, else chromium
// or chromium-browser on PATH.
func findChromium() (string, bool) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		_, err := os.Stat(p)
		return p, err == nil
	}
	if _, err := os.Stat(ChromiumPath); err == nil {
		return ChromiumPath, true
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, true
		}
	}
	return ChromiumPath, false
}

// Browser starts a headless chromium with a fresh profile in t.TempDir() and returns a context
// for chromedp actions, closed when the test ends. Without chromium the test is skipped with a
// message saying what to install, except under CI=true, where that is a failure.
func Browser(t testing.TB) context.Context {
	t.Helper()
	path, ok := findChromium()
	if !ok {
		msg := "browser test needs chromium at " + path + " (Debian: apt-get install chromium chromium-driver; or set CHROMIUM)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1360, 900),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("hide-scrollbars", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// Start the browser now, so that a failure to start is reported here.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1360, 900)); err != nil {
		t.Fatalf("start chromium (%s): %v", path, err)
	}
	return ctx
}

// Timeout bounds each browser step: a page that never shows what a test waits for fails the
// test instead of hanging it.
const Timeout = 30 * time.Second

// Do runs steps with Timeout, failing the test with what was being done and the page it was on.
func Do(t testing.TB, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	if err := chromedp.Do(tctx, steps...); err != nil {
		failed(t, ctx, what, err)
	}
}

// Get runs one action that returns a value, like Do.
func Get[T any](t testing.TB, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	v, err := chromedp.Run(tctx, a)
	if err != nil {
		failed(t, ctx, what, err)
	}
	return v
}

func failed(t testing.TB, ctx context.Context, what string, err error) {
	t.Helper()
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	url, _ := chromedp.Run(qctx, chromedp.Location())
	body, _ := chromedp.Run(qctx, chromedp.Text(chromedp.CSS("body")))
	t.Fatalf("%s: %v\nat %s:\n%s", what, err, url, clip(body))
}

func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 2000 {
		return s[:2000] + "…"
	}
	return s
}

// SignIn fills the login form the dashboard redirected to and submits it.
func SignIn(t testing.TB, ctx context.Context, token string) {
	t.Helper()
	Do(t, ctx, "sign in",
		chromedp.WaitVisible(chromedp.CSS(`input[name="token"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="token"]`), token),
		chromedp.Submit(chromedp.CSS(`input[name="token"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`input[name="token"]`)),
	)
}

// OpenEscalation clicks, on the queue page, the row of the run's escalation at step.
func OpenEscalation(t testing.TB, ctx context.Context, runID, step string) (id string) {
	t.Helper()
	sel := chromedp.Search(fmt.Sprintf(`//tr[.//a[@href="/runs/%s"]][.//span[normalize-space(text())="%s"]]//a[contains(@class,"reason")]`, runID, step))
	what := "open the escalation of " + runID + " at " + step
	Do(t, ctx, what, chromedp.WaitVisible(sel))
	href := Get(t, ctx, what, chromedp.AttributeValue(sel, "href"))
	Do(t, ctx, what,
		chromedp.Click(sel),
		chromedp.WaitVisible(chromedp.CSS(`form[action$="/resolve"]`)),
	)
	return strings.TrimPrefix(href.Value, "/escalations/")
}

// Resolve fills the decision form of the open escalation page and submits it, then waits for
// the page to confirm.
func Resolve(t testing.TB, ctx context.Context, action, answer, note, by string) {
	t.Helper()
	form := `form[action$="/resolve"]`
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.Click(chromedp.CSS(form + ` input[name="action"][value="` + action + `"]`)),
		chromedp.SetValue(chromedp.CSS(form+` input[name="by"]`), by),
	}
	if answer != "" {
		steps = append(steps, chromedp.SendKeys(chromedp.CSS(form+` textarea[name="answer"]`), answer))
	}
	if note != "" {
		steps = append(steps, chromedp.SendKeys(chromedp.CSS(form+` textarea[name="note"]`), note))
	}
	steps = append(steps,
		chromedp.Click(chromedp.CSS(form+` button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`p.flash`)),
	)
	Do(t, ctx, "resolve with "+action, steps...)
}

// WaitRunStatus opens the run's page and reloads it until its status reads want.
func WaitRunStatus(t testing.TB, ctx context.Context, baseURL, runID, want string) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	var got string
	for time.Now().Before(deadline) {
		Do(t, ctx, "open run "+runID, chromedp.Navigate(baseURL+"/runs/"+runID))
		got = Get(t, ctx, "read the status of run "+runID, chromedp.Text(chromedp.CSS(`.pagehead h1 .badge`)))
		if strings.TrimSpace(got) == want {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("run %s is %q after %v, want %q", runID, got, Timeout, want)
}

// Screenshot captures the whole page as a PNG.
func Screenshot(t testing.TB, ctx context.Context) []byte {
	t.Helper()
	return Get(t, ctx, "screenshot", chromedp.FullScreenshot(100))
}
