package rebound_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/rebound-go/rebound"
)

func TestSecretRedactsItself(t *testing.T) {
	const key = "sk-ant-api03-planted0123456789"
	s := rebound.Secret(key)
	cfg := struct {
		Name string
		Key  rebound.Secret
	}{"x", s}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "key", s, "cfg", cfg)
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "key", s)
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{
		fmt.Sprint(s), fmt.Sprintf("%s %q %v %+v %#v", s, s, cfg, cfg, cfg), logged.String(), string(js),
	} {
		if strings.Contains(out, key) || strings.Contains(out, "planted") {
			t.Errorf("the secret leaked: %s", out)
		}
		if !strings.Contains(out, "[REDACTED]") {
			t.Errorf("no [REDACTED] in %s", out)
		}
	}
	if s.Reveal() != key {
		t.Errorf("Reveal = %q", s.Reveal())
	}
	if rebound.Secret("").String() != "" {
		t.Errorf("an empty secret prints %q", rebound.Secret("").String())
	}
}
