package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgresStore returns a --store flag for a fresh schema of TEST_DATABASE_URL, dropped when
// the test ends. Without the variable the test is skipped, except under CI=true.
func postgresStore(t *testing.T) string {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TEST_DATABASE_URL is not set (required when CI=true)")
		}
		t.Skip("TEST_DATABASE_URL is not set")
	}
	schema := fmt.Sprintf("cli_test_%d", time.Now().UnixNano())
	t.Cleanup(func() {
		ctx := context.WithoutCancel(t.Context())
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("schema", schema)
	u.RawQuery = q.Encode()
	return "--store=" + u.String()
}

func TestDemoOnPostgres(t *testing.T) {
	chdirTemp(t)
	store := postgresStore(t)
	mustCode(t, cli(t, nil, "demo", "--run-id", "pg1", "--faults", noFaults(t), store), exitEscalated, "demo")
	esc := escalationID(t, store)
	mustCode(t, cli(t, nil, "escalations", "resolve", esc, "--action", "approve", "--by", "alice", store), 0, "resolve")
	r := cli(t, nil, "runs", "resume", "pg1", store)
	mustCode(t, r, 0, "resume")
	if !strings.Contains(r.stdout, "Report: reports/pg1.md") {
		t.Errorf("resume:\n%s", r.stdout)
	}
}

func TestSplitSchema(t *testing.T) {
	target, schema, err := splitSchema("postgres://u@h:5432/db?sslmode=disable&schema=rb")
	if err != nil || schema != "rb" || target != "postgres://u@h:5432/db?sslmode=disable" {
		t.Errorf("splitSchema = %q, %q, %v", target, schema, err)
	}
	target, schema, err = splitSchema("postgres://u@h/db")
	if err != nil || schema != "" || target != "postgres://u@h/db" {
		t.Errorf("splitSchema without schema = %q, %q, %v", target, schema, err)
	}
}
