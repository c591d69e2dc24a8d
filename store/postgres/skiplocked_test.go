package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/store/postgres"
)

// TestClaimSkipsLockedRun: a claim that finds the run's row locked by another worker's claim or
// write (here, an open transaction holding it) is told at once that the run is held, instead of
// queueing behind the lock.
func TestClaimSkipsLockedRun(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	c, err := s.ClaimRun(ctx, checkpoint.ClaimRequest{RunID: "locked", Owner: "a", TTL: -time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT 1 FROM runs WHERE id = 'locked' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = s.ClaimRun(cctx, checkpoint.ClaimRequest{RunID: "locked", Owner: "b", TTL: time.Minute})
	var held *checkpoint.LeaseHeldError
	if !errors.As(err, &held) || held.Owner != "a" || !held.Locked || !strings.Contains(err.Error(), "locked by another database session") {
		t.Fatalf("claim of a locked run: %v, want a LeaseHeldError saying the row is locked by another session (the lease, a's, has expired)", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	c2, err := s.ClaimRun(ctx, checkpoint.ClaimRequest{RunID: "locked", Owner: "b", TTL: time.Minute})
	if err != nil || c2.Lease.Epoch != c.Lease.Epoch+1 {
		t.Fatalf("claim once the row is free: %+v, %v", c2, err)
	}
}

// TestStalledSessionReleased: a session stopped inside a transaction holding a run's row (a
// worker paused mid-write) is ended by the server after the idle-in-transaction timeout, and the
// run can be claimed again.
func TestStalledSessionReleased(t *testing.T) {
	ctx := context.Background()
	s, err := postgres.Open(ctx, databaseURL(t), postgres.WithSchema(freshSchema()), postgres.WithIdleInTransactionTimeout(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.DropSchema(context.WithoutCancel(ctx))
		s.Close()
	})
	var lockTimeout string
	if err := s.Pool().QueryRow(ctx, `SHOW lock_timeout`).Scan(&lockTimeout); err != nil || lockTimeout != "10s" {
		t.Errorf("lock_timeout %q (%v), want the default 10s", lockTimeout, err)
	}
	if _, err := s.ClaimRun(ctx, checkpoint.ClaimRequest{RunID: "stalled", Owner: "a", TTL: -time.Second}); err != nil {
		t.Fatal(err)
	}
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT 1 FROM runs WHERE id = 'stalled' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	// The session now idles in its transaction, as a stopped worker's would.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s.ClaimRun(ctx, checkpoint.ClaimRequest{RunID: "stalled", Owner: "b", TTL: time.Minute})
		if err == nil {
			break
		}
		if !errors.Is(err, checkpoint.ErrLeaseHeld) || time.Now().After(deadline) {
			t.Fatalf("claim while a stalled session holds the row: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
