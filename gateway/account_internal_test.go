package gateway

import (
	"strings"
	"testing"
)

// Upstreams that share a provider, base URL and key are one account: one limiter, and one
// bucket in the fleet's Redis whatever the upstream is called; the account never holds the key.
func TestUpstreamsOfOneAccountShareALimiter(t *testing.T) {
	cfg, err := Parse("test.yaml", []byte(`
client_keys: [{env: GW_KEY}]
upstreams:
  - {name: fast, provider: anthropic, base_url: "http://127.0.0.1:1/", key_env: KEY_A, models: [claude-haiku]}
  - {name: smart, provider: anthropic, base_url: "http://127.0.0.1:1", key_env: KEY_A, models: [claude-opus]}
  - {name: other, provider: anthropic, base_url: "http://127.0.0.1:1", key_env: KEY_B, models: [claude-other]}
`))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"KEY_A": "sk-ant-team-a", "KEY_B": "sk-ant-team-b", "GW_KEY": "client"}
	g, err := New(cfg, Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	fast, smart, other := g.limiterOf("fast/claude-haiku"), g.limiterOf("smart/claude-opus"), g.limiterOf("other/claude-other")
	if fast == nil || fast != smart || fast == other {
		t.Fatalf("limiters fast %p, smart %p, other %p: want fast and smart one, other its own", fast, smart, other)
	}
	a, b := g.accountOf("fast/claude-haiku"), g.accountOf("smart/claude-opus")
	if a != b || a == g.accountOf("other/claude-other") || !strings.HasPrefix(a, "anthropic-") || strings.Contains(a, "team-a") {
		t.Fatalf("accounts %q, %q, %q", a, b, g.accountOf("other/claude-other"))
	}
	if g.localLimiter(a) != fast {
		t.Fatal("the fleet limiter's local limiter for the account is not the upstreams' limiter")
	}
}
