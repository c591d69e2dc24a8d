package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/gateway"
)

func TestGatewayHelpShowsTheExample(t *testing.T) {
	r := cli(t, nil, "gateway", "--help")
	if r.code != 0 || !strings.Contains(r.stdout, gateway.ExampleConfig) || !strings.Contains(r.stdout, "ANTHROPIC_BASE_URL=") {
		t.Errorf("exit %d, stdout:\n%s\nwant the complete example and the two lines", r.code, r.stdout)
	}
}

func TestGatewayRefusesBadStarts(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("gw.yaml", "upstreams:\n  - {name: a, provider: anthropic, base_url: 'http://127.0.0.1:1', key_env: UPK, models: [m]}\n")
	bad := write("bad.yaml", "upstreams:\n  - {name: a, provider: gemini, base_url: 'http://127.0.0.1:1', key_env: UPK, models: [m]}\n")
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"gateway"}, nil, "--config FILE is required"},
		{[]string{"gateway", "--config", bad}, nil, `bad.yaml: upstreams[0].provider: "gemini"`},
		{[]string{"gateway", "--config", good}, nil, "the environment variable UPK is empty or unset"},
		{[]string{"gateway", "--config", good, "--listen", "0.0.0.0:0"}, map[string]string{"UPK": "k"}, "refusing to serve without client keys"},
	} {
		r := cli(t, c.env, c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 saying %q", c.args, r.code, r.stderr, c.want)
		}
	}
}

func TestGatewayServes(t *testing.T) {
	fake := fakellm.NewServer(t, "error 529 times=1 retry-after-ms=10\n")
	cfg := filepath.Join(t.TempDir(), "gw.json")
	os.WriteFile(cfg, []byte(`{"client_keys":[{"env":"GWK"}],"upstreams":[{"name":"ant","provider":"anthropic","base_url":"`+fake.URL+`","key_env":"UPK","models":["claude-a"]}]}`), 0o600)
	var out bytes.Buffer
	vars := map[string]string{"UPK": "sk-up", "GWK": "client-key"}
	g := &globals{env: env{stdout: &out, stderr: &out, getenv: func(k string) string { return vars[k] }}}
	addr := make(chan string, 1)
	c := &gatewayCmd{g: g, config: cfg, listen: "127.0.0.1:0", ready: func(a string) { addr <- a }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.run(ctx, nil, &out) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gateway: %v\n%s", err, out.String())
		}
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("gateway ended: %v\n%s", err, out.String())
	case <-time.After(10 * time.Second):
		t.Fatal("gateway did not start")
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	req, _ := http.NewRequest("POST", base+"/v1/messages", strings.NewReader(`{"model":"claude-a","max_tokens":50,"messages":[{"role":"user","content":"hi gateway"}]}`))
	req.Header.Set("x-api-key", "client-key")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Rebound-Attempts") != "2" || !strings.Contains(string(body), "hi gateway") {
		t.Errorf("%d %v %s: want the answer after one retry", resp.StatusCode, resp.Header, body)
	}
	hresp, err := client.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	hb, _ := io.ReadAll(hresp.Body)
	hresp.Body.Close()
	if !strings.Contains(string(hb), `"status":"ok"`) {
		t.Errorf("healthz %s", hb)
	}
}
