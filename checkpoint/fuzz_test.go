package checkpoint_test

import (
	"context"
	"errors"
	"hash/crc32"
	"testing"
	"time"

	"github.com/rebound-go/rebound/checkpoint"
)

// FuzzJournal feeds arbitrary stored records (a step's result, its version and checksum, a
// message body) to a resuming run: it must resume with the recorded result or fail with a
// *CorruptError naming the run and the step, never panic or run a step over a damaged journal.
func FuzzJournal(f *testing.F) {
	f.Add([]byte(`{"n":1}`), 1, true, []byte(`{"role":"user","content":"hi"}`), true)
	f.Add([]byte(`{"n":`), 1, true, []byte(`{"role":"user","content":"hi"}`), true)
	f.Add([]byte(`{"n":1}`), 2, true, []byte(`{}`), true)
	f.Add([]byte(`{"n":1}`), 1, false, []byte(`{"role":"user"}`), true)
	f.Add([]byte(`null`), 1, true, []byte(`[1,2]`), true)
	f.Add([]byte{}, 1, true, []byte("\xff"), false)
	table := crc32.MakeTable(crc32.Castagnoli)
	f.Fuzz(func(t *testing.T, result []byte, version int, goodSum bool, body []byte, goodBodySum bool) {
		ctx := context.Background()
		s := checkpoint.NewMemoryStore()
		c, err := s.ClaimRun(ctx, checkpoint.ClaimRequest{RunID: "fuzz", Owner: "seed", TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		sum := crc32.Checksum(result, table)
		if !goodSum {
			sum++
		}
		bsum := crc32.Checksum(body, table)
		if !goodBodySum {
			bsum++
		}
		w := checkpoint.Write{
			Steps: []checkpoint.StepRecord{{Index: 0, Name: "first", Status: checkpoint.StepCompleted, Version: version,
				Result: result, Checksum: sum}},
			Messages: []checkpoint.MessageRecord{{Seq: 0, Step: 0, Version: checkpoint.RecordVersion, Body: body, Checksum: bsum}},
			Release:  true,
		}
		if err := s.WriteRun(ctx, c.Lease, w); err != nil {
			t.Fatal(err)
		}
		type res struct{ N int }
		ran := false
		err = checkpoint.NewRunner(s, checkpoint.Config{}).Run(ctx, "fuzz", func(ctx context.Context, run *checkpoint.Run) error {
			_, err := checkpoint.Step(ctx, run, "first", func(ctx context.Context) (res, error) {
				ran = true
				return res{}, nil
			})
			return err
		})
		if ran {
			t.Fatal("a recorded step ran again")
		}
		if err != nil {
			var ce *checkpoint.CorruptError
			if !errors.As(err, &ce) || ce.RunID != "fuzz" || ce.Step != "first" {
				t.Fatalf("got %v, want nil or a CorruptError naming run fuzz, step first", err)
			}
		}
	})
}
