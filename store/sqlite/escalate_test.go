package sqlite_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/escalate"

	"github.com/rebound-go/rebound/escalate/escalatetest"
	"github.com/rebound-go/rebound/store/sqlite"
)

// openEscalateStore opens a fresh database file; Raw returns the bytes of the file and of its
// write-ahead log, as they are on disk.
func openEscalateStore(tb testing.TB) escalatetest.Harness {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "rebound.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return escalatetest.Harness{Store: s, Raw: func(context.Context) ([]byte, error) {
		var all []byte
		for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
			b, err := os.ReadFile(p)
			if err != nil && !os.IsNotExist(err) {
				return nil, err
			}
			all = append(all, b...)
		}
		return all, nil
	}}
}

func TestEscalateConformance(t *testing.T) {
	escalatetest.Run(t, openEscalateStore)
}

func BenchmarkEscalateClaimResolve(b *testing.B) {
	escalatetest.Bench(b, openEscalateStore)
}

func TestEscalateDurableRun(t *testing.T) {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "rebound.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	escalatetest.RunDurable(t, s)
}

// A damaged row is an error naming the item, never an empty or partial item.
func TestEscalateDamagedRecord(t *testing.T) {
	ctx := t.Context()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "rebound.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	q := escalate.NewQueue(s, escalate.Config{})
	good, err := q.Escalate(ctx, rebound.Escalation{RunID: "r-good", Step: "s"})
	if err != nil {
		t.Fatal(err)
	}
	for _, damage := range []string{`messages = '[{"role": '`, `class = 'no_such_class'`, `state = '{"half": '`} {
		id, err := q.Escalate(ctx, rebound.Escalation{RunID: "r-" + damage[:5], Step: "s",
			Messages: []rebound.Message{rebound.User("hi")}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.DB().ExecContext(ctx, `UPDATE escalations SET `+damage+` WHERE id = ?`, id); err != nil {
			t.Fatal(err)
		}
		_, err = q.Get(ctx, id)
		if err == nil || errors.Is(err, escalate.ErrNotFound) || !strings.Contains(err.Error(), id) {
			t.Errorf("%s: Get = %v, want an error naming %s", damage, err, id)
		}
		// One damaged row does not hide the queue: List shows the rest, and the damaged item
		// as damaged.
		items, err := q.List(ctx, escalate.Filter{})
		if err != nil || len(items) != 2 {
			t.Fatalf("%s: List = %d items, %v; want the good item and the damaged one", damage, len(items), err)
		}
		for _, it := range items {
			switch {
			case it.ID == good && it.Damaged != "":
				t.Errorf("%s: the good item is listed as damaged: %s", damage, it.Damaged)
			case it.ID == id && (it.Damaged == "" || it.RunID != "r-"+damage[:5]):
				t.Errorf("%s: the damaged item is listed as %+v", damage, it)
			}
		}
		if _, err := json.Marshal(items); err != nil {
			t.Errorf("%s: the listed items do not encode: %v", damage, err)
		}
		if _, err := s.DB().ExecContext(ctx, `DELETE FROM escalations WHERE id = ?`, id); err != nil {
			t.Fatal(err)
		}
	}
}
