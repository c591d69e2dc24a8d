package checkpointtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rebound-go/rebound/checkpoint"
)

func testConcurrentOneRun(t *testing.T, s checkpoint.Store) {
	ctx := context.Background()
	id := runID(t)
	var calls counter
	broken := false
	const workers = 6
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Go(func() {
			r := checkpoint.NewRunner(s, checkpoint.Config{Owner: fmt.Sprintf("worker-%d", w)})
			errs[w] = r.Run(ctx, id, linear(20, &calls, -1, &broken))
		})
	}
	wg.Wait()
	completed := 0
	for w, err := range errs {
		switch {
		case err == nil:
			completed++
		case errors.Is(err, checkpoint.ErrLeaseHeld):
			var held *checkpoint.LeaseHeldError
			if !errors.As(err, &held) || held.Owner == "" || held.RunID != id {
				t.Errorf("worker %d: lease error without owner: %v", w, err)
			}
		default:
			t.Errorf("worker %d: %v", w, err)
		}
	}
	if completed == 0 {
		t.Fatal("no worker completed the run")
	}
	for i := range 20 {
		if got := calls.get(fmt.Sprintf("s%d", i)); got != 1 {
			t.Errorf("step s%d ran %d times with %d concurrent workers, want 1", i, got, workers)
		}
	}
}

