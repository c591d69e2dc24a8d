package main

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/store/sqlite"
)

// While another process holds the store's write lock (a paused worker), the commands that only
// read still answer: they open the store read-only, without a write transaction.
func TestReadCommandsBesideAWriter(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rebound.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkpoint.NewRunner(s, checkpoint.Config{}).Run(ctx, "r1", func(ctx context.Context, run *checkpoint.Run) error {
		_, err := checkpoint.Step(ctx, run, "s", func(ctx context.Context) (int, error) { return 1, nil })
		return err
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	writer, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	conn, err := writer.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)

	store := "--store=sqlite:" + path
	for _, args := range [][]string{{"runs", "list"}, {"runs", "show", "r1"}, {"escalations", "list"}} {
		r := cli(t, nil, append(args, store)...)
		if r.code != 0 {
			t.Errorf("%s beside a writer: exit %d %s", strings.Join(args, " "), r.code, r.stderr)
		}
	}
}
