package llmtest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/retry"
)

// Events records the events of a hook: pass its Emit method as a rebound.Hook. It is safe
// for concurrent use.
type Events struct {
	mu  sync.Mutex
	evs []rebound.Event
}

// Emit records ev.
func (e *Events) Emit(_ context.Context, ev rebound.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.evs = append(e.evs, ev)
}

// Of returns the recorded events of kind, oldest first.
func (e *Events) Of(kind rebound.EventKind) []rebound.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []rebound.Event
	for _, ev := range e.evs {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

// Statuses returns the HTTP status of each record, in order.
func Statuses(recs []fakellm.RequestRecord) []int {
	var out []int
	for _, r := range recs {
		out = append(out, r.Status)
	}
	return out
}

// The support conversation of the agent-loop tests (contrib/genkit, contrib/langchaingo): the
// framework's own loop runs a refund through a chain of two models, each in llm.Resilient with
// two attempts a call, on two fakes, with the tools lookup_order and issue_refund.
//
// ConversationPrimary is the primary's script: a 429 with retry-after (150 ms) on the first
// request; then a call of lookup_order; then overloaded (529) on both attempts of the next
// turn, which falls back; a text answer once issue_refund's result is in the conversation.
const ConversationPrimary = `error 429 times=1 retry-after-ms=150
tool-use name=lookup_order times=1
error 529 times=2
ok result=issue_refund`

// ConversationFallback is the fallback's script: it answers lookup_order's result with a call
// of issue_refund.
const ConversationFallback = "tool-use name=issue_refund result=lookup_order"

// CheckConversation checks what the fakes saw of a run of the support conversation, whose
// events evs recorded: the primary answered 429, 200, 529, 529, 200 and the fallback 200; no
// request was an SDK retry or refused as an invalid conversation; three attempts failed and
// every request was an attempt of Rebound's; the retry after the 429 was scheduled at its
// retry-after; the fallback got the primary's tool call with its result, and the primary's last
// turn both calls with theirs. It returns the two logs, in the order the requests arrived.
func CheckConversation(t *testing.T, primary, fallback *fakellm.Server, evs *Events) (primaryLog, fallbackLog []fakellm.RequestRecord) {
	t.Helper()
	primaryLog, fallbackLog = Log(primary, 5), Log(fallback, 1)
	if got := Statuses(primaryLog); !slices.Equal(got, []int{429, 200, 529, 529, 200}) {
		t.Fatalf("primary statuses %v", got)
	}
	if got := Statuses(fallbackLog); !slices.Equal(got, []int{200}) {
		t.Fatalf("fallback statuses %v", got)
	}
	for _, r := range append(slices.Clone(primaryLog), fallbackLog...) {
		if r.RetryCount != "" && r.RetryCount != "0" {
			t.Errorf("%s request %d was an SDK retry (%s)", r.Provider, r.Seq, r.RetryCount)
		}
		if r.Invalid != "" {
			t.Errorf("%s request %d refused: %s", r.Provider, r.Seq, r.Invalid)
		}
	}
	failed := evs.Of(rebound.AttemptFailed)
	if len(failed) != 3 {
		t.Errorf("%d attempts failed, want 3 (429, 529, 529): %+v", len(failed), failed)
	}
	if attempts := len(failed) + 3; attempts != len(primaryLog)+len(fallbackLog) {
		t.Errorf("%d attempts, %d requests", attempts, len(primaryLog)+len(fallbackLog))
	}
	// The retry was scheduled at the 429's hint, not at the policy's base.
	if rs := evs.Of(rebound.RetryScheduled); len(rs) == 0 || rs[0].Delay < 150*time.Millisecond {
		t.Errorf("retries scheduled %+v", rs)
	}
	if f := fallbackLog[0]; len(f.ToolUses) != 1 || !slices.Equal(f.ToolUses, f.ToolResults) {
		t.Errorf("fallback conversation: calls %v results %v", f.ToolUses, f.ToolResults)
	}
	if last := primaryLog[4]; len(last.ToolUses) != 2 || !slices.Equal(last.ToolUses, last.ToolResults) {
		t.Errorf("primary turn 3: calls %v results %v", last.ToolUses, last.ToolResults)
	}
	return primaryLog, fallbackLog
}

// Chain is primary, then fallback, each in llm.Resilient with two attempts a call (backoff from
// 1 ms, at most 1 s), the chain and both models reporting to hook (nil: none).
func Chain(t *testing.T, hook rebound.Hook, primary, fallback llm.Model) llm.Model {
	t.Helper()
	cfg := llm.Config{Retry: retry.Policy{MaxAttempts: 2, Base: time.Millisecond, Cap: time.Second}, Hook: hook}
	p, err := llm.Resilient(primary, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f, err := llm.Resilient(fallback, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return llm.FallbackWith(llm.FallbackConfig{Hook: hook}, p, f)
}
