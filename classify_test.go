package rebound_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
)

func TestClassifyNil(t *testing.T) {
	if c, d := rebound.Classify(nil); c != rebound.ClassUnknown || d != 0 {
		t.Fatalf("Classify(nil) = %v, %v", c, d)
	}
	if rebound.Retriable(nil) {
		t.Fatal("Retriable(nil) = true")
	}
	if _, marked := rebound.Marked(nil); marked {
		t.Fatal("Marked(nil) is marked")
	}
}

func TestClassifyMarks(t *testing.T) {
	e503 := &rebound.Error{Status: 503}
	e400 := &rebound.Error{Class: rebound.ClassInvalid, Status: 400}
	plain := errors.New("plain")
	tests := []struct {
		name              string
		err               error
		class             rebound.Class
		delay             time.Duration
		retriable, marked bool
	}{
		{"status only", e503, rebound.ClassTransient, 0, true, false},
		{"permanent keeps the class", rebound.Permanent(e503), rebound.ClassTransient, 0, false, true},
		{"permanent drops the delay", rebound.Permanent(&rebound.Error{Status: 429, RetryAfter: time.Second}), rebound.ClassRateLimited, 0, false, true},
		{"transient of unknown", rebound.Transient(plain), rebound.ClassTransient, 0, true, true},
		{"transient of invalid", rebound.Transient(e400), rebound.ClassTransient, 0, true, true},
		{"transient keeps a retriable class", rebound.Transient(&rebound.Error{Status: 529}), rebound.ClassOverloaded, 0, true, true},
		{"retry after", rebound.RetryAfter(3*time.Second, plain), rebound.ClassTransient, 3 * time.Second, true, true},
		{"retry after overrides the server's delay", rebound.RetryAfter(3*time.Second, &rebound.Error{Status: 429, RetryAfter: time.Second}), rebound.ClassRateLimited, 3 * time.Second, true, true},
		{"outer permanent wins", rebound.Permanent(rebound.Transient(plain)), rebound.ClassTransient, 0, false, true},
		{"outer transient wins", rebound.Transient(rebound.Permanent(e503)), rebound.ClassTransient, 0, true, true},
		{"wrapped mark", fmt.Errorf("step: %w", rebound.Permanent(e503)), rebound.ClassTransient, 0, false, true},
		{"circuit open", rebound.ErrCircuitOpen, rebound.ClassTransient, 0, false, true},
		{"circuit open wrapped", fmt.Errorf("breaker anthropic/claude-x: %w", rebound.ErrCircuitOpen), rebound.ClassTransient, 0, false, true},
		{"breaker's own error type", openError{}, rebound.ClassTransient, 0, false, true},
		{"give-up of a 503", &rebound.GiveUpError{Reason: rebound.Exhausted, Attempts: 5, Last: e503}, rebound.ClassTransient, 0, false, true},
		{"give-up of context", &rebound.GiveUpError{Reason: rebound.ContextEnded, Attempts: 2, Last: e503, Cause: context.Canceled}, rebound.ClassCanceled, 0, false, true},
		{"give-up without last", &rebound.GiveUpError{Reason: rebound.BudgetExhausted}, rebound.ClassUnknown, 0, false, true},
		{"joined: first understood wins", errors.Join(plain, e400, e503), rebound.ClassInvalid, 0, false, false},
		{"should-retry true on 400", &rebound.Error{Status: 400, ShouldRetry: ptr(true)}, rebound.ClassInvalid, 0, true, true},
		{"should-retry false on 503", &rebound.Error{Status: 503, ShouldRetry: ptr(false)}, rebound.ClassTransient, 0, false, true},
		{"explicit class wins over status", &rebound.Error{Class: rebound.ClassQuota, Status: 429}, rebound.ClassQuota, 0, false, false},
		{"unknown class without status looks at the cause", &rebound.Error{Provider: "openai", Err: io.ErrUnexpectedEOF}, rebound.ClassTransient, 0, true, false},
		{"unknown class, status 200, cause", &rebound.Error{Status: 200, Err: context.DeadlineExceeded}, rebound.ClassTimeout, 0, true, false},
		{"unknown class and cause keep the server delay", &rebound.Error{RetryAfter: time.Second, Err: syscall.ECONNRESET}, rebound.ClassTransient, time.Second, true, false},
		{"nothing known", &rebound.Error{Message: "?"}, rebound.ClassUnknown, 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, d := rebound.Classify(tt.err)
			if c != tt.class || d != tt.delay {
				t.Fatalf("Classify = %v, %v; want %v, %v", c, d, tt.class, tt.delay)
			}
			r, m := rebound.Marked(tt.err)
			if m != tt.marked || m && r != tt.retriable {
				t.Fatalf("Marked = %v, %v; want %v, %v", r, m, tt.retriable, tt.marked)
			}
			if got := rebound.Retriable(tt.err); got != tt.retriable {
				t.Fatalf("Retriable = %v, want %v", got, tt.retriable)
			}
		})
	}
}

