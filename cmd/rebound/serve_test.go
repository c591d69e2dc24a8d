package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
)

// startServe runs `rebound serve` in this process and returns its base URL; it stops when the
// test ends.
func startServe(t *testing.T, store, token string) string {
	t.Helper()
	var out bytes.Buffer
	g := &globals{env: env{stdout: &out, stderr: &out, getenv: func(string) string { return "" }},
		store: strings.TrimPrefix(store, "--store="), storeSet: true}
	addr := make(chan string, 1)
	c := &serveCmd{g: g, addr: "127.0.0.1:0", Token: rebound.Secret(token), ready: func(a string) { addr <- a }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.run(ctx, nil, &out) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v\n%s", err, out.String())
		}
	})
	select {
	case a := <-addr:
		return "http://" + a
	case err := <-done:
		done <- nil // for the cleanup, which waits for serve to end
		t.Fatalf("serve ended: %v\n%s", err, out.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("serve did not start:\n%s", out.String())
	}
	return ""
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeMetricsAndHealth(t *testing.T) {
	chdirTemp(t)
	store := tempStore(t)
	mustCode(t, cli(t, nil, "demo", "--run-id", "m1", "--faults", noFaults(t), store), exitEscalated, "demo")
	base := startServe(t, store, "")
	if code, body := get(t, base+"/healthz", ""); code != 200 || !strings.Contains(body, "ok") {
		t.Errorf("/healthz: %d %q", code, body)
	}
	code, body := get(t, base+"/metrics", "")
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	for _, want := range []string{
		`rebound_escalations_open{reason="irreversible_action"} 1`,
		`rebound_escalation_oldest_age_seconds{reason="irreversible_action"}`,
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestServeTokenGuardsMetrics(t *testing.T) {
	base := startServe(t, "--store=memory:", "s3cret")
	if code, _ := get(t, base+"/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: %d, want 401", code)
	}
	if code, _ := get(t, base+"/metrics", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("/metrics with a wrong token: %d, want 401", code)
	}
	if code, body := get(t, base+"/metrics", "s3cret"); code != 200 || !strings.Contains(body, "rebound_") {
		t.Errorf("/metrics with the token: %d", code)
	}
	if code, _ := get(t, base+"/healthz", ""); code != 200 {
		t.Errorf("/healthz needs no token, got %d", code)
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestFakeLLMCommandServesTheDemoScript(t *testing.T) {
	var out bytes.Buffer
	g := &globals{env: env{stdout: &out, stderr: &out, getenv: func(string) string { return "" }}}
	addr := make(chan string, 1)
	c := &fakeLLMCmd{g: g, addr: "127.0.0.1:0", demo: true, ready: func(a string) { addr <- a }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.run(ctx, nil, &out) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("fakellm: %v", err)
		}
	}()
	base := "http://" + <-addr
	post := func(prompt string) *http.Response {
		body := `{"model":"demo-large","max_tokens":50,"messages":[{"role":"user","content":"` + prompt + `"}]}`
		req, _ := http.NewRequest("POST", base+"/v1/messages", strings.NewReader(body))
		req.Header.Set("content-type", "application/json")
		req.Header.Set("x-api-key", "test")
		req.Header.Set("anthropic-version", "2023-06-01")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if r := post("[outline] an outline"); r.StatusCode != 429 || r.Header.Get("retry-after-ms") != "700" {
		t.Errorf("first outline request: %d, retry-after-ms %q; want the demo script's 429 with a hint", r.StatusCode, r.Header.Get("retry-after-ms"))
	}
	if r := post("[section_1x] hello"); r.StatusCode != 200 {
		t.Errorf("a request no rule matches: %d", r.StatusCode)
	}
	if !strings.Contains(out.String(), "Anthropic: --base-url "+base) {
		t.Errorf("the banner does not say how to point a client at it:\n%s", out.String())
	}
	http.DefaultClient.CloseIdleConnections()
}

// TestServeRefusesAWeakToken: off loopback a token must be hard to guess; a blank one is
// refused anywhere. Each refusal exits 2 naming where the token came from.
func TestServeRefusesAWeakToken(t *testing.T) {
	cases := []struct {
		addr, flag, env, want string
	}{
		{"0.0.0.0:0", "x", "", "--token: the token is too weak"},
		{"0.0.0.0:0", "   ", "", "--token: the token is blank"},
		{"0.0.0.0:0", "", "aaaaaaaaaaaaaaaaaaaa", "REBOUND_TOKEN: the token is too weak"},
		{"127.0.0.1:0", " \t", "", "--token: the token is blank"},
	}
	for _, c := range cases {
		var out bytes.Buffer
		args := []string{"serve", "--addr", c.addr, "--store", "memory:"}
		if c.flag != "" {
			args = append(args, "--token", c.flag)
		}
		e := env{stdout: &out, stderr: &out, getenv: func(k string) string {
			if k == "REBOUND_TOKEN" {
				return c.env
			}
			return ""
		}}
		code := execute(t.Context(), args, e)
		if code != exitUsage || !strings.Contains(out.String(), c.want) {
			t.Errorf("serve --addr %s --token %q (env %q): exit %d, want %d with %q; output:\n%s",
				c.addr, c.flag, c.env, code, exitUsage, c.want, out.String())
		}
	}
	// A strong token off loopback and a short one on loopback are accepted.
	if err := checkToken("0123456789abcdef0123", true); err != nil {
		t.Errorf("a 20-character hex token: %v", err)
	}
	if err := checkToken("dev", false); err != nil {
		t.Errorf("a short token on loopback: %v", err)
	}
}

// TestServerTimeouts: the server serve and fakellm listen with bounds how long a client may
// take to send headers, a request, and how long an idle connection stays.
func TestServerTimeouts(t *testing.T) {
	srv := newHTTPServer(http.NotFoundHandler())
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.IdleTimeout <= 0 || srv.MaxHeaderBytes <= 0 {
		t.Errorf("server limits: header %v, read %v, idle %v, max header bytes %d",
			srv.ReadHeaderTimeout, srv.ReadTimeout, srv.IdleTimeout, srv.MaxHeaderBytes)
	}
}
