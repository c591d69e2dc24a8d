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
	db       *sql.DB
	path     string
	readOnly bool
	busy     time.Duration
}

// Option configures Open.
type Option func(*options)

type options struct {
	busy        time.Duration
	synchronous string
	readOnly    bool
}

// WithReadOnly opens the database read-only, for commands that only read (listing runs and
// escalations): nothing is written, no migration is applied (a schema older than this version's
// is an error saying so), and a writer holding the write lock does not stop it (WAL readers
// read beside a writer). A file the user cannot write opens this way too, and so does one in a
// directory the user cannot write (where WAL reading would create the -wal and -shm files):
// when no process has the database open (there is no -wal file), it is read as an unchanging
// file (SQLite's immutable=1), so what another process writes after the open is not seen until
// the store is opened again. Every write of the store returns a *ReadOnlyError.
func WithReadOnly() Option { return func(o *options) { o.readOnly = true } }

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
// migrations not yet applied, in order. Whether any is missing is read first, without a write
// transaction, so that an open needing none does not wait for another process's write lock.
// The database runs in WAL mode with a busy timeout; every transaction is BEGIN IMMEDIATE, so
// writers queue instead of failing with SQLITE_BUSY at commit.
//
// A database this user cannot write (the file, or the directory that holds it, is read-only)
// is an error, a *ReadOnlyError naming what is read-only, unless WithReadOnly is given.
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
	s, err := open(path, o, false)
	if err != nil {
		return nil, err
	}
	// The schema version is checked with a plain read first: while another process holds the
	// write lock (a paused worker), an open that needs no migration must not queue behind it.
	missing, err := s.missingMigrations(ctx)
	if err != nil && o.readOnly && snapshotOnly(path, err) {
		// A directory this user cannot write, and no process has the database open: read the
		// file as it is.
		s.db.Close()
		if s, err = open(path, o, true); err != nil {
			return nil, err
		}
		missing, err = s.missingMigrations(ctx)
	}
	switch {
	case err != nil && o.readOnly:
		s.db.Close()
		return nil, fmt.Errorf("sqlite: open %q read-only: %w%s", path, err, cantOpenHint(path, err))
	case o.readOnly && len(missing) > 0:
		s.db.Close()
		return nil, fmt.Errorf("sqlite: open %q read-only: the database lacks migration %s of this version of rebound: open it once read-write (rebound serve, rebound demo) to migrate it", path, missing[0])
	case o.readOnly:
		return s, nil
	case err == nil && len(missing) == 0:
		if err := s.checkWritable(ctx, o.busy); err != nil {
			s.db.Close()
			return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
		}
		return s, nil
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		if ro := readOnlyCause(path, err); ro != nil {
			return nil, fmt.Errorf("sqlite: open %q: %w", path, ro)
		}
		return nil, fmt.Errorf("sqlite: open %q: %w%s", path, err, cantOpenHint(path, err))
	}
	return s, nil
}

// open opens the database handle the options describe; immutable opens a read-only store as an
// unchanging file (no -wal or -shm file, no locks).
func open(path string, o options, immutable bool) (*Store, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(o.busy.Milliseconds(), 10)+")")
	if o.readOnly {
		q.Set("mode", "ro")
		q.Set("_txlock", "deferred")
		if immutable {
			q.Set("immutable", "1")
		}
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous("+strings.ToUpper(o.synchronous)+")")
		q.Set("_txlock", "immediate")
	}
	q.Add("_pragma", "foreign_keys(1)")
	dsn := "file:" + uriPath.Replace(path) + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	if path == ":memory:" {
		db.SetMaxOpenConns(1) // every connection would be a database of its own
	}
	return &Store{db: db, path: path, readOnly: o.readOnly, busy: o.busy}, nil
}

// cantOpenHint names the files SQLite needs when err says it could not open one.
func cantOpenHint(path string, err error) string {
	if !strings.Contains(err.Error(), "unable to open") {
		return ""
	}
	return fmt.Sprintf(" (SQLite could not open %s or the -wal/-shm files beside it: reading a database in WAL mode needs write access to its directory, or existing %s-shm and %s-wal files)", path, path, path)
}

// missingMigrations returns the names of the embedded migrations the database has not applied,
// read without a write transaction.
func (s *Store) missingMigrations(ctx context.Context) ([]string, error) {
	ms, err := migrations.Load(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&n); err != nil {
		return nil, fmt.Errorf("read the schema: %w", err)
	}
	applied := map[int]bool{}
	if n > 0 {
		rows, err := s.db.QueryContext(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				return nil, err
			}
			applied[v] = true
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	var missing []string
	for _, m := range ms {
		if !applied[m.Version] {
			missing = append(missing, m.Name)
		}
	}
	return missing, nil
}

// uriPath escapes what SQLite would read as URI syntax in a file name: '?' (the query), '#' (a
// fragment) and '%' (an escape).
var uriPath = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// DB returns the database handle, for tools and tests.
func (s *Store) DB() *sql.DB { return s.db }

// tx runs fn in one immediate transaction, committing if fn returns nil. A write the database
// refuses as read-only is a *ReadOnlyError; a write lock not granted within the busy timeout
// says so, naming the file.
func (s *Store) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if s.readOnly {
		return &ReadOnlyError{Path: s.path, What: "the database file " + s.path}
	}
	err := s.tx1(ctx, fn)
	if ro := readOnlyCause(s.path, err); ro != nil {
		return ro
	}
	return busyCause(s.path, s.busy, err)
}

func (s *Store) tx1(ctx context.Context, fn func(tx *sql.Tx) error) error {
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
