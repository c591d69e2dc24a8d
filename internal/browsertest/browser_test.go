package browsertest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rebound-go/rebound/internal/browsertest"
)

// recordTB records how Browser gives up, instead of giving up the test.
type recordTB struct {
	testing.TB
	skipped, failed string
}

type stopped struct{}

func (r *recordTB) Helper() {}
func (r *recordTB) Skip(args ...any) {
	r.skipped = fmt.Sprint(args...)
	panic(stopped{})
}
func (r *recordTB) Fatal(args ...any) {
	r.failed = fmt.Sprint(args...)
	panic(stopped{})
}

func run(tb *recordTB) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(stopped); !ok {
				panic(r)
			}
		}
	}()
	browsertest.Browser(tb)
}

// TestBrowserWithoutChromium: without chromium a browser test skips and says what to install;
// under CI=true it fails instead.
func TestBrowserWithoutChromium(t *testing.T) {
	t.Setenv("CHROMIUM", "/nonexistent/chromium")

	t.Setenv("CI", "")
	tb := &recordTB{TB: t}
	run(tb)
	if tb.failed != "" || !strings.Contains(tb.skipped, "apt-get install chromium") {
		t.Errorf("outside CI: skipped %q, failed %q; want a skip that says what to install", tb.skipped, tb.failed)
	}

	t.Setenv("CI", "true")
	tb = &recordTB{TB: t}
	run(tb)
	if tb.skipped != "" || !strings.Contains(tb.failed, "chromium") {
		t.Errorf("under CI=true: skipped %q, failed %q; want a failure", tb.skipped, tb.failed)
	}
}
