package main

import (
	"io"
	"os"
	"testing"
	"time"
)

// BenchmarkOutage runs Rebound's strategy for 8 s (outage from 3 s to 6 s, so that the
// recovery falls within the run; go test -bench Outage -benchtime 1x) and reports its figures;
// the table goes to stdout with -v. For the 10 s and 20 s outages of every strategy run the
// program.
func BenchmarkOutage(b *testing.B) {
	c := Config{Agents: 32, Latency: 100 * time.Millisecond, Lead: 3 * time.Second, Outage: 3 * time.Second,
		Tail: 2 * time.Second, Strategies: []string{"rebound"}}
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
			if r.InOutage > 0 {
				b.ReportMetric(float64(r.PrimaryRequests)/float64(r.InOutage), "primary_req/call")
				b.ReportMetric(100*float64(r.Answered)/float64(r.InOutage), "answered_%")
			}
			b.ReportMetric(float64(r.Failed), "failed")
			if r.Recovered {
				b.ReportMetric(r.Recovery.Seconds(), "recovery_s")
			}
		}
	}
}
