package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/checkpoint/checkpointtest"
	"github.com/rebound-go/rebound/store/sqlite"
)

func open(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "rebound.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	checkpointtest.Run(t, func(t *testing.T) checkpoint.Store { return open(t) }, checkpointtest.Hooks{
		DeleteMessage: func(t *testing.T, s checkpoint.Store, runID string, seq int64) {
			deleteMessage(t, s.(*sqlite.Store), runID, seq)
		},
	})
}

// deleteMessage deletes a message row of a run behind the store's back.
func deleteMessage(t *testing.T, s *sqlite.Store, runID string, seq int64) {
	t.Helper()
	res, err := s.DB().Exec(`DELETE FROM messages WHERE run_id = ? AND seq = ?`, runID, seq)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("run %q: %d rows of message %d deleted, want 1", runID, n, seq)
	}
}
