package breaker_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
)

var errDown = &rebound.Error{Class: rebound.ClassTransient, Message: "down"}

// Check refuses while open and admits nothing: a half-open breaker's probe slot stays free
// until Allow.
func TestCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := breaker.New(breaker.Settings{Name: "k", ConsecutiveFailures: 1, OpenFor: time.Second, Jitter: -1})
		if err := b.Check(); err != nil {
			t.Fatalf("closed: %v", err)
		}
		p, _ := b.Allow()
		p.Done(errDown)
		var open *breaker.OpenError
		if err := b.Check(); !errors.As(err, &open) || open.Name != "k" || !open.Until.Equal(time.Now().Add(time.Second)) {
			t.Fatalf("open: %v", err)
		}
		time.Sleep(time.Second)
		for range 3 {
			if err := b.Check(); err != nil {
				t.Fatalf("open time passed: %v", err)
			}
		}
		if _, err := b.Allow(); err != nil {
			t.Fatalf("Check took the probe slot: %v", err)
		}
		b.ForceOpen()
		if err := b.Check(); !errors.As(err, &open) || !open.Until.IsZero() {
			t.Errorf("forced open: %v", err)
		}
	})
}

// DoneContext returns the failure that opened the breaker as an *OpenedError, and every other
// outcome as it came.
func TestDoneContextReturnsOpened(t *testing.T) {
	b, _ := breaker.New(breaker.Settings{Name: "k", ConsecutiveFailures: 2})
	ctx := context.Background()
	p, _ := b.Allow()
	if err := p.DoneContext(ctx, errDown); err != errDown {
		t.Errorf("first failure came back as %v", err)
	}
	p, _ = b.Allow()
	err := p.DoneContext(ctx, errDown)
	var opened *breaker.OpenedError
	if !errors.As(err, &opened) || opened.Err != errDown || !errors.Is(err, rebound.ErrCircuitOpen) {
		t.Errorf("the failure that opened the breaker came back as %v", err)
	}
	if err := (breaker.Permit{}).DoneContext(ctx, errDown); err != errDown {
		t.Errorf("zero Permit: %v", err)
	}
}
