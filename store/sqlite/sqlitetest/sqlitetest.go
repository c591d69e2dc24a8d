// Package sqlitetest has helpers for the tests of programs that keep their runs in a SQLite
// store: a store with a finished run, and another process's write lock held beside it.
package sqlitetest

import (
	"context"
	"database/sql"
	"testing"

	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/store/sqlite"
)

// CreateWithRun creates the store at path holding one completed run, runID, of one step "s".
func CreateWithRun(t testing.TB, path, runID string) {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := checkpoint.NewRunner(s, checkpoint.Config{}).Run(ctx, runID, func(ctx context.Context, run *checkpoint.Run) error {
		_, err := checkpoint.Step(ctx, run, "s", func(ctx context.Context) (int, error) { return 1, nil })
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// HoldWriteLock takes the write lock of the database at path (BEGIN IMMEDIATE on a connection
// of its own), as a worker paused in the middle of a write holds it, until the test ends.
func HoldWriteLock(t testing.TB, path string) {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.ExecContext(ctx, `ROLLBACK`) })
}
