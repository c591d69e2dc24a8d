package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rebound-go/rebound/store/sqlite"
)

func TestOpenSettings(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		opts []sqlite.Option
		sync int
	}{
		{nil, 2}, // FULL by default
		{[]sqlite.Option{sqlite.WithSynchronous("normal")}, 1},
	} {
		s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "r.db"), tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var mode string
		var syncMode, busy, fk int
		db := s.DB()
		if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
			t.Fatal(err)
		}
		_ = db.QueryRow(`PRAGMA synchronous`).Scan(&syncMode)
		_ = db.QueryRow(`PRAGMA busy_timeout`).Scan(&busy)
		_ = db.QueryRow(`PRAGMA foreign_keys`).Scan(&fk)
		if mode != "wal" || syncMode != tc.sync || busy != 10000 || fk != 1 {
			t.Errorf("journal_mode %s synchronous %d busy_timeout %d foreign_keys %d; want wal %d 10000 1", mode, syncMode, busy, fk, tc.sync)
		}
	}
	if _, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "r.db"), sqlite.WithSynchronous("sometimes")); err == nil ||
		!strings.Contains(err.Error(), "sometimes") {
		t.Errorf("bad synchronous mode: got %v", err)
	}
}

// TestMigrationsOnce: processes (here, goroutines) opening a new file together apply every
// embedded migration once, in order.
func TestMigrationsOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "r.db")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := sqlite.Open(ctx, path)
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.DB().Query(`SELECT version, name FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	prev := 0
	for rows.Next() {
		var v int
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			t.Fatal(err)
		}
		if v <= prev {
			t.Fatalf("versions out of order: %d after %d", v, prev)
		}
		prev = v
		names = append(names, name)
	}
	if len(names) < 1 || names[0] != "0001_checkpoint.sql" {
		t.Fatalf("applied migrations: %v", names)
	}
}

// TestOpenPathWithURICharacters: a file name with characters of URI syntax opens that file,
// not a truncated name with the rest read as parameters.
func TestOpenPathWithURICharacters(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "runs #1 100%?x.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var mode string
	if err := s.DB().QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode %q, %v; want wal (the settings were lost)", mode, err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the database is not at %q: %v", path, err)
	}
}
