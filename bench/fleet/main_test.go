package main

import (
	"io"
	"os"
	"testing"
	"time"
)

// TestMain runs a child process of the multi-process mode when started as one.
func TestMain(m *testing.M) {
	if js := os.Getenv(childEnv); js != "" {
		childMain(js)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// BenchmarkFleetProcesses runs the breaker scenario once over 4 child processes sharing Redis
// (TEST_REDIS_URL; skipped without it, a failure under CI=true), about 11 s, and reports how
// long after the quorum of breakers opened each light process's breaker opened, and whether
// one process failing alone opened anyone else's.
func BenchmarkFleetProcesses(b *testing.B) {
	url := os.Getenv("TEST_REDIS_URL")
	if url == "" {
		if os.Getenv("CI") == "true" {
			b.Fatal("TEST_REDIS_URL is not set (required when CI=true)")
		}
		b.Skip("TEST_REDIS_URL is not set")
	}
	c := ProcConfig{Scenario: "breaker", Processes: 4, Agents: 16, Latency: 200 * time.Millisecond, Lead: time.Second,
		Redis: url, Strategies: []string{"rebound-fleet"}}
	for b.Loop() {
		rs, err := RunProcs(c)
		if err != nil {
			b.Fatal(err)
		}
		var w io.Writer = io.Discard
		if testing.Verbose() {
			w = os.Stdout
		}
		PrintProcs(w, c, rs)
		r := rs[0]
		if r.ChildrenFailed > 0 || len(r.OpenAfter) == 0 {
			b.Fatalf("%d processes failed, %d light breakers measured", r.ChildrenFailed, len(r.OpenAfter))
		}
		worst := time.Duration(0)
		for _, d := range r.OpenAfter {
			worst = max(worst, d)
		}
		b.ReportMetric(float64(worst.Milliseconds()), "open_after_quorum_ms")
		b.ReportMetric(float64(r.LoneRefused), "refused_while_one_failed")
		b.ReportMetric(float64(r.LightRequests), "light_requests_after_quorum")
	}
}

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
