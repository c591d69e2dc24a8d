// Package sqlite is Rebound's embedded store: durable runs (checkpoint.Store) and the
// escalation queue (escalate.Store) in one SQLite database file, through the pure-Go driver
// modernc.org/sqlite (no cgo).
//
//	store, err := sqlite.Open(ctx, "rebound.db")
//	runner := checkpoint.NewRunner(store, checkpoint.Config{})
//
// The database runs in WAL mode, so readers (the CLI, the dashboard) never block the writer;
// every transaction begins IMMEDIATE and waits up to the busy timeout (10 s by default) for
// another writer, so several goroutines and several processes on one machine can share the file
// without "database is locked" failures at commit.
//
// # Durability
//
// By default synchronous=FULL: the write-ahead log is synced on every commit, so a recorded step
// survives a power loss or an OS crash, not only the process being killed. That costs one fsync
// per commit (two per step: its intent and its result). WithSynchronous("NORMAL") syncs only at
// checkpoints: commits survive the process being killed, but the last commits before a power loss
// may be lost, which for a run means steps executed again after the machine comes back. That
// includes irreversible steps: when a step's intent is among the lost commits, nothing says it
// ever started, so it is not in doubt and runs again without escalation. Choose NORMAL only
// where that is acceptable and fsync is slow.
//
// # Migrations
//
// The schema lives in migrations/NNNN_name.sql, embedded in the binary and applied in order on
// Open, each once, recorded in the schema_migrations table, inside one immediate transaction so
// that processes opening the file together migrate it once.
//
// Open reads the schema version first, without a write transaction: while another process
// holds the write lock (a worker paused mid-write), an open that needs no migration does not
// queue behind it. WithReadOnly opens the file read-only (the CLI's runs list/show and
// escalations list/show do, and serve when the store cannot be written): it reads beside a
// writer, works on a file the user cannot write and in a directory the user cannot write, and
// never migrates; an error opening it names the file (and the -wal/-shm files WAL reading
// needs) that could not be opened or written.
//
// # Read-only files
//
// Open without WithReadOnly refuses a database this user cannot write with a *ReadOnlyError
// naming what is read-only (the file, its directory, its -shm file); it checks with a BEGIN
// IMMEDIATE that fails at once on a read-only file and does not wait for another process's
// lock. Every write of a store opened WithReadOnly, and any write SQLite refuses as read-only,
// returns a *ReadOnlyError too. It matches fs.ErrPermission, which is how the dashboard tells
// "the store is read-only" (503, the item stays open) from a failing store.
package sqlite
