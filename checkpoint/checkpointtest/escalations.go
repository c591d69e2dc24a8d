package checkpointtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
)

// seed writes records directly, as a damaged database would hold them, and releases the run.
func seed(t *testing.T, s checkpoint.Store, id string, w checkpoint.Write) {
	t.Helper()
	ctx := context.Background()
	c, err := s.ClaimRun(ctx, checkpoint.ClaimRequest{RunID: id, Owner: "seeder", TTL: time.Minute})
	must(t, err)
	w.Release = true
	must(t, s.WriteRun(ctx, c.Lease, w))
}

func testDamaged(t *testing.T, open Open) {
	good := []byte(`"fine"`)
	okStep := checkpoint.StepRecord{Index: 0, Name: "first", Status: checkpoint.StepCompleted,
		Version: checkpoint.RecordVersion, Result: good, Checksum: sum(good)}
	bad := []byte(`{"truncated`)
	msg := []byte(`{"role":"user","content":"hi"}`)
	cases := []struct {
		name   string
		w      checkpoint.Write
		step   string
		record string
	}{
		{"BadJSON", checkpoint.Write{Steps: []checkpoint.StepRecord{okStep, {Index: 1, Name: "second",
			Status: checkpoint.StepCompleted, Version: checkpoint.RecordVersion, Result: bad, Checksum: sum(bad)}}}, "second", "result"},
		{"UnknownVersion", checkpoint.Write{Steps: []checkpoint.StepRecord{okStep, {Index: 1, Name: "second",
			Status: checkpoint.StepCompleted, Version: 99, Result: good, Checksum: sum(good)}}}, "second", "step 1"},
		{"ChecksumMismatch", checkpoint.Write{Steps: []checkpoint.StepRecord{okStep, {Index: 1, Name: "second",
			Status: checkpoint.StepCompleted, Version: checkpoint.RecordVersion, Result: []byte(`"fin3"`), Checksum: sum(good)}}}, "second", "step 1"},
		{"DamagedMessage", checkpoint.Write{Steps: []checkpoint.StepRecord{okStep},
			Messages: []checkpoint.MessageRecord{{Seq: 0, Step: 0, Version: checkpoint.RecordVersion, Body: msg, Checksum: sum(msg) ^ 1}}}, "first", "message 0"},
		{"MessageBadJSON", checkpoint.Write{Steps: []checkpoint.StepRecord{okStep},
			Messages: []checkpoint.MessageRecord{{Seq: 0, Step: 0, Version: checkpoint.RecordVersion, Body: bad, Checksum: sum(bad)}}}, "first", "message 0"},
		// The last step's row is gone while the run still counts it: a truncated journal must
		// not read as a run that has yet to reach that step (which would run it again).
		{"TruncatedJournal", checkpoint.Write{Steps: []checkpoint.StepRecord{okStep},
			Run: &checkpoint.RunUpdate{Status: checkpoint.StatusRunning, LastStep: "second", StepCount: 2}}, "second", "step count"},
		{"StepsMissing", checkpoint.Write{Steps: []checkpoint.StepRecord{okStep},
			Run: &checkpoint.RunUpdate{Status: checkpoint.StatusRunning, LastStep: "third", StepCount: 3}}, "(step 1)", "step count"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			id := runID(t)
			seed(t, s, id, tc.w)
			r := checkpoint.NewRunner(s, checkpoint.Config{})
			ran := 0
			err := r.Run(ctx, id, func(ctx context.Context, run *checkpoint.Run) error {
				for _, name := range []string{"first", "second"} {
					if _, err := checkpoint.Step(ctx, run, name, func(ctx context.Context) (string, error) {
						ran++
						return "fresh", nil
					}); err != nil {
						return err
					}
				}
				return nil
			})
			var ce *checkpoint.CorruptError
			if !errors.As(err, &ce) || ce.RunID != id || ce.Step != tc.step || !strings.Contains(ce.Record, tc.record) {
				t.Fatalf("got %v, want a CorruptError naming run %q step %q (%s)", err, id, tc.step, tc.record)
			}
			if ran != 0 {
				t.Fatalf("%d steps ran over a damaged journal", ran)
			}
			if _, err := checkpoint.Get(ctx, s, id); tc.name != "BadJSON" && !errors.Is(err, checkpoint.ErrCorrupt) {
				t.Fatalf("Get: got %v, want ErrCorrupt", err)
			}
		})
	}
}

