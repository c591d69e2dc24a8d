package dashboard_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: the worker's, a resumed run's
// heartbeat, the browser's.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
