package breaker_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
)

var (
	errTransient = &rebound.Error{Class: rebound.ClassTransient, Status: 503}
	errRate      = &rebound.Error{Class: rebound.ClassRateLimited, Status: 429}
	errInvalid   = &rebound.Error{Class: rebound.ClassInvalid, Status: 400}
	errAuth      = &rebound.Error{Class: rebound.ClassAuth, Status: 401}
)

func mustNew(t *testing.T, s breaker.Settings) *breaker.Breaker {
	t.Helper()
	b, err := breaker.New(s)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return b
}

// call admits a call and reports err; it fails the test if the call is refused.
func call(t *testing.T, b *breaker.Breaker, err error) {
	t.Helper()
	p, aerr := b.Allow()
	if aerr != nil {
		t.Fatalf("Allow refused in state %v: %v", b.State(), aerr)
	}
	p.Done(err)
}

func wantState(t *testing.T, b *breaker.Breaker, want breaker.State) {
	t.Helper()
	if got := b.State(); got != want {
		t.Fatalf("state = %v, want %v", got, want)
	}
}

func wantRefused(t *testing.T, b *breaker.Breaker) *breaker.OpenError {
	t.Helper()
	_, err := b.Allow()
	if err == nil {
		t.Fatalf("Allow admitted a call in state %v, want refusal", b.State())
	}
	if !errors.Is(err, rebound.ErrCircuitOpen) {
		t.Fatalf("refusal %v does not match rebound.ErrCircuitOpen", err)
	}
	var open *breaker.OpenError
	if !errors.As(err, &open) {
		t.Fatalf("refusal %T is not an *OpenError", err)
	}
	return open
}

func TestOpensAfterConsecutiveFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, breaker.Settings{Name: "anthropic/claude-x", Rand: func() float64 { return 0.5 }})
		for i := range 4 {
			call(t, b, errTransient)
			wantState(t, b, breaker.Closed)
			_ = i
		}
		opened := time.Now()
		call(t, b, errTransient)
		wantState(t, b, breaker.Open)
		open := wantRefused(t, b)
		if open.Name != "anthropic/claude-x" {
			t.Errorf("OpenError.Name = %q", open.Name)
		}
		if want := opened.Add(1100 * time.Millisecond); !open.Until.Equal(want) {
			t.Errorf("OpenError.Until = %v, want %v (1 s after opening, plus half of the 20 %% jitter)", open.Until, want)
		}
		if open.State != breaker.Open {
			t.Errorf("OpenError.State = %v", open.State)
		}
		if rebound.Retriable(open) {
			t.Error("an OpenError is retriable")
		}
	})
}

func TestSuccessResetsTheRun(t *testing.T) {
	// 4 failures then a success, over and over: never 5 in a row. With the rate rule off the
	// breaker stays closed; with the default rate rule (50 % over 100 calls, at least 20) it
	// opens on the 20th call.
	b := mustNew(t, breaker.Settings{FailureRate: -1})
	for range 20 {
		for range 4 {
			call(t, b, errTransient)
		}
		call(t, b, nil)
	}
	wantState(t, b, breaker.Closed)

	b = mustNew(t, breaker.Settings{})
	calls := 0
	for b.State() == breaker.Closed && calls < 100 {
		if calls%5 == 4 {
			call(t, b, nil)
		} else {
			call(t, b, errTransient)
		}
		calls++
	}
	if calls != 20 {
		t.Errorf("default breaker opened after %d calls at 80 %% failures, want 20 (MinCalls)", calls)
	}
}

func TestOpenRejectsUntilOpenTimeHasPassed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, breaker.Settings{Jitter: -1})
		for range 5 {
			call(t, b, errTransient)
		}
		time.Sleep(time.Second - time.Nanosecond)
		wantState(t, b, breaker.Open)
		wantRefused(t, b)
		time.Sleep(time.Nanosecond)
		wantState(t, b, breaker.HalfOpen)
		p, err := b.Allow()
		if err != nil {
			t.Fatalf("probe refused after the open time: %v", err)
		}
		p.Done(nil)
	})
}

