// Package postgres is Rebound's fleet store: durable runs (checkpoint.Store) and the escalation
// queue (escalate.Store) in a PostgreSQL schema, through pgx v5, shared by many workers on many
// machines.
//
//	store, err := postgres.Open(ctx, os.Getenv("DATABASE_URL"), postgres.WithSchema("rebound"))
//	defer store.Close()
//	runner := checkpoint.NewRunner(store, checkpoint.Config{})
//
// A claim locks the run's row with FOR UPDATE SKIP LOCKED: a worker that finds the row locked by
// another worker's claim or write is told at once that the run is held, instead of queueing
// behind it: the *checkpoint.LeaseHeldError then says the row is locked by another session
// (Locked). Rebound's sessions set lock_timeout (10 s, WithLockTimeout) and
// idle_in_transaction_session_timeout (30 s, WithIdleInTransactionTimeout), unless the DSN sets
// them: a worker stopped in the middle of a transaction (SIGSTOP, a frozen VM) has its session
// ended by the server and its row locks released, so it cannot keep a run unclaimable for as
// long as its connection lasts. Every write is fenced by the lease's epoch (a conditional update of the run's row
// in the same transaction), so a worker whose lease was taken over cannot land a write. Lease
// expiry is computed with the workers' clocks, which must agree to well within the lease TTL
// (NTP does).
//
// The schema lives in migrations/NNNN_name.sql, embedded and applied in order on Open, each once,
// recorded in schema_migrations, under a transaction-scoped advisory lock so that workers starting
// together migrate once. WithSchema keeps the tables in a schema of their own (created if
// absent); tests use a fresh one each and drop it (DropSchema).
package postgres
