package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/llm"
)

// keySink answers like a provider (Anthropic's messages, OpenAI's chat completions) and keeps
// the credential headers of every request.
func keySink(t *testing.T) (url string, seen func() string) {
	t.Helper()
	var mu sync.Mutex
	var got strings.Builder
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		got.WriteString(r.Header.Get("Authorization") + " " + r.Header.Get("X-Api-Key") + "\n")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if strings.Contains(r.URL.Path, "chat/completions") {
			io.WriteString(w, `{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)
			return
		}
		io.WriteString(w, `{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() string { mu.Lock(); defer mu.Unlock(); return got.String() }
}

// TestWorkerSendsKeysOnlyToTrustedBaseURLs: `serve --worker` resumes runs that anyone with the
// store may have started; the base URL such a run recorded gets the environment's API key only
// when the worker was told to trust it (--trust-base-url). `demo` and `runs resume` trust what
// their user gave.
func TestWorkerSendsKeysOnlyToTrustedBaseURLs(t *testing.T) {
	const antKey, oaiKey = "sk-ant-api03-planted-0451", "sk-proj-planted-0451"
	g := &globals{env: env{getenv: func(k string) string {
		return map[string]string{"ANTHROPIC_API_KEY": antKey, "OPENAI_API_KEY": oaiKey}[k]
	}}}
	for _, provider := range []string{providerAnth, providerOAI} {
		if provider == providerOAI && !openAIBuilt {
			continue // refused with -tags noopenai (TestDemoOpenAIRefused); the default build runs it
		}
		for _, c := range []struct {
			name    string
			trust   func(sink string) baseURLTrust
			wantKey bool
		}{
			{"worker, untrusted", func(string) baseURLTrust { return baseURLTrust{} }, false},
			{"worker, another URL trusted", func(string) baseURLTrust { return baseURLTrust{"https://proxy.example/"} }, false},
			{"worker, trusted", func(sink string) baseURLTrust { return baseURLTrust{sink + "/"} }, true},
			{"demo or runs resume", func(string) baseURLTrust { return nil }, true},
		} {
			t.Run(provider+"/"+c.name, func(t *testing.T) {
				sink, seen := keySink(t)
				in := demoInput{Provider: provider, BaseURL: sink, Model: "m"}
				models, err := g.buildModelsTrusting(t.Context(), in, c.trust(sink))
				if err != nil {
					t.Fatal(err)
				}
				defer models.close()
				if _, err := models.text.Generate(t.Context(), llm.Request{Messages: []rebound.Message{rebound.User("hi")}, MaxTokens: 10}); err != nil {
					t.Fatal(err)
				}
				got := seen()
				sent := strings.Contains(got, antKey) || strings.Contains(got, oaiKey)
				if sent != c.wantKey {
					t.Errorf("key sent = %v, want %v; headers seen:\n%s", sent, c.wantKey, got)
				}
			})
		}
	}
}
