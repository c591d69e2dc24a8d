package timeout_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/timeout"
)

// hang waits for its context to end and returns its error, as a well-behaved call does.
func hang(ctx context.Context) (string, error) {
	<-ctx.Done()
	return "", ctx.Err()
}

func TestAttemptExpiryIsClassTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		_, err := timeout.Do(context.Background(), 30*time.Second, hang)
		if got := time.Since(start); got != 30*time.Second {
			t.Errorf("returned after %v, want 30s", got)
		}
		var re *rebound.Error
		if !errors.As(err, &re) || re.Class != rebound.ClassTimeout {
			t.Fatalf("err = %v (%T), want *rebound.Error of class timeout", err, err)
		}
		if c, _ := rebound.Classify(err); c != rebound.ClassTimeout {
			t.Errorf("Classify = %v", c)
		}
		if c, _ := rebound.ClassifyContext(context.Background(), err); c != rebound.ClassTimeout {
			t.Errorf("ClassifyContext = %v", c)
		}
		if !rebound.Retriable(err) {
			t.Error("an attempt timeout is not retriable")
		}
		if !errors.Is(err, timeout.ErrAttemptTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err %v does not match ErrAttemptTimeout and context.DeadlineExceeded", err)
		}
	})
}

func TestCallersDeadlineIsCanceled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := timeout.Do(ctx, 30*time.Second, hang)
		if c, _ := rebound.Classify(err); c != rebound.ClassCanceled {
			t.Errorf("caller's deadline: Classify = %v, want canceled", c)
		}
		if rebound.Retriable(err) {
			t.Error("the caller's deadline is retriable")
		}
		if errors.Is(err, timeout.ErrAttemptTimeout) {
			t.Error("the caller's deadline matches ErrAttemptTimeout")
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err %v does not match the caller's context error", err)
		}
	})
}

func TestCallersCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(time.Second, cancel)
		opErr := errors.New("read tcp: use of closed connection")
		_, err := timeout.Do(ctx, 30*time.Second, func(ctx context.Context) (int, error) {
			<-ctx.Done()
			return 0, opErr
		})
		if c, _ := rebound.Classify(err); c != rebound.ClassCanceled {
			t.Errorf("Classify = %v, want canceled", c)
		}
		if !errors.Is(err, context.Canceled) || !errors.Is(err, opErr) {
			t.Errorf("err %v should match context.Canceled and the op's error", err)
		}
	})
}

func TestSuccessAndOwnErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v, err := timeout.Do(context.Background(), time.Second, func(ctx context.Context) (string, error) {
			time.Sleep(999 * time.Millisecond)
			return "ok", nil
		})
		if v != "ok" || err != nil {
			t.Fatalf("Do = %q, %v", v, err)
		}
		bad := &rebound.Error{Class: rebound.ClassInvalid, Status: 400}
		_, err = timeout.Do(context.Background(), time.Second, func(ctx context.Context) (string, error) {
			return "", bad
		})
		if err != bad {
			t.Fatalf("an op's own error before expiry was changed: %v", err)
		}
		// No timeout: op runs under the caller's context.
		_, err = timeout.Do(context.Background(), 0, func(ctx context.Context) (string, error) {
			if _, ok := ctx.Deadline(); ok {
				t.Error("d = 0 set a deadline")
			}
			return "", nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// The op sees why its context ended.
		_, _ = timeout.Do(context.Background(), time.Second, func(ctx context.Context) (string, error) {
			<-ctx.Done()
			if !errors.Is(context.Cause(ctx), timeout.ErrAttemptTimeout) {
				t.Errorf("context.Cause = %v", context.Cause(ctx))
			}
			return "", ctx.Err()
		})
	})
}
