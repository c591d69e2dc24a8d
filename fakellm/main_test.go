package fakellm_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a server goroutine behind (a hanging request
// not released, a server not closed). Idle client connections of the SDKs' HTTP clients are not
// the fake's, and are ignored.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}