// crashAfterIntent runs a one-step workflow whose process "dies" after the step's intent (and,
// with effect, after its side effect), leaving the step in doubt under a dead owner's lease.
func crashAfterIntent(t *testing.T, s checkpoint.Store, id string, opts ...checkpoint.StepOption) (keys []string) {
	t.Helper()
	cs := &crashStore{Store: s, after: func(w checkpoint.Write) bool { return stepIs(w, 0, checkpoint.StepStarted) }}
	r := checkpoint.NewRunner(cs, checkpoint.Config{Owner: deadOwner(t), LeaseTTL: time.Hour})
	err := r.Run(context.Background(), id, func(ctx context.Context, run *checkpoint.Run) error {
		_, err := checkpoint.Step(ctx, run, "charge", func(ctx context.Context) (string, error) {
			keys = append(keys, checkpoint.IdempotencyKey(ctx))
			return "charged", nil
		}, opts...)
		return err
	})
	if !errors.Is(err, errCrashed) {
		t.Fatalf("crashing run: got %v", err)
	}
	return keys
}

func testInDoubtIdempotent(t *testing.T, s checkpoint.Store) {
	ctx := context.Background()
	id := runID(t)
	keys := crashAfterIntent(t, s, id)
	r := checkpoint.NewRunner(s, checkpoint.Config{})
	must(t, r.Run(ctx, id, func(ctx context.Context, run *checkpoint.Run) error {
		_, err := checkpoint.Step(ctx, run, "charge", func(ctx context.Context) (string, error) {
			keys = append(keys, checkpoint.IdempotencyKey(ctx))
			return "charged", nil
		})
		return err
	}))
	if len(keys) != 2 || keys[0] == "" || keys[0] != keys[1] {
		t.Fatalf("keys of the two executions: %q, want two equal non-empty keys", keys)
	}
}

func testInDoubtIrreversible(t *testing.T, s checkpoint.Store) {
	ctx := context.Background()
	id := runID(t)
	crashAfterIntent(t, s, id, checkpoint.Irreversible())
	esc := &Escalator{}
	r := checkpoint.NewRunner(s, checkpoint.Config{Escalations: esc})
	ran := 0
	wf := func(ctx context.Context, run *checkpoint.Run) error {
		_, err := checkpoint.Step(ctx, run, "charge", func(ctx context.Context) (string, error) {
			ran++
			return "charged", nil
		}, checkpoint.Irreversible())
		return err
	}
	err := r.Run(ctx, id, wf)
	var ee *checkpoint.EscalatedError
	if !errors.As(err, &ee) || ee.Reason != rebound.ReasonAmbiguousState || ee.Step != "charge" || ee.RunID != id || ee.EscalationID == "" {
		t.Fatalf("got %v, want an ambiguous_state escalation of step charge", err)
	}
	if ran != 0 {
		t.Fatal("an irreversible in-doubt step was re-run blindly")
	}
	if _, items := esc.Items(); len(items) != 1 || !strings.Contains(items[0].Context, "no longer exists") {
		t.Fatalf("the in-doubt escalation should say its previous owner died: %+v", items)
	}
	info, err := s.GetRun(ctx, id)
	must(t, err)
	if info.Status != checkpoint.StatusEscalated || info.EscalationID != ee.EscalationID {
		t.Fatalf("run status %q escalation %q", info.Status, info.EscalationID)
	}
	// Undecided: the same escalation comes back, and nothing runs.
	err2 := r.Run(ctx, id, wf)
	var ee2 *checkpoint.EscalatedError
	if !errors.As(err2, &ee2) || ee2.EscalationID != ee.EscalationID || ran != 0 {
		t.Fatalf("undecided: got %v (ran %d), want the same escalation %s", err2, ran, ee.EscalationID)
	}
	// The reviewer checked: it did not happen. Approve: it runs once.
	esc.Decide(ee.EscalationID, rebound.Decision{Action: rebound.ActionApprove, By: "ana"})
	must(t, r.Run(ctx, id, wf))
	must(t, r.Run(ctx, id, wf))
	if ran != 1 {
		t.Fatalf("approved step ran %d times, want 1", ran)
	}
}

