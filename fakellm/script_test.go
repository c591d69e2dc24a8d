package fakellm_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rebound-go/rebound/fakellm"
)

func TestParseScript(t *testing.T) {
	s, err := fakellm.ParseScript(`
# a comment line
seed 7
limit rps=20 burst=40 tpm=60000

error 529 times=2 retry-after-ms=50   # trailing comment
error 503 model=claude-haiku-* during=10s..20s should-retry=true
latency 100ms..300ms p=0.1
slow normal=20ms/5ms stream=true
stream-error after=3 type=api_error message="busy, \"very\" busy" provider=anthropic
quota contains="spend # not a comment" req=4..
ok model-req=1
`)
	if err != nil {
		t.Fatal(err)
	}
	if s.Seed != 7 || len(s.Rules) != 7 {
		t.Fatalf("seed %d, %d rules", s.Seed, len(s.Rules))
	}
	if l := s.Limit; l.RequestsPerSec != 20 || l.RequestBurst != 40 || l.TokensPerSec != 1000 || l.TokenBurst != 60000 {
		t.Errorf("limit %+v", l)
	}
	r := s.Rules[0]
	if r.Kind != fakellm.KindError || r.Status != 529 || r.Times != 2 || r.RetryAfterMS != "50" || r.Line != 6 || r.Name != "line 6: error 529" {
		t.Errorf("rule 0 %+v", r)
	}
	r = s.Rules[1]
	if r.Model != "claude-haiku-*" || !r.HasWindow || r.From != 10*time.Second || r.To != 20*time.Second || r.ShouldRetry != "true" {
		t.Errorf("rule 1 %+v", r)
	}
	if r := s.Rules[2]; r.Delay.Kind != "uniform" || r.Delay.Min != 100*time.Millisecond || r.Delay.Max != 300*time.Millisecond || !r.HasP || r.P != 0.1 {
		t.Errorf("rule 2 %+v", r)
	}
	if r := s.Rules[3]; r.Kind != fakellm.KindSlow || r.Delay.Kind != "normal" || r.Delay.SD != 5*time.Millisecond || r.Stream != 1 {
		t.Errorf("rule 3 %+v", r)
	}
	if r := s.Rules[4]; r.After != 3 || r.Message != `busy, "very" busy` || r.Provider != "anthropic" {
		t.Errorf("rule 4 %+v", r)
	}
	if r := s.Rules[5]; r.Contains != "spend # not a comment" || r.Req != (fakellm.Range{Lo: 4}) {
		t.Errorf("rule 5 %+v", r)
	}
	if r := s.Rules[6]; r.ModelReq != (fakellm.Range{Lo: 1, Hi: 1}) {
		t.Errorf("rule 6 %+v", r)
	}
}

func TestParseScriptErrors(t *testing.T) {
	for _, tc := range []struct {
		script string
		line   int
		reason string
	}{
		{"explode", 1, `unknown rule "explode"`},
		{"\n\nerror", 3, "error needs one status"},
		{"error 200", 1, "not a number from 400 to 599"},
		{"error 529 tiems=2", 1, `unknown key "tiems"`},
		{"error 529 times=0", 1, "not a positive integer"},
		{"error 529 times=2 times=3", 1, "given twice"},
		{"error 529 p=1.5", 1, "not a probability"},
		{"error 529 req=0", 1, "not a request number"},
		{"error 529 req=5..3", 1, "ends before it starts"},
		{"error 529 during=20s..10s", 1, "ends before it starts"},
		{"error 529 during=10s", 1, "want T1..T2"},
		{"error 529 model=[", 1, "not a valid pattern"},
		{"error 529 provider=google", 1, "want anthropic or openai"},
		{"error 529 after=2", 1, "after=N applies only to"},
		{"cut type=api_error", 1, "applies only to error"},
		{"hang 5s", 1, "takes no positional argument"},
		{"latency", 1, "latency needs a delay"},
		{"latency soon", 1, "not a duration"},
		{"latency -5ms", 1, "negative"},
		{"latency 5ms exp=1s", 1, "give one delay"},
		{"slow normal=5ms", 1, "want MEAN/SD"},
		{"stream-error after=x", 1, "not a count"},
		{`contains="open`, 1, "unterminated quoted string"},
		{"seed x", 1, "not a non-negative integer"},
		{"seed 1\nseed 2", 2, "second seed"},
		{"limit", 1, "limit needs keys"},
		{"limit rpm=0", 1, "not a positive number"},
		{"limit rpm=10 rps=1", 1, "not both"},
		{"limit qps=10", 1, "unknown key"},
		{"limit burst=5", 1, "burst needs rpm or rps"},
		{"limit rpm=10\nlimit tpm=10", 2, "second limit"},
		{"error 429 should-retry=maybe", 1, "want true or false"},
		{"ok stream=yes", 1, "want true or false"},
		{"error 529 retry-after-ms=soon", 1, "not a number"},
		// Each group of kinds that shares keys names its kinds in the same words.
		{"html message=x", 1, "message=... applies only to error, quota, context-overflow and stream-error"},
		{"stream-error retry-after=1", 1, "retry-after=... applies only to error, quota, context-overflow and html"},
		{"error 529 after=2", 1, "after=N applies only to cut, truncate, stream-error, stall and malformed"},
		{"hang exp=1s", 1, "exp=... applies only to latency and slow"},
		{"ok name=search", 1, "name=... applies only to tool-use"},
		{"tool-use name=", 1, "name is empty"},
		{"error 500 retry-after=", 1, "retry-after is empty"},
		{"slow exp=1s normal=1s/1ms", 1, "give one delay"},
		{"ok contains=", 1, "contains is empty"},
		{"ok model-req=x", 1, "model-req: "},
		{"error 529 unknown=1", 1, `unknown key "unknown" for error`},
	} {
		_, err := fakellm.ParseScript(tc.script)
		var se *fakellm.ScriptError
		if !errors.As(err, &se) {
			t.Errorf("%q: err %v, want *ScriptError", tc.script, err)
			continue
		}
		if se.Line != tc.line || !strings.Contains(se.Reason, tc.reason) {
			t.Errorf("%q: line %d %q, want line %d containing %q", tc.script, se.Line, se.Reason, tc.line, tc.reason)
		}
		if !strings.HasPrefix(err.Error(), "fault script line ") {
			t.Errorf("%q: error text %q", tc.script, err)
		}
	}
}

// TestDocsScriptsParse keeps docs/fakellm.md honest: every plain fenced block that is a script
// (not Go, JSON or a shell command) must parse.
func TestDocsScriptsParse(t *testing.T) {
	b, err := os.ReadFile("../docs/fakellm.md")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(b), "```")
	n := 0
	for i := 1; i < len(parts); i += 2 {
		block := parts[i]
		if !strings.HasPrefix(block, "\n") { // has a language tag
			continue
		}
		if strings.Contains(block, "go run") || strings.Contains(block, "curl ") {
			continue
		}
		n++
		if _, err := fakellm.ParseScript(block); err != nil {
			t.Errorf("docs block %d: %v\n%s", n, err, block)
		}
	}
	if n < 3 {
		t.Errorf("found %d script blocks in the docs", n)
	}
}
