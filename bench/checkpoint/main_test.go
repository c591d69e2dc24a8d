package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestRun records a short run every way and checks the shape of the comparison: the naive
// file's per-step cost grows with the history, the journal's does not.
func TestRun(t *testing.T) {
	if _, err := written(); err != nil {
		t.Skip(err)
	}
	ctx := context.Background()
	const steps, size = 60, 2048
	dir := t.TempDir()
	naive, err := recordNaive(ctx, dir, steps, size)
	if err != nil {
		t.Fatal(err)
	}
	journal, err := recordSQLite(ctx, dir, steps, size)
	if err != nil {
		t.Fatal(err)
	}
	if n0, n1 := naive.median(0, 10), naive.median(steps-10, steps); n1 < 5*n0 {
		t.Errorf("naive: last steps write %d bytes, first %d: expected growth with the history", n1, n0)
	}
	if j0, j1 := journal.median(0, 10), journal.median(steps-10, steps); float64(j1) > 1.5*float64(j0) {
		t.Errorf("journal: last steps write %d bytes, first %d: expected a constant cost", j1, j0)
	}
	var out bytes.Buffer
	if err := run(ctx, &out, 20, size, dir, ""); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "naive JSON file") || !strings.Contains(out.String(), "rebound sqlite") {
		t.Errorf("output:\n%s", out.String())
	}
}
