package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/store/sqlite"
	"github.com/rebound-go/rebound/store/sqlite/sqlitetest"
)

// While another connection holds the write lock (a paused worker), opening the store needs no
// write transaction when its schema is current, and a read-only open lists runs.
func TestOpenBesideAWriter(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rebound.db")
	sqlitetest.CreateWithRun(t, path, "r1")
	sqlitetest.HoldWriteLock(t, path)

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
	var roErr *sqlite.ReadOnlyError
	if !errors.As(err, &roErr) || !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), path) {
		t.Fatalf("write of a read-only store: %v, want a *sqlite.ReadOnlyError naming %s", err, path)
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

// A write that waited out the busy timeout for another connection's write lock says so, naming
// the file.
func TestWriteBesideAWriterNamesTheLock(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rebound.db")
	sqlitetest.CreateWithRun(t, path, "r1")
	s, err := sqlite.Open(ctx, path, sqlite.WithBusyTimeout(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sqlitetest.HoldWriteLock(t, path)
	_, err = s.ClaimRun(ctx, checkpoint.ClaimRequest{RunID: "r2", Owner: "w", TTL: time.Minute})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "write lock") {
		t.Fatalf("write beside a held write lock: %v, want an error naming %s and the write lock", err, path)
	}
}
