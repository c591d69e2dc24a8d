package escalatetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
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

func mustEscalate(t *testing.T, ctx context.Context, q *escalate.Queue, e escalate.Escalation) escalate.Item {
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

func esc(run, step, reason string) escalate.Escalation {
	return escalate.Escalation{RunID: run, Step: step, Reason: reason,
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
	id, err := q.Escalate(ctx, escalate.Escalation{RunID: "run-1", Step: "section_2", Err: gu,
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
	if it.Reason != escalate.MaxRetriesExceeded {
		t.Errorf("Reason = %q, want %q (a give-up with no reason given)", it.Reason, escalate.MaxRetriesExceeded)
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
	it2 := mustEscalate(t, ctx, q, escalate.Escalation{RunID: "run-2", Step: "s", Reason: "refund_over_limit"})
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
	_, err = q.Resolve(ctx, id, escalate.Decision{Action: escalate.ActionApprove, By: "ana"})
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
	if _, err := q.Resolve(ctx, a.ID, escalate.Decision{Action: escalate.ActionRetry, By: "ana"}); err != nil {
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
		if _, err := q.Resolve(ctx, all[i].ID, escalate.Decision{Action: escalate.ActionApprove, By: "bo"}); err != nil {
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
	if _, err := q.Resolve(ctx, b2.ID, escalate.Decision{Action: escalate.ActionReject, Note: "no", By: "bo"}); err != nil {
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
		{"reason", escalate.Filter{Reason: []escalate.Reason{escalate.LowConfidence}}, []string{old.ID, b1.ID}},
		{"own reason", escalate.Filter{Reason: []escalate.Reason{"refund_over_limit", escalate.RequiresHuman}},
			[]string{a2.ID, b2.ID}},
		{"run", escalate.Filter{RunID: "run-b"}, []string{b1.ID, b2.ID}},
		{"run and reason", escalate.Filter{RunID: "run-b", Reason: []escalate.Reason{escalate.LowConfidence}},
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

func testConcurrentClaims(t *testing.T, open Open) {
	ctx, q, _ := setup(t, open, escalate.Config{})
	for round := range 3 {
		it := mustEscalate(t, ctx, q, esc(fmt.Sprintf("run-%d", round), "s", ""))
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { _, errs[i] = q.Claim(ctx, it.ID, fmt.Sprintf("reviewer-%d", i), time.Minute) })
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Fatalf("round %d: reviewers %d and %d both claimed the item", round, winner, i)
				}
				winner = i
			case !errors.Is(err, escalate.ErrConflict):
				t.Fatalf("round %d: reviewer %d: %v, want a conflict", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no reviewer claimed the item: %v", round, errs)
		}
		by := fmt.Sprintf("reviewer-%d", winner)
		for i, err := range errs {
			var ce *escalate.ClaimedError
			if err != nil && (!errors.As(err, &ce) || ce.By != by) {
				t.Errorf("round %d: reviewer %d's refusal %v does not name the holder %q", round, i, err, by)
			}
		}
		got, err := q.Get(ctx, it.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != escalate.StatusClaimed || got.ClaimedBy != by {
			t.Errorf("round %d: item %s by %q, want claimed by %q", round, got.Status, got.ClaimedBy, by)
		}
		audit, err := q.Audit(ctx, it.ID)
		if err != nil {
			t.Fatal(err)
		}
		if n := countEvents(audit, escalate.AuditClaimed); n != 1 {
			t.Errorf("round %d: %d claimed entries in the audit, want 1", round, n)
		}
	}
}

func testClaimRules(t *testing.T, open Open) {
	ctx, q, _ := setup(t, open, escalate.Config{})
	it := mustEscalate(t, ctx, q, esc("run-1", "s", ""))
	c1, err := q.Claim(ctx, it.ID, "ana", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if c1.Status != escalate.StatusClaimed || c1.ClaimedBy != "ana" ||
		c1.ClaimedUntil.Sub(c1.UpdatedAt) != time.Minute {
		t.Errorf("claimed item: %s by %q until %v (updated %v)", c1.Status, c1.ClaimedBy, c1.ClaimedUntil, c1.UpdatedAt)
	}
	c2, err := q.Claim(ctx, it.ID, "ana", time.Hour)
	if err != nil {
		t.Fatalf("the holder could not extend the claim: %v", err)
	}
	if !c2.ClaimedUntil.After(c1.ClaimedUntil) {
		t.Errorf("extended claim ends %v, not after %v", c2.ClaimedUntil, c1.ClaimedUntil)
	}
	if _, err := q.Release(ctx, it.ID, "bo"); !errors.Is(err, escalate.ErrConflict) {
		t.Errorf("Release by another reviewer: %v, want a conflict", err)
	}
	r, err := q.Release(ctx, it.ID, "ana")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != escalate.StatusOpen || r.ClaimedBy != "" || !r.ClaimedUntil.IsZero() {
		t.Errorf("released item: %s by %q until %v", r.Status, r.ClaimedBy, r.ClaimedUntil)
	}
	if _, err := q.Release(ctx, it.ID, "ana"); !errors.Is(err, escalate.ErrConflict) {
		t.Errorf("Release of an open item: %v, want a conflict", err)
	}
	if _, err := q.Claim(ctx, it.ID, "bo", 0); err != nil {
		t.Fatalf("claim after release: %v", err)
	}
	if _, err := q.Claim(ctx, it.ID, " ", time.Minute); !errors.Is(err, escalate.ErrInvalid) {
		t.Errorf("Claim with no reviewer: %v, want invalid", err)
	}
	if _, err := q.Resolve(ctx, it.ID, escalate.Decision{Action: escalate.ActionApprove, By: "bo"}); err != nil {
		t.Fatal(err)
	}
	var se *escalate.StatusError
	if _, err := q.Claim(ctx, it.ID, "bo", time.Minute); !errors.As(err, &se) || se.Status != escalate.StatusResolved {
		t.Errorf("Claim of a resolved item: %v, want a *StatusError", err)
	}
}

func testClaimExpires(t *testing.T, open Open) {
	ctx, q, _ := setup(t, open, escalate.Config{})
	it := mustEscalate(t, ctx, q, esc("run-1", "s", ""))
	c, err := q.Claim(ctx, it.ID, "ana", 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Claim(ctx, it.ID, "bo", time.Minute); !errors.Is(err, escalate.ErrConflict) &&
		time.Now().Before(c.ClaimedUntil) {
		t.Fatalf("claim of a held item: %v, want a conflict", err)
	}
	time.Sleep(time.Until(c.ClaimedUntil) + 20*time.Millisecond)
	got, err := q.Get(ctx, it.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != escalate.StatusOpen || got.ClaimedBy != "" {
		t.Errorf("expired claim reads as %s by %q, want open", got.Status, got.ClaimedBy)
	}
	open1, err := q.List(ctx, escalate.Filter{Status: []escalate.Status{escalate.StatusOpen}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(open1), []string{it.ID}) {
		t.Errorf("List(open) = %v, want the expired claim %s", ids(open1), it.ID)
	}
	claimed, err := q.List(ctx, escalate.Filter{Status: []escalate.Status{escalate.StatusClaimed}})
	if err != nil {
		t.Fatal(err)
	}
	if len(claimed) != 0 {
		t.Errorf("List(claimed) = %v, want none", ids(claimed))
	}
	s, err := q.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Open != 1 || s.Claimed != 0 {
		t.Errorf("Stats open %d claimed %d, want 1, 0", s.Open, s.Claimed)
	}
	if _, err := q.Resolve(ctx, it.ID, escalate.Decision{Action: escalate.ActionApprove, By: "bo"}); err != nil {
		t.Fatalf("resolve after the claim expired: %v", err)
	}
	audit, err := q.Audit(ctx, it.ID)
	if err != nil {
		t.Fatal(err)
	}
	if last := audit[len(audit)-1]; last.From != escalate.StatusOpen || last.By != "bo" {
		t.Errorf("last audit entry %+v, want a resolve by bo from open", last)
	}
}

func testClaimNext(t *testing.T, open Open) {
	ctx, q, _ := setup(t, open, escalate.Config{})
	var items []escalate.Item
	for i := range 4 {
		items = append(items, mustEscalate(t, ctx, q, esc(fmt.Sprintf("run-%d", i), "s", "")))
		time.Sleep(2 * time.Millisecond)
	}
	if _, err := q.Claim(ctx, items[0].ID, "ana", time.Minute); err != nil {
		t.Fatal(err)
	}
	got, ok, err := q.ClaimNext(ctx, "bo", time.Minute, escalate.Filter{})
	if err != nil || !ok || got.ID != items[1].ID || got.ClaimedBy != "bo" {
		t.Fatalf("ClaimNext = %s by %q, %v, %v; want %s", got.ID, got.ClaimedBy, ok, err, items[1].ID)
	}
	const n = 4
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			it, ok, err := q.ClaimNext(ctx, fmt.Sprintf("r%d", i), time.Minute, escalate.Filter{})
			if err != nil {
				t.Errorf("ClaimNext: %v", err)
				return
			}
			if ok {
				mu.Lock()
				seen[it.ID]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != 2 || seen[items[2].ID] != 1 || seen[items[3].ID] != 1 {
		t.Errorf("concurrent ClaimNext took %v, want %s and %s once each", seen, items[2].ID, items[3].ID)
	}
}

func testNextStore(t *testing.T, open Open) {
	h := open(t)
	ns, ok := h.Store.(escalate.NextStore)
	if !ok {
		t.Skip("the store does not implement escalate.NextStore")
	}
	ctx := t.Context()
	q := escalate.NewQueue(h.Store, escalate.Config{})
	refuse := func(*escalate.Item) (escalate.AuditEntry, error) {
		t.Error("update called with nothing to pick")
		return escalate.AuditEntry{}, nil
	}
	if _, ok, err := ns.UpdateNextEscalation(ctx, escalate.Filter{}, time.Now(), refuse); ok || err != nil {
		t.Errorf("empty queue: ok %v, err %v", ok, err)
	}
	a := mustEscalate(t, ctx, q, esc("run-a", "s", "low_confidence"))
	time.Sleep(2 * time.Millisecond)
	b := mustEscalate(t, ctx, q, esc("run-b", "s", "requires_human"))
	boom := errors.New("boom")
	_, _, err := ns.UpdateNextEscalation(ctx, escalate.Filter{}, time.Now(), func(it *escalate.Item) (escalate.AuditEntry, error) {
		if it.ID != a.ID {
			t.Errorf("picked %s, want the oldest %s", it.ID, a.ID)
		}
		return escalate.AuditEntry{}, boom
	})
	if err != boom {
		t.Errorf("update's error came back as %v", err)
	}
	got, ok, err := q.ClaimNext(ctx, "ana", time.Minute, escalate.Filter{Reason: []escalate.Reason{escalate.RequiresHuman}})
	if err != nil || !ok || got.ID != b.ID || got.Status != escalate.StatusClaimed {
		t.Errorf("ClaimNext(requires_human) = %s %s, %v, %v; want %s claimed", got.ID, got.Status, ok, err, b.ID)
	}
	audit, _ := q.Audit(ctx, b.ID)
	if len(audit) != 2 || audit[1].Event != escalate.AuditClaimed || audit[1].By != "ana" {
		t.Errorf("audit %+v", audit)
	}
}

func testResolveClaimedByOther(t *testing.T, open Open) {
	ctx, q, _ := setup(t, open, escalate.Config{})
	it := mustEscalate(t, ctx, q, esc("run-1", "s", ""))
	if _, err := q.Claim(ctx, it.ID, "ana", time.Minute); err != nil {
		t.Fatal(err)
	}
	_, err := q.Resolve(ctx, it.ID, escalate.Decision{Action: escalate.ActionApprove, By: "bo"})
	var ce *escalate.ClaimedError
	if !errors.Is(err, escalate.ErrConflict) || !errors.As(err, &ce) || ce.By != "ana" || ce.Op != "resolve" {
		t.Fatalf("Resolve of an item claimed by another: %v, want a *ClaimedError naming ana", err)
	}
	if !strings.Contains(err.Error(), "ana") || !strings.Contains(err.Error(), it.ID) {
		t.Errorf("refusal %q does not name the holder and the item", err)
	}
	if _, err := q.Dismiss(ctx, it.ID, "bo", ""); !errors.As(err, &ce) {
		t.Errorf("Dismiss of an item claimed by another: %v, want a *ClaimedError", err)
	}
	got, _ := q.Get(ctx, it.ID)
	if got.Status != escalate.StatusClaimed || got.Decision != nil {
		t.Errorf("refused resolve changed the item: %s %+v", got.Status, got.Decision)
	}
	d := escalate.Decision{Action: escalate.ActionRespond, Answer: "use the 2024 figures", Note: "checked", By: "ana"}
	res, err := q.Resolve(ctx, it.ID, d)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != escalate.StatusResolved || res.Decision == nil || *res.Decision != d ||
		res.ClaimedBy != "" || res.DecidedAt.IsZero() {
		t.Errorf("resolved item: %s %+v claimed %q decided %v", res.Status, res.Decision, res.ClaimedBy, res.DecidedAt)
	}
	got2, decided, err := q.Decision(ctx, it.ID)
	if err != nil || !decided || got2 != d {
		t.Errorf("Decision = %+v, %v, %v; want %+v", got2, decided, err, d)
	}
	var se *escalate.StatusError
	if _, err := q.Resolve(ctx, it.ID, escalate.Decision{Action: escalate.ActionReject, By: "ana"}); !errors.As(err, &se) ||
		!errors.Is(err, escalate.ErrConflict) {
		t.Errorf("second Resolve: %v, want a *StatusError", err)
	}
}

func testDecisionValidation(t *testing.T, open Open) {
	ctx, q, _ := setup(t, open, escalate.Config{})
	it := mustEscalate(t, ctx, q, esc("run-1", "s", ""))
	bad := []struct {
		d     escalate.Decision
		field string
	}{
		{escalate.Decision{Action: "maybe", By: "ana"}, "action"},
		{escalate.Decision{By: "ana"}, "action"},
		{escalate.Decision{Action: escalate.ActionRespond, By: "ana"}, "answer"},
		{escalate.Decision{Action: escalate.ActionRespond, Answer: "  ", By: "ana"}, "answer"},
		{escalate.Decision{Action: escalate.ActionApprove}, "by"},
	}
	for _, b := range bad {
		_, err := q.Resolve(ctx, it.ID, b.d)
		var ie *escalate.InvalidError
		if !errors.Is(err, escalate.ErrInvalid) || !errors.As(err, &ie) || ie.Field != b.field {
			t.Errorf("Resolve(%+v) = %v, want an *InvalidError on %s", b.d, err, b.field)
		}
	}
	got, _ := q.Get(ctx, it.ID)
	if got.Status != escalate.StatusOpen {
		t.Errorf("invalid decisions changed the item to %s", got.Status)
	}
	for _, a := range []escalate.Action{escalate.ActionApprove, escalate.ActionReject, escalate.ActionRetry} {
		x := mustEscalate(t, ctx, q, esc("run-"+string(a), "s", ""))
		if _, err := q.Resolve(ctx, x.ID, escalate.Decision{Action: a, By: "ana"}); err != nil {
			t.Errorf("Resolve %s: %v", a, err)
		}
	}
}

func testDismissAndReopen(t *testing.T, open Open) {
	ctx, q, _ := setup(t, open, escalate.Config{})
	it := mustEscalate(t, ctx, q, esc("run-1", "s", ""))
	var se *escalate.StatusError
	if _, err := q.Reopen(ctx, it.ID, "ana", ""); !errors.As(err, &se) {
		t.Errorf("Reopen of an open item: %v, want a *StatusError", err)
	}
	d, err := q.Dismiss(ctx, it.ID, "ana", "duplicate of run-0")
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != escalate.StatusDismissed {
		t.Errorf("dismissed item is %s", d.Status)
	}
	dec, decided, err := q.Decision(ctx, it.ID)
	if err != nil || !decided || dec.Action != escalate.ActionReject || dec.Note != "duplicate of run-0" || dec.By != "ana" {
		t.Errorf("Decision of a dismissed item = %+v, %v, %v; want a reject with the note", dec, decided, err)
	}
	r, err := q.Reopen(ctx, it.ID, "bo", "not a duplicate")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != escalate.StatusOpen || r.Decision != nil || !r.DecidedAt.IsZero() {
		t.Errorf("reopened item: %s %+v %v", r.Status, r.Decision, r.DecidedAt)
	}
	if _, decided, _ := q.Decision(ctx, it.ID); decided {
		t.Errorf("reopened item still reads as decided")
	}
	if _, err := q.Resolve(ctx, it.ID, escalate.Decision{Action: escalate.ActionApprove, By: "bo"}); err != nil {
		t.Fatal(err)
	}
	if r, err := q.Reopen(ctx, it.ID, "bo", ""); err != nil || r.Status != escalate.StatusOpen {
		t.Errorf("Reopen of a resolved item: %v, %v", r.Status, err)
	}
	d2, err := q.Dismiss(ctx, it.ID, "cy", "")
	if err != nil {
		t.Fatal(err)
	}
	if d2.Decision == nil || d2.Decision.Note == "" {
		t.Errorf("a dismissal without a note has no reason for the run: %+v", d2.Decision)
	}
}

func testConcurrentResolve(t *testing.T, open Open) {
	ctx, q, _ := setup(t, open, escalate.Config{})
	it := mustEscalate(t, ctx, q, esc("run-1", "s", ""))
	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			by := fmt.Sprintf("r%d", i)
			if i%2 == 0 {
				_, errs[i] = q.Resolve(ctx, it.ID, escalate.Decision{Action: escalate.ActionApprove, By: by})
			} else {
				_, errs[i] = q.Dismiss(ctx, it.ID, by, "")
			}
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if !errors.Is(err, escalate.ErrConflict) {
			t.Errorf("concurrent decision: %v, want a conflict", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d concurrent decisions succeeded, want 1", ok)
	}
	audit, _ := q.Audit(ctx, it.ID)
	if n := countEvents(audit, escalate.AuditResolved) + countEvents(audit, escalate.AuditDismissed); n != 1 {
		t.Errorf("%d decisions in the audit, want 1", n)
	}
}

func testAuditComplete(t *testing.T, open Open) {
	ctx, q, _ := setup(t, open, escalate.Config{})
	it := mustEscalate(t, ctx, q, esc("run-1", "s", "low_confidence"))
	other := mustEscalate(t, ctx, q, esc("run-2", "s", ""))
	steps := []struct {
		do   func() error
		want escalate.AuditEntry
	}{
		{func() error { _, err := q.Claim(ctx, it.ID, "ana", time.Minute); return err },
			escalate.AuditEntry{By: "ana", Event: escalate.AuditClaimed, From: escalate.StatusOpen, To: escalate.StatusClaimed}},
		{func() error { _, err := q.Release(ctx, it.ID, "ana"); return err },
			escalate.AuditEntry{By: "ana", Event: escalate.AuditReleased, From: escalate.StatusClaimed, To: escalate.StatusOpen}},
		{func() error { _, err := q.Claim(ctx, it.ID, "bo", time.Minute); return err },
			escalate.AuditEntry{By: "bo", Event: escalate.AuditClaimed, From: escalate.StatusOpen, To: escalate.StatusClaimed}},
		{func() error {
			_, err := q.Resolve(ctx, it.ID, escalate.Decision{Action: escalate.ActionReject, Note: "wrong data", By: "bo"})
			return err
		}, escalate.AuditEntry{By: "bo", Event: escalate.AuditResolved, From: escalate.StatusClaimed,
			To: escalate.StatusResolved, Action: escalate.ActionReject, Note: "wrong data"}},
		{func() error { _, err := q.Reopen(ctx, it.ID, "cy", "reject was a mistake"); return err },
			escalate.AuditEntry{By: "cy", Event: escalate.AuditReopened, From: escalate.StatusResolved,
				To: escalate.StatusOpen, Note: "reject was a mistake"}},
		{func() error { _, err := q.Dismiss(ctx, it.ID, "cy", "obsolete"); return err },
			escalate.AuditEntry{By: "cy", Event: escalate.AuditDismissed, From: escalate.StatusOpen,
				To: escalate.StatusDismissed, Action: escalate.ActionReject, Note: "obsolete"}},
	}
	for i, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		// A refused change leaves no trace.
		if i == 0 {
			if _, err := q.Claim(ctx, other.ID, "zed", time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := q.Resolve(ctx, other.ID, escalate.Decision{Action: escalate.ActionRetry, By: "yan"}); err == nil {
			t.Fatal("resolve of an item claimed by another succeeded")
		}
	}
	audit, err := q.Audit(ctx, it.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != len(steps)+1 {
		t.Fatalf("audit has %d entries, want %d: %+v", len(audit), len(steps)+1, audit)
	}
	first := audit[0]
	if first.Event != escalate.AuditEscalated || first.To != escalate.StatusOpen || first.ItemID != it.ID ||
		!first.At.Equal(it.CreatedAt) || first.By == "" {
		t.Errorf("first entry %+v, want escalated at %v", first, it.CreatedAt)
	}
	for i, s := range steps {
		got := audit[i+1]
		if got.ItemID != it.ID || got.At.Before(audit[i].At) {
			t.Errorf("entry %d: item %q at %v (previous at %v)", i+1, got.ItemID, got.At, audit[i].At)
		}
		if s.want.Event == escalate.AuditClaimed {
			got.Note = "" // says until when
		}
		got.ItemID, got.At = "", time.Time{}
		if got != s.want {
			t.Errorf("entry %d = %+v, want %+v", i+1, got, s.want)
		}
	}
	oa, err := q.Audit(ctx, other.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(oa) != 2 {
		t.Errorf("other item's audit has %d entries, want 2 (escalated, claimed): %+v", len(oa), oa)
	}
}

func testStats(t *testing.T, open Open) {
	ctx, q, _ := setup(t, open, escalate.Config{})
	s, err := q.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Open != 0 || s.OldestAge != 0 || len(s.ByReason) != 0 {
		t.Errorf("empty queue stats %+v", s)
	}
	lc1 := mustEscalate(t, ctx, q, esc("r1", "s", "low_confidence"))
	time.Sleep(5 * time.Millisecond)
	lc2 := mustEscalate(t, ctx, q, esc("r2", "s", "low_confidence"))
	mr := mustEscalate(t, ctx, q, esc("r3", "s", "max_retries_exceeded"))
	gone := mustEscalate(t, ctx, q, esc("r4", "s", "requires_human"))
	if _, err := q.Claim(ctx, lc2.ID, "ana", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Resolve(ctx, gone.ID, escalate.Decision{Action: escalate.ActionApprove, By: "ana"}); err != nil {
		t.Fatal(err)
	}
	s, err = q.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []escalate.ReasonStats{
		{Reason: escalate.LowConfidence, Open: 2, Claimed: 1, OldestCreatedAt: lc1.CreatedAt},
		{Reason: escalate.MaxRetriesExceeded, Open: 1, Claimed: 0, OldestCreatedAt: mr.CreatedAt},
	}
	if len(s.ByReason) != len(want) {
		t.Fatalf("ByReason = %+v, want %+v", s.ByReason, want)
	}
	for i := range want {
		g := s.ByReason[i]
		if g.Reason != want[i].Reason || g.Open != want[i].Open || g.Claimed != want[i].Claimed ||
			!g.OldestCreatedAt.Equal(want[i].OldestCreatedAt) {
			t.Errorf("ByReason[%d] = %+v, want %+v", i, g, want[i])
		}
	}
	if s.Open != 3 || s.Claimed != 1 {
		t.Errorf("totals open %d claimed %d, want 3, 1", s.Open, s.Claimed)
	}
	if age := s.At.Sub(lc1.CreatedAt); s.OldestAge != age {
		t.Errorf("OldestAge = %v, want %v", s.OldestAge, age)
	}
	if s.ByReason[0].OldestAge(s.At) < 5*time.Millisecond {
		t.Errorf("oldest low_confidence item is %v old, want at least 5ms", s.ByReason[0].OldestAge(s.At))
	}
}
