package checkpoint_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
)

// A workflow that ignores a failed step and appends a message cannot journal it: the run has
// stopped. Resumed twice, with the step fixed and then past it, the history lines up.
func TestAppendAfterStoppedStep(t *testing.T) {
	ctx := context.Background()
	store := checkpoint.NewMemoryStore()
	r := checkpoint.NewRunner(store, checkpoint.Config{})
	fail := map[string]bool{"first": true}
	var appendErr error
	wf := func(ctx context.Context, run *checkpoint.Run) error {
		for _, name := range []string{"first", "second"} {
			_, err := checkpoint.Step(ctx, run, name, func(ctx context.Context) (string, error) {
				if err := run.Append(ctx, rebound.Assistant(name+" answer")); err != nil {
					return "", err
				}
				if fail[name] {
					return "", errors.New(name + " broke")
				}
				return name, nil
			})
			// A careless workflow: it carries on after a failure.
			appendErr = run.Append(ctx, rebound.User("after "+name))
			_ = err
		}
		return nil
	}
	if err := r.Run(ctx, "careless", wf); err == nil {
		t.Fatal("the run completed although its first step failed")
	}
	if appendErr == nil {
		t.Fatal("Append after a failed step journaled its message")
	}
	fail = map[string]bool{"second": true}
	if err := r.Run(ctx, "careless", wf); err == nil {
		t.Fatal("the run completed although its second step failed")
	}
	fail = nil
	if err := r.Run(ctx, "careless", wf); err != nil {
		t.Fatalf("third run: %v", err)
	}
	v, err := checkpoint.Get(ctx, store, "careless")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range v.Messages {
		got = append(got, m.Content)
	}
	want := []string{"first answer", "after first", "second answer", "after second"}
	if len(got) != len(want) {
		t.Fatalf("history %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("history %q, want %q", got, want)
		}
	}
}

// ctxKey marks the context a workflow passes to Run.Append.
type ctxKey struct{}

// ctxStore records whether the writes of messages carried the workflow's context.
type ctxStore struct {
	*checkpoint.MemoryStore
	sawCaller bool
}

func (s *ctxStore) WriteRun(ctx context.Context, l checkpoint.Lease, w checkpoint.Write) error {
	if len(w.Messages) > 0 && len(w.Steps) == 0 && ctx.Value(ctxKey{}) != nil {
		s.sawCaller = true
	}
	return s.MemoryStore.WriteRun(ctx, l, w)
}

// TestAppendUsesCallersContext: a message appended outside a step is written under the
// caller's context (its values reach the store), and a canceled context journals nothing.
func TestAppendUsesCallersContext(t *testing.T) {
	store := &ctxStore{MemoryStore: checkpoint.NewMemoryStore()}
	r := checkpoint.NewRunner(store, checkpoint.Config{})
	ctx := context.WithValue(context.Background(), ctxKey{}, "caller")
	var canceledErr error
	err := r.Run(ctx, "ctx", func(ctx context.Context, run *checkpoint.Run) error {
		if err := run.Append(ctx, rebound.User("hello")); err != nil {
			return err
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		canceledErr = run.Append(cctx, rebound.User("never journaled"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !store.sawCaller {
		t.Error("Append wrote its message without the caller's context")
	}
	if !errors.Is(canceledErr, context.Canceled) {
		t.Errorf("Append with a canceled context = %v, want context.Canceled", canceledErr)
	}
	v, err := checkpoint.Get(context.Background(), store, "ctx")
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Messages) != 1 || v.Messages[0].Content != "hello" {
		t.Errorf("journaled messages = %+v, want only hello", v.Messages)
	}
}
