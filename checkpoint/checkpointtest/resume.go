package checkpointtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
)

// counter counts executions per step name.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) inc(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[name]++
}

func (c *counter) get(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[name]
}

// linear returns a workflow of n steps "s0".."s(n-1)"; step fail (if >= 0) fails while *broken.
func linear(n int, calls *counter, fail int, broken *bool) checkpoint.Workflow {
	return func(ctx context.Context, run *checkpoint.Run) error {
		for i := range n {
			name := fmt.Sprintf("s%d", i)
			v, err := checkpoint.Step(ctx, run, name, func(ctx context.Context) (int, error) {
				calls.inc(name)
				if i == fail && *broken {
					return 0, errors.New("boom")
				}
				return i * 10, nil
			})
			if err != nil {
				return err
			}
			if v != i*10 {
				return fmt.Errorf("step %s returned %d, want %d", name, v, i*10)
			}
		}
		return nil
	}
}

func testResume(t *testing.T, s checkpoint.Store) {
	ctx := context.Background()
	r := checkpoint.NewRunner(s, checkpoint.Config{})
	var calls counter
	broken := true
	id := runID(t)
	err := r.Run(ctx, id, linear(5, &calls, 2, &broken))
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("first run: got %v, want the failure of s2", err)
	}
	info, err := s.GetRun(ctx, id)
	must(t, err)
	if info.Status != checkpoint.StatusFailed || info.LastStep != "s2" {
		t.Fatalf("after failure: status %q last step %q, want failed at s2", info.Status, info.LastStep)
	}
	broken = false
	must(t, r.Run(ctx, id, linear(5, &calls, 2, &broken)))
	for i, want := range []int{1, 1, 2, 1, 1} {
		if got := calls.get(fmt.Sprintf("s%d", i)); got != want {
			t.Errorf("step s%d ran %d times, want %d", i, got, want)
		}
	}
	// A completed run replays without running anything.
	must(t, r.Run(ctx, id, linear(5, &calls, 2, &broken)))
	if got := calls.get("s0"); got != 1 {
		t.Errorf("s0 ran again on a completed run: %d", got)
	}
	v, err := checkpoint.Get(ctx, s, id)
	must(t, err)
	if v.Status != checkpoint.StatusCompleted || len(v.Steps) != 5 {
		t.Fatalf("run view: status %q, %d steps; want completed, 5", v.Status, len(v.Steps))
	}
	if v.Steps[2].Executions != 2 || string(v.Steps[2].Result) != "20" {
		t.Errorf("step s2: %d executions, result %s; want 2, 20", v.Steps[2].Executions, v.Steps[2].Result)
	}
}

func testMessages(t *testing.T, s checkpoint.Store) {
	ctx := context.Background()
	r := checkpoint.NewRunner(s, checkpoint.Config{})
	id := runID(t)
	broken := true
	var seen [][]rebound.Message
	wf := func(ctx context.Context, run *checkpoint.Run) error {
		seen = nil
		if err := run.Append(ctx, rebound.System("be brief"), rebound.User("topic: tides")); err != nil {
			return err
		}
		for i := range 3 {
			_, err := checkpoint.Step(ctx, run, fmt.Sprintf("turn%d", i), func(ctx context.Context) (string, error) {
				seen = append(seen, run.Messages())
				if err := run.Append(ctx, rebound.Assistant(fmt.Sprintf("answer %d", i))); err != nil {
					return "", err
				}
				if i == 2 && broken {
					return "", errors.New("cut")
				}
				return "ok", nil
			})
			if err != nil {
				return err
			}
			if err := run.Append(ctx, rebound.User(fmt.Sprintf("next %d", i))); err != nil {
				return err
			}
		}
		return nil
	}
	if err := r.Run(ctx, id, wf); err == nil {
		t.Fatal("first run succeeded, want the failure of turn2")
	}
	first := seen
	broken = false
	must(t, r.Run(ctx, id, wf))
	// The resumed turn2 sees exactly the history the failed one saw.
	if len(seen) != 1 || fmt.Sprint(seen[0]) != fmt.Sprint(first[2]) {
		t.Fatalf("resumed turn2 saw %v, want %v", seen, first[2])
	}
	v, err := checkpoint.Get(ctx, s, id)
	must(t, err)
	var got []string
	for _, m := range v.Messages {
		got = append(got, m.Content)
	}
	want := "be brief|topic: tides|answer 0|next 0|answer 1|next 1|answer 2|next 2"
	if strings.Join(got, "|") != want {
		t.Fatalf("journal: %s\nwant     %s", strings.Join(got, "|"), want)
	}
}

