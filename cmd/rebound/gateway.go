package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/spf13/cobra"

	"github.com/rebound-go/rebound/gateway"
)

// gatewayCmd is `rebound gateway`.
type gatewayCmd struct {
	g      *globals
	config string
	listen string
	// ready, if set, receives the address the gateway listens on (tests listen on port 0).
	ready func(addr string)
}

func newGatewayCmd(g *globals) *cobra.Command {
	c := &gatewayCmd{g: g}
	cmd := &cobra.Command{
		Use:   "gateway --config FILE",
		Short: "Serve the Anthropic and OpenAI APIs with Rebound's recovery in front of the upstreams",
		Long: `Serve POST /v1/messages (and /v1/messages/count_tokens) and POST /v1/chat/completions, streamed
and not, forwarding each request through Rebound's recovery: classification, one retry layer
honouring retry-after, a breaker per upstream model, pacing from the upstream's rate-limit
headers, and a fallback chain per requested model, marked in the X-Rebound-* headers. A stream
is held until its first content, so that errors before it are retried or fallen back from; a
failure after content ends it with an in-band error, never a clean end. /healthz and /metrics
(Prometheus) are served too. Any agent whose SDK takes a base URL uses it unchanged:

  ANTHROPIC_BASE_URL=http://127.0.0.1:8090  ANTHROPIC_API_KEY=$REBOUND_GATEWAY_KEY
  OPENAI_BASE_URL=http://127.0.0.1:8090/v1  OPENAI_API_KEY=$REBOUND_GATEWAY_KEY

Clients authenticate with the gateway's own client keys; upstream keys come from the
environment variables the file names and never reach a client, a log or a metric. Off loopback
the gateway refuses to start without client keys. The file is YAML (.yaml, .yml) or JSON; see
docs/gateway.md. A complete example:

` + gateway.ExampleConfig,
		Example: `  rebound gateway --config gateway.yaml
  rebound gateway --config gateway.json --listen 0.0.0.0:8090
  curl -s 127.0.0.1:8090/healthz`,
		Args: exactArgs(),
		RunE: g.runE(c.run),
	}
	cmd.Flags().StringVar(&c.config, "config", "", "the configuration file, YAML or JSON (required)")
	cmd.Flags().StringVar(&c.listen, "listen", "", "address to listen on, HOST:PORT (default: the file's listen, else "+gateway.DefaultListen+")")
	return cmd
}

func (c *gatewayCmd) run(ctx context.Context, _ []string, _ io.Writer) error {
	if c.config == "" {
		return usagef("--config FILE is required (docs/gateway.md has an example)")
	}
	cfg, err := gateway.Load(c.config)
	if err != nil {
		return asUsage(err)
	}
	logger := slog.New(slog.NewTextHandler(c.g.stderr, nil))
	gw, err := gateway.New(cfg, gateway.Options{Logger: logger, Getenv: c.g.getenv})
	if err != nil {
		return asUsage(err)
	}
	defer gw.Close()
	addr := c.listen
	if addr == "" {
		addr = cfg.ListenAddr()
	}
	if err := gw.CheckListen(addr); err != nil {
		return asUsage(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return usagef("--listen %s: %w", addr, err)
	}
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(c.g.human(), "Gateway on %s\n  Anthropic: ANTHROPIC_BASE_URL=%s\n  OpenAI:    OPENAI_BASE_URL=%s/v1\n", url, url, url)
	if c.ready != nil {
		c.ready(ln.Addr().String())
	}
	return serveUntil(ctx, "gateway", ln, gw, nil)
}
