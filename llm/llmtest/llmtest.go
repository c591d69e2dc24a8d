// Package llmtest is the conformance suite of Rebound's provider adapters (llm/anthropicllm,
// llm/openaillm, and any adapter a user writes): each adapter's tests give it a function that
// builds the adapter on a client of the real SDK pointed at a fakellm server, and their own
// provider's rows of the classification table (docs/provider-errors.md §5.1); the suite drives
// each row through Generate and Stream, checks the *rebound.Error the adapter made of it, and
// checks that the server saw exactly one request (the SDK's own retries must be off). The cases
// that do not depend on the provider (a malformed body, a reset connection, a hung call) are
// the suite's own. Beside the suite are the helpers those tests and the framework
// integrations' (contrib/...) share: Log and Statuses of a fake's requests; Events, a hook that
// records; Scripted, a model that answers from a list; Chain; and the support conversation of
// the agent-loop tests (ConversationPrimary, CheckConversation).
package llmtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm"
)

// NewModel builds the adapter under test on a fakellm server running script. The SDK client
// should keep its default retries: the adapter must turn them off.
type NewModel func(t *testing.T, script string) (llm.Model, *fakellm.Server)

// Request is the request the suite sends.
var Request = llm.Request{Messages: []llm.Message{llm.User("Say hi.")}, MaxTokens: 64}

// Case is one row of the classification table: a fault script and the error it must become.
type Case struct {
	Name   string
	Script string
	Class  rebound.Class
	// Status is the error's HTTP status (200 for a soft failure or a stream's error event).
	Status      int
	Type, Code  string
	RetryAfter  time.Duration
	ShouldRetry *bool
	Retriable   bool
}

// Classification runs every case through Generate and Stream and checks the error.
func Classification(t *testing.T, provider string, newModel NewModel, cases []Case) {
	for _, stream := range []bool{false, true} {
		for _, c := range cases {
			name := c.Name
			if stream {
				name = "stream/" + name
			}
			t.Run(name, func(t *testing.T) {
				m, srv := newModel(t, c.Script)
				var err error
				if stream {
					_, err = m.Stream(context.Background(), Request, nil)
				} else {
					_, err = m.Generate(context.Background(), Request)
				}
				CheckError(t, err, provider, c)
				if n := Requests(srv); n != 1 {
					t.Errorf("server saw %d requests, want 1 (the SDK's retries must be off)", n)
				}
			})
		}
	}
}

// StreamCase is a fault that only a stream can show: an error event, a cut, a clean end without
// the terminal event, a malformed event. Type is the error event's type, if any.
type StreamCase struct {
	Name   string
	Script string
	Class  rebound.Class
	Type   string
}

// StreamFaults runs every case through Stream: each is a retriable error of its class, an
// error event keeps its type with status 200, and the server saw one request.
func StreamFaults(t *testing.T, newModel NewModel, cases []StreamCase) {
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			m, srv := newModel(t, c.Script)
			resp, err := m.Stream(context.Background(), Request, func(llm.Delta) {})
			if err == nil {
				t.Fatalf("no error; response %+v", resp)
			}
			if got, _ := rebound.Classify(err); got != c.Class {
				t.Errorf("class = %v, want %v (%v)", got, c.Class, err)
			}
			var e *rebound.Error
			if c.Type != "" && (!errors.As(err, &e) || e.Type != c.Type || e.Status != 200) {
				t.Errorf("error %v: want type %q with status 200", err, c.Type)
			}
			if !rebound.Retriable(err) {
				t.Errorf("%v is not retriable", err)
			}
			if n := Requests(srv); n != 1 {
				t.Errorf("server saw %d requests, want 1", n)
			}
		})
	}
}

// Transport runs the cases that do not depend on the provider: a body that is not JSON is
// malformed; a reset connection is transient, sent once; a hung call cut by the attempt's
// deadline is a timeout, and canceled under the caller's own ended context.
func Transport(t *testing.T, newModel NewModel) {
	t.Run("MalformedBody", func(t *testing.T) {
		m, _ := newModel(t, "malformed")
		_, err := m.Generate(context.Background(), Request)
		if c, _ := rebound.Classify(err); c != rebound.ClassMalformed {
			t.Errorf("class = %v, want malformed (%v)", c, err)
		}
	})
	t.Run("Reset", func(t *testing.T) {
		m, srv := newModel(t, "reset")
		_, err := m.Generate(context.Background(), Request)
		if c, _ := rebound.Classify(err); c != rebound.ClassTransient {
			t.Errorf("reset: class = %v, want transient (%v)", c, err)
		}
		if n := Requests(srv); n != 1 {
			t.Errorf("server saw %d requests, want 1", n)
		}
	})
	t.Run("HangIsAttemptTimeout", func(t *testing.T) {
		m, _ := newModel(t, "hang")
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := m.Generate(ctx, Request)
		if c, _ := rebound.Classify(err); c != rebound.ClassTimeout {
			t.Errorf("class = %v, want timeout (%v)", c, err)
		}
		if c, _ := rebound.ClassifyContext(ctx, err); c != rebound.ClassCanceled {
			t.Errorf("under the ended context: class = %v, want canceled", c)
		}
	})
}

// CheckError checks that err is the *rebound.Error of provider that c describes.
func CheckError(t *testing.T, err error, provider string, c Case) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	class, d := rebound.Classify(err)
	if class != c.Class {
		t.Errorf("class = %v, want %v (%v)", class, c.Class, err)
	}
	if rebound.Retriable(err) != c.Retriable {
		t.Errorf("retriable = %v, want %v (%v)", rebound.Retriable(err), c.Retriable, err)
	}
	var e *rebound.Error
	if !errors.As(err, &e) {
		t.Fatalf("%v (%T) is not a *rebound.Error", err, err)
	}
	if e.Provider != provider {
		t.Errorf("provider = %q, want %q", e.Provider, provider)
	}
	if c.Status != 0 && e.Status != c.Status {
		t.Errorf("status = %d, want %d", e.Status, c.Status)
	}
	if e.Type != c.Type {
		t.Errorf("type = %q, want %q", e.Type, c.Type)
	}
	if e.Code != c.Code {
		t.Errorf("code = %q, want %q", e.Code, c.Code)
	}
	if d != c.RetryAfter {
		t.Errorf("retry after = %v, want %v", d, c.RetryAfter)
	}
	if (e.ShouldRetry == nil) != (c.ShouldRetry == nil) || (c.ShouldRetry != nil && *e.ShouldRetry != *c.ShouldRetry) {
		t.Errorf("should retry = %v, want %v", e.ShouldRetry, c.ShouldRetry)
	}
	if e.Status >= 400 && e.Type != "" && e.RequestID == "" {
		t.Errorf("no request ID")
	}
}

// Requests returns how many requests srv has counted, waiting briefly for the count of a
// request whose response the client has already read (the server counts when its handler
// ends).
func Requests(srv *fakellm.Server) int64 {
	deadline := time.Now().Add(2 * time.Second)
	for {
		n := srv.Counters().Requests
		if n > 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(5 * time.Millisecond)
	}
}
