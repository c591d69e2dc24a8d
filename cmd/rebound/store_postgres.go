package main

import (
	"context"

	"github.com/rebound-go/rebound/store/postgres"
)

// openPostgres opens a PostgreSQL store (runs and escalations in one database).
func openPostgres(ctx context.Context, d dsn) (*stores, error) {
	st, err := postgres.Open(ctx, d.target)
	if err != nil {
		return nil, err
	}
	return newStores(d, st, st, closerFunc(st.Close)), nil
}

// closerFunc adapts a Close without a result to io.Closer.
type closerFunc func()

func (f closerFunc) Close() error { f(); return nil }
