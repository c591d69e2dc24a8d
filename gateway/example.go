package gateway

import (
	"fmt"
	"net"
)

// ExampleConfig is a complete configuration file (YAML), as docs/gateway.md and `rebound
// gateway --help` show it: two Anthropic upstreams and one OpenAI upstream, chains that fall back
// to another upstream of the same provider and to a larger-context model, every policy field.
const ExampleConfig = `# rebound gateway --config gateway.yaml
listen: 127.0.0.1:8090
client_keys:                        # what clients send as x-api-key or Authorization: Bearer
  - env: REBOUND_GATEWAY_KEY
  # - file: /run/secrets/gateway-keys   # one key a line
# redis: redis://127.0.0.1:6379/0   # replicas share limiter, retry budget, breaker evidence
upstreams:
  - name: anthropic
    provider: anthropic
    base_url: https://api.anthropic.com
    key_env: ANTHROPIC_API_KEY
    models: [claude-sonnet-4-6, claude-opus-4-7, claude-haiku-4-5]
  - name: anthropic-backup           # another account, or a region's endpoint
    provider: anthropic
    base_url: https://anthropic-backup.example.com
    key_env: ANTHROPIC_BACKUP_KEY
    models: [claude-sonnet-4-6]
  - name: openai
    provider: openai
    base_url: https://api.openai.com/v1
    key_env: OPENAI_API_KEY
    models: [gpt-4o, gpt-4.1]
routes:                             # requested model -> targets tried in order
  claude-sonnet-4-6: [anthropic, anthropic-backup, anthropic/claude-opus-4-7]
  gpt-4o: [openai, openai/gpt-4.1]  # gpt-4.1: the larger context window
policy:
  attempts: 2                       # per target, the first included: one retry
  retry_base: 200ms
  max_retry_after: 10s              # a longer retry-after moves to the next target at once
  first_token_timeout: 15s
  idle_timeout: 30s
  response_timeout: 120s
  max_body: 33554432
  breaker: {consecutive_failures: 5, failure_rate: 0.5, min_calls: 20, open_for: 1s}
  fallback_on: [transient, rate_limited, overloaded, timeout, malformed, context_overflow, quota, auth]
`

// CheckListen refuses to listen on addr when it is not a loopback address and no client keys
// are configured: the gateway would then spend its upstreams' keys for anyone who reaches it.
func (g *Gateway) CheckListen(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: want HOST:PORT, e.g. 127.0.0.1:8090", addr)
	}
	if len(g.clientKeys) > 0 {
		return nil
	}
	ip := net.ParseIP(host)
	if host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	return fmt.Errorf("listen address %s is not a loopback address: refusing to serve without client keys (configure client_keys), since anyone who reaches it could spend the upstreams' keys", addr)
}

// Listen is the address the configuration names (or DefaultListen).
func (c *Config) ListenAddr() string {
	if c.Listen == "" {
		return DefaultListen
	}
	return c.Listen
}
