// Command fakellm runs the fault-injecting fake LLM server of package fakellm: the Anthropic
// Messages and OpenAI Chat Completions APIs on one port, failing as its fault script says.
//
//	fakellm -addr 127.0.0.1:8089 -script faults.txt
//
// Point the Anthropic SDK at http://ADDR and the OpenAI SDK at http://ADDR/v1/. The control
// plane is under /_fakellm/ (script, counters, requests, reset). See docs/fakellm.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/rebound-go/rebound/fakellm"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fakellm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8089", "listen address (loopback unless -public)")
	script := fs.String("script", "", "fault script file (default: no faults)")
	logSize := fs.Int("log-size", 1000, "request log entries kept for /_fakellm/requests")
	requireKey := fs.Bool("require-key", false, "answer 401 to requests without an API key")
	public := fs.Bool("public", false, "allow listening on a non-loopback address")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		fmt.Fprintf(stderr, "fakellm: -addr %q: %v\n", *addr, err)
		return 2
	}
	if ip := net.ParseIP(host); !*public && host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		fmt.Fprintf(stderr, "fakellm: -addr %q is not a loopback address; pass -public to allow it\n", *addr)
		return 2
	}
	s := &fakellm.Script{}
	if *script != "" {
		if s, err = fakellm.LoadScript(*script); err != nil {
			fmt.Fprintf(stderr, "fakellm: %v\n", err)
			return 2
		}
	}
	h := fakellm.NewWithScript(s, fakellm.Options{LogSize: *logSize, RequireKey: *requireKey})
	err = fakellm.ListenAndServe(ctx, *addr, h, func(a string) {
		fmt.Fprintf(stdout, "fakellm listening on http://%s (Anthropic base URL http://%s, OpenAI base URL http://%s/v1/)\n", a, a, a)
	})
	if err != nil {
		fmt.Fprintf(stderr, "fakellm: %v\n", err)
		return 1
	}
	return 0
}
