package checkpoint_test

import (
	"testing"
	"time"

	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/checkpoint/checkpointtest"
)

func TestMemoryStore(t *testing.T) {
	checkpointtest.Run(t, func(t *testing.T) checkpoint.Store { return checkpoint.NewMemoryStore() }, checkpointtest.Hooks{
		DeleteMessage: func(t *testing.T, s checkpoint.Store, runID string, seq int64) {
			if !s.(*checkpoint.MemoryStore).DeleteMessageForTest(runID, seq) {
				t.Fatalf("run %q has no message %d to delete", runID, seq)
			}
		},
	})
}

// A write the store refuses changes nothing, even when its first records were acceptable.
func TestMemoryStoreWriteAtomic(t *testing.T) {
	ctx := t.Context()
	s := checkpoint.NewMemoryStore()
	c, err := s.ClaimRun(ctx, checkpoint.ClaimRequest{RunID: "r", Owner: "w", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	w := checkpoint.Write{Steps: []checkpoint.StepRecord{
		{Index: 0, Name: "a", Status: checkpoint.StepStarted, Version: checkpoint.RecordVersion},
		{Index: 5, Name: "f", Status: checkpoint.StepStarted, Version: checkpoint.RecordVersion},
	}}
	if err := s.WriteRun(ctx, c.Lease, w); err == nil {
		t.Fatal("a write with a step out of order was accepted")
	}
	rec, err := s.GetRun(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Steps) != 0 {
		t.Fatalf("a refused write left %d steps behind", len(rec.Steps))
	}
}
