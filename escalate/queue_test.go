package escalate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/escalate"
)

func TestClaimExpiresExactly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		q := escalate.NewQueue(escalate.NewMemoryStore(), escalate.Config{ClaimFor: 10 * time.Minute})
		id, err := q.Escalate(ctx, rebound.Escalation{RunID: "r", Step: "s"})
		if err != nil {
			t.Fatal(err)
		}
		it, err := q.Claim(ctx, id, "ana", 0)
		if err != nil {
			t.Fatal(err)
		}
		if d := it.ClaimedUntil.Sub(it.UpdatedAt); d != 10*time.Minute {
			t.Errorf("default claim lasts %v, want Config.ClaimFor", d)
		}
		time.Sleep(10*time.Minute - time.Microsecond)
		if _, err := q.Claim(ctx, id, "bo", time.Minute); !errors.Is(err, escalate.ErrConflict) {
			t.Fatalf("claim just before expiry: %v, want a conflict", err)
		}
		time.Sleep(time.Microsecond)
		got, err := q.Claim(ctx, id, "bo", time.Minute)
		if err != nil {
			t.Fatalf("claim at expiry: %v", err)
		}
		if got.ClaimedBy != "bo" {
			t.Errorf("claimed by %q", got.ClaimedBy)
		}
		// The old holder can no longer decide.
		if _, err := q.Resolve(ctx, id, rebound.Decision{Action: rebound.ActionApprove, By: "ana"}); !errors.Is(err, escalate.ErrConflict) {
			t.Errorf("resolve by the expired holder: %v, want a conflict", err)
		}
		s, _ := q.Stats(ctx)
		if s.OldestAge != 10*time.Minute || s.Claimed != 1 {
			t.Errorf("Stats = %+v, want the item 10m old and claimed", s)
		}
	})
}

func TestEscalateDefaults(t *testing.T) {
	ctx := t.Context()
	gaveUp := func(c rebound.Class) error {
		return &rebound.GiveUpError{Reason: rebound.NotRetriable, Attempts: 2, Last: &rebound.Error{Class: c}}
	}
	q := escalate.NewQueue(escalate.NewMemoryStore(), escalate.Config{
		ReasonByClass: map[rebound.Class]rebound.EscalationReason{rebound.ClassAuth: rebound.ReasonRequiresHuman},
		MaxMessages:   2,
	})
	cases := []struct {
		e         rebound.Escalation
		reason    rebound.EscalationReason
		class     rebound.Class
		attempts  int
		nMessages int
	}{
		{rebound.Escalation{Err: gaveUp(rebound.ClassOverloaded)}, rebound.ReasonMaxRetriesExceeded, rebound.ClassOverloaded, 2, 0},
		{rebound.Escalation{Err: gaveUp(rebound.ClassAuth)}, rebound.ReasonRequiresHuman, rebound.ClassAuth, 2, 0},
		{rebound.Escalation{Reason: "max_retries_exceeded", Err: gaveUp(rebound.ClassAuth), Attempts: 7},
			rebound.ReasonRequiresHuman, rebound.ClassAuth, 7, 0},
		{rebound.Escalation{Reason: "low_confidence", Err: gaveUp(rebound.ClassAuth)}, rebound.ReasonLowConfidence, rebound.ClassAuth, 2, 0},
		{rebound.Escalation{Class: rebound.ClassQuota, Err: errors.New("spend limit")}, rebound.ReasonRequiresHuman, rebound.ClassQuota, 0, 0},
		{rebound.Escalation{Messages: []rebound.Message{rebound.User("1"), rebound.User("2"), rebound.User("3")}},
			rebound.ReasonRequiresHuman, rebound.ClassUnknown, 0, 2},
	}
	for i, c := range cases {
		id, err := q.Escalate(ctx, c.e)
		if err != nil {
			t.Fatal(err)
		}
		it, _ := q.Get(ctx, id)
		if it.Reason != c.reason || it.Class != c.class || it.Attempts != c.attempts || len(it.Messages) != c.nMessages {
			t.Errorf("case %d: reason %q class %v attempts %d messages %d; want %q %v %d %d",
				i, it.Reason, it.Class, it.Attempts, len(it.Messages), c.reason, c.class, c.attempts, c.nMessages)
		}
		if c.nMessages == 2 && it.Messages[1].Content != "3" {
			t.Errorf("kept %+v, want the most recent messages", it.Messages)
		}
		if !strings.HasPrefix(it.ID, "esc_") {
			t.Errorf("ID %q", it.ID)
		}
	}
}

