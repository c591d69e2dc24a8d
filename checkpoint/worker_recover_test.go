package checkpoint_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
)

// A worker that is resuming a long run still takes over a dead worker's run within the lease's
// TTL plus its Interval of the lease running out: a resume in flight does not hold up the next
// poll. (It used to: Run waited for every resume of a poll before polling again, so a run left
// by a dead worker waited for the longest resume of every surviving worker.)
func TestWorkerRecoversWhileResuming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ttl, interval = 10 * time.Second, time.Second
		store := checkpoint.NewMemoryStore()
		queue := escalate.NewQueue(escalate.NewMemoryStore(), escalate.Config{})
		runner := checkpoint.NewRunner(store, checkpoint.Config{Escalations: queue, LeaseTTL: ttl})
		// work runs one step that takes the run's input of time (or until ctx ends).
		work := func(ctx context.Context, run *checkpoint.Run) error {
			var in struct{ Work time.Duration }
			if err := run.DecodeInput(&in); err != nil {
				return err
			}
			_, err := checkpoint.Step(ctx, run, "work", func(ctx context.Context) (bool, error) {
				select {
				case <-time.After(in.Work):
					return true, nil
				case <-ctx.Done():
					return false, ctx.Err()
				}
			})
			return err
		}
		// Two runs whose workers, on another host, died holding them: "long" (ten minutes of
		// work) whose lease runs out at once, and "short" whose lease runs out in ttl.
		start := time.Now()
		left := func(id string, lease, work time.Duration) {
			in, err := json.Marshal(map[string]time.Duration{"Work": work})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := store.ClaimRun(t.Context(), checkpoint.ClaimRequest{RunID: id, Owner: "elsewhere/" + id,
				TTL: lease, Workflow: "work", Input: in}); err != nil {
				t.Fatal(err)
			}
		}
		left("long", time.Millisecond, 10*time.Minute)
		left("short", ttl, 0)

		var mu sync.Mutex
		completed := map[string]time.Duration{}
		w, err := checkpoint.NewWorker(runner, checkpoint.WorkerConfig{Workflows: map[string]checkpoint.Workflow{"work": work},
			Interval: interval, Recover: true, Logger: quiet(),
			OnResume: func(run checkpoint.RunInfo, err error) {
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					completed[run.ID] = time.Since(start)
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()

		time.Sleep(ttl + interval)
		synctest.Wait()
		mu.Lock()
		got, ok := completed["short"]
		_, longDone := completed["long"]
		mu.Unlock()
		if !ok || got > ttl+interval {
			t.Errorf("the dead worker's run completed after %v (ok %v), want within its lease's %v plus the interval %v",
				got, ok, ttl, interval)
		}
		if longDone {
			t.Errorf("the long run completed early")
		}
		if rec, err := store.GetRun(t.Context(), "long"); err != nil || rec.Status != checkpoint.StatusRunning || rec.Owner != runner.Owner() {
			t.Errorf("long run = %+v, %v; want running, held by the worker", rec, err)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	})
}
