package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	sqlitedriver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ReadOnlyError is a write this process cannot make: the store was opened WithReadOnly, or the
// database file, the directory that holds it (where SQLite keeps the -wal and -shm files of WAL
// mode), or its -shm file is read-only for this user. Open returns one for a database it could
// open only for reading; every write of a read-only store returns one. It matches
// fs.ErrPermission (errors.Is), so that a server can answer "read-only" without knowing SQLite.
type ReadOnlyError struct {
	// Path is the database file.
	Path string
	// What names what is read-only: "the database file /x/rebound.db", "the directory /x", ….
	What string
	// Err is SQLite's error, nil for a store opened WithReadOnly.
	Err error
}

func (e *ReadOnlyError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("sqlite: %s was opened read-only: it cannot be written", e.Path)
	}
	return fmt.Sprintf("sqlite: %s is read-only for this user: %v", e.What, e.Err)
}

func (e *ReadOnlyError) Unwrap() error { return e.Err }

// Is makes a ReadOnlyError match fs.ErrPermission.
func (e *ReadOnlyError) Is(target error) bool { return target == fs.ErrPermission }

// sqliteCode is the extended result code of SQLite's error in err's chain, 0 if there is none.
func sqliteCode(err error) int {
	var se *sqlitedriver.Error
	if !errors.As(err, &se) {
		return 0
	}
	return se.Code()
}

// readOnlyCause returns err as a *ReadOnlyError naming what is read-only when SQLite refused to
// write because of it (SQLITE_READONLY and its extended codes), nil otherwise.
func readOnlyCause(path string, err error) *ReadOnlyError {
	if ro := (*ReadOnlyError)(nil); errors.As(err, &ro) {
		return ro
	}
	code := sqliteCode(err)
	if code&0xff != sqlite3.SQLITE_READONLY {
		return nil
	}
	e := &ReadOnlyError{Path: path, What: "the database file " + path, Err: err}
	switch code {
	case sqlite3.SQLITE_READONLY_DIRECTORY:
		e.What = fmt.Sprintf("the directory %s, where SQLite keeps %s-wal and %s-shm beside the database,", filepath.Dir(path), path, path)
	case sqlite3.SQLITE_READONLY_CANTINIT, sqlite3.SQLITE_READONLY_RECOVERY, sqlite3.SQLITE_READONLY_CANTLOCK:
		e.What = fmt.Sprintf("%s-shm, the shared-memory file of the database %s,", path, path)
	}
	return e
}

// busyCause says which file was locked, and for how long it was waited for, when err is
// SQLITE_BUSY: another connection held the write lock past the busy timeout.
func busyCause(path string, busy time.Duration, err error) error {
	if sqliteCode(err)&0xff != sqlite3.SQLITE_BUSY {
		return err
	}
	return fmt.Errorf("sqlite: %s: another connection held the write lock for longer than the busy timeout (%s): %w", path, busy, err)
}

// checkWritable returns a *ReadOnlyError when this process cannot write the database. SQLite
// opens a file it may not write for reading only, without a word, and even grants it BEGIN
// IMMEDIATE; the first page written fails with SQLITE_READONLY. So the check writes the
// database's user_version, unchanged, and rolls back. With no busy timeout, a writer holding
// the lock answers SQLITE_BUSY at once instead of being waited for: the database is taken as
// writable, only busy now.
func (s *Store) checkWritable(ctx context.Context, busy time.Duration) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA busy_timeout = 0`); err != nil {
		return err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA busy_timeout = `+strconv.FormatInt(busy.Milliseconds(), 10))
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		if sqliteCode(err)&0xff == sqlite3.SQLITE_BUSY {
			return nil
		}
		if ro := readOnlyCause(s.path, err); ro != nil {
			return ro
		}
		return err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
	var v int64
	if err := conn.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, `PRAGMA user_version = `+strconv.FormatInt(v, 10))
	if ro := readOnlyCause(s.path, err); ro != nil {
		return ro
	}
	return err
}

// snapshotOnly reports whether a read-only open that failed with err can read the database as
// an unchanging snapshot (SQLite's immutable=1): the directory is read-only, so the -wal and
// -shm files WAL reading needs cannot be created, and there is no -wal file, so no process has
// the database open and its file holds every commit.
func snapshotOnly(path string, err error) bool {
	if sqliteCode(err) != sqlite3.SQLITE_READONLY_DIRECTORY {
		return false
	}
	_, serr := os.Stat(path + "-wal")
	return errors.Is(serr, fs.ErrNotExist)
}
