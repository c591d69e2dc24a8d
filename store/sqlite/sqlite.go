package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the pure-Go driver, registered as "sqlite"

	"github.com/rebound-go/rebound/store/internal/migrations"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Store is a checkpoint.Store (and, with package escalate's files, an escalate.Store) in one
// SQLite database file.
type Store struct {
	db   *sql.DB
	path string
}

// Option configures Open.
type Option func(*options)

type options struct {
	busy        time.Duration
	synchronous string
}

// WithBusyTimeout sets how long a connection waits for another writer (default 10 s).
func WithBusyTimeout(d time.Duration) Option { return func(o *options) { o.busy = d } }

// WithSynchronous sets SQLite's synchronous mode: "FULL" (the default), "NORMAL" or "OFF".
//
// FULL syncs the write-ahead log on every commit: a committed step survives a power loss or an
// OS crash. NORMAL syncs only at checkpoints: a commit survives the process being killed
// (SIGKILL, a panic) but the last commits before a power loss may be lost, which for a run
// means steps re-executed after the crash (irreversible ones too, when their intent was among
// the lost commits), with the trade-off of several times faster commits on disks with slow
// fsync. OFF is for tests.
func WithSynchronous(mode string) Option { return func(o *options) { o.synchronous = mode } }

// Open opens (creating if needed) the SQLite database at path and applies the embedded
// migrations not yet applied, in order. The database runs in WAL mode with a busy timeout;
// every transaction is BEGIN IMMEDIATE, so writers queue instead of failing with SQLITE_BUSY
// at commit.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	o := options{busy: 10 * time.Second, synchronous: "FULL"}
	for _, opt := range opts {
		opt(&o)
	}
	switch strings.ToUpper(o.synchronous) {
	case "FULL", "NORMAL", "OFF", "EXTRA":
	default:
		return nil, fmt.Errorf("sqlite: open %q: unknown synchronous mode %q", path, o.synchronous)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(o.busy.Milliseconds(), 10)+")")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+strings.ToUpper(o.synchronous)+")")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	dsn := "file:" + uriPath.Replace(path) + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	if path == ":memory:" {
		db.SetMaxOpenConns(1) // every connection would be a database of its own
	}
	s := &Store{db: db, path: path}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	return s, nil
}

// uriPath escapes what SQLite would read as URI syntax in a file name: '?' (the query), '#' (a
// fragment) and '%' (an escape).
var uriPath = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// DB returns the database handle, for tools and tests.
func (s *Store) DB() *sql.DB { return s.db }

// tx runs fn in one immediate transaction, committing if fn returns nil.
func (s *Store) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations.Load(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		applied := map[int]bool{}
		rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return err
			}
			applied[v] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, m := range ms {
			if applied[m.Version] {
				continue
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %s: %w", m.Name, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.Version, m.Name, time.Now().UnixNano()); err != nil {
				return fmt.Errorf("record migration %s: %w", m.Name, err)
			}
		}
		return nil
	})
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
