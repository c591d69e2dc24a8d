package openaillm_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/openaillm"
)

// TestBaseURLAnsweringHTML: a base URL that reaches a web server (an HTML page, with 200 or an
// error status) gives an error that says the base URL is probably wrong, never the SDK's
// internal message with class unknown; a 200 page is invalid (asking again reaches the same page).
func TestBaseURLAnsweringHTML(t *testing.T) {
	for _, c := range []struct {
		status int
		class  rebound.Class
	}{{200, rebound.ClassInvalid}, {404, rebound.ClassInvalid}, {502, rebound.ClassTransient}} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(c.status)
			fmt.Fprint(w, "<!doctype html><html><body><h1>Welcome to nginx!</h1></body></html>")
		}))
		client := openai.NewClient(option.WithBaseURL(srv.URL+"/"), option.WithAPIKey("test"), option.WithMaxRetries(0))
		_, err := openaillm.New(client, "m").Generate(t.Context(), llm.Request{Messages: []llm.Message{llm.User("hi")}, MaxTokens: 5})
		srv.Close()
		var re *rebound.Error
		if !errors.As(err, &re) || re.Class != c.class {
			t.Errorf("status %d: %v, want a *rebound.Error of class %v", c.status, err, c.class)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "the base URL is probably wrong") || strings.Contains(msg, "<html>") ||
			strings.Contains(msg, "destination type") {
			t.Errorf("status %d: %q does not say the base URL is probably wrong (or quotes the page or the SDK)", c.status, msg)
		}
	}
}
