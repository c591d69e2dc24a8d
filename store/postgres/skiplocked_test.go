package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rebound-go/rebound/checkpoint"
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
	if !errors.As(err, &held) || held.Owner != "a" {
		t.Fatalf("claim of a locked run: %v, want a LeaseHeldError naming a (the lease has expired, but its row is taken)", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	c2, err := s.ClaimRun(ctx, checkpoint.ClaimRequest{RunID: "locked", Owner: "b", TTL: time.Minute})
	if err != nil || c2.Lease.Epoch != c.Lease.Epoch+1 {
		t.Fatalf("claim once the row is free: %+v, %v", c2, err)
	}
}
