package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/rebound-go/rebound/store/sqlite/sqlitetest"
)

// While another process holds the store's write lock (a paused worker), the commands that only
// read still answer: they open the store read-only, without a write transaction.
func TestReadCommandsBesideAWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rebound.db")
	sqlitetest.CreateWithRun(t, path, "r1")
	sqlitetest.HoldWriteLock(t, path)

	store := "--store=sqlite:" + path
	for _, args := range [][]string{{"runs", "list"}, {"runs", "show", "r1"}, {"escalations", "list"}} {
		r := cli(t, nil, append(args, store)...)
		if r.code != 0 {
			t.Errorf("%s beside a writer: exit %d %s", strings.Join(args, " "), r.code, r.stderr)
		}
	}
}
