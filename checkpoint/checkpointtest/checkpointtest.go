// Package checkpointtest is the conformance suite every checkpoint.Store passes, and the
// process-kill crash harness the database stores run.
//
//	func TestConformance(t *testing.T) {
//		checkpointtest.Run(t, func(t *testing.T) checkpoint.Store { return openFresh(t) },
//			checkpointtest.Hooks{DeleteMessage: deleteMessageRow})
//	}
package checkpointtest

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
)

// Open returns a fresh, empty store for one test; the test's cleanup closes it.
type Open func(t *testing.T) checkpoint.Store

// Run runs the conformance suite against the stores open returns, damaging their journals with
// hooks where a case needs to. Each case has a fresh store of its own, so the cases run in
// parallel (as many at once as go test's -parallel allows).
func Run(t *testing.T, open Open, hooks Hooks) {
	fresh := func(f func(*testing.T, checkpoint.Store)) func(*testing.T, Open) {
		return func(t *testing.T, open Open) { f(t, open(t)) }
	}
	tests := []struct {
		name string
		fn   func(*testing.T, Open)
	}{
		{"ResumeReturnsRecordedResults", fresh(testResume)},
		{"MessageJournal", fresh(testMessages)},
		{"History1000Steps", fresh(testLongHistory)},
		{"ConcurrentWritersOneRun", fresh(testConcurrentOneRun)},
		{"ConcurrentRuns", fresh(testConcurrentRuns)},
		{"StaleEpochRejected", fresh(testStaleEpoch)},
		{"StaleWorkerStopped", fresh(testStaleWorker)},
		{"LeaseHeld", fresh(testLeaseHeld)},
		{"LeaseTakeOverAfterExpiry", fresh(testTakeOver)},
		{"DeadOwnerTakenOverAtOnce", fresh(testDeadOwner)},
		{"DamagedRecords", testDamaged},
		{"LostMessages", func(t *testing.T, open Open) { testLostMessages(t, open, hooks) }},
		{"InDoubtIdempotentRerunsWithSameKey", fresh(testInDoubtIdempotent)},
		{"InDoubtIrreversibleEscalates", fresh(testInDoubtIrreversible)},
		{"IrreversibleRefusedAfterLeaseLost", fresh(testIrreversibleAfterLeaseLost)},
		{"EscalationFencedAfterTakeOver", fresh(testEscalationFenced)},
		{"FailedIrreversibleInDoubtEscalates", fresh(testFailedIrreversible)},
		{"Decisions", testDecisions},
		{"GiveUpEscalates", fresh(testGiveUp)},
		{"WorkflowChanged", fresh(testWorkflowChanged)},
		{"ListGetPrune", fresh(testListPrune)},
		{"WorkflowMetadata", fresh(testMetadata)},
		{"AttemptsJournaled", fresh(testAttempts)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open)
		})
	}
}

// Escalator is an in-memory checkpoint.Escalator for tests: escalations are kept in order and
// decided with Decide.
type Escalator struct {
	mu        sync.Mutex
	items     []rebound.Escalation
	ids       []string
	decisions map[string]rebound.Decision
}

var _ checkpoint.Escalator = (*Escalator)(nil)

// Escalate implements checkpoint.Escalator.
func (e *Escalator) Escalate(ctx context.Context, esc rebound.Escalation) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	id := "esc-" + strconv.Itoa(len(e.items)+1)
	e.items = append(e.items, esc)
	e.ids = append(e.ids, id)
	return id, nil
}

// Decision implements checkpoint.Escalator.
func (e *Escalator) Decision(ctx context.Context, id string) (rebound.Decision, bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d, ok := e.decisions[id]
	return d, ok, nil
}

// Decide records the decision on escalation id.
func (e *Escalator) Decide(id string, d rebound.Decision) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.decisions == nil {
		e.decisions = map[string]rebound.Decision{}
	}
	e.decisions[id] = d
}

// Items returns the escalations so far, with their IDs.
func (e *Escalator) Items() ([]string, []rebound.Escalation) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.ids...), append([]rebound.Escalation(nil), e.items...)
}

// crashStore wraps a store and, once crash is set, fails every write: the process "died".
type crashStore struct {
	checkpoint.Store
	mu      sync.Mutex
	crashed bool
	// at decides, for each write, whether the process dies before it (true) — nil never.
	before func(w checkpoint.Write) bool
	// after decides whether the process dies right after the write lands.
	after func(w checkpoint.Write) bool
}

var errCrashed = errors.New("checkpointtest: simulated crash")

func (c *crashStore) WriteRun(ctx context.Context, l checkpoint.Lease, w checkpoint.Write) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.crashed || (c.before != nil && c.before(w)) {
		c.crashed = true
		return errCrashed
	}
	if err := c.Store.WriteRun(ctx, l, w); err != nil {
		return err
	}
	if c.after != nil && c.after(w) {
		c.crashed = true
	}
	return nil
}

func (c *crashStore) RenewRun(ctx context.Context, l checkpoint.Lease, ttl time.Duration) (checkpoint.Lease, error) {
	c.mu.Lock()
	crashed := c.crashed
	c.mu.Unlock()
	if crashed {
		return checkpoint.Lease{}, errCrashed
	}
	return c.Store.RenewRun(ctx, l, ttl)
}

// deadOwner returns an owner ID naming a process of this host that has exited, as a crashed
// worker's would.
func deadOwner(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CHECKPOINTTEST_NOOP=1")
	if err := cmd.Run(); err != nil {
		t.Fatalf("start a short-lived process: %v", err)
	}
	host, _ := os.Hostname()
	return host + "/" + strconv.Itoa(cmd.Process.Pid)
}

// stepIs reports whether w records step idx in the given status.
func stepIs(w checkpoint.Write, idx int, st checkpoint.StepStatus) bool {
	for _, s := range w.Steps {
		if s.Index == idx && s.Status == st {
			return true
		}
	}
	return false
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func sum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func runID(t *testing.T) string { return fmt.Sprintf("%s-%d", t.Name(), os.Getpid()) }
