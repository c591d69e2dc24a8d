package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
)

func TestLiveViewLines(t *testing.T) {
	t0 := time.Now()
	p := newProgress(demoSteps)
	for _, e := range []rebound.Event{
		{Time: t0, Kind: rebound.RunStarted, RunID: "r"},
		{Time: t0, Kind: rebound.StepSkipped, Step: "outline"},
		{Time: t0, Kind: rebound.StepStarted, Step: "section_1"},
		{Time: t0, Kind: rebound.AttemptFailed, Step: "section_1", Attempt: 1, Class: rebound.ClassRateLimited, Model: "m/large", Err: errors.New("429")},
		{Time: t0, Kind: rebound.RetryScheduled, Step: "section_1", Attempt: 1, Class: rebound.ClassRateLimited, Model: "m/large", Delay: 3 * time.Second},
		{Time: t0, Kind: rebound.BreakerChanged, Step: "section_1", Model: "m/large", From: "closed", To: "open"},
	} {
		p.observe(e)
	}
	lines := p.lines(t0.Add(time.Second), plainPalette(), 0)
	if len(lines) != len(demoSteps) {
		t.Fatalf("%d lines for %d steps", len(lines), len(demoSteps))
	}
	for i, want := range []string{"↷ outline", "retry in 2.0s (rate_limited)", "○ section_2"} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d %q lacks %q", i, lines[i], want)
		}
	}
	if !strings.Contains(lines[1], "large [open]") || !strings.Contains(lines[1], "1× rate_limited") {
		t.Errorf("the running step shows neither its model's breaker nor its failures: %q", lines[1])
	}

	p.observe(rebound.Event{Time: t0, Kind: rebound.FallbackUsed, Step: "section_1", From: "m/large", To: "m/small"})
	p.observe(rebound.Event{Time: t0.Add(2 * time.Second), Kind: rebound.StepCompleted, Step: "section_1"})
	p.observe(rebound.Event{Time: t0, Kind: rebound.Escalated, Step: "publish", Reason: "irreversible_action", EscalationID: "esc_1"})
	var out strings.Builder
	v := newLiveView(&out, p, "rebound demo", colorPalette())
	v.draw(t0.Add(3 * time.Second))
	view := stripANSI(out.String())
	for _, want := range []string{"rebound demo", "done in 2.0s · 2 attempts", "↪ small (degraded)", "breaker opened", "escalated: irreversible_action"} {
		if !strings.Contains(view, want) {
			t.Errorf("the live view lacks %q:\n%s", want, view)
		}
	}
	rec := p.recoveries()
	if len(rec) != 2 || rec[0][0] != "section_1" || !strings.Contains(rec[0][1], "m/small answered instead, marked degraded") {
		t.Errorf("recoveries: %q", rec)
	}
}
