package gateway_test

import (
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/gateway"
)

// A gateway in front of one upstream (here a fake LLM that overloads once): the client's
// request is retried by the gateway, and the answer says where it came from.
func Example() {
	fake, _ := fakellm.New("error 529 times=1 retry-after-ms=10\n", fakellm.Options{})
	up := fakellm.Serve(fake)
	defer up.Close()

	cfg, err := gateway.Parse("gateway.yaml", []byte(`
upstreams:
  - {name: anthropic, provider: anthropic, base_url: `+up.URL+`, key_env: ANTHROPIC_API_KEY, models: [claude-sonnet-4-6]}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	gw, err := gateway.New(cfg, gateway.Options{Getenv: func(string) string { return "sk-upstream" }})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer gw.Close()
	srv := httptest.NewServer(gw) // loopback: no client keys needed
	defer srv.Close()

	resp, err := srv.Client().Post(srv.URL+"/v1/messages", "application/json", strings.NewReader(
		`{"model":"claude-sonnet-4-6","max_tokens":64,"messages":[{"role":"user","content":"hello"}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("X-Rebound-Upstream"), resp.Header.Get("X-Rebound-Attempts"), resp.Header.Get("X-Rebound-Failures"))
	// Output: 200 anthropic 2 anthropic/claude-sonnet-4-6 overloaded 529
}
