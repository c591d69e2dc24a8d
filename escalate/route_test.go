package escalate_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/escalate"
)

func TestRouteLeavesTheItemOpen(t *testing.T) {
	ctx := context.Background()
	q := escalate.NewQueue(escalate.NewMemoryStore(), escalate.Config{})
	id, _ := q.Escalate(ctx, rebound.Escalation{RunID: "r", Step: "s", Reason: rebound.ReasonRequiresHuman})
	if _, err := q.Claim(ctx, id, "sup @1", time.Minute); err != nil {
		t.Fatal(err)
	}
	// Someone else's claim is respected.
	if _, err := q.Route(ctx, id, "sup @2", "sup", "why"); !errors.Is(err, escalate.ErrConflict) {
		t.Fatalf("route under another's claim: %v", err)
	}
	it, err := q.Route(ctx, id, "sup @1", "sup", "outside policy. Risk: money")
	if err != nil || it.Status != escalate.StatusOpen || it.ClaimedBy != "" || it.Decision != nil {
		t.Fatalf("route: %+v, %v", it, err)
	}
	it, err = q.SupervisorUnavailable(ctx, id, "", "sup", "timeout: 30s")
	if err != nil || it.Status != escalate.StatusOpen {
		t.Fatalf("unavailable: %+v, %v", it, err)
	}
	audit, _ := q.Audit(ctx, id)
	if n := len(audit); n != 4 || audit[2].Event != escalate.AuditRouted || audit[2].Note != "outside policy. Risk: money" ||
		audit[3].Event != escalate.AuditSupervisorUnavailable || audit[3].By != "sup" || audit[3].To != escalate.StatusOpen {
		t.Fatalf("audit %+v", audit)
	}
	if _, err := q.Route(ctx, id, "", "", "x"); !errors.Is(err, escalate.ErrInvalid) {
		t.Fatalf("route by no one: %v", err)
	}
}

func TestResolveClaimed(t *testing.T) {
	ctx := context.Background()
	q := escalate.NewQueue(escalate.NewMemoryStore(), escalate.Config{})
	id, _ := q.Escalate(ctx, rebound.Escalation{RunID: "r", Step: "s", Reason: rebound.ReasonMaxRetriesExceeded})
	if _, err := q.Claim(ctx, id, "m policy:v1 @a", time.Minute); err != nil {
		t.Fatal(err)
	}
	d := rebound.Decision{Action: rebound.ActionRetry, By: "m policy:v1", Actor: rebound.ActorSupervisor, Rationale: "overload over", Confidence: 0.9, Hold: time.Minute}
	if _, err := q.ResolveClaimed(ctx, id, "m policy:v1 @b", d); !errors.Is(err, escalate.ErrConflict) {
		t.Fatalf("resolve under another's claim: %v", err)
	}
	if _, err := q.Resolve(ctx, id, d); !errors.Is(err, escalate.ErrConflict) {
		t.Fatalf("plain resolve by the signer, not the claimant: %v", err)
	}
	it, err := q.ResolveClaimed(ctx, id, "m policy:v1 @a", d)
	if err != nil || it.Status != escalate.StatusResolved || it.Decision.By != "m policy:v1" || it.Decision.Actor != rebound.ActorSupervisor {
		t.Fatalf("resolve: %+v, %v", it, err)
	}
	if _, err := q.ResolveClaimed(ctx, id, "m policy:v1 @a", d); !errors.Is(err, escalate.ErrConflict) {
		t.Fatalf("second resolve: %v", err)
	}
	audit, _ := q.Audit(ctx, id)
	if last := audit[len(audit)-1]; last.Event != escalate.AuditResolved || last.By != "m policy:v1" || last.Note != "overload over" {
		t.Fatalf("audit %+v", last)
	}
}
