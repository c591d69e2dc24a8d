package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/store/sqlite"
)

// While another connection holds the write lock (a paused worker), opening the store needs no
// write transaction when its schema is current, and a read-only open lists runs.
func TestOpenBesideAWriter(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rebound.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkpoint.NewRunner(s, checkpoint.Config{}).Run(ctx, "r1", func(ctx context.Context, run *checkpoint.Run) error {
		_, err := checkpoint.Step(ctx, run, "s", func(ctx context.Context) (int, error) { return 1, nil })
		return err
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	writer, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	conn, err := writer.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)

	rw, err := sqlite.Open(ctx, path, sqlite.WithBusyTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatalf("open beside a writer: %v", err)
	}
	rw.Close()
	ro, err := sqlite.Open(ctx, path, sqlite.WithReadOnly(), sqlite.WithBusyTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatalf("read-only open beside a writer: %v", err)
	}
	defer ro.Close()
	runs, err := ro.ListRuns(ctx, checkpoint.RunFilter{})
	if err != nil || len(runs) != 1 {
		t.Fatalf("read-only list beside a writer: %v, %v", runs, err)
	}
	if _, err := checkpoint.Get(ctx, ro, "r1"); err != nil {
		t.Fatalf("read-only get: %v", err)
	}
	// A read-only store refuses writes, naming the file.
	err = ro.WriteRun(ctx, checkpoint.Lease{RunID: "r1"}, checkpoint.Write{})
	if err == nil {
		t.Fatal("a read-only store accepted a write")
	}
}

// A read-only open of a database without Rebound's schema says it must be migrated first.
func TestReadOnlyNeedsMigratedSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "empty.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE other (x)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = sqlite.Open(ctx, path, sqlite.WithReadOnly())
	if err == nil || !strings.Contains(err.Error(), "read-write") || !strings.Contains(err.Error(), path) {
		t.Fatalf("read-only open of an unmigrated database: %v, want an error saying to open it read-write", err)
	}
}
