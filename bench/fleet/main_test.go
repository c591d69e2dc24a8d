package main

import (
	"io"
	"os"
	"testing"
	"time"
)

// BenchmarkFleet runs every strategy for 2 s (go test -bench Fleet -benchtime 1x) and reports
// Rebound's figures; the table goes to stdout with -v. For the 30 s figures run the program.
func BenchmarkFleet(b *testing.B) {
	c := Config{Provider: "anthropic", Agents: 64, RPS: 20, Latency: 200 * time.Millisecond, Duration: 2 * time.Second,
		Strategies: []string{"rebound", "sdk-default", "naive-article"}}
	for b.Loop() {
		rs, err := Run(c)
		if err != nil {
			b.Fatal(err)
		}
		var w io.Writer = io.Discard
		if testing.Verbose() {
			w = os.Stdout
		}
		Print(w, c, rs)
		for _, r := range rs {
			if r.Strategy != "rebound" {
				continue
			}
			b.ReportMetric(100*r.Goodput(), "goodput_%")
			b.ReportMetric(100*float64(r.TooMany)/float64(max(r.Requests, 1)), "429_%")
			b.ReportMetric(float64(r.GaveUp), "gave_up")
		}
	}
}
