package checkpointtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
)

// Hooks reach into a store behind its back, to damage its journal as a lost row would (a row
// deleted by hand, one table restored from an older backup). Every store's conformance test
// provides them: the damage must be found whatever store holds the journal.
type Hooks struct {
	// DeleteMessage deletes message seq of run runID from s's journal (with raw SQL, for a
	// database store), leaving the run's own record as it is.
	DeleteMessage func(t *testing.T, s checkpoint.Store, runID string, seq int64)
}

// testLostMessages: a message deleted from the end of a run's journal, or from its middle, is a
// *CorruptError naming the run and the missing message, at Get and at resume; the resumed
// workflow never carries on with the shorter conversation.
func testLostMessages(t *testing.T, open Open, hooks Hooks) {
	if hooks.DeleteMessage == nil {
		t.Fatal("the store's conformance test passes no Hooks.DeleteMessage")
	}
	// The journal: 0-1 outside steps, 2-4 of step "draft", 5 outside, 6 of step "publish".
	cases := []struct {
		name         string
		seq          int64
		step, record string
	}{
		{"Last", 6, "(message 6)", "message count"},
		{"Middle", 3, "draft", "message 3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			id := runID(t)
			var calls counter
			entered, broken := 0, true
			wf := func(ctx context.Context, run *checkpoint.Run) error {
				entered++
				if err := run.Append(ctx, rebound.System("be brief"), rebound.User("topic: tides")); err != nil {
					return err
				}
				if _, err := checkpoint.Step(ctx, run, "draft", func(ctx context.Context) (string, error) {
					calls.inc("draft")
					return "draft", run.Append(ctx, rebound.Assistant("part 1"), rebound.Assistant("part 2"), rebound.Assistant("part 3"))
				}); err != nil {
					return err
				}
				if err := run.Append(ctx, rebound.User("publish it")); err != nil {
					return err
				}
				if _, err := checkpoint.Step(ctx, run, "publish", func(ctx context.Context) (string, error) {
					calls.inc("publish")
					return "published", run.Append(ctx, rebound.Assistant("published"))
				}, checkpoint.Irreversible()); err != nil {
					return err
				}
				_, err := checkpoint.Step(ctx, run, "notify", func(ctx context.Context) (string, error) {
					calls.inc("notify")
					if broken {
						return "", errors.New("mail server down")
					}
					return fmt.Sprintf("notified after %d messages", len(run.Messages())), nil
				})
				return err
			}
			r := checkpoint.NewRunner(s, checkpoint.Config{})
			if err := r.Run(ctx, id, wf); err == nil || !strings.Contains(err.Error(), "mail server down") {
				t.Fatalf("first run: got %v, want the failure of step notify", err)
			}
			rec, err := s.GetRun(ctx, id)
			must(t, err)
			if rec.MessageCount != 7 || len(rec.Messages) != 7 {
				t.Fatalf("the run counts %d messages and holds %d, want 7 and 7", rec.MessageCount, len(rec.Messages))
			}
			runs, err := s.ListRuns(ctx, checkpoint.RunFilter{})
			must(t, err)
			if len(runs) != 1 || runs[0].MessageCount != 7 {
				t.Fatalf("ListRuns: %+v, want one run counting 7 messages", runs)
			}

			hooks.DeleteMessage(t, s, id, tc.seq)
			wantCorrupt := func(what string, err error) {
				t.Helper()
				var ce *checkpoint.CorruptError
				if !errors.As(err, &ce) || ce.RunID != id || ce.Step != tc.step || ce.Record != tc.record ||
					!strings.Contains(ce.Error(), "missing") {
					t.Fatalf("%s after message %d was deleted: got %v, want a CorruptError of run %q naming step %q, record %q, and what is missing",
						what, tc.seq, err, id, tc.step, tc.record)
				}
			}
			v, err := checkpoint.Get(ctx, s, id)
			wantCorrupt("Get", err)
			if v == nil || len(v.Damaged) != 1 || !strings.Contains(v.Damaged[0], fmt.Sprint(tc.seq)) || len(v.Messages) != 6 {
				t.Fatalf("Get's view: %+v, want the 6 messages left and one damaged record naming message %d", v, tc.seq)
			}

			broken = false
			wantCorrupt("resume", r.Run(ctx, id, wf))
			if entered != 1 || calls.get("draft") != 1 || calls.get("publish") != 1 || calls.get("notify") != 1 {
				t.Fatalf("over a journal missing a message the workflow was entered %d times and draft, publish, notify ran %d, %d, %d times; want 1, 1, 1, 1",
					entered, calls.get("draft"), calls.get("publish"), calls.get("notify"))
			}
		})
	}
}

// MessageCountMigration tests a store's migration to counted messages (RunInfo.MessageCount)
// over a database written before it: it journals a run of 5 messages and one of none in s, then
// calls downgrade, which takes the database back to the schema before the count and returns it
// reopened (so migrated again). The migration must count the messages each run holds: both runs
// read as sound, and the first, once it loses its last message, as damaged.
func MessageCountMigration(t *testing.T, s checkpoint.Store, downgrade func(t *testing.T) checkpoint.Store, hooks Hooks) {
	ctx := context.Background()
	id := runID(t)
	r := checkpoint.NewRunner(s, checkpoint.Config{})
	must(t, r.Run(ctx, id, func(ctx context.Context, run *checkpoint.Run) error {
		if err := run.Append(ctx, rebound.System("be brief"), rebound.User("topic: tides")); err != nil {
			return err
		}
		_, err := checkpoint.Step(ctx, run, "answer", func(ctx context.Context) (string, error) {
			return "ok", run.Append(ctx, rebound.Assistant("part 1"), rebound.Assistant("part 2"), rebound.Assistant("part 3"))
		})
		return err
	}))
	must(t, r.Run(ctx, id+"-quiet", func(ctx context.Context, run *checkpoint.Run) error {
		_, err := checkpoint.Step(ctx, run, "only", func(ctx context.Context) (int, error) { return 1, nil })
		return err
	}))

	s = downgrade(t)
	for run, want := range map[string]int{id: 5, id + "-quiet": 0} {
		v, err := checkpoint.Get(ctx, s, run)
		if err != nil || v.MessageCount != want || len(v.Messages) != want {
			t.Fatalf("run %q after the migration: %v, counting %d messages of %d; want no error, %d of %d", run, err, v.MessageCount, len(v.Messages), want, want)
		}
	}
	hooks.DeleteMessage(t, s, id, 4)
	var ce *checkpoint.CorruptError
	if _, err := checkpoint.Get(ctx, s, id); !errors.As(err, &ce) || ce.Record != "message count" {
		t.Fatalf("Get after the migrated run lost its last message: got %v, want a CorruptError of its message count", err)
	}
}