func TestHalfOpenAdmitsOnlyTheProbeLimit(t *testing.T) {
	for _, probes := range []int{0, 1, 3} {
		synctest.Test(t, func(t *testing.T) {
			b := mustNew(t, breaker.Settings{MaxProbes: probes, SuccessesToClose: 5})
			for range 5 {
				call(t, b, errTransient)
			}
			time.Sleep(5 * time.Second)
			limit := max(probes, 1)
			var ps []breaker.Permit
			for range limit {
				p, err := b.Allow()
				if err != nil {
					t.Fatalf("MaxProbes %d: probe %d refused: %v", probes, len(ps)+1, err)
				}
				ps = append(ps, p)
			}
			open := wantRefused(t, b)
			if open.State != breaker.HalfOpen {
				t.Errorf("OpenError.State = %v, want half_open", open.State)
			}
			ps[0].Done(nil) // a slot frees
			p, err := b.Allow()
			if err != nil {
				t.Fatalf("probe refused after a slot freed: %v", err)
			}
			wantRefused(t, b)
			p.Done(nil)
			for _, p := range ps[1:] {
				p.Done(nil)
			}
		})
	}
}

func TestClosesAfterTheSuccessThreshold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, breaker.Settings{})
		for range 5 {
			call(t, b, errTransient)
		}
		time.Sleep(5 * time.Second)
		call(t, b, nil)
		wantState(t, b, breaker.HalfOpen)
		call(t, b, nil)
		wantState(t, b, breaker.Closed)
		// Closed again with a clean slate: four failures do not open it.
		for range 4 {
			call(t, b, errTransient)
		}
		wantState(t, b, breaker.Closed)
	})
}

func TestFailedProbeReopensWithDoubledOpenTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, breaker.Settings{OpenFor: 5 * time.Second, MaxOpen: time.Minute, Jitter: -1})
		for range 5 {
			call(t, b, errTransient)
		}
		open := wantRefused(t, b)
		if got := time.Until(open.Until); got != 5*time.Second {
			t.Fatalf("first opening lasts %v, want 5s", got)
		}
		for _, want := range []time.Duration{10, 20, 40, 60, 60} {
			time.Sleep(time.Until(open.Until))
			call(t, b, errTransient) // the probe fails
			wantState(t, b, breaker.Open)
			open = wantRefused(t, b)
			if got := time.Until(open.Until); got != want*time.Second {
				t.Fatalf("after a failed probe the breaker is open for %v, want %v", got, want*time.Second)
			}
		}
		// Two successful probes close it, and the next opening is 5 s again.
		time.Sleep(time.Until(open.Until))
		call(t, b, nil)
		call(t, b, nil)
		wantState(t, b, breaker.Closed)
		for range 5 {
			call(t, b, errTransient)
		}
		if got := time.Until(wantRefused(t, b).Until); got != 5*time.Second {
			t.Fatalf("after closing, the next opening lasts %v, want 5s (reset on success)", got)
		}
	})
}

func TestMaxOpenAndOpenFor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, breaker.Settings{OpenFor: time.Second, MaxOpen: 3 * time.Second, ConsecutiveFailures: 1, Jitter: -1})
		call(t, b, errTransient)
		for _, want := range []time.Duration{1, 2, 3, 3} {
			open := wantRefused(t, b)
			if got := time.Until(open.Until); got != want*time.Second {
				t.Fatalf("open for %v, want %v", got, want*time.Second)
			}
			time.Sleep(time.Until(open.Until))
			call(t, b, errTransient)
		}
	})
}

func TestNeutralProbeNeverCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, breaker.Settings{SuccessesToClose: 1})
		for range 5 {
			call(t, b, errTransient)
		}
		time.Sleep(5 * time.Second)
		for range 10 {
			call(t, b, context.Canceled)
			wantState(t, b, breaker.HalfOpen)
		}
		// A cancelled probe under Do, whose context ended, is neutral too.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := breaker.Do(ctx, b, func(ctx context.Context) (int, error) {
			return 0, errors.New("request aborted")
		})
		if err == nil {
			t.Fatal("Do returned no error")
		}
		wantState(t, b, breaker.HalfOpen)
		call(t, b, nil)
		wantState(t, b, breaker.Closed)
	})
}

