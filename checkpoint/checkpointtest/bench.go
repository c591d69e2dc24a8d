package checkpointtest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
)

// MessageSize is the size of each message in the benchmarks.
const MessageSize = 2048

// benchMessage returns a message of MessageSize bytes of text that does not compress (a
// database that compresses large values would otherwise flatter itself).
func benchMessage(i int) rebound.Message {
	const letters = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,"
	rng := rand.New(rand.NewPCG(uint64(i), 42))
	var b strings.Builder
	fmt.Fprintf(&b, "message %d: ", i)
	for b.Len() < MessageSize {
		b.WriteByte(letters[rng.IntN(len(letters))])
	}
	return rebound.Assistant(b.String())
}

// prefill records a run of n completed steps, each with one message, in one write.
func prefill(b *testing.B, s checkpoint.Store, id string, n int) {
	b.Helper()
	ctx := context.Background()
	c, err := s.ClaimRun(ctx, checkpoint.ClaimRequest{RunID: id, Owner: "prefill", TTL: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	var w checkpoint.Write
	now := time.Now()
	for i := range n {
		res, _ := json.Marshal(i)
		w.Steps = append(w.Steps, checkpoint.StepRecord{Index: i, Name: fmt.Sprintf("s%d", i), Status: checkpoint.StepCompleted,
			Key: fmt.Sprintf("k%d", i), Version: checkpoint.RecordVersion, Result: res, Checksum: sum(res),
			Executions: 1, StartedAt: now, FinishedAt: now})
		body, _ := json.Marshal(benchMessage(i))
		w.Messages = append(w.Messages, checkpoint.MessageRecord{Seq: int64(i), Step: i, Version: checkpoint.RecordVersion, Body: body, Checksum: sum(body)})
	}
	w.Run = &checkpoint.RunUpdate{Status: checkpoint.StatusRunning, LastStep: fmt.Sprintf("s%d", n-1), StepCount: n, AttemptCount: n}
	w.Release = true
	if err := s.WriteRun(ctx, c.Lease, w); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRecordStep measures recording step n of a run whose steps each added a 2 KB
// message: the time per step (its intent and its result with the message, two durable commits,
// through the Runner) and, when written is not nil, the bytes the store wrote per step (written
// reports the bytes written since its previous call). The run has n-1 steps recorded beforehand
// (claiming it and replaying them is not timed); the b.N timed steps are steps n, n+1, ...: run
// with a -benchtime of a few hundred iterations (200x). Fewer measure mostly the database
// absorbing the prefill, written as one large transaction: on PostgreSQL the first few tens of
// steps after a 1,000-step prefill took several times as long as the steady state.
func BenchmarkRecordStep(b *testing.B, s checkpoint.Store, n int, written func() int64) {
	b.StopTimer()
	ctx := context.Background()
	r := checkpoint.NewRunner(s, checkpoint.Config{})
	id := fmt.Sprintf("bench-%d-%d", n, time.Now().UnixNano())
	prefill(b, s, id, n-1)
	var bytes int64
	b.ReportAllocs()
	err := r.Run(ctx, id, func(ctx context.Context, run *checkpoint.Run) error {
		for j := range n - 1 + b.N {
			if j == n-1 {
				if written != nil {
					written()
				}
				b.StartTimer()
			}
			if _, err := checkpoint.Step(ctx, run, fmt.Sprintf("s%d", j), func(ctx context.Context) (int, error) {
				return j, run.Append(ctx, benchMessage(j))
			}); err != nil {
				return err
			}
		}
		b.StopTimer()
		if written != nil {
			bytes = written()
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if written != nil {
		b.ReportMetric(float64(bytes)/float64(b.N), "B-written/step")
	}
}

// BenchmarkStepCommit records b.N steps of one run, each adding a 2 KB message, and reports
// the median and 99th percentile latency of the durable writes (each step makes two: its intent
// and its result).
func BenchmarkStepCommit(b *testing.B, s checkpoint.Store) {
	ctx := context.Background()
	var lat []time.Duration
	r := checkpoint.NewRunner(s, checkpoint.Config{ObserveWrite: func(d time.Duration) { lat = append(lat, d) }})
	id := fmt.Sprintf("bench-commit-%d", time.Now().UnixNano())
	b.ReportAllocs()
	b.ResetTimer()
	err := r.Run(ctx, id, func(ctx context.Context, run *checkpoint.Run) error {
		for j := range b.N {
			if _, err := checkpoint.Step(ctx, run, fmt.Sprintf("s%d", j), func(ctx context.Context) (int, error) {
				return j, run.Append(ctx, benchMessage(j))
			}); err != nil {
				return err
			}
		}
		return nil
	})
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	lat = lat[:len(lat)-1] // the final status write
	slices.Sort(lat)
	if len(lat) == 0 {
		return
	}
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "p50-ms/commit")
	b.ReportMetric(q(0.99), "p99-ms/commit")
}