func TestNotifier(t *testing.T) {
	ctx := t.Context()
	store := escalate.NewMemoryStore()
	var seen []escalate.Item
	q := escalate.NewQueue(store, escalate.Config{Notifier: escalate.NotifierFunc(func(ctx context.Context, it escalate.Item) error {
		// The item is stored before anyone is told.
		if _, err := store.GetEscalation(ctx, it.ID); err != nil {
			t.Errorf("notified of an item not yet stored: %v", err)
		}
		seen = append(seen, it)
		return nil
	})})
	id, _ := q.Escalate(ctx, rebound.Escalation{RunID: "r", Step: "s", Context: "key sk-0123456789abcdefghijkl"})
	_, _ = q.Escalate(ctx, rebound.Escalation{RunID: "r", Step: "s"}) // merged: no new item, no notice
	id2, _ := q.Escalate(ctx, rebound.Escalation{RunID: "r", Step: "t"})
	if len(seen) != 2 || seen[0].ID != id || seen[1].ID != id2 {
		t.Fatalf("notified of %d items, want %s and %s", len(seen), id, id2)
	}
	if seen[0].Context != "key "+escalate.Redacted {
		t.Errorf("notifier saw unredacted context %q", seen[0].Context)
	}
}

func TestNotifierFailureKeepsItem(t *testing.T) {
	ctx := t.Context()
	var reported error
	q := escalate.NewQueue(escalate.NewMemoryStore(), escalate.Config{
		Notifier: escalate.NotifierFunc(func(context.Context, escalate.Item) error {
			return errors.New("webhook down (Authorization: Bearer abcdefgh12345)")
		}),
		NotifyFailed: func(_ context.Context, _ escalate.Item, err error) { reported = err },
	})
	id, err := q.Escalate(ctx, rebound.Escalation{RunID: "r", Step: "s"})
	if err != nil || id == "" {
		t.Fatalf("Escalate with a failing notifier = %q, %v; want the item filed", id, err)
	}
	if _, err := q.Get(ctx, id); err != nil {
		t.Fatalf("item lost: %v", err)
	}
	if reported == nil {
		t.Errorf("NotifyFailed not called")
	}
	audit, _ := q.Audit(ctx, id)
	if len(audit) != 2 || audit[1].Event != escalate.AuditNotifyFailed || !strings.Contains(audit[1].Note, "webhook down") ||
		strings.Contains(audit[1].Note, "abcdefgh12345") {
		t.Errorf("audit %+v, want a redacted notify_failed entry", audit)
	}
}

func TestItemJSON(t *testing.T) {
	ctx := t.Context()
	q := escalate.NewQueue(escalate.NewMemoryStore(), escalate.Config{})
	id, _ := q.Escalate(ctx, rebound.Escalation{RunID: "r", Step: "s", Class: rebound.ClassQuota,
		Err: errors.New("insufficient_quota"), State: json.RawMessage(`{"a":1}`), Messages: []rebound.Message{rebound.User("hi")}})
	if _, err := q.Claim(ctx, id, "ana", time.Minute); err != nil {
		t.Fatal(err)
	}
	it, err := q.Resolve(ctx, id, rebound.Decision{Action: rebound.ActionRespond, Answer: "42", Note: "n", By: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(it)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for _, k := range []string{"id", "run_id", "step", "reason", "status", "class", "error", "created_at", "decision", "decided_at"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b)
		}
	}
	if m["class"] != "quota" || m["status"] != "resolved" || m["decision"].(map[string]any)["action"] != "respond" {
		t.Errorf("JSON %s", b)
	}
	var back escalate.Item
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, it) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, it)
	}
}

func TestParseAction(t *testing.T) {
	for _, s := range []string{"approve", "reject", "respond", " Retry "} {
		if _, err := escalate.ParseAction(s); err != nil {
			t.Errorf("ParseAction(%q): %v", s, err)
		}
	}
	_, err := escalate.ParseAction("escalate")
	if !errors.Is(err, escalate.ErrInvalid) || !strings.Contains(err.Error(), `"escalate"`) {
		t.Errorf("ParseAction(escalate) = %v", err)
	}
}

func ExampleValidateDecision() {
	err := escalate.ValidateDecision(rebound.Decision{Action: "maybe", By: "ana"})
	fmt.Println(errors.Is(err, escalate.ErrInvalid), err)
	err = escalate.ValidateDecision(rebound.Decision{Action: rebound.ActionRespond, By: "ana"})
	fmt.Println(err)
	// Output:
	// true invalid escalation action: unknown action "maybe"; want approve, reject, respond, edit or retry
	// invalid escalation answer: respond needs an answer
}
