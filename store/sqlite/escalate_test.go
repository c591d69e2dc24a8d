package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

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
