package main

import (
	"context"

	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
)

// queueEscalator lets a run escalate to the queue: it carries checkpoint's escalations and
// decisions across to package escalate's.
type queueEscalator struct{ q *escalate.Queue }

var _ checkpoint.Escalator = queueEscalator{}

func (e queueEscalator) Escalate(ctx context.Context, x checkpoint.Escalation) (string, error) {
	return e.q.Escalate(ctx, escalate.Escalation{
		RunID: x.RunID, Step: x.Step, Reason: x.Reason, Class: x.Class, Err: x.Err,
		Attempts: x.Attempts, Messages: x.Messages, State: x.State, Context: x.Context,
	})
}

func (e queueEscalator) Decision(ctx context.Context, id string) (checkpoint.Decision, bool, error) {
	d, ok, err := e.q.Decision(ctx, id)
	if err != nil || !ok {
		return checkpoint.Decision{}, ok, err
	}
	return checkpoint.Decision{Action: checkpoint.Action(d.Action), Answer: d.Answer, Note: d.Note, By: d.By}, true, nil
}