// testFailedIrreversible: an irreversible step that failed in a way that leaves its effect in
// doubt (a timeout) is escalated on resume, never re-run blindly; one the server refused (an
// invalid request) runs again.
func testFailedIrreversible(t *testing.T, s checkpoint.Store) {
	ctx := context.Background()
	for _, tc := range []struct {
		class    rebound.Class
		escalate bool
	}{
		{rebound.ClassTimeout, true},
		{rebound.ClassTransient, true},
		{rebound.ClassInvalid, false},
	} {
		id := runID(t) + "-" + tc.class.String()
		esc := &Escalator{}
		r := checkpoint.NewRunner(s, checkpoint.Config{Escalations: esc, EscalateOn: func(rebound.Class, error) bool { return false }})
		ran := 0
		wf := func(ctx context.Context, run *checkpoint.Run) error {
			_, err := checkpoint.Step(ctx, run, "publish", func(ctx context.Context) (string, error) {
				ran++
				if ran == 1 {
					return "", &rebound.Error{Class: tc.class, Message: "first try"}
				}
				return "published", nil
			}, checkpoint.Irreversible())
			return err
		}
		if err := r.Run(ctx, id, wf); err == nil || errors.Is(err, checkpoint.ErrEscalated) {
			t.Fatalf("%v: first run: got %v, want the step's failure", tc.class, err)
		}
		err := r.Run(ctx, id, wf)
		var ee *checkpoint.EscalatedError
		switch {
		case tc.escalate && (!errors.As(err, &ee) || ee.Reason != rebound.ReasonAmbiguousState || ran != 1):
			t.Fatalf("%v: resume: got %v (ran %d), want an ambiguous_state escalation and no re-run", tc.class, err, ran)
		case !tc.escalate && (err != nil || ran != 2):
			t.Fatalf("%v: resume: got %v (ran %d), want the step run again and the run completed", tc.class, err, ran)
		}
	}
}

