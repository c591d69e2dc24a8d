package fallback_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
	"github.com/rebound-go/rebound/fallback"
)

func answer(s string) rebound.Op[string] {
	return func(context.Context) (string, error) { return s, nil }
}

func fail(err error) rebound.Op[string] {
	return func(context.Context) (string, error) { return "", err }
}

var (
	errDown    = &rebound.Error{Class: rebound.ClassOverloaded, Status: 529, Provider: "anthropic"}
	errBad     = &rebound.Error{Class: rebound.ClassInvalid, Status: 400}
	errTooLong = &rebound.Error{Class: rebound.ClassContextOverflow, Status: 413}
)

func TestPrimaryAnswers(t *testing.T) {
	var events []rebound.Event
	c := fallback.Chain[string]{
		Alternatives: []fallback.Alternative[string]{
			{Name: "sonnet", Op: answer("primary")},
			{Name: "static", Op: answer("sorry"), Degraded: true},
		},
		Hook: func(_ context.Context, e rebound.Event) { events = append(events, e) },
	}
	r, err := c.Do(context.Background())
	if err != nil || r.Value != "primary" || r.Source != "sonnet" || r.Degraded || r.Fallback() || len(r.Failures) != 0 {
		t.Fatalf("Do = %+v, %v", r, err)
	}
	if len(events) != 0 {
		t.Fatalf("events on a primary answer: %+v", events)
	}
}

func TestFallsBackMarked(t *testing.T) {
	var events []rebound.Event
	c := fallback.Chain[string]{
		Alternatives: []fallback.Alternative[string]{
			{Name: "sonnet", Op: fail(errDown)},
			{Name: "haiku", Op: fail(errDown), Degraded: true},
			{Name: "static", Op: answer("sorry"), Degraded: true},
		},
		Hook: func(_ context.Context, e rebound.Event) { events = append(events, e) },
	}
	r, err := c.Do(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r.Value != "sorry" || r.Source != "static" || !r.Degraded || !r.Fallback() {
		t.Fatalf("result %+v", r)
	}
	if len(r.Failures) != 2 || r.Failures[0].Source != "sonnet" || r.Failures[1].Source != "haiku" ||
		r.Failures[0].Class != rebound.ClassOverloaded || r.Failures[0].Err != errDown {
		t.Fatalf("failures %+v", r.Failures)
	}
	want := [][2]string{{"sonnet", "haiku"}, {"haiku", "static"}}
	if len(events) != 2 {
		t.Fatalf("events %+v", events)
	}
	for i, e := range events {
		if e.Kind != rebound.FallbackUsed || e.From != want[i][0] || e.To != want[i][1] ||
			e.Class != rebound.ClassOverloaded || e.Err != errDown || e.Status != "degraded" {
			t.Errorf("event %d = %+v", i, e)
		}
	}
}

func TestAllFail(t *testing.T) {
	var open error
	b, _ := breaker.New(breaker.Settings{Name: "sonnet"})
	b.ForceOpen()
	_, open = b.Allow()
	r, err := fallback.Do(context.Background(),
		fallback.Alternative[string]{Name: "sonnet", Op: fail(open)},
		fallback.Alternative[string]{Name: "haiku", Op: fail(errDown)},
	)
	var fe *fallback.Error
	if !errors.As(err, &fe) || len(fe.Failures) != 2 {
		t.Fatalf("err = %v (%T)", err, err)
	}
	if len(r.Failures) != 2 {
		t.Fatalf("result failures %+v", r.Failures)
	}
	for _, s := range []string{"sonnet", "haiku", "overloaded", "forced open"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	var f *fallback.Failure
	if !errors.As(err, &f) || f.Source != "sonnet" {
		t.Errorf("errors.As *Failure = %+v", f)
	}
	var eo *breaker.OpenError
	if !errors.As(err, &eo) || eo.Name != "sonnet" {
		t.Errorf("errors.As *breaker.OpenError = %+v", eo)
	}
	if !errors.Is(err, rebound.ErrCircuitOpen) {
		t.Error("errors.Is ErrCircuitOpen")
	}
	var re *rebound.Error
	if !errors.As(err, &re) || re != errDown {
		t.Errorf("errors.As *rebound.Error = %v", re)
	}

	_, err = fallback.Do[string](context.Background())
	if !errors.Is(err, fallback.ErrNoAlternative) {
		t.Errorf("empty chain: %v", err)
	}
}

func TestDefaultWhenStopsOnCanceledAndInvalid(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
	}{{"invalid", errBad}, {"canceled", context.Canceled}} {
		t.Run(tt.name, func(t *testing.T) {
			ran := false
			r, err := fallback.Do(context.Background(),
				fallback.Alternative[string]{Name: "a", Op: fail(tt.err)},
				fallback.Alternative[string]{Name: "b", Op: func(context.Context) (string, error) { ran = true; return "b", nil }},
			)
			if ran || err == nil || len(r.Failures) != 1 {
				t.Fatalf("ran = %v, r = %+v, err = %v", ran, r, err)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("err %v does not wrap %v", err, tt.err)
			}
		})
	}
}

func TestCallerCancelStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ran := false
	r, err := fallback.Do(ctx,
		fallback.Alternative[string]{Name: "a", Op: func(ctx context.Context) (string, error) {
			cancel()
			return "", errors.New("connection closed") // not a context error: ClassifyContext still says canceled
		}},
		fallback.Alternative[string]{Name: "b", Op: func(context.Context) (string, error) { ran = true; return "b", nil }},
	)
	if ran || err == nil {
		t.Fatalf("ran = %v, err = %v", ran, err)
	}
	if r.Failures[0].Class != rebound.ClassCanceled {
		t.Errorf("class %v, want canceled", r.Failures[0].Class)
	}
}

func TestWhenSkips(t *testing.T) {
	bigRan := false
	r, err := fallback.Do(context.Background(),
		fallback.Alternative[string]{Name: "sonnet", Op: fail(errDown)},
		fallback.Alternative[string]{
			Name: "sonnet-1m", Op: func(context.Context) (string, error) { bigRan = true; return "big", nil },
			When: func(f fallback.Failure) bool { return f.Class == rebound.ClassContextOverflow },
		},
		fallback.Alternative[string]{Name: "haiku", Op: answer("small"), Degraded: true},
	)
	if err != nil || bigRan || r.Source != "haiku" {
		t.Fatalf("overloaded: r = %+v, err = %v, big ran = %v", r, err, bigRan)
	}
	r, err = fallback.Do(context.Background(),
		fallback.Alternative[string]{Name: "sonnet", Op: fail(errTooLong)},
		fallback.Alternative[string]{
			Name: "sonnet-1m", Op: answer("big"),
			When: func(f fallback.Failure) bool { return f.Class == rebound.ClassContextOverflow },
		},
	)
	if err != nil || r.Source != "sonnet-1m" || r.Degraded {
		t.Fatalf("overflow: r = %+v, err = %v", r, err)
	}
}

func TestNilOpIsAClearError(t *testing.T) {
	_, err := fallback.Do(context.Background(), fallback.Alternative[string]{Name: "sonnet"})
	if err == nil || !strings.Contains(err.Error(), `alternative "sonnet" has no Op`) {
		t.Fatalf("err = %v", err)
	}
}
