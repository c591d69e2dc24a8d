package checkpoint_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestHeartbeatKeepsLease: a step longer than the lease keeps the run, because the heartbeat
// renews it; another worker is refused throughout, with the owner and a future expiry.
func TestHeartbeatKeepsLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s := checkpoint.NewMemoryStore()
		a := checkpoint.NewRunner(s, checkpoint.Config{Owner: "a", LeaseTTL: 30 * time.Second})
		b := checkpoint.NewRunner(s, checkpoint.Config{Owner: "b"})
		started := make(chan struct{})
		done := make(chan error)
		go func() {
			done <- a.Run(ctx, "long", func(ctx context.Context, run *checkpoint.Run) error {
				_, err := checkpoint.Step(ctx, run, "slow", func(ctx context.Context) (int, error) {
					close(started)
					time.Sleep(5 * time.Minute)
					return 1, nil
				})
				return err
			})
		}()
		<-started
		for range 9 {
			time.Sleep(31 * time.Second)
			err := b.Run(ctx, "long", func(ctx context.Context, run *checkpoint.Run) error { return nil })
			var held *checkpoint.LeaseHeldError
			if !errors.As(err, &held) || held.Owner != "a" || !held.Expires.After(time.Now()) {
				t.Fatalf("at %v: got %v, want the lease held by a", time.Now(), err)
			}
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// flakyRenew fails every renewal, as a store the worker can no longer reach would.
type flakyRenew struct{ checkpoint.Store }

func (f flakyRenew) RenewRun(ctx context.Context, l checkpoint.Lease, ttl time.Duration) (checkpoint.Lease, error) {
	return checkpoint.Lease{}, errors.New("connection refused")
}

// TestLeaseLostStopsRun: a worker that cannot renew its lease stops the step once the lease has
// expired, instead of running on while another worker may take over.
func TestLeaseLostStopsRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := flakyRenew{checkpoint.NewMemoryStore()}
		r := checkpoint.NewRunner(s, checkpoint.Config{LeaseTTL: 30 * time.Second})
		var stepErr error
		err := r.Run(context.Background(), "cut-off", func(ctx context.Context, run *checkpoint.Run) error {
			_, err := checkpoint.Step(ctx, run, "wait", func(ctx context.Context) (int, error) {
				<-ctx.Done()
				stepErr = context.Cause(ctx)
				return 0, ctx.Err()
			})
			return err
		})
		if !errors.Is(err, checkpoint.ErrLeaseLost) || !errors.Is(stepErr, checkpoint.ErrLeaseLost) {
			t.Fatalf("run: %v; step's cause: %v; want ErrLeaseLost", err, stepErr)
		}
	})
}

// TestTakenOverMidStep: when another worker takes the run over, the heartbeat notices and
// cancels the step; nothing of the stale worker lands.
func TestTakenOverMidStep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s := checkpoint.NewMemoryStore()
		r := checkpoint.NewRunner(s, checkpoint.Config{Owner: "old", LeaseTTL: 30 * time.Second})
		err := r.Run(ctx, "stolen", func(ctx context.Context, run *checkpoint.Run) error {
			_, err := checkpoint.Step(ctx, run, "wait", func(ctx context.Context) (int, error) {
				if _, err := s.ClaimRun(ctx, checkpoint.ClaimRequest{RunID: "stolen", Owner: "new", TTL: time.Hour,
					TakeOver: &checkpoint.Lease{RunID: "stolen", Owner: "old"}}); err != nil {
					return 0, err
				}
				<-ctx.Done()
				return 0, context.Cause(ctx)
			})
			return err
		})
		var stale *checkpoint.StaleEpochError
		if !errors.As(err, &stale) || stale.Owner != "new" {
			t.Fatalf("got %v, want a StaleEpochError naming the new owner", err)
		}
		rec, err := s.GetRun(ctx, "stolen")
		if err != nil {
			t.Fatal(err)
		}
		if rec.Status != checkpoint.StatusRunning || rec.Steps[0].Status != checkpoint.StepStarted {
			t.Fatalf("the stale worker wrote: run %s, step %s", rec.Status, rec.Steps[0].Status)
		}
	})
}