func testDecisions(t *testing.T, open Open) {
	ctx := context.Background()
	type result struct {
		N int `json:"n"`
	}
	run := func(t *testing.T, s checkpoint.Store, esc *Escalator, id string, ran *int) (result, error) {
		var out result
		err := checkpoint.NewRunner(s, checkpoint.Config{Escalations: esc}).Run(ctx, id, func(ctx context.Context, run *checkpoint.Run) error {
			v, err := checkpoint.Step(ctx, run, "publish", func(ctx context.Context) (result, error) {
				*ran++
				return result{N: 1}, nil
			}, checkpoint.NeedsApproval(), checkpoint.Irreversible())
			out = v
			return err
		})
		return out, err
	}
	cases := []struct {
		d       rebound.Decision
		ran     int
		n       int
		wantErr error
		status  checkpoint.Status
	}{
		{rebound.Decision{Action: rebound.ActionApprove, By: "ana"}, 1, 1, nil, checkpoint.StatusCompleted},
		{rebound.Decision{Action: rebound.ActionRetry, By: "ana"}, 1, 1, nil, checkpoint.StatusCompleted},
		{rebound.Decision{Action: rebound.ActionRespond, Answer: `{"n":42}`, By: "ana"}, 0, 42, nil, checkpoint.StatusCompleted},
		{rebound.Decision{Action: rebound.ActionReject, Note: "not today", By: "ana"}, 0, 0, checkpoint.ErrRejected, checkpoint.StatusFailed},
	}
	for _, tc := range cases {
		t.Run(string(tc.d.Action), func(t *testing.T) {
			s := open(t)
			esc := &Escalator{}
			id := runID(t)
			ran := 0
			_, err := run(t, s, esc, id, &ran)
			var ee *checkpoint.EscalatedError
			if !errors.As(err, &ee) || ee.Reason != rebound.ReasonIrreversibleAction || ran != 0 {
				t.Fatalf("first run: got %v (ran %d), want an irreversible_action escalation before running", err, ran)
			}
			esc.Decide(ee.EscalationID, tc.d)
			got, err := run(t, s, esc, id, &ran)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.d.Note) {
					t.Fatalf("got %v, want %v with the note", err, tc.wantErr)
				}
			} else {
				must(t, err)
			}
			if ran != tc.ran || got.N != tc.n {
				t.Fatalf("ran %d, result %d; want %d, %d", ran, got.N, tc.ran, tc.n)
			}
			info, err := s.GetRun(ctx, id)
			must(t, err)
			if info.Status != tc.status {
				t.Fatalf("status %q, want %q", info.Status, tc.status)
			}
			// Once more: the decision is not applied twice, and a rejection stands.
			_, err = run(t, s, esc, id, &ran)
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("resumed after %s: got %v, want %v again", tc.d.Action, err, tc.wantErr)
			}
			if ran != tc.ran {
				t.Fatalf("ran %d after another resume, want %d", ran, tc.ran)
			}
		})
	}
	t.Run("RespondString", func(t *testing.T) {
		s := open(t)
		esc := &Escalator{}
		id := runID(t)
		r := checkpoint.NewRunner(s, checkpoint.Config{Escalations: esc})
		var answer string
		wf := func(ctx context.Context, run *checkpoint.Run) error {
			v, err := checkpoint.Step(ctx, run, "classify", func(ctx context.Context) (string, error) {
				return "", checkpoint.Escalate(rebound.ReasonLowConfidence, "confidence 0.41", errors.New("unsure"))
			})
			answer = v
			return err
		}
		err := r.Run(ctx, id, wf)
		var ee *checkpoint.EscalatedError
		if !errors.As(err, &ee) || ee.Reason != rebound.ReasonLowConfidence {
			t.Fatalf("got %v, want a low_confidence escalation", err)
		}
		_, items := esc.Items()
		if items[0].Context != "confidence 0.41" || items[0].Err == nil || items[0].Err.Error() != "unsure" || len(items[0].State) == 0 {
			t.Fatalf("escalation handed over: %+v", items[0])
		}
		esc.Decide(ee.EscalationID, rebound.Decision{Action: rebound.ActionRespond, Answer: "refund"})
		must(t, r.Run(ctx, id, wf))
		if answer != "refund" {
			t.Fatalf("step result %q, want the reviewer's answer", answer)
		}
	})
}

func testGiveUp(t *testing.T, s checkpoint.Store) {
	ctx := context.Background()
	esc := &Escalator{}
	r := checkpoint.NewRunner(s, checkpoint.Config{Escalations: esc})
	id := runID(t)
	attempts := 0
	wf := func(ctx context.Context, run *checkpoint.Run) error {
		if err := run.Append(ctx, rebound.User("hello")); err != nil {
			return err
		}
		_, err := checkpoint.Step(ctx, run, "ask", func(ctx context.Context) (string, error) {
			attempts++
			if attempts == 1 {
				return "", &rebound.GiveUpError{Reason: rebound.Exhausted, Attempts: 5,
					Last: &rebound.Error{Class: rebound.ClassOverloaded, Status: 529}}
			}
			return "answer", nil
		})
		return err
	}
	err := r.Run(ctx, id, wf)
	var ee *checkpoint.EscalatedError
	if !errors.As(err, &ee) || ee.Reason != rebound.ReasonMaxRetriesExceeded || !errors.Is(err, rebound.ErrGaveUp) {
		t.Fatalf("got %v, want a max_retries_exceeded escalation wrapping the give-up", err)
	}
	_, items := esc.Items()
	it := items[0]
	if it.Attempts != 5 || it.Class != rebound.ClassOverloaded || len(it.Messages) != 1 || !strings.Contains(it.Err.Error(), "exhausted") {
		t.Fatalf("escalation: attempts %d class %v messages %d err %v", it.Attempts, it.Class, len(it.Messages), it.Err)
	}
	esc.Decide(ee.EscalationID, rebound.Decision{Action: rebound.ActionRetry})
	must(t, r.Run(ctx, id, wf))
	if attempts != 2 {
		t.Fatalf("step ran %d times, want 2", attempts)
	}
	// Without an Escalator the give-up fails the run.
	r2 := checkpoint.NewRunner(s, checkpoint.Config{})
	attempts = 0
	err = r2.Run(ctx, id+"-noesc", wf)
	if err == nil || errors.Is(err, checkpoint.ErrEscalated) || !errors.Is(err, rebound.ErrGaveUp) {
		t.Fatalf("no escalator: got %v, want a failure wrapping the give-up", err)
	}
	info, err := s.GetRun(ctx, id+"-noesc")
	must(t, err)
	if info.Status != checkpoint.StatusFailed {
		t.Fatalf("no escalator: status %q, want failed", info.Status)
	}
}