func testLongHistory(t *testing.T, s checkpoint.Store) {
	const n = 1000
	ctx := context.Background()
	r := checkpoint.NewRunner(s, checkpoint.Config{})
	id := runID(t)
	broken := true
	ran := 0
	var history int
	wf := func(ctx context.Context, run *checkpoint.Run) error {
		for i := range n {
			_, err := checkpoint.Step(ctx, run, fmt.Sprintf("s%d", i), func(ctx context.Context) (int, error) {
				ran++
				if i == n-1 {
					history = len(run.Messages())
					if broken {
						return 0, errors.New("fail at the last step")
					}
				}
				return i, run.Append(ctx, rebound.Assistant(fmt.Sprintf("message %d", i)))
			})
			if err != nil {
				return err
			}
		}
		return nil
	}
	if err := r.Run(ctx, id, wf); err == nil {
		t.Fatal("first run succeeded")
	}
	broken, ran = false, 0
	must(t, r.Run(ctx, id, wf))
	if ran != 1 {
		t.Errorf("resume ran %d steps, want 1", ran)
	}
	if history != n-1 {
		t.Errorf("last step saw %d messages, want %d", history, n-1)
	}
	v, err := checkpoint.Get(ctx, s, id)
	must(t, err)
	if len(v.Steps) != n || len(v.Messages) != n {
		t.Fatalf("%d steps, %d messages; want %d each", len(v.Steps), len(v.Messages), n)
	}
	for i, m := range v.Messages {
		if m.Content != fmt.Sprintf("message %d", i) {
			t.Fatalf("message %d is %q", i, m.Content)
		}
	}
}

func testWorkflowChanged(t *testing.T, s checkpoint.Store) {
	ctx := context.Background()
	r := checkpoint.NewRunner(s, checkpoint.Config{})
	id := runID(t)
	var calls counter
	broken := true
	if err := r.Run(ctx, id, linear(3, &calls, 2, &broken)); err == nil {
		t.Fatal("first run succeeded")
	}
	err := r.Run(ctx, id, func(ctx context.Context, run *checkpoint.Run) error {
		if _, err := checkpoint.Step(ctx, run, "s0", func(ctx context.Context) (int, error) { return 0, nil }); err != nil {
			return err
		}
		_, err := checkpoint.Step(ctx, run, "renamed", func(ctx context.Context) (int, error) {
			t.Error("a step of a changed workflow ran")
			return 0, nil
		})
		return err
	})
	var wc *checkpoint.WorkflowChangedError
	if !errors.As(err, &wc) || wc.Index != 1 || wc.Recorded != "s1" || wc.Called != "renamed" || wc.RunID != id {
		t.Fatalf("got %v, want a WorkflowChangedError at step 1 (s1 -> renamed)", err)
	}
	// A changed outside-step message is caught too.
	id2 := id + "-msg"
	must(t, r.Run(ctx, id2, func(ctx context.Context, run *checkpoint.Run) error {
		return run.Append(ctx, rebound.User("topic A"))
	}))
	err = r.Run(ctx, id2, func(ctx context.Context, run *checkpoint.Run) error {
		return run.Append(ctx, rebound.User("topic B"))
	})
	if !errors.Is(err, checkpoint.ErrWorkflowChanged) {
		t.Fatalf("changed message: got %v, want ErrWorkflowChanged", err)
	}
}

