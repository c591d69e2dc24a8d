package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/rebound-go/rebound/store/postgres"
)

// TestMigrationsOnce: workers opening a new schema together apply every embedded migration
// once, in order.
func TestMigrationsOnce(t *testing.T) {
	ctx := context.Background()
	url := databaseURL(t)
	schema := freshSchema()
	var wg sync.WaitGroup
	stores := make([]*postgres.Store, 4)
	errs := make([]error, 4)
	for i := range stores {
		wg.Go(func() {
			stores[i], errs[i] = postgres.Open(ctx, url, postgres.WithSchema(schema), postgres.WithMaxConns(2))
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, s := range stores {
			if s != nil {
				s.Close()
			}
		}
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = stores[0].DropSchema(context.WithoutCancel(ctx)) })
	rows, err := stores[0].Pool().Query(ctx, `SELECT version, name FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var v int32
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	if len(names) < 1 || names[0] != "0001_checkpoint.sql" {
		t.Fatalf("applied migrations: %v", names)
	}
}

func TestBadSchemaName(t *testing.T) {
	_, err := postgres.Open(context.Background(), "postgres://127.0.0.1:1/x", postgres.WithSchema("a; DROP TABLE x"))
	if err == nil || !strings.Contains(err.Error(), "schema name") {
		t.Fatalf("got %v, want a schema name error", err)
	}
}

// TestMixedCaseSchema: a schema name with capitals is used as written, for the schema and for
// the tables in it.
func TestMixedCaseSchema(t *testing.T) {
	ctx := context.Background()
	schema := "Rbt_Mixed_" + strings.TrimPrefix(freshSchema(), "rbt_")
	s, err := postgres.Open(ctx, databaseURL(t), postgres.WithSchema(schema), postgres.WithMaxConns(2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.DropSchema(context.WithoutCancel(ctx)); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		s.Close()
	})
	var n int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = $1`, schema).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatalf("no tables in schema %q", schema)
	}
}
