package retry_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/retry"
)

// recorder keeps the events a Policy's hook receives.
type recorder struct{ events []rebound.Event }

func (r *recorder) hook(_ context.Context, e rebound.Event) { r.events = append(r.events, e) }

func (r *recorder) kinds() []rebound.EventKind {
	var ks []rebound.EventKind
	for _, e := range r.events {
		ks = append(ks, e.Kind)
	}
	return ks
}

func (r *recorder) delays() []time.Duration {
	var ds []time.Duration
	for _, e := range r.events {
		if e.Kind == rebound.RetryScheduled {
			ds = append(ds, e.Delay)
		}
	}
	return ds
}

// failing returns an op that fails with errs[i] on call i (the last error repeats), then counts.
func failing(calls *int, errs ...error) rebound.Op[string] {
	return func(context.Context) (string, error) {
		i := *calls
		*calls++
		if len(errs) == 0 {
			return "ok", nil
		}
		if i >= len(errs) {
			i = len(errs) - 1
		}
		if errs[i] == nil {
			return "ok", nil
		}
		return "", errs[i]
	}
}

func giveUp(t *testing.T, err error) *rebound.GiveUpError {
	t.Helper()
	var gu *rebound.GiveUpError
	if !errors.As(err, &gu) {
		t.Fatalf("error %v (%T) is not a *rebound.GiveUpError", err, err)
	}
	if !errors.Is(err, rebound.ErrGaveUp) {
		t.Fatalf("errors.Is(%v, ErrGaveUp) = false", err)
	}
	return gu
}

var status503 = rebound.HTTPError(503, http.Header{}, time.Time{})

func TestDoSucceedsFirstTime(t *testing.T) {
	var calls int
	rec := &recorder{}
	v, err := retry.Do(context.Background(), retry.Policy{Hook: rec.hook}, failing(&calls))
	if err != nil || v != "ok" || calls != 1 || len(rec.events) != 0 {
		t.Fatalf("got %q, %v after %d calls and events %v", v, err, calls, rec.kinds())
	}
}

func TestDoZeroPolicyDefaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls int
		rec := &recorder{}
		start := time.Now()
		_, err := retry.Do(t.Context(), retry.Policy{Hook: rec.hook, Name: "dep", Rand: func() float64 { return 0.999999 }}, failing(&calls, status503))
		gu := giveUp(t, err)
		if gu.Reason != rebound.Exhausted || gu.Attempts != 5 || calls != 5 {
			t.Fatalf("reason %s, attempts %d, calls %d; want exhausted after 5", gu.Reason, gu.Attempts, calls)
		}
		if !errors.Is(err, status503) {
			t.Fatalf("give-up error does not wrap the last failure: %v", err)
		}
		// Full jitter with r near 1: just under 1 s, 2 s, 4 s, 8 s.
		ds := rec.delays()
		want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
		if len(ds) != len(want) {
			t.Fatalf("delays %v, want 4", ds)
		}
		var total time.Duration
		for i, d := range ds {
			if d > want[i] || d < want[i]*99/100 {
				t.Errorf("delay %d = %v, want just under %v", i, d, want[i])
			}
			total += d
		}
		if got := time.Since(start); got != total {
			t.Errorf("waited %v, want the sum of the delays %v", got, total)
		}
		for _, e := range rec.events {
			if e.Model != "dep" || e.Class != rebound.ClassTransient || e.Err == nil {
				t.Errorf("event %+v: want Model dep, Class transient and Err", e)
			}
		}
		wantKinds := fmt.Sprint([]rebound.EventKind{
			rebound.AttemptFailed, rebound.RetryScheduled, rebound.AttemptFailed, rebound.RetryScheduled,
			rebound.AttemptFailed, rebound.RetryScheduled, rebound.AttemptFailed, rebound.RetryScheduled,
			rebound.AttemptFailed, rebound.GaveUp,
		})
		if got := fmt.Sprint(rec.kinds()); got != wantKinds {
			t.Errorf("events %s, want %s", got, wantKinds)
		}
	})
}
