package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/rebound-go/rebound/checkpoint/checkpointtest"
)

// BenchmarkRecordStep: time and WAL bytes to record step n (2 KB messages). Bytes are the
// server's WAL position difference over the timed steps (pg_current_wal_insert_lsn), so other
// sessions writing to the same server at the same time inflate them.
func BenchmarkRecordStep(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			s := open(b)
			ctx := context.Background()
			var last int64 = -1
			written := func() int64 {
				var lsn int64
				if err := s.Pool().QueryRow(ctx, `SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint`).Scan(&lsn); err != nil {
					b.Fatal(err)
				}
				d := lsn - last
				if last < 0 {
					d = 0
				}
				last = lsn
				return d
			}
			checkpointtest.BenchmarkRecordStep(b, s, n, written)
		})
	}
}

// BenchmarkStepCommit: median and p99 latency of a durable write.
func BenchmarkStepCommit(b *testing.B) {
	checkpointtest.BenchmarkStepCommit(b, open(b))
}
