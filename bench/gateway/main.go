// Command gateway scores `rebound gateway` the way an agent sees it: through the official
// SDKs (Node @anthropic-ai/sdk and openai, Go anthropic-sdk-go v2 and openai-go v3, their own
// retries off), against the real rebound binary in front of fakellm accounts that fail on
// purpose. Modes:
//
//	scorecard  the named failure scenarios of README.md, each on a fresh gateway, through
//	           every SDK; a table of pass/fail and the count of truncated answers passed off
//	           as complete
//	overhead   latency added by the gateway (through it minus direct to the same fake, same
//	           run, interleaved) at a fixed open-loop rate, non-streamed and streamed; the
//	           peak rate; -memory N: the gateway's RSS over N requests
//	replicas   two gateways behind one Redis: how soon an outage seen by one opens the
//	           other's breaker, and the shared rate limit under load from both
//
// Examples (from bench/):
//
//	go run ./gateway                                   # the scorecard, Go and Node SDKs
//	go run ./gateway -sdk go -quick                    # Go only, short flapping scenario
//	go run ./gateway -mode overhead -rate 1000 -duration 20s
//	go run ./gateway -mode overhead -memory 1000000 -rate 3000
//	TEST_REDIS_URL=redis://127.0.0.1:6379/0 go run ./gateway -mode replicas
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gateway bench:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	mode := fs.String("mode", "scorecard", "scorecard, overhead or replicas")
	bin := fs.String("rebound", "", "the rebound binary (default: go build it)")
	sdks := fs.String("sdk", "node,go", "the SDKs of the scorecard: node, go or both")
	only := fs.String("run", "", "only the scenarios whose name matches this regexp")
	quick := fs.Bool("quick", false, "the short variant of the long scenarios (flapping primary: 3 s outage)")
	verbose := fs.Bool("v", false, "print every scenario as it ends")
	rate := fs.Int("rate", 1000, "overhead: requests per second through the gateway (as many again go direct)")
	duration := fs.Duration("duration", 20*time.Second, "overhead: length of each measured run")
	peak := fs.Bool("peak", true, "overhead: also ramp the rate to find the peak")
	memory := fs.Int("memory", 0, "overhead: instead, send this many requests at -rate and sample the gateway's RSS")
	redisURL := fs.String("redis", os.Getenv("TEST_REDIS_URL"), "replicas: the Redis URL (default $TEST_REDIS_URL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "rebound-gateway-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if *bin == "" {
		if *bin, err = buildRebound(dir, stderr); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "%s, %s/%s, %d CPUs, load average %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), loadAvg())
	switch *mode {
	case "scorecard":
		drivers, closeAll, err := openDrivers(*sdks, stderr)
		if err != nil {
			return err
		}
		defer closeAll()
		o := ScorecardOptions{Start: binaryStarter(*bin, dir), Drivers: drivers, Quick: *quick}
		if *verbose {
			o.Log = stderr
		}
		if *only != "" {
			re, err := regexp.Compile(*only)
			if err != nil {
				return err
			}
			o.Only = func(s Scenario) bool { return re.MatchString(s.Name) }
		}
		sc, err := RunScorecard(o)
		if err != nil {
			return err
		}
		sc.Print(stdout)
	case "overhead":
		o := OverheadOptions{Start: binaryStarter(*bin, dir), Rate: *rate, Duration: *duration, Peak: *peak, Memory: *memory, Log: stderr}
		res, err := RunOverhead(o)
		if err != nil {
			return err
		}
		res.Print(stdout)
	case "replicas":
		if *redisURL == "" {
			return fmt.Errorf("replicas: give -redis or TEST_REDIS_URL")
		}
		res, err := RunReplicas(ReplicasOptions{Start: binaryStarter(*bin, dir), Redis: *redisURL, Log: stderr})
		if err != nil {
			return err
		}
		res.Print(stdout)
	default:
		return fmt.Errorf("unknown -mode %q", *mode)
	}
	return nil
}

// nodeDir is the Node driver's directory, beside this file.
func nodeDir() string {
	if _, err := os.Stat("node/driver.mjs"); err == nil {
		return "node"
	}
	return filepath.Join("gateway", "node")
}

func openDrivers(list string, log io.Writer) ([]Driver, func(), error) {
	var ds []Driver
	closeAll := func() {
		for _, d := range ds {
			d.Close()
		}
	}
	for _, name := range strings.Split(list, ",") {
		switch strings.TrimSpace(name) {
		case "go":
			ds = append(ds, newGoDriver())
		case "node":
			if !nodeAvailable() {
				closeAll()
				return nil, nil, fmt.Errorf("node and npm are needed for -sdk node")
			}
			dir := nodeDir()
			if err := installNode(dir, log); err != nil {
				closeAll()
				return nil, nil, err
			}
			d, err := startNodeDriver(dir)
			if err != nil {
				closeAll()
				return nil, nil, err
			}
			ds = append(ds, d)
		case "":
		default:
			closeAll()
			return nil, nil, fmt.Errorf("unknown SDK %q (want node or go)", name)
		}
	}
	return ds, closeAll, nil
}
