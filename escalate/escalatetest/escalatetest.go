// Package escalatetest is the conformance suite every escalate.Store passes: the in-memory store,
// store/sqlite and store/postgres. A store's tests call Run with a function that opens a fresh,
// empty store:
//
//	func TestConformance(t *testing.T) {
//		escalatetest.Run(t, func(t *testing.T) escalatetest.Harness {
//			return escalatetest.Harness{Store: openFreshStore(t)}
//		})
//	}
//
// The suite runs on real time with short waits (claims of a few tens of milliseconds), since
// database stores cannot run inside a synctest bubble.
package escalatetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/rebound-go/rebound/escalate"
)

// Harness is one fresh store under test.
type Harness struct {
	Store escalate.Store
	// Raw returns everything the store keeps, as bytes: the database file and its WAL, every row
	// as text. The redaction test searches it for the secrets it planted. Nil: that test reads
	// back through the store only.
	Raw func(ctx context.Context) ([]byte, error)
}

// Open returns a fresh, empty store for one test or benchmark; it registers its own cleanup.
type Open func(tb testing.TB) Harness

// Run runs the whole suite against stores from open. Each case opens its own fresh store, so
// the cases run in parallel (as many at once as go test's -parallel allows).
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(*testing.T, Open)
	}{
		{"EscalateAndGet", testEscalateAndGet},
		{"NotFound", testNotFound},
		{"SameStepMerged", testSameStepMerged},
		{"ConcurrentEscalateSameStep", testConcurrentEscalateSameStep},
		{"Ordering", testOrdering},
		{"Filters", testFilters},
		{"ConcurrentClaims", testConcurrentClaims},
		{"ClaimRules", testClaimRules},
		{"ClaimExpires", testClaimExpires},
		{"ClaimNext", testClaimNext},
		{"NextStore", testNextStore},
		{"ResolveClaimedByOther", testResolveClaimedByOther},
		{"DecisionValidation", testDecisionValidation},
		{"DismissAndReopen", testDismissAndReopen},
		{"ConcurrentResolve", testConcurrentResolve},
		{"AuditComplete", testAuditComplete},
		{"Redaction", testRedaction},
		{"Stats", testStats},
		{"DecisionRoundTrip", testDecisionRoundTrip},
		{"FilterByActor", testFilterByActor},
		{"DecisionsKept", testDecisionsKept},
		{"HoldAndOverride", testHoldAndOverride},
		{"OverrideRacesTake", testOverrideRacesTake},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open)
		})
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