func TestClasses(t *testing.T) {
	tests := []struct {
		name string
		err  error
		// opens: five in a row open the default breaker
		opens bool
		// resets: it breaks a run of failures (counts as a success)
		resets bool
	}{
		{"transient", errTransient, true, false},
		{"overloaded", &rebound.Error{Class: rebound.ClassOverloaded, Status: 529}, true, false},
		{"timeout", context.DeadlineExceeded, true, false},
		{"rate_limited", errRate, false, true},
		{"invalid", errInvalid, false, true},
		{"auth", errAuth, false, true},
		{"unknown", errors.New("boom"), false, true},
		{"canceled", context.Canceled, false, false},
		{"success", nil, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mustNew(t, breaker.Settings{FailureRate: -1})
			for range 5 {
				call(t, b, tt.err)
			}
			if got := b.State() == breaker.Open; got != tt.opens {
				t.Fatalf("five %s outcomes: open = %v, want %v", tt.name, got, tt.opens)
			}
			if tt.opens {
				return
			}
			b = mustNew(t, breaker.Settings{FailureRate: -1})
			for range 4 {
				call(t, b, errTransient)
			}
			call(t, b, tt.err)
			call(t, b, errTransient)
			if got := b.State() == breaker.Closed; got != tt.resets {
				t.Fatalf("4 failures, one %s, one failure: still closed = %v, want %v", tt.name, got, tt.resets)
			}
		})
	}
}

func TestCustomFailureClasses(t *testing.T) {
	b := mustNew(t, breaker.Settings{
		Failures: []rebound.Class{rebound.ClassRateLimited}, ConsecutiveFailures: 2, FailureRate: -1,
	})
	call(t, b, errTransient)
	call(t, b, errTransient)
	wantState(t, b, breaker.Closed)
	call(t, b, errRate)
	call(t, b, errRate)
	wantState(t, b, breaker.Open)

	if _, err := breaker.New(breaker.Settings{
		Failures: []rebound.Class{rebound.ClassCanceled},
	}); err == nil {
		t.Error("New accepted canceled as both failure and neutral")
	}
}

func TestCountWindowFailureRate(t *testing.T) {
	b := mustNew(t, breaker.Settings{WindowSize: 10, MinCalls: 6, FailureRate: 0.5, ConsecutiveFailures: -1})
	// Alternate: never two failures in a row, but half the calls fail.
	call(t, b, errTransient)
	call(t, b, nil)
	call(t, b, errTransient)
	call(t, b, nil)
	call(t, b, errTransient)
	wantState(t, b, breaker.Closed) // 5 calls < MinCalls
	call(t, b, nil)
	wantState(t, b, breaker.Open) // 3 of 6

	// The window slides: old failures drop out.
	b = mustNew(t, breaker.Settings{WindowSize: 4, MinCalls: 4, FailureRate: 0.75, ConsecutiveFailures: -1})
	call(t, b, errTransient)
	call(t, b, errTransient)
	call(t, b, nil)
	call(t, b, nil)          // 2 of 4
	call(t, b, errTransient) // drops a failure: 2 of 4
	wantState(t, b, breaker.Closed)
	call(t, b, errTransient) // drops a failure: 2 of 4
	wantState(t, b, breaker.Closed)
	call(t, b, errTransient) // drops a success: 3 of 4
	wantState(t, b, breaker.Open)
}