func testListPrune(t *testing.T, s checkpoint.Store) {
	ctx := context.Background()
	esc := &Escalator{}
	r := checkpoint.NewRunner(s, checkpoint.Config{Escalations: esc})
	base := runID(t)
	outcomes := []error{nil, errors.New("bad"), checkpoint.Escalate("requires_human", "", nil), nil}
	for i, o := range outcomes {
		_ = r.Run(ctx, fmt.Sprintf("%s-%d", base, i), func(ctx context.Context, run *checkpoint.Run) error {
			_, err := checkpoint.Step(ctx, run, "only", func(ctx context.Context) (int, error) { return i, o })
			return err
		})
	}
	all, err := s.ListRuns(ctx, checkpoint.RunFilter{})
	must(t, err)
	if len(all) != 4 || all[0].ID != base+"-3" || all[3].ID != base+"-0" {
		t.Fatalf("list: %v, want 4 runs newest first", ids(all))
	}
	if all[0].LastStep != "only" || all[0].StepCount != 1 || all[0].AttemptCount != 1 || all[0].CreatedAt.IsZero() {
		t.Fatalf("summary: %+v", all[0])
	}
	page, err := s.ListRuns(ctx, checkpoint.RunFilter{Limit: 2, Offset: 1})
	must(t, err)
	if len(page) != 2 || page[0].ID != base+"-2" || page[1].ID != base+"-1" {
		t.Fatalf("page: %v", ids(page))
	}
	esc1, err := s.ListRuns(ctx, checkpoint.RunFilter{Status: []checkpoint.Status{checkpoint.StatusEscalated, checkpoint.StatusFailed}})
	must(t, err)
	if len(esc1) != 2 || esc1[0].Status != checkpoint.StatusEscalated || esc1[1].Status != checkpoint.StatusFailed || esc1[0].EscalationID == "" {
		t.Fatalf("filtered: %+v", esc1)
	}
	n, err := s.PruneRuns(ctx, time.Now().Add(-time.Hour))
	must(t, err)
	if n != 0 {
		t.Fatalf("pruned %d recent runs", n)
	}
	n, err = s.PruneRuns(ctx, time.Now().Add(time.Second))
	must(t, err)
	if n != 3 {
		t.Fatalf("pruned %d, want the 3 finished runs", n)
	}
	left, err := s.ListRuns(ctx, checkpoint.RunFilter{})
	must(t, err)
	if len(left) != 1 || left[0].Status != checkpoint.StatusEscalated {
		t.Fatalf("left: %+v", left)
	}
	if _, err := s.GetRun(ctx, base+"-0"); !errors.Is(err, checkpoint.ErrRunNotFound) {
		t.Fatalf("pruned run: got %v, want ErrRunNotFound", err)
	}
}

func ids(rs []checkpoint.RunInfo) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}