func testConcurrentRuns(t *testing.T, s checkpoint.Store) {
	ctx := context.Background()
	r := checkpoint.NewRunner(s, checkpoint.Config{})
	const runs = 8
	var wg sync.WaitGroup
	counters := make([]counter, runs)
	errs := make([]error, runs)
	broken := false
	for i := range runs {
		wg.Go(func() {
			errs[i] = r.Run(ctx, fmt.Sprintf("%s-%d", runID(t), i), linear(15, &counters[i], -1, &broken))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("run %d: %v", i, err)
		}
		for j := range 15 {
			if got := counters[i].get(fmt.Sprintf("s%d", j)); got != 1 {
				t.Errorf("run %d step s%d ran %d times", i, j, got)
			}
		}
	}
	infos, err := s.ListRuns(ctx, checkpoint.RunFilter{Status: []checkpoint.Status{checkpoint.StatusCompleted}})
	must(t, err)
	if len(infos) != runs {
		t.Fatalf("%d completed runs listed, want %d", len(infos), runs)
	}
}

func testStaleEpoch(t *testing.T, s checkpoint.Store) {
	ctx := context.Background()
	id := runID(t)
	a, err := s.ClaimRun(ctx, checkpoint.ClaimRequest{RunID: id, Owner: "a", TTL: -time.Second})
	must(t, err)
	if !a.Created || a.Lease.Epoch != 1 {
		t.Fatalf("first claim: created %v epoch %d", a.Created, a.Lease.Epoch)
	}
	b, err := s.ClaimRun(ctx, checkpoint.ClaimRequest{RunID: id, Owner: "b", TTL: time.Minute})
	must(t, err)
	if b.Created || b.Lease.Epoch != 2 {
		t.Fatalf("take-over claim: created %v epoch %d", b.Created, b.Lease.Epoch)
	}
	rec := checkpoint.StepRecord{Index: 0, Name: "x", Status: checkpoint.StepStarted, Version: checkpoint.RecordVersion}
	err = s.WriteRun(ctx, a.Lease, checkpoint.Write{Steps: []checkpoint.StepRecord{rec}})
	var stale *checkpoint.StaleEpochError
	if !errors.As(err, &stale) || stale.Epoch != 1 || stale.Current != 2 || stale.Owner != "b" || stale.RunID != id {
		t.Fatalf("write with the stale epoch: got %v, want StaleEpochError{epoch 1, now 2, owner b}", err)
	}
	if _, err := s.RenewRun(ctx, a.Lease, time.Minute); !errors.Is(err, checkpoint.ErrStaleEpoch) {
		t.Fatalf("renew with the stale epoch: got %v", err)
	}
	got, err := s.GetRun(ctx, id)
	must(t, err)
	if len(got.Steps) != 0 {
		t.Fatalf("the refused write landed: %+v", got.Steps)
	}
	must(t, s.WriteRun(ctx, b.Lease, checkpoint.Write{Steps: []checkpoint.StepRecord{rec}}))
	nl, err := s.RenewRun(ctx, b.Lease, time.Hour)
	must(t, err)
	if !nl.Expires.After(b.Lease.Expires) {
		t.Errorf("renewal did not extend the lease: %v -> %v", b.Lease.Expires, nl.Expires)
	}
}

// testStaleWorker: a worker whose lease is taken over while its step runs cannot record the
// step, and Run says why.
func testStaleWorker(t *testing.T, s checkpoint.Store) {
	ctx := context.Background()
	id := runID(t)
	r := checkpoint.NewRunner(s, checkpoint.Config{Owner: "slow"})
	err := r.Run(ctx, id, func(ctx context.Context, run *checkpoint.Run) error {
		_, err := checkpoint.Step(ctx, run, "slow", func(ctx context.Context) (int, error) {
			// Meanwhile another worker takes the run over.
			_, err := s.ClaimRun(ctx, checkpoint.ClaimRequest{RunID: id, Owner: "fast", TTL: time.Minute,
				TakeOver: &checkpoint.Lease{RunID: id, Owner: "slow"}})
			return 1, err
		})
		return err
	})
	if !errors.Is(err, checkpoint.ErrStaleEpoch) {
		t.Fatalf("got %v, want ErrStaleEpoch", err)
	}
	got, err := s.GetRun(ctx, id)
	must(t, err)
	if got.Owner != "fast" || got.Steps[0].Status != checkpoint.StepStarted {
		t.Fatalf("owner %q, step %q: the stale worker's result landed", got.Owner, got.Steps[0].Status)
	}
}

func testLeaseHeld(t *testing.T, s checkpoint.Store) {
	ctx := context.Background()
	id := runID(t)
	a, err := s.ClaimRun(ctx, checkpoint.ClaimRequest{RunID: id, Owner: "elsewhere/1", TTL: time.Hour})
	must(t, err)
	r := checkpoint.NewRunner(s, checkpoint.Config{})
	ran := false
	err = r.Run(ctx, id, func(ctx context.Context, run *checkpoint.Run) error { ran = true; return nil })
	var held *checkpoint.LeaseHeldError
	if !errors.As(err, &held) || held.Owner != "elsewhere/1" || held.Expires.Sub(a.Lease.Expires).Abs() > time.Millisecond {
		t.Fatalf("got %v, want LeaseHeldError naming elsewhere/1 until %v", err, a.Lease.Expires)
	}
	if ran {
		t.Fatal("the workflow ran under a live lease of another worker")
	}
	// Released, the run is free at once.
	must(t, s.WriteRun(ctx, a.Lease, checkpoint.Write{Release: true}))
	must(t, r.Run(ctx, id, func(ctx context.Context, run *checkpoint.Run) error { return nil }))
}

func testTakeOver(t *testing.T, s checkpoint.Store) {
	ctx := context.Background()
	id := runID(t)
	// A worker on another host crashed after recording step 0; its lease has expired.
	a, err := s.ClaimRun(ctx, checkpoint.ClaimRequest{RunID: id, Owner: "other-host/42", TTL: time.Hour})
	must(t, err)
	res := []byte("7")
	must(t, s.WriteRun(ctx, a.Lease, checkpoint.Write{Steps: []checkpoint.StepRecord{{Index: 0, Name: "s0",
		Status: checkpoint.StepCompleted, Version: checkpoint.RecordVersion, Result: res, Checksum: sum(res)}}}))
	r := checkpoint.NewRunner(s, checkpoint.Config{})
	if err := r.Run(ctx, id, func(ctx context.Context, run *checkpoint.Run) error { return nil }); !errors.Is(err, checkpoint.ErrLeaseHeld) {
		t.Fatalf("before expiry: got %v, want ErrLeaseHeld", err)
	}
	// Expire it (a renewal to the past), as time would.
	_, err = s.RenewRun(ctx, a.Lease, -time.Second)
	must(t, err)
	var got int
	must(t, r.Run(ctx, id, func(ctx context.Context, run *checkpoint.Run) error {
		v, err := checkpoint.Step(ctx, run, "s0", func(ctx context.Context) (int, error) {
			t.Error("a recorded step ran again after take-over")
			return 0, nil
		})
		got = v
		return err
	}))
	if got != 7 {
		t.Fatalf("step s0 returned %d after take-over, want the recorded 7", got)
	}
	info, err := s.GetRun(ctx, id)
	must(t, err)
	if info.Epoch != 2 || info.Owner != r.Owner() {
		t.Fatalf("after take-over: epoch %d owner %q", info.Epoch, info.Owner)
	}
}

func testDeadOwner(t *testing.T, s checkpoint.Store) {
	ctx := context.Background()
	id := runID(t)
	_, err := s.ClaimRun(ctx, checkpoint.ClaimRequest{RunID: id, Owner: deadOwner(t), TTL: time.Hour})
	must(t, err)
	r := checkpoint.NewRunner(s, checkpoint.Config{})
	must(t, r.Run(ctx, id, func(ctx context.Context, run *checkpoint.Run) error { return nil }))
	// An owner on this host that is alive (this process, under another runner) is respected.
	id2 := id + "-live"
	_, err = s.ClaimRun(ctx, checkpoint.ClaimRequest{RunID: id2, Owner: r.Owner(), TTL: time.Hour})
	must(t, err)
	if err := r.Run(ctx, id2, func(ctx context.Context, run *checkpoint.Run) error { return nil }); !errors.Is(err, checkpoint.ErrLeaseHeld) {
		t.Fatalf("live owner on this host: got %v, want ErrLeaseHeld", err)
	}
}