func TestTimeWindowRolls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, breaker.Settings{
			WindowPeriod: 10 * time.Second, MinCalls: 4, FailureRate: 0.5, ConsecutiveFailures: -1,
		})
		call(t, b, errTransient)
		call(t, b, errTransient)
		call(t, b, errTransient)
		time.Sleep(11 * time.Second) // those three have rolled out of the window
		call(t, b, nil)
		call(t, b, nil)
		call(t, b, errTransient)
		wantState(t, b, breaker.Closed) // 3 calls in the window: below MinCalls
		call(t, b, errTransient)
		wantState(t, b, breaker.Open) // 2 of 4

		b = mustNew(t, breaker.Settings{
			WindowPeriod: 10 * time.Second, MinCalls: 4, FailureRate: 0.5, ConsecutiveFailures: -1,
		})
		call(t, b, errTransient)
		call(t, b, errTransient)
		time.Sleep(5 * time.Second) // still inside the window
		call(t, b, nil)
		call(t, b, nil)
		wantState(t, b, breaker.Open) // 2 of 4
	})
}

func TestSlowCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, breaker.Settings{
			SlowCall: time.Second, SlowCallRate: 0.5, MinCalls: 4, ConsecutiveFailures: -1,
			OpenFor: 5 * time.Second, MaxOpen: time.Minute, Jitter: -1,
		})
		slow := func() {
			p, err := b.Allow()
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Second)
			p.Done(nil)
		}
		call(t, b, nil)
		call(t, b, nil)
		slow()
		wantState(t, b, breaker.Closed)
		slow()
		wantState(t, b, breaker.Open) // 2 slow of 4

		// A slow probe is a failed probe.
		time.Sleep(5 * time.Second)
		slow()
		open := wantRefused(t, b)
		if got := time.Until(open.Until); got != 10*time.Second {
			t.Fatalf("after a slow probe, open for %v, want 10s", got)
		}
	})
}

func TestStaleOutcomesAreDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, breaker.Settings{SuccessesToClose: 1})
		early, err := b.Allow() // admitted while closed
		if err != nil {
			t.Fatal(err)
		}
		for range 5 {
			call(t, b, errTransient)
		}
		time.Sleep(5 * time.Second)
		probe, err := b.Allow()
		if err != nil {
			t.Fatal(err)
		}
		early.Done(nil) // from the closed period: must not close the half-open breaker
		wantState(t, b, breaker.HalfOpen)
		probe.Done(nil)
		wantState(t, b, breaker.Closed)
		var zero breaker.Permit
		zero.Done(errTransient) // no-op
	})
}

func TestForceAndReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var changes []string
		b := mustNew(t, breaker.Settings{Name: "tool/search", OnStateChange: func(name string, from, to breaker.State) {
			changes = append(changes, from.String()+">"+to.String())
		}})
		b.ForceOpen()
		open := wantRefused(t, b)
		if !open.Until.IsZero() {
			t.Errorf("forced open: Until = %v, want zero", open.Until)
		}
		time.Sleep(time.Hour)
		wantState(t, b, breaker.Open)
		wantRefused(t, b)

		b.ForceClosed()
		for range 20 {
			call(t, b, errTransient)
		}
		wantState(t, b, breaker.Closed)

		b.Reset()
		for range 5 {
			call(t, b, errTransient)
		}
		wantState(t, b, breaker.Open)
		b.Reset()
		wantState(t, b, breaker.Closed)
		call(t, b, nil)

		want := []string{"closed>open", "open>closed", "closed>open", "open>closed"}
		if len(changes) != len(want) {
			t.Fatalf("changes = %v, want %v", changes, want)
		}
		for i := range want {
			if changes[i] != want[i] {
				t.Fatalf("changes = %v, want %v", changes, want)
			}
		}
	})
}

func TestCallbacksMayCallTheBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var b *breaker.Breaker
		var seen []breaker.State
		var events []rebound.Event
		b = mustNew(t, breaker.Settings{
			Name: "anthropic/claude-x",
			OnStateChange: func(name string, from, to breaker.State) {
				if name != "anthropic/claude-x" {
					t.Errorf("callback name %q", name)
				}
				seen = append(seen, b.State()) // would deadlock under the breaker's lock
				if to == breaker.Open {
					_, err := b.Allow()
					if err == nil {
						t.Error("Allow from the callback admitted a call on an open breaker")
					}
				}
			},
			Hook: func(ctx context.Context, e rebound.Event) {
				_ = b.State()
				events = append(events, e)
			},
		})
		for range 5 {
			call(t, b, errTransient)
		}
		time.Sleep(5 * time.Second)
		call(t, b, nil)
		call(t, b, nil)
		want := []string{"closed>open", "open>half_open", "half_open>closed"}
		if len(events) != len(want) {
			t.Fatalf("%d events, want %d: %+v", len(events), len(want), events)
		}
		for i, e := range events {
			if e.Kind != rebound.BreakerChanged || e.Model != "anthropic/claude-x" || e.From+">"+e.To != want[i] {
				t.Errorf("event %d = %+v, want breaker_changed %s", i, e, want[i])
			}
			if e.Time.IsZero() {
				t.Errorf("event %d has no time", i)
			}
		}
		if len(seen) != 3 || seen[0] != breaker.Open || seen[2] != breaker.Closed {
			t.Errorf("states seen from the callback = %v", seen)
		}
	})
}

func TestHookReachesTheScope(t *testing.T) {
	var got []rebound.Event
	ctx := rebound.WithScope(context.Background(), rebound.Scope{RunID: "r1", Step: "outline",
		Hook: func(ctx context.Context, e rebound.Event) { got = append(got, e) }})
	b := mustNew(t, breaker.Settings{Name: "m", ConsecutiveFailures: 1})
	_, _ = breaker.Do(ctx, b, func(context.Context) (int, error) { return 0, errTransient })
	if len(got) != 1 || got[0].RunID != "r1" || got[0].To != "open" {
		t.Fatalf("scope hook saw %+v", got)
	}
}

func TestDo(t *testing.T) {
	b := mustNew(t, breaker.Settings{ConsecutiveFailures: 2, FailureRate: -1})
	v, err := breaker.Do(context.Background(), b, func(context.Context) (string, error) { return "ok", nil })
	if v != "ok" || err != nil {
		t.Fatalf("Do = %q, %v", v, err)
	}
	// A panic is a failure, and is passed on.
	for range 2 {
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("panic swallowed")
				}
			}()
			_, _ = breaker.Do(context.Background(), b, func(context.Context) (int, error) { panic("boom") })
		}()
	}
	wantState(t, b, breaker.Open)
	ran := false
	_, err = breaker.Do(context.Background(), b, func(context.Context) (int, error) { ran = true; return 1, nil })
	if ran || !errors.Is(err, rebound.ErrCircuitOpen) {
		t.Fatalf("open breaker: ran = %v, err = %v", ran, err)
	}
	// The caller's deadline is not the dependency's fault.
	b = mustNew(t, breaker.Settings{ConsecutiveFailures: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	_, _ = breaker.Do(ctx, b, func(ctx context.Context) (int, error) { return 0, ctx.Err() })
	wantState(t, b, breaker.Closed)
}

func TestSettingsValidation(t *testing.T) {
	bad := []breaker.Settings{
		{OpenFor: -1}, {SuccessesToClose: -1}, {MaxProbes: -1}, {WindowSize: -1}, {WindowPeriod: -1},
		{FailureRate: 1.5}, {MinCalls: -1}, {SlowCall: -1}, {SlowCallRate: 2}, {ProbeTimeout: -1},
	}
	for _, s := range bad {
		if _, err := breaker.New(s); err == nil {
			t.Errorf("New(%+v) accepted", s)
		}
		if _, err := breaker.NewSet(breaker.SetConfig{Settings: s}); err == nil {
			t.Errorf("NewSet(%+v) accepted", s)
		}
	}
}

func TestStateNames(t *testing.T) {
	for s, want := range map[breaker.State]string{breaker.Closed: "closed", breaker.Open: "open", breaker.HalfOpen: "half_open"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", s, s.String(), want)
		}
	}
}

// TestQuietBreakerStillCounts checks that successes on a healthy breaker (which take the
// lock-free path) leave the window exact: failures that follow are counted against a full
// window of successes.
func TestQuietBreakerStillCounts(t *testing.T) {
	b := mustNew(t, breaker.Settings{WindowSize: 10, MinCalls: 10, FailureRate: 0.5, ConsecutiveFailures: -1})
	for range 50 {
		call(t, b, nil)
	}
	for range 4 {
		call(t, b, errTransient)
		call(t, b, nil)
		wantState(t, b, breaker.Closed) // at most 4 failures of 10
	}
	call(t, b, errTransient) // F S F S F S F S F + one old S: 5 of 10
	wantState(t, b, breaker.Open)
}

func TestLostProbeDoesNotStickHalfOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, breaker.Settings{OpenFor: 5 * time.Second, MaxOpen: time.Minute, Jitter: -1})
		for range 5 {
			call(t, b, errTransient)
		}
		time.Sleep(5 * time.Second)
		lost, err := b.Allow() // never reported in time
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(59 * time.Second)
		if open := wantRefused(t, b); open.State != breaker.HalfOpen {
			t.Fatalf("refusal state %v, want half_open while the probe may still answer", open.State)
		}
		time.Sleep(time.Second)
		open := wantRefused(t, b) // the lost probe counts as failed: open again, for 10 s
		if open.State != breaker.Open || time.Until(open.Until) != 10*time.Second {
			t.Fatalf("after a lost probe: %+v, want open for 10s", open)
		}
		lost.Done(nil) // too late: dropped
		wantState(t, b, breaker.Open)
		time.Sleep(10 * time.Second)
		call(t, b, nil)
		call(t, b, nil)
		wantState(t, b, breaker.Closed)
	})
}

func TestMinCallsAtMostTheWindow(t *testing.T) {
	// WindowSize 4 with the default MinCalls (20): the rate rule must still work.
	b := mustNew(t, breaker.Settings{WindowSize: 4, ConsecutiveFailures: -1})
	call(t, b, errTransient)
	call(t, b, nil)
	call(t, b, errTransient)
	wantState(t, b, breaker.Closed)
	call(t, b, nil)
	wantState(t, b, breaker.Open) // 2 of 4 = the default 50 %
}

// TestHugeMaxOpenDoesNotOverflow doubles the open time past half of the largest Duration: it must
// stay at MaxOpen, not wrap around to a negative time that would close the breaker at once.
func TestHugeMaxOpenDoesNotOverflow(t *testing.T) {
	b := mustNew(t, breaker.Settings{OpenFor: 1 << 61, MaxOpen: math.MaxInt64, ConsecutiveFailures: 1, Jitter: -1})
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	p, err := b.AllowAt(now)
	if err != nil {
		t.Fatal(err)
	}
	p.DoneAt(now, errTransient)
	want := []time.Duration{1 << 62, math.MaxInt64, math.MaxInt64}
	for i, d := range want {
		_, err := b.AllowAt(now)
		var open *breaker.OpenError
		if !errors.As(err, &open) {
			t.Fatalf("failed probe %d: admitted a call while open (%v)", i, err)
		}
		now = open.Until // the end of this opening: the next call is a probe
		probe, err := b.AllowAt(now)
		if err != nil {
			t.Fatalf("probe %d refused at the end of the open time: %v", i+1, err)
		}
		probe.DoneAt(now, errTransient)
		if got := b.StateAt(now.Add(time.Hour)); got != breaker.Open {
			t.Fatalf("after failed probe %d the breaker is %v an hour later, want open for %v", i+1, got, d)
		}
		if _, err := b.AllowAt(now); !errors.As(err, &open) || open.Until.Sub(now) != d {
			t.Fatalf("after failed probe %d: %v, want open for %v", i+1, err, d)
		}
	}
}

