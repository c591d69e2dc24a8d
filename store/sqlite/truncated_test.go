package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/checkpoint/checkpointtest"
	"github.com/rebound-go/rebound/store/sqlite"
)

// A run's last step row deleted while the run still counts it: resuming must report the damage,
// not run the irreversible step again.
func TestTruncatedJournalIsCorrupt(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	ran := 0
	wf := func(ctx context.Context, run *checkpoint.Run) error {
		if _, err := checkpoint.Step(ctx, run, "draft", func(ctx context.Context) (string, error) { return "text", nil }); err != nil {
			return err
		}
		_, err := checkpoint.Step(ctx, run, "publish", func(ctx context.Context) (string, error) {
			ran++
			return "published", nil
		}, checkpoint.Irreversible())
		return err
	}
	r := checkpoint.NewRunner(s, checkpoint.Config{})
	if err := r.Run(ctx, "trunc", wf); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `DELETE FROM steps WHERE run_id = 'trunc' AND idx = 1`); err != nil {
		t.Fatal(err)
	}
	err := r.Run(ctx, "trunc", wf)
	var ce *checkpoint.CorruptError
	if !errors.As(err, &ce) || ce.Step != "publish" {
		t.Fatalf("resume over a truncated journal: got %v, want a CorruptError naming step publish", err)
	}
	if ran != 1 {
		t.Fatalf("the irreversible step ran %d times, want 1", ran)
	}
	if _, err := checkpoint.Get(ctx, s, "trunc"); !errors.Is(err, checkpoint.ErrCorrupt) {
		t.Fatalf("Get: got %v, want ErrCorrupt", err)
	}
}

// TestMessageCountMigration: a database written before migration 0004 counts the messages
// of its runs once migrated.
func TestMessageCountMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rebound.db")
	reopen := func(t *testing.T) *sqlite.Store {
		s, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	s := reopen(t)
	checkpointtest.MessageCountMigration(t, s, func(t *testing.T) checkpoint.Store {
		for _, q := range []string{`ALTER TABLE runs DROP COLUMN message_count`, `DELETE FROM schema_migrations WHERE version = 4`} {
			if _, err := s.DB().Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
		return reopen(t)
	}, checkpointtest.Hooks{DeleteMessage: func(t *testing.T, s checkpoint.Store, runID string, seq int64) {
		deleteMessage(t, s.(*sqlite.Store), runID, seq)
	}})
}
