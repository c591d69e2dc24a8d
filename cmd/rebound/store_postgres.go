package main

import (
	"context"
	"fmt"
	"net/url"

	"github.com/rebound-go/rebound/store/postgres"
)

// openPostgres opens a PostgreSQL store (runs and escalations in one database). A "schema"
// query parameter (postgres://host/db?schema=rebound) keeps Rebound's tables in that schema
// instead of "public"; it is not passed to the server.
func openPostgres(ctx context.Context, d dsn) (*stores, error) {
	target, schema, err := splitSchema(d.target)
	if err != nil {
		return nil, err
	}
	var opts []postgres.Option
	if schema != "" {
		opts = append(opts, postgres.WithSchema(schema))
	}
	st, err := postgres.Open(ctx, target, opts...)
	if err != nil {
		return nil, err
	}
	return newStores(d, st, st, closerFunc(st.Close)), nil
}

// splitSchema takes the schema query parameter out of a PostgreSQL URL.
func splitSchema(raw string) (target, schema string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("parse the PostgreSQL URL: %w", err)
	}
	q := u.Query()
	schema = q.Get("schema")
	if schema == "" {
		return raw, "", nil
	}
	q.Del("schema")
	u.RawQuery = q.Encode()
	return u.String(), schema, nil
}

// closerFunc adapts a Close without a result to io.Closer.
type closerFunc func()

func (f closerFunc) Close() error { f(); return nil }
