package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/store/postgres"
	"github.com/rebound-go/rebound/store/sqlite"
)

type result struct {
	name    string
	total   int64   // bytes, all steps
	perStep []int64 // bytes, each step
	elapsed time.Duration
}

type method struct {
	name   string
	record func(ctx context.Context, dir string, steps, size int) (result, error)
}

func methods(pgURL string) []method {
	ms := []method{
		{"naive JSON file (temp+fsync+rename)", recordNaive},
		{"rebound sqlite (WAL, synchronous=FULL)", recordSQLite},
	}
	if pgURL != "" {
		ms = append(ms, method{"rebound postgres (WAL)", func(ctx context.Context, dir string, steps, size int) (result, error) {
			return recordPostgres(ctx, pgURL, steps, size)
		}})
	}
	return ms
}

// message returns step i's message: size bytes of text that does not compress.
func message(i, size int) rebound.Message {
	const letters = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,"
	rng := rand.New(rand.NewPCG(uint64(i), 42))
	var b strings.Builder
	fmt.Fprintf(&b, "message %d: ", i)
	for b.Len() < size {
		b.WriteByte(letters[rng.IntN(len(letters))])
	}
	return rebound.Assistant(b.String())
}

// written returns the bytes this process has handed to write(2) so far (Linux).
func written() (int64, error) {
	f, err := os.Open("/proc/self/io")
	if err != nil {
		return 0, fmt.Errorf("read /proc/self/io (Linux only): %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "wchar: "); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("no wchar in /proc/self/io")
}

// naiveState is what a naive checkpointer keeps: everything, rewritten every step.
type naiveState struct {
	RunID    string            `json:"run_id"`
	Steps    []naiveStep       `json:"steps"`
	Messages []rebound.Message `json:"messages"`
}

type naiveStep struct {
	Name   string          `json:"name"`
	Result json.RawMessage `json:"result"`
}

func recordNaive(ctx context.Context, dir string, steps, size int) (result, error) {
	path := filepath.Join(dir, "run.json")
	st := naiveState{RunID: "bench"}
	var r result
	start := time.Now()
	for i := range steps {
		st.Messages = append(st.Messages, message(i, size))
		res, _ := json.Marshal(i)
		st.Steps = append(st.Steps, naiveStep{Name: fmt.Sprintf("s%d", i), Result: res})
		before, err := written()
		if err != nil {
			return r, err
		}
		if err := writeAtomic(dir, path, st); err != nil {
			return r, err
		}
		after, err := written()
		if err != nil {
			return r, err
		}
		r.account(i, steps, after-before)
	}
	r.elapsed = time.Since(start)
	return r, nil
}

func writeAtomic(dir, path string, st naiveState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "run-*.json.tmp")
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (r *result) account(i, steps int, b int64) {
	r.total += b
	r.perStep = append(r.perStep, b)
}

// median returns the median bytes of steps [from, to).
func (r *result) median(from, to int) int64 {
	s := slices.Clone(r.perStep[max(from, 0):min(to, len(r.perStep))])
	if len(s) == 0 {
		return 0
	}
	slices.Sort(s)
	return s[len(s)/2]
}

// recordJournal runs a workflow of steps steps through Rebound's Runner, each step adding one
// message, measuring each step with measure.
func recordJournal(ctx context.Context, s checkpoint.Store, steps, size int, measure func() (int64, error)) (result, error) {
	var r result
	runner := checkpoint.NewRunner(s, checkpoint.Config{})
	start := time.Now()
	err := runner.Run(ctx, fmt.Sprintf("bench-%d", time.Now().UnixNano()), func(ctx context.Context, run *checkpoint.Run) error {
		for i := range steps {
			before, err := measure()
			if err != nil {
				return err
			}
			if _, err := checkpoint.Step(ctx, run, fmt.Sprintf("s%d", i), func(ctx context.Context) (int, error) {
				return i, run.Append(ctx, message(i, size))
			}); err != nil {
				return err
			}
			after, err := measure()
			if err != nil {
				return err
			}
			r.account(i, steps, after-before)
		}
		return nil
	})
	r.elapsed = time.Since(start)
	return r, err
}

func recordSQLite(ctx context.Context, dir string, steps, size int) (result, error) {
	s, err := sqlite.Open(ctx, filepath.Join(dir, "rebound.db"))
	if err != nil {
		return result{}, err
	}
	defer s.Close()
	// SQLite's own checkpoints (copying the WAL into the database file) happen inside commits
	// and are counted with the step that triggers them; a final one is forced and added to the
	// total.
	r, err := recordJournal(ctx, s, steps, size, written)
	if err != nil {
		return r, err
	}
	before, _ := written()
	if _, err := s.DB().ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return r, err
	}
	after, _ := written()
	r.total += after - before
	return r, nil
}

func recordPostgres(ctx context.Context, url string, steps, size int) (result, error) {
	schema := fmt.Sprintf("rebound_bench_%d", os.Getpid())
	s, err := postgres.Open(ctx, url, postgres.WithSchema(schema))
	if err != nil {
		return result{}, err
	}
	defer s.Close()
	defer s.DropSchema(context.WithoutCancel(ctx))
	lsn := func() (int64, error) {
		var v int64
		err := s.Pool().QueryRow(ctx, `SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint`).Scan(&v)
		return v, err
	}
	return recordJournal(ctx, s, steps, size, lsn)
}