type openError struct{}

func (openError) Error() string        { return "breaker open" }
func (openError) Is(target error) bool { return target == rebound.ErrCircuitOpen }
func ptr[T any](v T) *T                { return &v }

func TestMarksOfNil(t *testing.T) {
	if rebound.Permanent(nil) != nil || rebound.Transient(nil) != nil || rebound.RetryAfter(time.Second, nil) != nil {
		t.Fatal("a mark of nil is not nil")
	}
	base := errors.New("base")
	for _, err := range []error{rebound.Permanent(base), rebound.Transient(base), rebound.RetryAfter(time.Second, base)} {
		if err.Error() != "base" || !errors.Is(err, base) {
			t.Fatalf("mark %v hides its error", err)
		}
	}
}

func TestClassifyContext(t *testing.T) {
	// The caller's context ended: canceled, whatever the error says.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, err := range []error{context.Canceled, context.DeadlineExceeded, &rebound.Error{Status: 503}, io.ErrUnexpectedEOF} {
		if c, d := rebound.ClassifyContext(ctx, err); c != rebound.ClassCanceled || d != 0 {
			t.Errorf("ended ctx, %v: %v, %v; want canceled", err, c, d)
		}
	}
	// The caller's deadline passed: canceled too (the caller's own deadline is not retried).
	dctx, dcancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer dcancel()
	if c, _ := rebound.ClassifyContext(dctx, context.DeadlineExceeded); c != rebound.ClassCanceled {
		t.Errorf("caller deadline passed: %v, want canceled", c)
	}
	// The caller's context lives: a deadline in the error was the attempt's own.
	live := context.Background()
	attempt, acancel := context.WithTimeout(live, time.Nanosecond)
	defer acancel()
	<-attempt.Done()
	if c, _ := rebound.ClassifyContext(live, fmt.Errorf("call: %w", attempt.Err())); c != rebound.ClassTimeout {
		t.Errorf("attempt deadline: %v, want timeout", c)
	}
	if c, d := rebound.ClassifyContext(live, &rebound.Error{Status: 429, RetryAfter: 2 * time.Second}); c != rebound.ClassRateLimited || d != 2*time.Second {
		t.Errorf("live ctx 429: %v, %v", c, d)
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestClassifyRefusedDial(t *testing.T) {
	_, err := net.DialTimeout("tcp", closedPort(t), 5*time.Second)
	if err == nil {
		t.Fatal("dial to a closed port succeeded")
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial error %v is not ECONNREFUSED", err)
	}
	if c, _ := rebound.Classify(err); c != rebound.ClassTransient || !rebound.Retriable(err) {
		t.Fatalf("refused dial %v (%T): %v, want transient and retriable", err, err, c)
	}
}

func TestClassifyURLError(t *testing.T) {
	// A refused connection through net/http: *url.Error{*net.OpError{ECONNREFUSED}}.
	client := &http.Client{Timeout: 5 * time.Second}
	_, err := client.Get("http://" + closedPort(t) + "/v1/messages")
	var ue *url.Error
	if !errors.As(err, &ue) {
		t.Fatalf("error %v (%T) is not a *url.Error", err, err)
	}
	if c, _ := rebound.Classify(err); c != rebound.ClassTransient {
		t.Fatalf("refused *url.Error: %v, want transient", c)
	}

	// A client timeout while awaiting headers: timeout.
	hang := make(chan struct{})
	l, lerr := net.Listen("tcp", "127.0.0.1:0")
	if lerr != nil {
		t.Fatal(lerr)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		<-hang
		c.Close()
	}()
	defer close(hang)
	_, err = (&http.Client{Timeout: 50 * time.Millisecond}).Get("http://" + l.Addr().String() + "/")
	if !errors.As(err, &ue) || !ue.Timeout() {
		t.Fatalf("got %v, want a timed-out *url.Error", err)
	}
	if c, _ := rebound.Classify(err); c != rebound.ClassTimeout {
		t.Fatalf("client timeout %v: %v, want timeout", err, c)
	}

	// A URL that can never work: unknown, not retried.
	_, err = http.Get("gopher://example.invalid/")
	if c, _ := rebound.Classify(err); c != rebound.ClassUnknown || rebound.Retriable(err) {
		t.Fatalf("unsupported scheme %v: %v, want unknown and not retried", err, c)
	}
}

func TestClassifyConnectionReset(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		// Wait for the request, then close with SO_LINGER 0: the peer sees a reset.
		buf := make([]byte, 1)
		c.Read(buf)
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(make([]byte, 1))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read error %v is not ECONNRESET", err)
	}
	if cl, _ := rebound.Classify(err); cl != rebound.ClassTransient {
		t.Fatalf("connection reset %v: %v, want transient", err, cl)
	}
}