func testMetadata(t *testing.T, s checkpoint.Store) {
	ctx := context.Background()
	r := checkpoint.NewRunner(s, checkpoint.Config{})
	id := runID(t)
	type input struct {
		Topic string `json:"topic"`
	}
	must(t, r.Run(ctx, id, func(ctx context.Context, run *checkpoint.Run) error {
		var in input
		if err := run.DecodeInput(&in); err != nil {
			return err
		}
		if in.Topic != "tides" || run.Workflow() != "research" {
			return fmt.Errorf("input %+v workflow %q", in, run.Workflow())
		}
		return nil
	}, checkpoint.WithWorkflow("research", input{Topic: "tides"})))
	info, err := s.GetRun(ctx, id)
	must(t, err)
	if info.Workflow != "research" || string(info.Input) != `{"topic":"tides"}` {
		t.Fatalf("recorded workflow %q input %s", info.Workflow, info.Input)
	}
	// Resume finds the workflow by its recorded name.
	resumed := false
	must(t, r.Resume(ctx, id, map[string]checkpoint.Workflow{"research": func(ctx context.Context, run *checkpoint.Run) error {
		var in input
		resumed = true
		return run.DecodeInput(&in)
	}}))
	if !resumed {
		t.Fatal("Resume did not run the recorded workflow")
	}
	if err := r.Resume(ctx, id, map[string]checkpoint.Workflow{}); err == nil || !strings.Contains(err.Error(), `"research"`) {
		t.Fatalf("Resume without the workflow: got %v, want an error naming it", err)
	}
	if err := r.Resume(ctx, id+"-missing", nil); !errors.Is(err, checkpoint.ErrRunNotFound) {
		t.Fatalf("Resume of a missing run: got %v, want ErrRunNotFound", err)
	}
	// A resumer without options still sees them.
	must(t, r.Run(ctx, id, func(ctx context.Context, run *checkpoint.Run) error {
		if run.Workflow() != "research" || string(run.Input()) != `{"topic":"tides"}` {
			return fmt.Errorf("resumed without the recorded workflow: %q %s", run.Workflow(), run.Input())
		}
		return nil
	}))
}

func testAttempts(t *testing.T, s checkpoint.Store) {
	ctx := context.Background()
	var events []rebound.EventKind
	r := checkpoint.NewRunner(s, checkpoint.Config{Hook: func(ctx context.Context, e rebound.Event) {
		events = append(events, e.Kind)
	}})
	id := runID(t)
	must(t, r.Run(ctx, id, func(ctx context.Context, run *checkpoint.Run) error {
		_, err := checkpoint.Step(ctx, run, "call", func(ctx context.Context) (string, error) {
			var h rebound.Hook // a producer with no hook of its own: the scope's hook records
			h.Emit(ctx, rebound.Event{Kind: rebound.AttemptFailed, Attempt: 1, Class: rebound.ClassRateLimited,
				Model: "anthropic/claude-x", Err: errors.New("429")})
			h.Emit(ctx, rebound.Event{Kind: rebound.RetryScheduled, Attempt: 1, Class: rebound.ClassRateLimited, Delay: 1500e6})
			h.Emit(ctx, rebound.Event{Kind: rebound.FallbackUsed, From: "anthropic/claude-x", To: "anthropic/claude-y"})
			return "fine", nil
		})
		return err
	}))
	v, err := checkpoint.Get(ctx, s, id)
	must(t, err)
	a := v.Steps[0].Attempts
	if len(a) != 3 || a[0].Kind != "attempt_failed" || a[0].Class != "rate_limited" || a[0].Model != "anthropic/claude-x" ||
		a[0].Error != "429" || a[1].Delay != 1500e6 || a[2].To != "anthropic/claude-y" {
		t.Fatalf("attempts recorded: %+v", a)
	}
	if v.AttemptCount != 2 {
		t.Errorf("attempt count %d, want 2 (one execution, one retry)", v.AttemptCount)
	}
	want := "run_started step_started attempt_failed retry_scheduled fallback_used step_completed run_completed"
	if got := fmt.Sprint(events); got != "["+want+"]" {
		t.Errorf("events %s\nwant   [%s]", got, want)
	}
}
