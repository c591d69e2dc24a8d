package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/llm"
)

// A key or token the CLI holds (serve's --token, fakellm's --require-key) shows in no print
// (%v, %+v, %#v), log line (slog, text and JSON) or JSON of the command's configuration, nor in
// the value its flag reports.
func TestCommandKeysStayRedacted(t *testing.T) {
	const token, key = "tok-PLANTED-0123456789abcdef", "sk-ant-PLANTED-fakellm-0451"
	serve := &serveCmd{addr: "127.0.0.1:0", Token: token}
	fake := &fakeLLMCmd{addr: "127.0.0.1:0", RequireKey: key}

	var out bytes.Buffer
	fmt.Fprintf(&out, "%v %+v %#v %s\n", serve, serve, serve, serve.Token)
	fmt.Fprintf(&out, "%v %+v %#v %s\n", fake, fake, fake, fake.RequireKey)
	for _, h := range []slog.Handler{slog.NewTextHandler(&out, nil), slog.NewJSONHandler(&out, nil)} {
		slog.New(h).Info("config", "serve", serve, "token", serve.Token, "fakellm", fake, "key", fake.RequireKey)
	}
	b, err := json.Marshal(map[string]any{"token": serve.Token, "key": fake.RequireKey})
	if err != nil {
		t.Fatal(err)
	}
	out.Write(b)

	g := &globals{env: env{getenv: func(string) string { return "" }}}
	for _, c := range []struct{ cmd, flag, value string }{{"serve", "token", token}, {"fakellm", "require-key", key}} {
		cmd, _, err := newRootCmd(g).Find([]string{c.cmd})
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Flags().Parse([]string{"--" + c.flag, c.value}); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "%s --%s: %s\n", c.cmd, c.flag, cmd.Flags().Lookup(c.flag).Value)
	}
	if s := out.String(); strings.Contains(s, token) || strings.Contains(s, key) ||
		!strings.Contains(s, "[REDACTED]") {
		t.Errorf("a key shows, or nothing says it is there:\n%s", s)
	}
}

// The errors of serve, fakellm and of a provider that refuses the key (401) or answers HTML
// never carry the key or token.
func TestKeysStayOutOfErrors(t *testing.T) {
	const antKey, oaiKey = "sk-ant-api03-planted-9931", "sk-proj-planted-9931"
	const token = "tok-PLANTED-0123456789abcdef"
	for _, args := range [][]string{
		{"serve", "--addr", "not-an-address", "--token", token},
		{"serve", "--addr", "0.0.0.0:0", "--token", " " + token},
		{"fakellm", "--addr", "not-an-address", "--require-key", antKey},
	} {
		r := cli(t, map[string]string{"REBOUND_TOKEN": token}, args...)
		if r.code == 0 || strings.Contains(r.stdout+r.stderr, token) || strings.Contains(r.stdout+r.stderr, antKey) {
			t.Errorf("%v: exit %d, output shows the secret:\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}

	g := &globals{env: env{getenv: func(k string) string {
		return map[string]string{"ANTHROPIC_API_KEY": antKey, "OPENAI_API_KEY": oaiKey}[k]
	}}}
	for _, body := range []struct{ name, ctype, text string }{
		{"401", "application/json", ""},
		{"html", "text/html", "<html><body>Welcome to nginx!</body></html>"},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", body.ctype)
			if body.name == "401" {
				w.WriteHeader(http.StatusUnauthorized)
				if strings.Contains(r.URL.Path, "chat/completions") {
					io.WriteString(w, `{"error":{"message":"Incorrect API key provided: sk-pro****9931.","type":"invalid_request_error","code":"invalid_api_key"}}`)
				} else {
					io.WriteString(w, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`)
				}
				return
			}
			io.WriteString(w, body.text)
		}))
		t.Cleanup(srv.Close)
		for _, provider := range []string{providerAnth, providerOAI} {
			if provider == providerOAI && !openAIBuilt {
				continue
			}
			t.Run(provider+"/"+body.name, func(t *testing.T) {
				models, err := g.buildModels(t.Context(), demoInput{Provider: provider, BaseURL: srv.URL, Model: "m"})
				if err != nil {
					t.Fatal(err)
				}
				defer models.close()
				_, err = models.text.Generate(t.Context(), llm.Request{Messages: []rebound.Message{rebound.User("hi")}, MaxTokens: 10})
				if err == nil {
					t.Fatal("Generate succeeded against a server that refuses it")
				}
				var logs bytes.Buffer
				slog.New(slog.NewJSONHandler(&logs, nil)).Error("call failed", "err", err)
				s := fmt.Sprintf("%v\n%+v\n%s", err, err, logs.String())
				if strings.Contains(s, antKey) || strings.Contains(s, oaiKey) {
					t.Errorf("the error shows the key:\n%s", s)
				}
			})
		}
	}
}
