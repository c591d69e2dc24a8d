package gateway_test

import (
	"os"
	"strings"
	"testing"

	"github.com/rebound-go/rebound/gateway"
)

func TestDocsExampleParses(t *testing.T) {
	doc, err := os.ReadFile("../docs/gateway.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```yaml\n"+gateway.ExampleConfig+"```") {
		t.Fatal("docs/gateway.md does not show gateway.ExampleConfig (the example --help prints) in a yaml block")
	}
	c, err := gateway.Parse("gateway.yaml", []byte(gateway.ExampleConfig))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Upstreams) != 3 || len(c.Routes["claude-sonnet-4-6"]) != 3 || c.Policy.Attempts != 2 {
		t.Errorf("parsed %+v", c)
	}
	env := map[string]string{"ANTHROPIC_API_KEY": "a", "ANTHROPIC_BACKUP_KEY": "b", "OPENAI_API_KEY": "c", "REBOUND_GATEWAY_KEY": "client"}
	gw, err := gateway.New(c, gateway.Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	if err := gw.CheckListen("0.0.0.0:8090"); err != nil {
		t.Errorf("with client keys, off loopback: %v", err)
	}
}

func TestConfigJSONMatchesYAML(t *testing.T) {
	j := `{"upstreams":[{"name":"a","provider":"anthropic","base_url":"http://127.0.0.1:1","key_env":"K","models":["m"]}],
	"policy":{"first_token_timeout":"2s","attempts":3}}`
	c, err := gateway.Parse("gw.json", []byte(j))
	if err != nil {
		t.Fatal(err)
	}
	y, err := gateway.Parse("gw.yml", []byte("upstreams:\n  - {name: a, provider: anthropic, base_url: 'http://127.0.0.1:1', key_env: K, models: [m]}\npolicy: {first_token_timeout: 2s, attempts: 3}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Policy.FirstToken != y.Policy.FirstToken || c.Policy.Attempts != 3 || y.Upstreams[0].Name != "a" {
		t.Errorf("json %+v, yaml %+v", c.Policy, y.Policy)
	}
}

func TestConfigErrorsNameFileAndField(t *testing.T) {
	up := "upstreams:\n  - {name: ant, provider: anthropic, base_url: 'https://x', key_env: K, models: [claude-a, claude-b]}\n  - {name: oai, provider: openai, base_url: 'https://y/v1', key_env: K2, models: [gpt-a]}\n"
	for _, c := range []struct{ cfg, want string }{
		{"upstreams: []\n", "bad.yaml: upstreams: at least one upstream"},
		{"upstreams:\n  - {name: 'a b', provider: anthropic, base_url: 'https://x', key_env: K, models: [m]}\n", `bad.yaml: upstreams[0].name: "a b"`},
		{"upstreams:\n  - {name: a, provider: gemini, base_url: 'https://x', key_env: K, models: [m]}\n", `bad.yaml: upstreams[0].provider: "gemini"`},
		{"upstreams:\n  - {name: a, provider: openai, base_url: 'ftp://x', key_env: K, models: [m]}\n", `bad.yaml: upstreams[0].base_url`},
		{"upstreams:\n  - {name: a, provider: openai, base_url: 'https://x', models: [m]}\n", `bad.yaml: upstreams[0].key_env`},
		{up + "routes:\n  claude-a: [ant, oai/gpt-a]\n", `bad.yaml: routes["claude-a"][1]: "oai/gpt-a" is an openai upstream in a chain that starts with anthropic: cross-provider fallback is not supported`},
		{up + "routes:\n  claude-a: [ant/claude-z]\n", `bad.yaml: routes["claude-a"][0]: upstream "ant" does not list model "claude-z"`},
		{up + "routes:\n  claude-a: [nobody]\n", `bad.yaml: routes["claude-a"][0]: "nobody" names no upstream`},
		{up + "policy: {first_token_timeout: soon}\n", `bad.yaml: duration "soon"`},
		{up + "policy: {fallback_on: [everything]}\n", `bad.yaml: policy.fallback_on[0]: "everything" is not a failure class`},
		{up + "policy: {breaker: {failure_rate: 2}}\n", `bad.yaml: policy.breaker.failure_rate`},
		{up + "client_keys: [{}]\n", `bad.yaml: client_keys[0]: give env or file`},
		{up + "polcy: {}\n", `bad.yaml: json: unknown field "polcy"`},
	} {
		_, err := gateway.Parse("bad.yaml", []byte(c.cfg))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v; want it to contain %q", c.cfg, err, c.want)
		}
	}
}

func TestNewNamesMissingKeys(t *testing.T) {
	c, err := gateway.Parse("gw.yaml", []byte("client_keys: [{env: CK}]\nupstreams:\n  - {name: a, provider: anthropic, base_url: 'https://x', key_env: UPK, models: [m]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = gateway.New(c, gateway.Options{Getenv: func(string) string { return "" }})
	if err == nil || !strings.Contains(err.Error(), "gw.yaml: upstreams[0].key_env: the environment variable UPK is empty or unset") {
		t.Errorf("error %v", err)
	}
	_, err = gateway.New(c, gateway.Options{Getenv: func(k string) string { return map[string]string{"UPK": "same", "CK": "same"}[k] }})
	if err == nil || !strings.Contains(err.Error(), "a client key is also an upstream's key") {
		t.Errorf("error %v", err)
	}
}

func TestRefusesPublicListenWithoutClientKeys(t *testing.T) {
	c, err := gateway.Parse("gw.yaml", []byte("upstreams:\n  - {name: a, provider: anthropic, base_url: 'https://x', key_env: UPK, models: [m]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	gw, err := gateway.New(c, gateway.Options{Getenv: func(string) string { return "k" }})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	for _, addr := range []string{"127.0.0.1:8090", "localhost:0", "[::1]:8090"} {
		if err := gw.CheckListen(addr); err != nil {
			t.Errorf("%s: %v", addr, err)
		}
	}
	for _, addr := range []string{"0.0.0.0:8090", ":8090", "10.0.0.5:8090"} {
		if err := gw.CheckListen(addr); err == nil || !strings.Contains(err.Error(), "refusing to serve without client keys") {
			t.Errorf("%s: %v; want a refusal", addr, err)
		}
	}
}