// TestDefaultScheduleDoesNotGrow: by default an open breaker probes every OpenFor (1 s, plus up
// to 20 % jitter) for as long as the dependency stays down, so its recovery is seen within about
// 1.2 s however long the outage; the load it then receives is one probe per open time.
func TestDefaultScheduleDoesNotGrow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := []float64{0, 0.5, 0.999}
		n := 0
		b := mustNew(t, breaker.Settings{Rand: func() float64 { n++; return r[n%len(r)] }})
		for range 5 {
			call(t, b, errTransient)
		}
		start := time.Now()
		probes := 0
		for time.Since(start) < 5*time.Minute {
			open := wantRefused(t, b)
			d := time.Until(open.Until)
			if d < time.Second || d >= 1200*time.Millisecond {
				t.Fatalf("after %d failed probes the breaker is open for %v, want 1 s to 1.2 s", probes, d)
			}
			time.Sleep(d)
			call(t, b, errTransient) // the probe fails
			probes++
		}
		// 300 s at one probe per 1–1.2 s.
		if probes < 250 || probes > 300 {
			t.Errorf("%d probes in 5 minutes, want 250 to 300", probes)
		}
		// The dependency recovers: the next probe is at most 1.2 s away, and 2 close the breaker.
		recovered := time.Now()
		time.Sleep(time.Until(wantRefused(t, b).Until))
		call(t, b, nil)
		call(t, b, nil)
		wantState(t, b, breaker.Closed)
		if d := time.Since(recovered); d > 1200*time.Millisecond {
			t.Errorf("closed %v after the recovery, want at most 1.2 s", d)
		}
	})
}

// TestDefaultProbeTimeout: a lost probe of a breaker with the default schedule (1 s open) counts
// as failed after ProbeTimeout (1 minute), not after the open time: a probe may take longer than
// 1 s.
func TestDefaultProbeTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, breaker.Settings{Jitter: -1})
		for range 5 {
			call(t, b, errTransient)
		}
		time.Sleep(time.Second)
		slowProbe, err := b.Allow()
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(59 * time.Second)
		if open := wantRefused(t, b); open.State != breaker.HalfOpen {
			t.Fatalf("refusal state %v 59 s into a probe, want half_open", open.State)
		}
		time.Sleep(time.Second)
		if open := wantRefused(t, b); open.State != breaker.Open || time.Until(open.Until) != time.Second {
			t.Fatalf("after the probe timeout: %+v, want open for 1 s", open)
		}
		slowProbe.Done(nil) // too late: dropped
		wantState(t, b, breaker.Open)
	})
}

// TestJitterDoesNotOverflow: the jitter of an open time near the largest Duration saturates.
func TestJitterDoesNotOverflow(t *testing.T) {
	b := mustNew(t, breaker.Settings{OpenFor: math.MaxInt64 - 10, ConsecutiveFailures: 1, Rand: func() float64 { return 0.99 }})
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	p, _ := b.AllowAt(now)
	p.DoneAt(now, errTransient)
	if got := b.StateAt(now.Add(100 * 365 * 24 * time.Hour)); got != breaker.Open {
		t.Fatalf("state a century later = %v, want open", got)
	}
}

// Trip opens a closed breaker as its own failures would: refused until the open time, then a
// probe decides. It leaves an open or forced breaker as it is.
func TestTrip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, breaker.Settings{OpenFor: time.Second, Jitter: -1})
		early, _ := b.Allow()
		until, ok := b.Trip()
		if !ok || !until.Equal(time.Now().Add(time.Second)) {
			t.Fatalf("Trip = %v, %v; want the open time from now, true", until, ok)
		}
		if open := wantRefused(t, b); !open.Until.Equal(until) {
			t.Errorf("refused until %v, want %v", open.Until, until)
		}
		early.Done(nil) // admitted before the trip: dropped
		wantState(t, b, breaker.Open)
		if _, ok := b.Trip(); ok {
			t.Error("Trip of an open breaker reported a trip")
		}
		time.Sleep(time.Second)
		wantState(t, b, breaker.HalfOpen)
		call(t, b, errTransient)
		wantState(t, b, breaker.Open)
		time.Sleep(time.Second)
		call(t, b, nil)
		call(t, b, nil) // SuccessesToClose
		wantState(t, b, breaker.Closed)

		b.ForceOpen()
		if _, ok := b.Trip(); ok {
			t.Error("Trip of a forced breaker reported a trip")
		}
		b.ForceClosed()
		if _, ok := b.Trip(); ok || b.State() != breaker.Closed {
			t.Errorf("Trip of a breaker forced closed: %v, state %v; want no trip", ok, b.State())
		}
	})
}
