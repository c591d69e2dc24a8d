package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// --require-key KEY accepts that key only (401 for any other); --models serves those models
// only (404 for any other).
func TestFakeLLMKeyAndModels(t *testing.T) {
	var out bytes.Buffer
	g := &globals{env: env{stdout: &out, stderr: &out, getenv: func(string) string { return "" }}}
	addr := make(chan string, 1)
	c := &fakeLLMCmd{g: g, addr: "127.0.0.1:0", RequireKey: "sk-right", models: []string{"claude-*"}, ready: func(a string) { addr <- a }}
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
	for _, tc := range []struct {
		key, model string
		code       int
	}{{"sk-right", "claude-x", 200}, {"sk-wrong", "claude-x", 401}, {"", "claude-x", 401}, {"sk-right", "gpt-4o", 404}} {
		body := `{"model":"` + tc.model + `","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}`
		req, _ := http.NewRequest("POST", base+"/v1/messages", strings.NewReader(body))
		req.Header.Set("content-type", "application/json")
		if tc.key != "" {
			req.Header.Set("x-api-key", tc.key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("key %q model %s: %d %s, want %d", tc.key, tc.model, resp.StatusCode, b, tc.code)
		}
	}
	http.DefaultClient.CloseIdleConnections()
}