func TestClassifyReadDeadline(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	a.SetReadDeadline(time.Now().Add(time.Millisecond))
	_, err := a.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read error %v is not a deadline", err)
	}
	if c, _ := rebound.Classify(err); c != rebound.ClassTimeout {
		t.Fatalf("read deadline %v: %v, want timeout", err, c)
	}
}

func TestClassifyNetErrors(t *testing.T) {
	op := func(err error) error {
		return &net.OpError{Op: "read", Net: "tcp", Err: &os.SyscallError{Syscall: "read", Err: err}}
	}
	tests := []struct {
		name string
		err  error
		want rebound.Class
	}{
		{"unexpected EOF", io.ErrUnexpectedEOF, rebound.ClassTransient},
		{"EOF", io.EOF, rebound.ClassTransient},
		{"reset", op(syscall.ECONNRESET), rebound.ClassTransient},
		{"refused", op(syscall.ECONNREFUSED), rebound.ClassTransient},
		{"broken pipe", op(syscall.EPIPE), rebound.ClassTransient},
		{"aborted", op(syscall.ECONNABORTED), rebound.ClassTransient},
		{"host unreachable", op(syscall.EHOSTUNREACH), rebound.ClassTransient},
		{"other op error", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("weird")}, rebound.ClassTransient},
		{"dns not found", &net.DNSError{Err: "no such host", Name: "api.example.invalid", IsNotFound: true}, rebound.ClassInvalid},
		{"dns temporary", &net.DNSError{Err: "server misbehaving", Name: "api.anthropic.com", IsTemporary: true}, rebound.ClassTransient},
		{"dns timeout", &net.DNSError{Err: "i/o timeout", Name: "api.openai.com", IsTimeout: true}, rebound.ClassTransient},
		{"unrelated errno", syscall.ENOENT, rebound.ClassUnknown},
	}
	for _, tt := range tests {
		if c, _ := rebound.Classify(tt.err); c != tt.want {
			t.Errorf("%s (%v): %v, want %v", tt.name, tt.err, c, tt.want)
		}
	}
}
