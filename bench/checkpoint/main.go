// Command checkpoint compares what recording a long run costs in bytes written: the naive
// checkpoint (the whole state rewritten to a JSON file after every step, through a temporary
// file, fsync and rename) against Rebound's append-only journal on SQLite and, when
// TEST_DATABASE_URL is set, PostgreSQL.
//
//	go run ./checkpoint -steps 1000
//
// Bytes are what the process handed to write(2) (wchar in /proc/self/io) for the file and
// SQLite, and the server's WAL growth for PostgreSQL.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
)

func main() {
	steps := flag.Int("steps", 1000, "steps in the run")
	size := flag.Int("message", 2048, "bytes of the message each step adds")
	dir := flag.String("dir", "", "directory for the files (default: a temporary one)")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, *steps, *size, *dir, os.Getenv("TEST_DATABASE_URL")); err != nil {
		fmt.Fprintln(os.Stderr, "checkpoint:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, steps, size int, dir, pgURL string) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "rebound-bench-checkpoint-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	results := []result{}
	for _, m := range methods(pgURL) {
		r, err := m.record(ctx, dir, steps, size)
		if err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
		r.name = m.name
		results = append(results, r)
	}
	fmt.Fprintf(w, "recording a %d-step run, one %d-byte message per step\n\n", steps, size)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "method\ttotal written\tsteps 1-10 (median)\tlast 10 steps (median)\tratio\ttime\t")
	for _, r := range results {
		first, last := r.median(0, 10), r.median(steps-10, steps)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.1fx\t%s\t\n", r.name, human(r.total), human(first), human(last),
			float64(last)/float64(max(first, 1)), r.elapsed.Round(1e6))
	}
	return tw.Flush()
}

func human(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}
