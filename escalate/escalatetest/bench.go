package escalatetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/escalate"
)

// Bench measures one item's whole life on a store: escalate (with a small state snapshot and
// three messages), claim, resolve. Besides ns/op it reports the median and the 99th percentile
// of one such cycle (p50-ns, p99-ns).
func Bench(b *testing.B, open Open) {
	h := open(b)
	q := escalate.NewQueue(h.Store, escalate.Config{})
	ctx := b.Context()
	state := json.RawMessage(`{"workflow":"report","input":{"topic":"tides"},"completed":["outline","section_1"]}`)
	msgs := []rebound.Message{rebound.System("You are a research assistant."),
		rebound.User("Research topic: tides"), rebound.Assistant("1. Causes 2. Cycles 3. Energy")}
	fail := &rebound.GiveUpError{Reason: rebound.Exhausted, Attempts: 5,
		Last: &rebound.Error{Class: rebound.ClassOverloaded, Status: 529, Message: "Overloaded"}}
	var laps []time.Duration
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		id, err := q.Escalate(ctx, rebound.Escalation{RunID: fmt.Sprintf("bench-%d", i), Step: "section_2",
			Err: fail, State: state, Messages: msgs, Context: "section 2 of 3"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := q.Claim(ctx, id, "ana", time.Minute); err != nil {
			b.Fatal(err)
		}
		if _, err := q.Resolve(ctx, id, rebound.Decision{Action: rebound.ActionRespond,
			Answer: "use the 2024 figures", By: "ana"}); err != nil {
			b.Fatal(err)
		}
		laps = append(laps, time.Since(start))
	}
	if len(laps) > 0 {
		slices.Sort(laps)
		b.ReportMetric(float64(laps[len(laps)/2].Nanoseconds()), "p50-ns")
		b.ReportMetric(float64(laps[len(laps)*99/100].Nanoseconds()), "p99-ns")
	}
}
