package escalatetest

import (
	"encoding/json"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/escalate"
)

// Who decided, kept for good, and a person's override of a supervisor's decision during its
// hold: the cases every store passes.

func supervisorDecision(a rebound.Action, hold time.Duration) rebound.Decision {
	return rebound.Decision{Action: a, By: "model-x policy:v3", Actor: rebound.ActorSupervisor,
		Rationale: "the provider's breaker has closed", Confidence: 0.87, Hold: hold, Note: "auto"}
}

// testDecisionRoundTrip: every field of a decision (actor, rationale, confidence, hold) comes
// back from Get, List and the audit trail, and through the item's JSON.
func testDecisionRoundTrip(t *testing.T, open Open) {
	ctx, q, _ := setup(t, open, escalate.Config{})
	sup := mustEscalate(t, ctx, q, esc("run-sup", "s", ""))
	per := mustEscalate(t, ctx, q, esc("run-per", "s", ""))
	d := supervisorDecision(rebound.ActionRetry, 90*time.Minute+1500*time.Nanosecond)
	res, err := q.Resolve(ctx, sup.ID, d)
	if err != nil {
		t.Fatal(err)
	}
	if res.Decision == nil || *res.Decision != d {
		t.Fatalf("Resolve returned %+v, want %+v", res.Decision, d)
	}
	// A person who names no actor is recorded as a person.
	pd := rebound.Decision{Action: rebound.ActionReject, Note: "no", By: "ana", Rationale: "the amount is too high"}
	if _, err := q.Resolve(ctx, per.ID, pd); err != nil {
		t.Fatal(err)
	}
	pd.Actor = rebound.ActorPerson
	got, err := q.Get(ctx, sup.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Decision == nil || *got.Decision != d {
		t.Errorf("Get: decision %+v, want %+v", got.Decision, d)
	}
	if want := got.DecidedAt.Add(d.Hold); !got.HoldUntil().Equal(want) || !got.Held(time.Now()) || !got.ActedAt.IsZero() {
		t.Errorf("held item: hold until %v (want %v), held %v, acted %v", got.HoldUntil(), want, got.Held(time.Now()), got.ActedAt)
	}
	if g, _ := q.Get(ctx, per.ID); g.Decision == nil || *g.Decision != pd || !g.HoldUntil().IsZero() {
		t.Errorf("Get: person's decision %+v, want %+v and no hold", g.Decision, pd)
	}
	items, err := q.List(ctx, escalate.Filter{Status: []escalate.Status{escalate.StatusResolved}})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		want := pd
		if it.ID == sup.ID {
			want = d
		}
		if it.Decision == nil || *it.Decision != want {
			t.Errorf("List: %s decision %+v, want %+v", it.ID, it.Decision, want)
		}
	}
	audit, err := q.Audit(ctx, sup.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := audit[len(audit)-1]
	if last.Event != escalate.AuditResolved || last.Decision() != d || !last.At.Equal(got.DecidedAt) {
		t.Errorf("audit entry of the decision: %+v, want %+v at %v", last, d, got.DecidedAt)
	}
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var back escalate.Item
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Decision, got.Decision) || !back.DecidedAt.Equal(got.DecidedAt) {
		t.Errorf("JSON round trip: %+v, want %+v (%s)", back.Decision, got.Decision, b)
	}
	var raw struct {
		Decision map[string]any `json:"decision"`
	}
	_ = json.Unmarshal(b, &raw)
	for _, k := range []string{"actor", "rationale", "confidence", "hold_ns", "hold_until"} {
		if _, ok := raw.Decision[k]; !ok {
			t.Errorf("item JSON has no decision.%s: %s", k, b)
		}
	}
	// What no decider can be.
	x := mustEscalate(t, ctx, q, esc("run-bad", "s", ""))
	for _, bad := range []struct {
		d     rebound.Decision
		field string
	}{
		{rebound.Decision{Action: rebound.ActionApprove, By: "ana", Actor: "robot"}, "actor"},
		{rebound.Decision{Action: rebound.ActionApprove, By: "ana", Hold: time.Minute}, "hold"},
		{rebound.Decision{Action: rebound.ActionApprove, By: "m", Actor: rebound.ActorSupervisor, Hold: -1}, "hold"},
		{rebound.Decision{Action: rebound.ActionApprove, By: "m", Actor: rebound.ActorSupervisor, Confidence: 1.5}, "confidence"},
	} {
		var ie *escalate.InvalidError
		if _, err := q.Resolve(ctx, x.ID, bad.d); !errors.As(err, &ie) || ie.Field != bad.field {
			t.Errorf("Resolve(%+v) = %v, want an *InvalidError on %s", bad.d, err, bad.field)
		}
	}
}

