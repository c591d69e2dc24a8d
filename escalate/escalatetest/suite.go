package escalatetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/escalate"
)

func setup(t *testing.T, open Open, cfg escalate.Config) (context.Context, *escalate.Queue, Harness) {
	t.Helper()
	h := open(t)
	return t.Context(), escalate.NewQueue(h.Store, cfg), h
}

func mustEscalate(t *testing.T, ctx context.Context, q *escalate.Queue, e rebound.Escalation) escalate.Item {
	t.Helper()
	id, err := q.Escalate(ctx, e)
	if err != nil {
		t.Fatalf("Escalate(%s/%s): %v", e.RunID, e.Step, err)
	}
	it, err := q.Get(ctx, id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return it
}

func esc(run, step string, reason rebound.EscalationReason) rebound.Escalation {
	return rebound.Escalation{RunID: run, Step: step, Reason: reason,
		Err: errors.New("boom"), Class: rebound.ClassTransient, Attempts: 5}
}

func jsonEqual(t *testing.T, got, want json.RawMessage) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("stored state is not JSON: %v: %s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want state is not JSON: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("state = %s, want %s", got, want)
	}
}

func testEscalateAndGet(t *testing.T, open Open) {
	ctx, q, _ := setup(t, open, escalate.Config{})
	before := time.Now().Add(-time.Second)
	state := json.RawMessage(`{"workflow":"report","completed":["outline","section_1"],"n":3}`)
	msgs := []rebound.Message{rebound.User("Research topic: tides"), {Role: rebound.RoleAssistant,
		Content: "outline…", Degraded: true, Source: "anthropic/claude-haiku-4-5"}}
	gu := &rebound.GiveUpError{Reason: rebound.Exhausted, Attempts: 5,
		Last: &rebound.Error{Class: rebound.ClassOverloaded, Status: 529, Message: "Overloaded"}}
	id, err := q.Escalate(ctx, rebound.Escalation{RunID: "run-1", Step: "section_2", Err: gu,
		Messages: msgs, State: state, Context: "section 2 of 3"})
	if err != nil {
		t.Fatal(err)
	}
	if id == "" {
		t.Fatal("Escalate returned an empty ID")
	}
	it, err := q.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if it.ID != id || it.RunID != "run-1" || it.Step != "section_2" {
		t.Errorf("item names %q %q %q, want %q run-1 section_2", it.ID, it.RunID, it.Step, id)
	}
	if it.Reason != rebound.ReasonMaxRetriesExceeded {
		t.Errorf("Reason = %q, want %q (a give-up with no reason given)", it.Reason, rebound.ReasonMaxRetriesExceeded)
	}
	if it.Class != rebound.ClassOverloaded || it.Attempts != 5 {
		t.Errorf("Class, Attempts = %v, %d; want overloaded, 5", it.Class, it.Attempts)
	}
	if it.Error != gu.Error() {
		t.Errorf("Error = %q, want %q", it.Error, gu.Error())
	}
	jsonEqual(t, it.State, state)
	if !reflect.DeepEqual(it.Messages, msgs) {
		t.Errorf("Messages = %+v, want %+v", it.Messages, msgs)
	}
	if it.Context != "section 2 of 3" || it.Status != escalate.StatusOpen || it.Decision != nil {
		t.Errorf("Context, Status, Decision = %q, %q, %v", it.Context, it.Status, it.Decision)
	}
	if it.CreatedAt.Before(before) || it.CreatedAt.After(time.Now().Add(time.Second)) ||
		!it.UpdatedAt.Equal(it.CreatedAt) || !it.DecidedAt.IsZero() || it.CreatedAt.Location() != time.UTC {
		t.Errorf("times: created %v updated %v decided %v", it.CreatedAt, it.UpdatedAt, it.DecidedAt)
	}
	// No state, no messages, no error: all empty, not "null".
	it2 := mustEscalate(t, ctx, q, rebound.Escalation{RunID: "run-2", Step: "s", Reason: "refund_over_limit"})
	if it2.State != nil || it2.Messages != nil || it2.Error != "" || it2.Reason != "refund_over_limit" {
		t.Errorf("bare item = state %q messages %v error %q reason %q", it2.State, it2.Messages, it2.Error, it2.Reason)
	}
	d, decided, err := q.Decision(ctx, id)
	if err != nil || decided {
		t.Errorf("Decision of an open item = %+v, %v, %v; want undecided", d, decided, err)
	}
}

