package escalatetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/escalate"
)

func testResolveClaimedByOther(t *testing.T, open Open) {
	ctx, q, _ := setup(t, open, escalate.Config{})
	it := mustEscalate(t, ctx, q, esc("run-1", "s", ""))
	if _, err := q.Claim(ctx, it.ID, "ana", time.Minute); err != nil {
		t.Fatal(err)
	}
	_, err := q.Resolve(ctx, it.ID, rebound.Decision{Action: rebound.ActionApprove, By: "bo"})
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
	d := rebound.Decision{Action: rebound.ActionRespond, Answer: "use the 2024 figures", Note: "checked", By: "ana"}
	res, err := q.Resolve(ctx, it.ID, d)
	if err != nil {
		t.Fatal(err)
	}
	d.Actor = rebound.ActorPerson // a decision that names no actor is a person's
	if res.Status != escalate.StatusResolved || res.Decision == nil || *res.Decision != d ||
		res.ClaimedBy != "" || res.DecidedAt.IsZero() {
		t.Errorf("resolved item: %s %+v claimed %q decided %v", res.Status, res.Decision, res.ClaimedBy, res.DecidedAt)
	}
	got2, decided, err := q.Decision(ctx, it.ID)
	if err != nil || !decided || got2 != d {
		t.Errorf("Decision = %+v, %v, %v; want %+v", got2, decided, err, d)
	}
	var se *escalate.StatusError
	if _, err := q.Resolve(ctx, it.ID, rebound.Decision{Action: rebound.ActionReject, By: "ana"}); !errors.As(err, &se) ||
		!errors.Is(err, escalate.ErrConflict) {
		t.Errorf("second Resolve: %v, want a *StatusError", err)
	}
}

func testDecisionValidation(t *testing.T, open Open) {
	ctx, q, _ := setup(t, open, escalate.Config{})
	it := mustEscalate(t, ctx, q, esc("run-1", "s", ""))
	bad := []struct {
		d     rebound.Decision
		field string
	}{
		{rebound.Decision{Action: "maybe", By: "ana"}, "action"},
		{rebound.Decision{By: "ana"}, "action"},
		{rebound.Decision{Action: rebound.ActionRespond, By: "ana"}, "answer"},
		{rebound.Decision{Action: rebound.ActionRespond, Answer: "  ", By: "ana"}, "answer"},
		{rebound.Decision{Action: rebound.ActionApprove}, "by"},
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
	for _, a := range []rebound.Action{rebound.ActionApprove, rebound.ActionReject, rebound.ActionRetry} {
		x := mustEscalate(t, ctx, q, esc("run-"+string(a), "s", ""))
		if _, err := q.Resolve(ctx, x.ID, rebound.Decision{Action: a, By: "ana"}); err != nil {
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
	if err != nil || !decided || dec.Action != rebound.ActionReject || dec.Note != "duplicate of run-0" || dec.By != "ana" {
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
	if _, err := q.Resolve(ctx, it.ID, rebound.Decision{Action: rebound.ActionApprove, By: "bo"}); err != nil {
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
				_, errs[i] = q.Resolve(ctx, it.ID, rebound.Decision{Action: rebound.ActionApprove, By: by})
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
			_, err := q.Resolve(ctx, it.ID, rebound.Decision{Action: rebound.ActionReject, Note: "wrong data", By: "bo"})
			return err
		}, escalate.AuditEntry{By: "bo", Event: escalate.AuditResolved, From: escalate.StatusClaimed,
			To: escalate.StatusResolved, Action: rebound.ActionReject, Note: "wrong data", Actor: rebound.ActorPerson}},
		{func() error { _, err := q.Reopen(ctx, it.ID, "cy", "reject was a mistake"); return err },
			escalate.AuditEntry{By: "cy", Event: escalate.AuditReopened, From: escalate.StatusResolved,
				To: escalate.StatusOpen, Note: "reject was a mistake"}},
		{func() error { _, err := q.Dismiss(ctx, it.ID, "cy", "obsolete"); return err },
			escalate.AuditEntry{By: "cy", Event: escalate.AuditDismissed, From: escalate.StatusOpen,
				To: escalate.StatusDismissed, Action: rebound.ActionReject, Note: "obsolete", Actor: rebound.ActorPerson}},
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
		if _, err := q.Resolve(ctx, other.ID, rebound.Decision{Action: rebound.ActionRetry, By: "yan"}); err == nil {
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
	if _, err := q.Resolve(ctx, gone.ID, rebound.Decision{Action: rebound.ActionApprove, By: "ana"}); err != nil {
		t.Fatal(err)
	}
	s, err = q.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []escalate.ReasonStats{
		{Reason: rebound.ReasonLowConfidence, Open: 2, Claimed: 1, OldestCreatedAt: lc1.CreatedAt},
		{Reason: rebound.ReasonMaxRetriesExceeded, Open: 1, Claimed: 0, OldestCreatedAt: mr.CreatedAt},
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