// testFilterByActor: List keeps the items decided by a kind of decider, or by one name.
func testFilterByActor(t *testing.T, open Open) {
	ctx, q, _ := setup(t, open, escalate.Config{})
	sup := mustEscalate(t, ctx, q, esc("run-1", "s", ""))
	per := mustEscalate(t, ctx, q, esc("run-2", "s", ""))
	dis := mustEscalate(t, ctx, q, esc("run-3", "s", ""))
	opn := mustEscalate(t, ctx, q, esc("run-4", "s", ""))
	_ = opn
	if _, err := q.Resolve(ctx, sup.ID, supervisorDecision(rebound.ActionApprove, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Resolve(ctx, per.ID, rebound.Decision{Action: rebound.ActionApprove, By: "ana"}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Dismiss(ctx, dis.ID, "bo", ""); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		f    escalate.Filter
		want []string
	}{
		{escalate.Filter{Actor: []rebound.Actor{rebound.ActorSupervisor}}, []string{sup.ID}},
		{escalate.Filter{Actor: []rebound.Actor{rebound.ActorPerson}}, []string{per.ID, dis.ID}},
		{escalate.Filter{Actor: []rebound.Actor{rebound.ActorPerson, rebound.ActorSupervisor}}, []string{sup.ID, per.ID, dis.ID}},
		{escalate.Filter{DecidedBy: "model-x policy:v3"}, []string{sup.ID}},
		{escalate.Filter{DecidedBy: "bo"}, []string{dis.ID}},
		{escalate.Filter{DecidedBy: "ana", Actor: []rebound.Actor{rebound.ActorSupervisor}}, nil},
	} {
		items, err := q.List(ctx, c.f)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(items); !sameSet(got, c.want) {
			t.Errorf("List(%+v) = %v, want %v", c.f, got, c.want)
		}
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

// testDecisionsKept: the audit trail is append-only: a decision replaced by a reopen and a new
// decision stays readable whole, and an edit's decision does not overwrite the original request
// (the item's state).
func testDecisionsKept(t *testing.T, open Open) {
	ctx, q, _ := setup(t, open, escalate.Config{})
	e := esc("run-1", "tool:refund", "")
	e.State = json.RawMessage(`{"tool":"refund","arguments":{"amount":900,"currency":"EUR"}}`)
	it := mustEscalate(t, ctx, q, e)
	first := supervisorDecision(rebound.ActionApprove, 0)
	if _, err := q.Resolve(ctx, it.ID, first); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Reopen(ctx, it.ID, "ana", "the amount is over the limit"); err != nil {
		t.Fatal(err)
	}
	edit := rebound.Decision{Action: rebound.ActionEdit, Answer: `{"amount":500,"currency":"EUR"}`, By: "ana",
		Actor: rebound.ActorPerson, Rationale: "refund up to the limit", Note: "partial"}
	res, err := q.Resolve(ctx, it.ID, edit)
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, res.State, e.State)
	audit, err := q.Audit(ctx, it.ID)
	if err != nil {
		t.Fatal(err)
	}
	var decided []rebound.Decision
	for _, a := range audit {
		if a.Event == escalate.AuditResolved {
			decided = append(decided, a.Decision())
		}
	}
	if len(decided) != 2 || decided[0] != first || decided[1] != edit {
		t.Errorf("decisions in the trail: %+v, want %+v then %+v", decided, first, edit)
	}
	got, _ := q.Get(ctx, it.ID)
	jsonEqual(t, got.State, e.State)
}

// testHoldAndOverride: a supervisor's decision with a hold is not acted on during the hold; a
// person may override it then, and not otherwise, with refusals naming why.
func testHoldAndOverride(t *testing.T, open Open) {
	ctx, q, _ := setup(t, open, escalate.Config{})
	it := mustEscalate(t, ctx, q, esc("run-1", "s", ""))
	sup := supervisorDecision(rebound.ActionApprove, time.Hour)
	if _, err := q.Resolve(ctx, it.ID, sup); err != nil {
		t.Fatal(err)
	}
	_, decided, err := q.Decision(ctx, it.ID)
	var he *escalate.HeldError
	if decided || !errors.Is(err, escalate.ErrHeld) || !errors.As(err, &he) || he.By != sup.By || he.Until.IsZero() {
		t.Fatalf("Decision during the hold = %v, %v; want a *HeldError naming %s", decided, err, sup.By)
	}
	var se *escalate.StatusError
	open2 := mustEscalate(t, ctx, q, esc("run-2", "s", ""))
	if _, err := q.Override(ctx, open2.ID, rebound.Decision{Action: rebound.ActionReject, By: "ana"}); !errors.As(err, &se) {
		t.Errorf("Override of an open item: %v, want a *StatusError", err)
	}
	var ie *escalate.InvalidError
	if _, err := q.Override(ctx, it.ID, supervisorDecision(rebound.ActionReject, 0)); !errors.As(err, &ie) || ie.Field != "actor" {
		t.Errorf("Override by a supervisor: %v, want an *InvalidError on actor", err)
	}
	if _, err := q.Override(ctx, it.ID, rebound.Decision{Action: rebound.ActionRespond, By: "ana"}); !errors.As(err, &ie) {
		t.Errorf("Override with an invalid decision: %v, want an *InvalidError", err)
	}
	person := rebound.Decision{Action: rebound.ActionReject, Note: "not this customer", By: "ana",
		Rationale: "the account is under review"}
	ov, err := q.Override(ctx, it.ID, person)
	if err != nil {
		t.Fatal(err)
	}
	person.Actor = rebound.ActorPerson
	if ov.Status != escalate.StatusResolved || ov.Decision == nil || *ov.Decision != person || !ov.HoldUntil().IsZero() {
		t.Errorf("overridden item: %s %+v hold until %v", ov.Status, ov.Decision, ov.HoldUntil())
	}
	d, decided, err := q.Decision(ctx, it.ID)
	if err != nil || !decided || d != person {
		t.Errorf("Decision after the override = %+v, %v, %v; want the person's, at once", d, decided, err)
	}
	var oe *escalate.OverrideError
	if _, err := q.Override(ctx, it.ID, rebound.Decision{Action: rebound.ActionApprove, By: "bo"}); !errors.As(err, &oe) ||
		oe.Why != escalate.RefusedByPerson || !errors.Is(err, escalate.ErrConflict) {
		t.Errorf("second Override: %v, want RefusedByPerson", err)
	}
	audit, _ := q.Audit(ctx, it.ID)
	var evs []escalate.AuditEvent
	for _, a := range audit {
		evs = append(evs, a.Event)
	}
	if n := len(audit); n < 3 || audit[n-2].Event != escalate.AuditResolved || audit[n-2].Decision() != sup ||
		audit[n-1].Event != escalate.AuditOverridden || audit[n-1].Decision() != person {
		t.Errorf("trail %v: want the supervisor's decision then the person's override, both whole", evs)
	}

	// No hold: the run may act at once, so no override.
	now0 := mustEscalate(t, ctx, q, esc("run-3", "s", ""))
	if _, err := q.Resolve(ctx, now0.ID, supervisorDecision(rebound.ActionApprove, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Override(ctx, now0.ID, rebound.Decision{Action: rebound.ActionReject, By: "ana"}); !errors.As(err, &oe) ||
		oe.Why != escalate.RefusedHoldOver {
		t.Errorf("Override of a decision without hold: %v, want RefusedHoldOver", err)
	}
	if d, decided, err := q.Decision(ctx, now0.ID); err != nil || !decided || d.Action != rebound.ActionApprove {
		t.Errorf("Decision without hold = %+v, %v, %v; want it at once", d, decided, err)
	}
	// A short hold: over, then taken by the run; then refused as acted on.
	short := mustEscalate(t, ctx, q, esc("run-4", "s", ""))
	if _, err := q.Resolve(ctx, short.ID, supervisorDecision(rebound.ActionApprove, 30*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond)
	if _, err := q.Override(ctx, short.ID, rebound.Decision{Action: rebound.ActionReject, By: "ana"}); !errors.As(err, &oe) ||
		oe.Why != escalate.RefusedHoldOver {
		t.Errorf("Override after the hold: %v, want RefusedHoldOver", err)
	}
	if d, decided, err := q.Decision(ctx, short.ID); err != nil || !decided || d.Action != rebound.ActionApprove {
		t.Fatalf("Decision after the hold = %+v, %v, %v", d, decided, err)
	}
	taken, _ := q.Get(ctx, short.ID)
	if taken.ActedAt.IsZero() || taken.Held(time.Now()) {
		t.Errorf("taken decision: acted at %v", taken.ActedAt)
	}
	if _, err := q.Override(ctx, short.ID, rebound.Decision{Action: rebound.ActionReject, By: "ana"}); !errors.As(err, &oe) ||
		oe.Why != escalate.RefusedActed {
		t.Errorf("Override after the run took the decision: %v, want RefusedActed", err)
	}
	// Taking is once: a second read does not write again.
	if _, _, err := q.Decision(ctx, short.ID); err != nil {
		t.Fatal(err)
	}
	audit, _ = q.Audit(ctx, short.ID)
	if countEvents(audit, escalate.AuditTaken) != 1 {
		t.Errorf("trail has %d taken entries, want 1", countEvents(audit, escalate.AuditTaken))
	}
	// A person's decision is not overridden.
	per := mustEscalate(t, ctx, q, esc("run-5", "s", ""))
	if _, err := q.Resolve(ctx, per.ID, rebound.Decision{Action: rebound.ActionApprove, By: "ana"}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Override(ctx, per.ID, rebound.Decision{Action: rebound.ActionReject, By: "bo"}); !errors.As(err, &oe) ||
		oe.Why != escalate.RefusedByPerson {
		t.Errorf("Override of a person's decision: %v, want RefusedByPerson", err)
	}
}

// testOverrideRacesTake: at the end of the hold, a person overriding and a run taking the
// decision race; exactly one wins, and the run acts on the decision the store keeps.
func testOverrideRacesTake(t *testing.T, open Open) {
	ctx, q, _ := setup(t, open, escalate.Config{})
	const rounds = 12
	hold := 40 * time.Millisecond
	wins := map[string]int{}
	for i := range rounds {
		it := mustEscalate(t, ctx, q, esc("race-"+randHex(4), "s", ""))
		sup := supervisorDecision(rebound.ActionApprove, hold)
		res, err := q.Resolve(ctx, it.ID, sup)
		if err != nil {
			t.Fatal(err)
		}
		expiry := res.DecidedAt.Add(hold)
		var (
			wg       sync.WaitGroup
			acted    rebound.Decision
			takeErr  error
			overErr  error
			overrode bool
		)
		person := rebound.Decision{Action: rebound.ActionReject, Note: "stop", By: "ana", Actor: rebound.ActorPerson}
		wg.Add(2)
		go func() { // the run: polls until it may act
			defer wg.Done()
			for {
				d, decided, err := q.Decision(ctx, it.ID)
				if errors.Is(err, escalate.ErrHeld) {
					time.Sleep(time.Millisecond)
					continue
				}
				acted, takeErr = d, err
				if err == nil && !decided {
					takeErr = errors.New("not decided")
				}
				return
			}
		}()
		go func() { // the person: overrides around the end of the hold
			defer wg.Done()
			time.Sleep(time.Until(expiry) + time.Duration(i%5-2)*time.Millisecond)
			_, overErr = q.Override(ctx, it.ID, person)
			overrode = overErr == nil
		}()
		wg.Wait()
		if takeErr != nil {
			t.Fatalf("round %d: the run's read: %v", i, takeErr)
		}
		var oe *escalate.OverrideError
		if !overrode && !errors.As(overErr, &oe) {
			t.Fatalf("round %d: Override: %v, want success or an *OverrideError", i, overErr)
		}
		final, err := q.Get(ctx, it.ID)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case overrode:
			wins["override"]++
			if acted != person || *final.Decision != person {
				t.Errorf("round %d: override won, but the run acted on %+v and the store keeps %+v", i, acted, final.Decision)
			}
		default:
			wins["run"]++
			if acted != sup || *final.Decision != sup || final.ActedAt.IsZero() {
				t.Errorf("round %d: the run won (%v), but it acted on %+v and the store keeps %+v (acted %v)", i, overErr, acted, final.Decision, final.ActedAt)
			}
		}
		audit, _ := q.Audit(ctx, it.ID)
		if n := countEvents(audit, escalate.AuditTaken) + countEvents(audit, escalate.AuditOverridden); n != 1 {
			t.Errorf("round %d: %d taken/overridden entries, want exactly 1", i, n)
		}
	}
	t.Logf("of %d races at the end of the hold: %v", rounds, wins)
}
