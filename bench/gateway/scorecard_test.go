package main

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rebound-go/rebound/gateway"
)

// inProcess serves the gateway package in this process: the same handler `rebound gateway`
// serves, without linking the whole command for a test.
func inProcess() starter {
	return func(cfg gatewayConfig) (*gatewayProc, error) {
		b, err := json.Marshal(cfg)
		if err != nil {
			return nil, err
		}
		c, err := gateway.Parse("gateway.json", b)
		if err != nil {
			return nil, err
		}
		g, err := gateway.New(c, gateway.Options{Getenv: func(k string) string { return gatewayEnv[k] }})
		if err != nil {
			return nil, err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			g.Close()
			return nil, err
		}
		srv := &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		return &gatewayProc{url: "http://" + ln.Addr().String(), stopFn: func() { srv.Close(); g.Close() }}, nil
	}
}

// TestScorecardShort runs the short scenarios (Scenario.Short) through the Go SDKs, and the
// Node SDKs where node and npm are installed (required under CI=true), against the gateway
// in-process, or against the binary $REBOUND_BIN; every scenario must pass and no truncated
// answer may pass as complete.
func TestScorecardShort(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	start := inProcess()
	if bin := os.Getenv("REBOUND_BIN"); bin != "" {
		start = binaryStarter(bin, t.TempDir())
	}
	sc, err := RunScorecard(ScorecardOptions{Start: start, Drivers: drivers(t), Quick: true,
		Only: func(s Scenario) bool { return s.Short }, Log: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	sc.Print(&out)
	t.Log("\n" + out.String())
	for _, r := range sc.Rows {
		for d, v := range r.Verdicts {
			if !v.pass {
				t.Errorf("%s (%s): %s", r.Scenario, d, v.detail)
			}
		}
	}
	if sc.Truncated != 0 {
		t.Errorf("%d truncated answers passed off as complete", sc.Truncated)
	}
}

// BenchmarkOverhead is the overhead mode in miniature for CI (go test -bench Overhead
// -benchtime 1x): 200 requests/s a path for 1 s, the gateway in-process, no peak; it reports
// the added latency. For figures run the program (-mode overhead).
func BenchmarkOverhead(b *testing.B) {
	for b.Loop() {
		res, err := RunOverhead(OverheadOptions{Start: inProcess(), Rate: 200, Duration: time.Second})
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res.Runs {
			name := "nonstream"
			if r.Stream {
				name = "stream"
			}
			b.ReportMetric(float64((r.Gateway.P50-r.Direct.P50).Microseconds())/1000, name+"_added_p50_ms")
			b.ReportMetric(float64((r.Gateway.P99-r.Direct.P99).Microseconds())/1000, name+"_added_p99_ms")
		}
	}
}
