package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/rebound-go/rebound/checkpoint/checkpointtest"
	"github.com/rebound-go/rebound/store/sqlite"
)

// BenchmarkRecordStep: time and bytes written to the WAL to record step n (2 KB messages).
// Bytes are the WAL frames (page + 24-byte header) the step's commits wrote; the pages are
// written once more into the main file at the next checkpoint.
func BenchmarkRecordStep(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "bench.db")
			s, err := sqlite.Open(context.Background(), path)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var pageSize int64
			if err := s.DB().QueryRow(`PRAGMA page_size`).Scan(&pageSize); err != nil {
				b.Fatal(err)
			}
			// No automatic checkpoint (it would restart the WAL mid-measure and hide the frames
			// written before it): one connection, so that the setting holds for every write.
			s.DB().SetMaxOpenConns(1)
			if _, err := s.DB().Exec(`PRAGMA wal_autocheckpoint = 0`); err != nil {
				b.Fatal(err)
			}
			// A passive checkpoint reports the frames in the WAL and, having copied them all,
			// lets the next transaction restart the WAL from its start: the frames it reports
			// after a step are the step's.
			written := func() int64 {
				var busy, frames, done int64
				if err := s.DB().QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &done); err != nil {
					b.Fatal(err)
				}
				return frames * (pageSize + 24)
			}
			checkpointtest.BenchmarkRecordStep(b, s, n, written)
		})
	}
}

// BenchmarkStepCommit: median and p99 latency of a durable write (synchronous=FULL).
func BenchmarkStepCommit(b *testing.B) {
	s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	checkpointtest.BenchmarkStepCommit(b, s)
}
