package escalate_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/escalate"
)

// A reviewer takes the oldest open item, and a second reviewer is refused.
func ExampleQueue() {
	ctx := context.Background()
	q := escalate.NewQueue(escalate.NewMemoryStore(), escalate.Config{})

	id, _ := q.Escalate(ctx, rebound.Escalation{
		RunID: "report-001", Step: "publish", Reason: rebound.ReasonIrreversibleAction,
		Context: "Publishes the report to the customer portal.",
	})
	it, _, _ := q.ClaimNext(ctx, "ana", 10*time.Minute, escalate.Filter{})
	fmt.Println(it.RunID, it.Step, it.Reason, it.Status, it.ClaimedBy)

	_, err := q.Resolve(ctx, id, rebound.Decision{Action: rebound.ActionApprove, By: "bo"})
	fmt.Println(errors.Is(err, escalate.ErrConflict))

	it, _ = q.Resolve(ctx, id, rebound.Decision{Action: rebound.ActionApprove, Note: "checked", By: "ana"})
	fmt.Println(it.Status, it.Decision.Action, it.Decision.By)
	// Output:
	// report-001 publish irreversible_action claimed ana
	// true
	// resolved approve ana
}

// Secrets never reach the store.
func ExampleRedactor() {
	r := escalate.NewRedactor("customer_ssn")
	fmt.Println(r.Text("401 from https://api.openai.com with Authorization: Bearer sk-proj-abcdefghijklmnopqrstuvwx"))
	fmt.Println(string(r.JSON([]byte(`{"headers":{"x-api-key":"k-123"},"customer_ssn":"078-05-1120","name":"Ana"}`))))
	// Output:
	// 401 from https://api.openai.com with Authorization: [REDACTED]
	// {"customer_ssn":"[REDACTED]","headers":{"x-api-key":"[REDACTED]"},"name":"Ana"}
}

// Depth and the age of the oldest waiting item, per reason, for alerts.
func ExampleQueue_Stats() {
	ctx := context.Background()
	q := escalate.NewQueue(escalate.NewMemoryStore(), escalate.Config{})
	gaveUp := &rebound.GiveUpError{Reason: rebound.Exhausted, Attempts: 5,
		Last: &rebound.Error{Class: rebound.ClassOverloaded, Status: 529}}
	_, _ = q.Escalate(ctx, rebound.Escalation{RunID: "r1", Step: "outline", Err: gaveUp})
	_, _ = q.Escalate(ctx, rebound.Escalation{RunID: "r2", Step: "outline", Err: gaveUp})
	_, _ = q.Escalate(ctx, rebound.Escalation{RunID: "r3", Step: "answer", Reason: "low_confidence"})
	s, _ := q.Stats(ctx)
	for _, r := range s.ByReason {
		fmt.Println(r.Reason, r.Open)
	}
	// Output:
	// low_confidence 1
	// max_retries_exceeded 2
}
