package postgres_test

import (
	"context"
	"testing"

	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/checkpoint/checkpointtest"
	"github.com/rebound-go/rebound/store/postgres"
)

// TestMessageCountMigration: a schema written before migration 0004 counts the messages of its
// runs once migrated.
func TestMessageCountMigration(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	checkpointtest.MessageCountMigration(t, s, func(t *testing.T) checkpoint.Store {
		for _, q := range []string{`ALTER TABLE runs DROP COLUMN message_count`, `DELETE FROM schema_migrations WHERE version = 4`} {
			if _, err := s.Pool().Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		again, err := postgres.Open(ctx, databaseURL(t), postgres.WithSchema(s.Schema()), postgres.WithMaxConns(2))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(again.Close)
		return again
	}, checkpointtest.Hooks{DeleteMessage: func(t *testing.T, s checkpoint.Store, runID string, seq int64) {
		deleteMessage(t, s.(*postgres.Store), runID, seq)
	}})
}
