package gateway_test

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/openai/openai-go/v3"
)

// TestReadmeTwoLines runs the README's two lines: with only ANTHROPIC_BASE_URL / OPENAI_BASE_URL
// and the API key variables set as it says (the address and key made this test's), the official
// SDKs, built with no options at all, talk to the gateway. The Python and Node SDKs read the
// same variables.
func TestReadmeTwoLines(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := regexp.MustCompile(`(?m)^export (ANTHROPIC|OPENAI)_BASE_URL=.*$`).FindAllString(string(readme), -1)
	if len(lines) != 2 {
		t.Fatalf("README: found %d export lines for the gateway: want 2", len(lines))
	}
	r := newRig(t, "", baseConfig)
	for _, l := range lines {
		for _, kv := range strings.Fields(strings.TrimPrefix(l, "export ")) {
			k, v, _ := strings.Cut(kv, "=")
			v = strings.ReplaceAll(v, "http://127.0.0.1:8090", r.srv.URL)
			v = strings.ReplaceAll(v, "$REBOUND_GATEWAY_KEY", clientKey)
			t.Setenv(k, v)
		}
	}
	a := anthropic.NewClient()
	msg, err := a.Messages.New(context.Background(), msgParams("claude-a", "from the readme"))
	if err != nil || !strings.Contains(text(msg), "from the readme") {
		t.Errorf("anthropic: %v, %v", msg, err)
	}
	o := openai.NewClient()
	cc, err := o.Chat.Completions.New(context.Background(), chatParams("gpt-a", "from the readme"))
	if err != nil || !strings.Contains(cc.Choices[0].Message.Content, "from the readme") {
		t.Errorf("openai: %v, %v", cc, err)
	}
}
