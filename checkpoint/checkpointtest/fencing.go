package checkpointtest

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
)

// pausedStore freezes a worker as SIGSTOP would: once paused, its renewals and (after landing)
// the writes that pause selects do not return until resume is called.
type pausedStore struct {
	checkpoint.Store
	pauseAfter func(w checkpoint.Write) bool
	paused     chan struct{} // closed when the worker is frozen
	resumed    chan struct{}
	once       sync.Once
	freeze     bool
	mu         sync.Mutex
}

func newPausedStore(s checkpoint.Store, after func(w checkpoint.Write) bool) *pausedStore {
	return &pausedStore{Store: s, pauseAfter: after, paused: make(chan struct{}), resumed: make(chan struct{})}
}

// pause freezes the worker now (its renewals block).
func (p *pausedStore) pause() {
	p.mu.Lock()
	p.freeze = true
	p.mu.Unlock()
	p.once.Do(func() { close(p.paused) })
}

func (p *pausedStore) resume() { close(p.resumed) }

func (p *pausedStore) wait() {
	p.mu.Lock()
	f := p.freeze
	p.mu.Unlock()
	if f {
		<-p.resumed
	}
}

func (p *pausedStore) WriteRun(ctx context.Context, l checkpoint.Lease, w checkpoint.Write) error {
	p.wait()
	err := p.Store.WriteRun(ctx, l, w)
	if err == nil && p.pauseAfter != nil && p.pauseAfter(w) {
		p.pause()
		p.wait()
	}
	return err
}

func (p *pausedStore) RenewRun(ctx context.Context, l checkpoint.Lease, ttl time.Duration) (checkpoint.Lease, error) {
	p.wait()
	return p.Store.RenewRun(ctx, l, ttl)
}

