package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"path"

	"github.com/spf13/cobra"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/fakellm"
)

// fakeLLMCmd is `rebound fakellm`.
type fakeLLMCmd struct {
	g      *globals
	addr   string
	script string
	demo   bool
	public bool
	// logSize and RequireKey are fakellm.Options. RequireKey is exported, as every field
	// holding a rebound.Secret: fmt prints an unexported field without calling its String
	// method, so %v of the struct would show it.
	logSize    int
	RequireKey rebound.Secret
	models     []string
	ready      func(addr string)
}

func newFakeLLMCmd(g *globals) *cobra.Command {
	c := &fakeLLMCmd{g: g}
	cmd := &cobra.Command{
		Use:   "fakellm",
		Short: "Serve the fault-injecting fake LLM (Anthropic and OpenAI wire formats)",
		Long: `Serve a fake LLM that speaks the Anthropic Messages and OpenAI Chat Completions wire formats and
injects the faults of a script: rate limits with retry hints, overloaded errors, hangs, resets,
malformed and truncated answers, refusals. Point any agent at it to test its recovery.

A script has one rule a line, first match wins, e.g.:

  error 429 retry-after-ms=500 times=2     # two rate limits, then normal answers
  error 529 model=claude-big*              # every request to one model overloaded
  hang contains="[summary]" times=1        # one call that never answers
  not-json p=0.1                           # prose where JSON was asked, 10% of the time`,
		Example: `  rebound fakellm --addr 127.0.0.1:8081 --script faults.txt
  rebound fakellm --demo-script
  rebound demo --provider anthropic --base-url http://127.0.0.1:8081 --model claude-x --attempt-timeout 5s

(Against a base URL the demo's attempt timeout is a real provider's, 1m30s: give a short
--attempt-timeout for a script's hang and slow faults to be cut and retried.)`,
		Args: exactArgs(),
		// The global flags mean nothing here: the fake keeps no runs and prints no events.
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			for _, n := range []string{"store", "json"} {
				if f := cmd.Flags().Lookup(n); f != nil && f.Changed {
					return usagef("--%s means nothing to fakellm: it keeps no runs and writes no JSON events (its request log is GET /_fakellm/requests)", n)
				}
			}
			return nil
		},
		RunE: g.runE(c.run),
	}
	cmd.Flags().StringVar(&c.addr, "addr", "127.0.0.1:8081", "address to listen on, HOST:PORT")
	cmd.Flags().StringVar(&c.script, "script", "", "fault script file (default: no faults)")
	cmd.Flags().BoolVar(&c.demo, "demo-script", false, "run the demo's default fault script")
	cmd.Flags().BoolVar(&c.public, "public", false, "allow an --addr that is not a loopback address")
	cmd.Flags().IntVar(&c.logSize, "log-size", 1000, "requests kept in the request log (/_fakellm/requests); 0 keeps none")
	cmd.Flags().Var(secretFlag{&c.RequireKey}, "require-key", "accept only this API key: any other key, or none, gets 401")
	cmd.Flags().StringSliceVar(&c.models, "models", nil, "serve only these models (comma-separated globs, e.g. claude-*,gpt-4o); any other gets 404")
	return cmd
}

func (c *fakeLLMCmd) run(ctx context.Context, _ []string, w io.Writer) error {
	if c.script != "" && c.demo {
		return usagef("give --script or --demo-script, not both")
	}
	var script *fakellm.Script
	var err error
	switch {
	case c.script != "":
		script, err = fakellm.LoadScript(c.script)
		if err != nil {
			return usagef("--script: %w", err)
		}
	case c.demo:
		script, err = fakellm.ParseScript(demoFaults)
		if err != nil {
			return fmt.Errorf("the demo's fault script: %w", err)
		}
	default:
		script = &fakellm.Script{}
	}
	host, _, err := net.SplitHostPort(c.addr)
	if err != nil {
		return usagef("--addr %q: want HOST:PORT, e.g. 127.0.0.1:8081", c.addr)
	}
	if ip := net.ParseIP(host); !c.public && host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return usagef("--addr %q is not a loopback address; pass --public to serve the fake beyond this machine", c.addr)
	}
	for _, m := range c.models {
		if _, err := path.Match(m, ""); err != nil || m == "" {
			return usagef("--models: %q is not a model name or glob", m)
		}
	}
	if c.logSize < 0 {
		return usagef("--log-size %d: want 0 or more", c.logSize)
	}
	logSize := c.logSize
	if logSize == 0 {
		logSize = -1 // fakellm.Options: negative keeps none, zero is its default
	}
	h := fakellm.NewWithScript(script, fakellm.Options{LogSize: logSize, Key: c.RequireKey.Reveal(), Models: c.models})
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return usagef("--addr %s: %w", c.addr, err)
	}
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(c.g.human(), "Fake LLM on %s (%d fault rules)\n  Anthropic: --base-url %s\n  OpenAI:    --base-url %s/v1/\n",
		url, len(script.Rules), url, url)
	if c.ready != nil {
		c.ready(ln.Addr().String())
	}
	return serveUntil(ctx, "fakellm", ln, h, h.Close) // Close releases hanging requests
}
