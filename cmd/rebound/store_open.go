package main

import (
	"context"
	"os"
	"path/filepath"

	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
	"github.com/rebound-go/rebound/store/sqlite"
)

// openDSN opens the store d names. A memory: store lives as long as the command.
func openDSN(ctx context.Context, d dsn) (*stores, error) {
	switch d.kind {
	case "memory":
		return newStores(d, checkpoint.NewMemoryStore(), escalate.NewMemoryStore(), nil), nil
	case "sqlite":
		if dir := filepath.Dir(d.target); dir != "" {
			if _, err := os.Stat(dir); err != nil {
				return nil, err // a missing directory is a mistake in the path, not a reason to create one
			}
		}
		st, err := sqlite.Open(ctx, d.target)
		if err != nil {
			return nil, err
		}
		return newStores(d, st, st, st), nil
	case "postgres":
		return openPostgres(ctx, d)
	}
	return nil, usagef("unknown store kind %q", d.kind)
}

// openDSNReadOnly opens the store d names for reading only (a SQLite file read-only; the other
// kinds as openDSN does).
func openDSNReadOnly(ctx context.Context, d dsn) (*stores, error) {
	if d.kind != "sqlite" {
		return openDSN(ctx, d)
	}
	st, err := sqlite.Open(ctx, d.target, sqlite.WithReadOnly())
	if err != nil {
		return nil, err
	}
	return newStores(d, st, st, st), nil
}

func newStores(d dsn, runs checkpoint.Store, items escalate.Store, closer interface{ Close() error }) *stores {
	return &stores{dsn: d, runs: runs, queue: escalate.NewQueue(items, escalate.Config{}), closer: closer}
}