// TestCanceledRun: a run whose context ends is recorded as canceled and resumes later.
func TestCanceledRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := checkpoint.NewMemoryStore()
		r := checkpoint.NewRunner(s, checkpoint.Config{})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		wf := func(ctx context.Context, run *checkpoint.Run) error {
			_, err := checkpoint.Step(ctx, run, "wait", func(ctx context.Context) (int, error) {
				select {
				case <-ctx.Done():
					return 0, ctx.Err()
				case <-time.After(time.Hour):
					return 1, nil
				}
			})
			return err
		}
		if err := r.Run(ctx, "c", wf); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v", err)
		}
		rec, _ := s.GetRun(context.Background(), "c")
		if rec.Status != checkpoint.StatusCanceled || rec.Steps[0].Class != rebound.ClassCanceled.String() {
			t.Fatalf("status %s class %s, want canceled", rec.Status, rec.Steps[0].Class)
		}
		if err := r.Run(context.Background(), "c", wf); err != nil {
			t.Fatal(err)
		}
	})
}

// TestEvents: the run and step events, in order, through Config.Hook.
func TestEvents(t *testing.T) {
	var got []string
	hook := func(ctx context.Context, e rebound.Event) {
		got = append(got, string(e.Kind)+":"+e.Step)
		if e.RunID != "ev" {
			t.Errorf("event %s without the run ID", e.Kind)
		}
	}
	s := checkpoint.NewMemoryStore()
	r := checkpoint.NewRunner(s, checkpoint.Config{Hook: hook})
	fail := true
	wf := func(ctx context.Context, run *checkpoint.Run) error {
		for _, name := range []string{"a", "b"} {
			if _, err := checkpoint.Step(ctx, run, name, func(ctx context.Context) (int, error) {
				if name == "b" && fail {
					return 0, errors.New("no")
				}
				return 1, nil
			}); err != nil {
				return err
			}
		}
		return nil
	}
	_ = r.Run(context.Background(), "ev", wf)
	fail = false
	_ = r.Run(context.Background(), "ev", wf)
	want := "[run_started: step_started:a step_completed:a step_started:b run_failed: " +
		"run_resumed: step_skipped:a step_started:b step_completed:b run_completed:]"
	if g := fmtList(got); g != want {
		t.Fatalf("events\n%s\nwant\n%s", g, want)
	}
}

func fmtList(s []string) string {
	out := "["
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out + "]"
}

// TestObserveWrite: every durable write is timed: the intent and the result of each step, and
// the final status.
func TestObserveWrite(t *testing.T) {
	var n int
	r := checkpoint.NewRunner(checkpoint.NewMemoryStore(), checkpoint.Config{ObserveWrite: func(d time.Duration) {
		if d < 0 {
			t.Errorf("negative duration %v", d)
		}
		n++
	}})
	err := r.Run(context.Background(), "timed", func(ctx context.Context, run *checkpoint.Run) error {
		for _, name := range []string{"a", "b"} {
			if _, err := checkpoint.Step(ctx, run, name, func(ctx context.Context) (int, error) { return 1, nil }); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Fatalf("%d writes observed, want 5", n)
	}
}

// TestNoEscalator: without an Escalator, a step that needs approval fails the run, clearly,
// without running.
func TestNoEscalator(t *testing.T) {
	r := checkpoint.NewRunner(checkpoint.NewMemoryStore(), checkpoint.Config{})
	ran := false
	err := r.Run(context.Background(), "no-esc", func(ctx context.Context, run *checkpoint.Run) error {
		_, err := checkpoint.Step(ctx, run, "pay", func(ctx context.Context) (int, error) { ran = true; return 1, nil },
			checkpoint.NeedsApproval())
		return err
	})
	if err == nil || errors.Is(err, checkpoint.ErrEscalated) || ran {
		t.Fatalf("got %v (ran %v), want a failure without running", err, ran)
	}
}
