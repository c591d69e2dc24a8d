package main

import (
	"context"
	"errors"

	"github.com/rebound-go/rebound/escalate"
	"github.com/rebound-go/rebound/store/postgres"
)

// openPostgres opens a PostgreSQL store (runs and escalations in one database).
func openPostgres(ctx context.Context, d dsn) (*stores, error) {
	st, err := postgres.Open(ctx, d.target)
	if err != nil {
		return nil, err
	}
	items, ok := any(st).(escalate.Store)
	if !ok {
		st.Close()
		return nil, errors.New("this build's PostgreSQL store has no escalation queue yet")
	}
	return newStores(d, st, items, closerFunc(st.Close)), nil
}

// closerFunc adapts a Close without a result to io.Closer.
type closerFunc func()

func (f closerFunc) Close() error { f(); return nil }
