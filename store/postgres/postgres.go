package postgres

import (
	"context"
	"embed"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rebound-go/rebound/store/internal/migrations"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Store is a checkpoint.Store (and, with package escalate's files, an escalate.Store) in a
// PostgreSQL schema, shared by a fleet of workers.
type Store struct {
	pool   *pgxpool.Pool
	schema string
}

// Option configures Open.
type Option func(*options)

type options struct {
	schema      string
	maxConns    int32
	lockTimeout time.Duration
	idleInTx    time.Duration
}

// WithLockTimeout sets PostgreSQL's lock_timeout for the store's sessions (default 10 s): a
// statement waiting longer for a lock (a run's row held by another session) fails instead of
// waiting as long as that session lasts. Zero or negative keeps the server's setting (or the
// DSN's, which always wins).
func WithLockTimeout(d time.Duration) Option { return func(o *options) { o.lockTimeout = d } }

// WithIdleInTransactionTimeout sets PostgreSQL's idle_in_transaction_session_timeout for the
// store's sessions (default 30 s): the server ends a session that stays idle inside a
// transaction longer (a worker stopped mid-write), releasing the locks it holds, so a stalled
// worker cannot keep a run unclaimable. Zero or negative keeps the server's setting (or the
// DSN's, which always wins).
func WithIdleInTransactionTimeout(d time.Duration) Option {
	return func(o *options) { o.idleInTx = d }
}

// WithSchema keeps Rebound's tables in the named schema (created if absent) instead of
// "public". Tests use a fresh schema each.
func WithSchema(name string) Option { return func(o *options) { o.schema = name } }

// WithMaxConns caps the connection pool (default pgxpool's: the greater of 4 and the CPUs).
func WithMaxConns(n int32) Option { return func(o *options) { o.maxConns = n } }

// Open connects to the database at dsn (a postgres:// URL or key=value string) and applies the
// embedded migrations not yet applied, in order, under an advisory lock so that workers starting
// together migrate once.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o := options{schema: "public", lockTimeout: 10 * time.Second, idleInTx: 30 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	if !validIdent(o.schema) {
		return nil, fmt.Errorf("postgres: schema name %q: use letters, digits and underscores", o.schema)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse DSN: %w", err)
	}
	// Quoted, as CREATE SCHEMA quotes it: unquoted, a mixed-case name would be folded to lower case
	// and the tables created nowhere.
	cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{o.schema}.Sanitize()
	for name, d := range map[string]time.Duration{"lock_timeout": o.lockTimeout, "idle_in_transaction_session_timeout": o.idleInTx} {
		if _, set := cfg.ConnConfig.RuntimeParams[name]; !set && d > 0 {
			cfg.ConnConfig.RuntimeParams[name] = strconv.FormatInt(max(d.Milliseconds(), 1), 10)
		}
	}
	if o.maxConns > 0 {
		cfg.MaxConns = o.maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	s := &Store{pool: pool, schema: o.schema}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open schema %q: %w", o.schema, err)
	}
	return s, nil
}

func validIdent(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Close closes the connection pool.
func (s *Store) Close() { s.pool.Close() }

// Pool returns the connection pool, for tools and tests.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Schema returns the schema the store's tables live in.
func (s *Store) Schema() string { return s.schema }

// tx runs fn in one transaction, committing if fn returns nil.
func (s *Store) tx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations.Load(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "rebound-migrate:"+s.schema); err != nil {
			return fmt.Errorf("lock migrations: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{s.schema}.Sanitize()); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		applied := map[int]bool{}
		versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		for _, v := range versions {
			applied[int(v)] = true
		}
		for _, m := range ms {
			if applied[m.Version] {
				continue
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %s: %w", m.Name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
				return fmt.Errorf("record migration %s: %w", m.Name, err)
			}
		}
		return nil
	})
}

// DropSchema drops the store's schema and everything in it. Tests call it in t.Cleanup.
func (s *Store) DropSchema(ctx context.Context) error {
	if s.schema == "public" {
		return fmt.Errorf("postgres: refusing to drop schema public")
	}
	_, err := s.pool.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{s.schema}.Sanitize()+` CASCADE`)
	return err
}

func utc(t time.Time) time.Time { return t.UTC() }
