package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/checkpoint/checkpointtest"
	"github.com/rebound-go/rebound/store/postgres"
)

// databaseURL returns TEST_DATABASE_URL; without it the test is skipped, or fails under CI=true.
func databaseURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TEST_DATABASE_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TEST_DATABASE_URL is not set (required when CI=true)")
		}
		t.Skip("TEST_DATABASE_URL is not set")
	}
	return u
}

func freshSchema() string { return fmt.Sprintf("rbt_%d_%d", os.Getpid(), rand.Uint64()) }

// open returns a store in a fresh schema, dropped when the test ends.
func open(t testing.TB) *postgres.Store {
	t.Helper()
	ctx := context.Background()
	s, err := postgres.Open(ctx, databaseURL(t), postgres.WithSchema(freshSchema()), postgres.WithMaxConns(8))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.DropSchema(context.WithoutCancel(ctx)); err != nil {
			t.Errorf("drop schema %s: %v", s.Schema(), err)
		}
		s.Close()
	})
	return s
}

func TestConformance(t *testing.T) {
	checkpointtest.Run(t, func(t *testing.T) checkpoint.Store { return open(t) }, checkpointtest.Hooks{
		DeleteMessage: func(t *testing.T, s checkpoint.Store, runID string, seq int64) {
			deleteMessage(t, s.(*postgres.Store), runID, seq)
		},
	})
}

// deleteMessage deletes a message row of a run behind the store's back.
func deleteMessage(t *testing.T, s *postgres.Store, runID string, seq int64) {
	t.Helper()
	tag, err := s.Pool().Exec(context.Background(), `DELETE FROM messages WHERE run_id = $1 AND seq = $2`, runID, seq)
	if err != nil {
		t.Fatal(err)
	}
	if n := tag.RowsAffected(); n != 1 {
		t.Fatalf("run %q: %d rows of message %d deleted, want 1", runID, n, seq)
	}
}