// claimWhenExpired runs wf with r until the lease of the frozen worker has expired.
func claimWhenExpired(t *testing.T, r *checkpoint.Runner, id string, wf checkpoint.Workflow) error {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := r.Run(context.Background(), id, wf)
		if !errors.Is(err, checkpoint.ErrLeaseHeld) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testIrreversibleAfterLeaseLost: a worker frozen right after recording an irreversible step's
// intent, past its lease, while another worker takes the run over and escalates the step as in
// doubt, must not perform the step when it continues. The in-doubt escalation says the previous
// owner's lease expired and that its fate is unknown.
func testIrreversibleAfterLeaseLost(t *testing.T, s checkpoint.Store) {
	id := runID(t)
	var mu sync.Mutex
	var effects []string
	var tokens []checkpoint.FencingToken
	wf := func(who string) checkpoint.Workflow {
		return func(ctx context.Context, run *checkpoint.Run) error {
			_, err := checkpoint.Step(ctx, run, "charge", func(ctx context.Context) (string, error) {
				tok, _ := checkpoint.Fencing(ctx)
				mu.Lock()
				effects = append(effects, who)
				tokens = append(tokens, tok)
				mu.Unlock()
				return "charged", nil
			}, checkpoint.Irreversible())
			return err
		}
	}
	ps := newPausedStore(s, func(w checkpoint.Write) bool { return stepIs(w, 0, checkpoint.StepStarted) })
	a := checkpoint.NewRunner(ps, checkpoint.Config{Owner: "host-a/1", LeaseTTL: 300 * time.Millisecond})
	aDone := make(chan error, 1)
	go func() { aDone <- a.Run(context.Background(), id, wf("a")) }()
	<-ps.paused

	esc := &Escalator{}
	b := checkpoint.NewRunner(s, checkpoint.Config{Owner: "host-b/2", LeaseTTL: time.Minute, Escalations: esc})
	err := claimWhenExpired(t, b, id, wf("b"))
	var ee *checkpoint.EscalatedError
	if !errors.As(err, &ee) || ee.Reason != rebound.ReasonAmbiguousState {
		t.Fatalf("the new owner: got %v, want an ambiguous_state escalation", err)
	}
	_, items := esc.Items()
	if len(items) != 1 || !strings.Contains(items[0].Context, "host-a/1") || !strings.Contains(items[0].Context, "expire") ||
		!strings.Contains(items[0].Context, "unknown") {
		t.Fatalf("the in-doubt escalation should name the previous owner and say its lease expired, fate unknown: %+v", items)
	}

	ps.resume()
	aErr := <-aDone
	if !errors.Is(aErr, checkpoint.ErrStaleEpoch) && !errors.Is(aErr, checkpoint.ErrLeaseLost) {
		t.Fatalf("the frozen worker: got %v, want ErrStaleEpoch or ErrLeaseLost", aErr)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(effects) != 0 {
		t.Fatalf("the irreversible step ran after its worker's lease was lost (by %v)", effects)
	}

	// Approved, the new owner runs it, with a fencing token of its own epoch.
	esc.Decide(ee.EscalationID, rebound.Decision{Action: rebound.ActionApprove, By: "ana"})
	mu.Unlock()
	must(t, b.Run(context.Background(), id, wf("b")))
	mu.Lock()
	info, err := s.GetRun(context.Background(), id)
	must(t, err)
	if len(effects) != 1 || tokens[0].Epoch != info.Epoch || tokens[0].Epoch < 3 || tokens[0].Key == "" ||
		tokens[0].RunID != id || tokens[0].String() != tokens[0].Key+"."+strconv.FormatInt(tokens[0].Epoch, 10) {
		t.Fatalf("effects %v tokens %+v (run epoch %d)", effects, tokens, info.Epoch)
	}
}

// testEscalationFenced: a worker frozen past its lease right after a step completed, while the
// run is taken over and completed, must not file an escalation on the run when it continues.
func testEscalationFenced(t *testing.T, s checkpoint.Store) {
	id := runID(t)
	esc := &Escalator{}
	wf := func(ctx context.Context, run *checkpoint.Run) error {
		if _, err := checkpoint.Step(ctx, run, "prepare", func(ctx context.Context) (string, error) {
			return "ready", nil
		}); err != nil {
			return err
		}
		_, err := checkpoint.Step(ctx, run, "pay", func(ctx context.Context) (string, error) {
			return "paid", nil
		}, checkpoint.Irreversible(), checkpoint.NeedsApproval())
		return err
	}
	ps := newPausedStore(s, func(w checkpoint.Write) bool { return stepIs(w, 0, checkpoint.StepCompleted) })
	a := checkpoint.NewRunner(ps, checkpoint.Config{Owner: "host-a/" + strconv.Itoa(os.Getpid()), LeaseTTL: 300 * time.Millisecond, Escalations: esc})
	aDone := make(chan error, 1)
	go func() { aDone <- a.Run(context.Background(), id, wf) }()
	<-ps.paused

	b := checkpoint.NewRunner(s, checkpoint.Config{Owner: "host-b/2", LeaseTTL: time.Minute, Escalations: esc})
	err := claimWhenExpired(t, b, id, wf)
	var ee *checkpoint.EscalatedError
	if !errors.As(err, &ee) || ee.Reason != rebound.ReasonIrreversibleAction {
		t.Fatalf("the new owner: got %v, want the approval escalation", err)
	}
	esc.Decide(ee.EscalationID, rebound.Decision{Action: rebound.ActionApprove, By: "ana"})
	must(t, b.Run(context.Background(), id, wf))

	ps.resume()
	aErr := <-aDone
	if !errors.Is(aErr, checkpoint.ErrStaleEpoch) && !errors.Is(aErr, checkpoint.ErrLeaseLost) {
		t.Fatalf("the frozen worker: got %v, want ErrStaleEpoch or ErrLeaseLost", aErr)
	}
	if ids, _ := esc.Items(); len(ids) != 1 {
		t.Fatalf("%d escalations filed (%v), want 1: the stale worker filed one on a run that had moved on", len(ids), ids)
	}
	info, err := s.GetRun(context.Background(), id)
	must(t, err)
	if info.Status != checkpoint.StatusCompleted {
		t.Fatalf("run status %q, want completed", info.Status)
	}
}
