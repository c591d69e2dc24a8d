package rebound_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
)

func TestGiveUpError(t *testing.T) {
	last := &rebound.Error{Status: 503, Provider: "openai"}
	tests := []struct {
		g    *rebound.GiveUpError
		text string
		is   []error
	}{
		{&rebound.GiveUpError{Reason: rebound.Exhausted, Attempts: 5, Last: last},
			"gave up after 5 attempts (exhausted): transient from openai: status 503", []error{last, rebound.ErrGaveUp}},
		{&rebound.GiveUpError{Reason: rebound.NotRetriable, Attempts: 1, Last: io.ErrUnexpectedEOF},
			"gave up after 1 attempt (not_retriable): unexpected EOF", []error{io.ErrUnexpectedEOF}},
		{&rebound.GiveUpError{Reason: rebound.HintTooLong, Attempts: 1, Last: last, Delay: 10 * time.Minute},
			"gave up after 1 attempt (hint_too_long, asked to wait 10m0s): transient from openai: status 503", []error{last}},
		{&rebound.GiveUpError{Reason: rebound.ContextEnded, Attempts: 2, Last: last, Cause: context.Canceled},
			"gave up after 2 attempts (context_ended): transient from openai: status 503", []error{last, context.Canceled}},
		{&rebound.GiveUpError{Reason: rebound.ContextEnded, Cause: context.DeadlineExceeded},
			"gave up after 0 attempts (context_ended): context deadline exceeded", []error{context.DeadlineExceeded}},
	}
	for _, tt := range tests {
		if got := tt.g.Error(); got != tt.text {
			t.Errorf("Error() = %q, want %q", got, tt.text)
		}
		for _, target := range tt.is {
			if !errors.Is(tt.g, target) {
				t.Errorf("errors.Is(%q, %v) = false", tt.text, target)
			}
		}
		var e *rebound.Error
		if errors.As(tt.g, &e) != (tt.g.Last == last) {
			t.Errorf("errors.As(%q, *Error) wrong", tt.text)
		}
	}
	if errors.Is(&rebound.GiveUpError{Reason: rebound.Exhausted, Last: last}, context.Canceled) {
		t.Fatal("an exhausted give-up matches context.Canceled")
	}
}

func TestClassText(t *testing.T) {
	for _, c := range rebound.Classes() {
		got, err := rebound.ParseClass(c.String())
		if err != nil || got != c {
			t.Fatalf("ParseClass(%q) = %v, %v", c.String(), got, err)
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var back rebound.Class
		if err := json.Unmarshal(b, &back); err != nil || back != c {
			t.Fatalf("JSON round trip of %v: %s -> %v, %v", c, b, back, err)
		}
	}
	if _, err := rebound.ParseClass("flaky"); err == nil || !strings.Contains(err.Error(), `"flaky"`) {
		t.Fatalf("ParseClass(flaky) error %v, want one naming it", err)
	}
	if s := rebound.Class(200).String(); s != "class(200)" {
		t.Fatalf("Class(200).String() = %q", s)
	}
}

func TestEventJSONFields(t *testing.T) {
	b, err := json.Marshal(rebound.Event{Kind: rebound.GaveUp, Attempt: 3, Class: rebound.ClassOverloaded, Reason: string(rebound.Exhausted)})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["event"] != "gave_up" || m["attempt"] != 3.0 || m["class"] != "overloaded" || m["reason"] != "exhausted" {
		t.Fatalf("event JSON %s", b)
	}
	if _, ok := m["delay_ms"]; ok {
		t.Fatalf("gave_up without delay has delay_ms: %s", b)
	}
	b, _ = json.Marshal(rebound.Event{Kind: rebound.RetryScheduled})
	if !strings.Contains(string(b), `"delay_ms":0`) {
		t.Fatalf("retry_scheduled with no delay lacks delay_ms 0: %s", b)
	}
}

func TestHookEmit(t *testing.T) {
	var got []rebound.Event
	own := rebound.Hook(func(_ context.Context, e rebound.Event) { got = append(got, e) })
	var scoped []rebound.Event
	ctx := rebound.WithScope(context.Background(), rebound.Scope{RunID: "r1", Step: "s1",
		Hook: func(_ context.Context, e rebound.Event) { scoped = append(scoped, e) }})
	own.Emit(ctx, rebound.Event{Kind: rebound.AttemptFailed})
	own.Emit(ctx, rebound.Event{Kind: rebound.AttemptFailed, Step: "explicit"})
	if len(got) != 2 || len(scoped) != 2 || got[0].RunID != "r1" || got[0].Step != "s1" || got[1].Step != "explicit" || got[0].Time.IsZero() {
		t.Fatalf("own %+v, scoped %+v", got, scoped)
	}
	var nilHook rebound.Hook
	nilHook.Emit(context.Background(), rebound.Event{Kind: rebound.GaveUp}) // must not panic
	if rebound.Hooks(nil, nil) != nil {
		t.Fatal("Hooks of nils is not nil")
	}
	n := 0
	count := rebound.Hook(func(context.Context, rebound.Event) { n++ })
	rebound.Hooks(count, nil, count).Emit(context.Background(), rebound.Event{})
	if n != 2 {
		t.Fatalf("Hooks called %d hooks, want 2", n)
	}
}
