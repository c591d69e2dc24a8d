package escalatetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/escalate"
)

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
	if _, err := q.Resolve(ctx, it.ID, rebound.Decision{Action: rebound.ActionApprove, By: "bo"}); err != nil {
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
	if _, err := q.Resolve(ctx, it.ID, rebound.Decision{Action: rebound.ActionApprove, By: "bo"}); err != nil {
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
	got, ok, err := q.ClaimNext(ctx, "ana", time.Minute, escalate.Filter{Reason: []rebound.EscalationReason{rebound.ReasonRequiresHuman}})
	if err != nil || !ok || got.ID != b.ID || got.Status != escalate.StatusClaimed {
		t.Errorf("ClaimNext(requires_human) = %s %s, %v, %v; want %s claimed", got.ID, got.Status, ok, err, b.ID)
	}
	audit, _ := q.Audit(ctx, b.ID)
	if len(audit) != 2 || audit[1].Event != escalate.AuditClaimed || audit[1].By != "ana" {
		t.Errorf("audit %+v", audit)
	}
}