func testNotFound(t *testing.T, open Open) {
	ctx, q, _ := setup(t, open, escalate.Config{})
	mustEscalate(t, ctx, q, esc("r", "s", ""))
	const id = "esc_missing"
	check := func(op string, err error) {
		t.Helper()
		var nf *escalate.NotFoundError
		if !errors.Is(err, escalate.ErrNotFound) || !errors.As(err, &nf) || nf.ID != id {
			t.Errorf("%s of an unknown ID: %v, want a *NotFoundError for %q", op, err, id)
		}
	}
	_, err := q.Get(ctx, id)
	check("Get", err)
	_, err = q.Claim(ctx, id, "ana", time.Minute)
	check("Claim", err)
	_, err = q.Resolve(ctx, id, rebound.Decision{Action: rebound.ActionApprove, By: "ana"})
	check("Resolve", err)
	_, err = q.Dismiss(ctx, id, "ana", "")
	check("Dismiss", err)
	_, err = q.Reopen(ctx, id, "ana", "")
	check("Reopen", err)
	_, err = q.Audit(ctx, id)
	check("Audit", err)
	_, _, err = q.Decision(ctx, id)
	check("Decision", err)
}

func testSameStepMerged(t *testing.T, open Open) {
	ctx, q, _ := setup(t, open, escalate.Config{})
	a := mustEscalate(t, ctx, q, esc("run-1", "publish", "irreversible_action"))
	b := mustEscalate(t, ctx, q, esc("run-1", "publish", "irreversible_action"))
	if a.ID != b.ID {
		t.Errorf("escalating a waiting step again filed a second item: %s, %s", a.ID, b.ID)
	}
	if _, err := q.Claim(ctx, a.ID, "ana", time.Minute); err != nil {
		t.Fatal(err)
	}
	if c := mustEscalate(t, ctx, q, esc("run-1", "publish", "irreversible_action")); c.ID != a.ID {
		t.Errorf("escalating a claimed step again filed a second item")
	}
	other := mustEscalate(t, ctx, q, esc("run-1", "summary", ""))
	if other.ID == a.ID {
		t.Errorf("another step of the run shares the item")
	}
	if _, err := q.Resolve(ctx, a.ID, rebound.Decision{Action: rebound.ActionRetry, By: "ana"}); err != nil {
		t.Fatal(err)
	}
	c := mustEscalate(t, ctx, q, esc("run-1", "publish", "irreversible_action"))
	if c.ID == a.ID || c.Status != escalate.StatusOpen {
		t.Errorf("escalating after the decision returned %s (%s), want a new open item", c.ID, c.Status)
	}
	// The first item cannot be reopened while its step waits on the new one.
	_, err := q.Reopen(ctx, a.ID, "ana", "")
	var de *escalate.DuplicateError
	if !errors.Is(err, escalate.ErrConflict) || !errors.As(err, &de) || de.WaitingID != c.ID {
		t.Errorf("Reopen while the step waits on another item: %v, want a *DuplicateError naming %s", err, c.ID)
	}
	if got, _ := q.Get(ctx, a.ID); got.Status != escalate.StatusResolved {
		t.Errorf("refused reopen left the item %s", got.Status)
	}
	if _, err := q.Dismiss(ctx, c.ID, "ana", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Reopen(ctx, a.ID, "ana", ""); err != nil {
		t.Errorf("Reopen once the step waits on nothing: %v", err)
	}
	x := mustEscalate(t, ctx, q, esc("", "s", ""))
	y := mustEscalate(t, ctx, q, esc("", "s", ""))
	if x.ID == y.ID {
		t.Errorf("items without a run were merged")
	}
	audit, err := q.Audit(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n := countEvents(audit, escalate.AuditEscalated); n != 1 {
		t.Errorf("merged item has %d escalated entries, want 1", n)
	}
}

func countEvents(a []escalate.AuditEntry, ev escalate.AuditEvent) int {
	n := 0
	for _, e := range a {
		if e.Event == ev {
			n++
		}
	}
	return n
}

func testConcurrentEscalateSameStep(t *testing.T, open Open) {
	ctx, q, _ := setup(t, open, escalate.Config{})
	const n = 8
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { ids[i], errs[i] = q.Escalate(ctx, esc("run-c", "step", "")) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Escalate %d: %v", i, errs[i])
		}
		if ids[i] != ids[0] {
			t.Fatalf("concurrent escalations of one step filed several items: %v", ids)
		}
	}
	items, err := q.List(ctx, escalate.Filter{RunID: "run-c"})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 {
		t.Errorf("run has %d items, want 1", len(items))
	}
}

func ids(items []escalate.Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

func testOrdering(t *testing.T, open Open) {
	ctx, q, _ := setup(t, open, escalate.Config{})
	var all []escalate.Item
	for i := range 8 {
		all = append(all, mustEscalate(t, ctx, q, esc(fmt.Sprintf("run-%d", i), "s", "")))
		time.Sleep(2 * time.Millisecond) // distinct creation times, so that "oldest" is defined
	}
	// 0,4: claimed; 1,5: resolved; 2: dismissed; 3,6,7: open.
	for _, i := range []int{4, 0} {
		if _, err := q.Claim(ctx, all[i].ID, "ana", time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range []int{5, 1} {
		if _, err := q.Resolve(ctx, all[i].ID, rebound.Decision{Action: rebound.ActionApprove, By: "bo"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.Dismiss(ctx, all[2].ID, "bo", "duplicate"); err != nil {
		t.Fatal(err)
	}
	got, err := q.List(ctx, escalate.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{all[3].ID, all[6].ID, all[7].ID, all[0].ID, all[4].ID, all[1].ID, all[5].ID, all[2].ID}
	if !slices.Equal(ids(got), want) {
		t.Errorf("List order = %v, want %v (open, claimed, resolved, dismissed; oldest first)", ids(got), want)
	}
	for i := 1; i < len(got); i++ {
		if got[i].CreatedAt.Equal(got[i-1].CreatedAt) && got[i].ID < got[i-1].ID &&
			got[i].Status == got[i-1].Status {
			t.Errorf("ties not broken by ID")
		}
	}
	got, err = q.List(ctx, escalate.Filter{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(got), want[:3]) {
		t.Errorf("List with Limit 3 = %v, want %v", ids(got), want[:3])
	}
}

func testFilters(t *testing.T, open Open) {
	ctx, q, _ := setup(t, open, escalate.Config{})
	old := mustEscalate(t, ctx, q, esc("run-a", "s1", "low_confidence"))
	time.Sleep(200 * time.Millisecond)
	a2 := mustEscalate(t, ctx, q, esc("run-a", "s2", "requires_human"))
	b1 := mustEscalate(t, ctx, q, esc("run-b", "s1", "low_confidence"))
	b2 := mustEscalate(t, ctx, q, esc("run-b", "s2", "refund_over_limit"))
	if _, err := q.Claim(ctx, a2.ID, "ana", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Resolve(ctx, b2.ID, rebound.Decision{Action: rebound.ActionReject, Note: "no", By: "bo"}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		f    escalate.Filter
		want []string
	}{
		{"all", escalate.Filter{}, []string{old.ID, b1.ID, a2.ID, b2.ID}},
		{"open", escalate.Filter{Status: []escalate.Status{escalate.StatusOpen}}, []string{old.ID, b1.ID}},
		{"claimed", escalate.Filter{Status: []escalate.Status{escalate.StatusClaimed}}, []string{a2.ID}},
		{"waiting", escalate.Filter{Status: []escalate.Status{escalate.StatusOpen, escalate.StatusClaimed}},
			[]string{old.ID, b1.ID, a2.ID}},
		{"resolved", escalate.Filter{Status: []escalate.Status{escalate.StatusResolved}}, []string{b2.ID}},
		{"dismissed", escalate.Filter{Status: []escalate.Status{escalate.StatusDismissed}}, nil},
		{"reason", escalate.Filter{Reason: []rebound.EscalationReason{rebound.ReasonLowConfidence}}, []string{old.ID, b1.ID}},
		{"own reason", escalate.Filter{Reason: []rebound.EscalationReason{"refund_over_limit", rebound.ReasonRequiresHuman}},
			[]string{a2.ID, b2.ID}},
		{"run", escalate.Filter{RunID: "run-b"}, []string{b1.ID, b2.ID}},
		{"run and reason", escalate.Filter{RunID: "run-b", Reason: []rebound.EscalationReason{rebound.ReasonLowConfidence}},
			[]string{b1.ID}},
		{"no such run", escalate.Filter{RunID: "run-z"}, nil},
	}
	for _, c := range cases {
		got, err := q.List(ctx, c.f)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !slices.Equal(ids(got), c.want) {
			t.Errorf("%s: List = %v, want %v", c.name, ids(got), c.want)
		}
	}
	// An age halfway between the old item's and the others', whatever time the calls took.
	gap := a2.CreatedAt.Sub(old.CreatedAt)
	for _, c := range []struct {
		name  string
		older bool
		want  []string
	}{{"older than", true, []string{old.ID}}, {"newer than", false, []string{b1.ID, a2.ID, b2.ID}}} {
		age := time.Since(a2.CreatedAt) + gap/2
		f := escalate.Filter{NewerThan: age}
		if c.older {
			f = escalate.Filter{OlderThan: age}
		}
		got, err := q.List(ctx, f)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !slices.Equal(ids(got), c.want) {
			t.Errorf("%s %v: List = %v, want %v", c.name, age, ids(got), c.want)
		}
	}
}
