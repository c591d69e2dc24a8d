package llm_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/llm"
)

type plan struct {
	Title    string   `json:"title"`
	Sections []string `json:"sections"`
}

// scripted answers with the given texts in turn (a text "MAX:" stops at max_tokens), and
// records the requests.
func scripted(texts ...string) (*model, *[]llm.Request) {
	var reqs []llm.Request
	m := &model{name: "anthropic/a"}
	m.generate = func(_ context.Context, n int, req llm.Request) (*llm.Response, error) {
		reqs = append(reqs, req)
		t := texts[min(n, len(texts))-1]
		resp := answer(m, t)
		if rest, ok := strings.CutPrefix(t, "MAX:"); ok {
			resp.Text, resp.StopReason = rest, llm.StopMaxTokens
		}
		return resp, nil
	}
	return m, &reqs
}

func TestStructuredRepairs(t *testing.T) {
	m, reqs := scripted(
		"Sure! Here is the plan you asked for.",
		`{"title": "Go", "sections": ["a"], "extra": 1}`,
		"```json\n{\"title\": \"Go\", \"sections\": [\"a\", \"b\"]}\n```",
	)
	v, resp, err := llm.Structured(context.Background(), m, req, llm.StructuredConfig[plan]{})
	if err != nil {
		t.Fatal(err)
	}
	if v.Title != "Go" || len(v.Sections) != 2 || resp == nil {
		t.Errorf("%+v", v)
	}
	if len(*reqs) != 3 {
		t.Fatalf("%d requests", len(*reqs))
	}
	last := (*reqs)[2].Messages
	if len(last) != 5 || last[1].Role != rebound.RoleAssistant || !strings.Contains(last[4].Content, "unknown field") {
		t.Errorf("repair conversation %+v", last)
	}
	if !strings.Contains((*reqs)[0].System, "JSON") {
		t.Errorf("system %q does not ask for JSON", (*reqs)[0].System)
	}
}

func TestStructuredValidatorAndMaxTokens(t *testing.T) {
	m, reqs := scripted(`MAX:{"title": "Go", "sec`, `{"title": "", "sections": []}`, `{"title": "Go", "sections": ["x"]}`)
	v, _, err := llm.Structured(context.Background(), m, llm.Request{MaxTokens: 100}, llm.StructuredConfig[plan]{
		Validate: func(p plan) error {
			if p.Title == "" {
				return errors.New("title is empty")
			}
			return nil
		},
	})
	if err != nil || v.Title != "Go" {
		t.Fatalf("%+v %v", v, err)
	}
	if (*reqs)[1].MaxTokens != 200 {
		t.Errorf("max tokens after a max_tokens stop = %d, want 200", (*reqs)[1].MaxTokens)
	}
	if !strings.Contains((*reqs)[2].Messages[len((*reqs)[2].Messages)-1].Content, "title is empty") {
		t.Errorf("validator error not sent back")
	}
}

func TestStructuredGivesUpMalformed(t *testing.T) {
	m, reqs := scripted("no", "still no", "never", "unreached")
	_, _, err := llm.Structured(context.Background(), m, req, llm.StructuredConfig[plan]{})
	if c, _ := rebound.Classify(err); c != rebound.ClassMalformed {
		t.Fatalf("class %v (%v)", c, err)
	}
	// Repairs spent are retries spent: a give-up, which a checkpoint step escalates.
	var gu *rebound.GiveUpError
	if !errors.As(err, &gu) || gu.Reason != rebound.Exhausted || gu.Attempts != 3 {
		t.Fatalf("got %v, want a GiveUpError (exhausted, 3 attempts)", err)
	}
	var me *llm.MalformedError
	if !errors.As(err, &me) || me.Answer != "never" || me.Answers != 3 {
		t.Fatalf("%+v", me)
	}
	if len(*reqs) != 3 {
		t.Errorf("%d requests, want 3", len(*reqs))
	}
}

func TestStructuredPassesModelErrors(t *testing.T) {
	_, _, err := llm.Structured(context.Background(), failing("anthropic/a", 1, rebound.ClassQuota), req, llm.StructuredConfig[plan]{})
	if c, _ := rebound.Classify(err); c != rebound.ClassQuota {
		t.Errorf("class %v", c)
	}
}

func TestExtractJSON(t *testing.T) {
	for in, want := range map[string]string{
		`{"a":1}`:                                 `{"a":1}`,
		"Here:\n```json\n[1,2]\n```\n":            "[1,2]",
		`The answer is {"a": {"b": 2}} as asked.`: `{"a": {"b": 2}}`,
		"no json here":                            "",
	} {
		if got := llm.ExtractJSON(in); got != want {
			t.Errorf("ExtractJSON(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzExtractJSON(f *testing.F) {
	f.Add("```json\n{\"a\":1}\n```")
	f.Add("x [1, {]")
	f.Fuzz(func(t *testing.T, s string) {
		got := llm.ExtractJSON(s)
		if got != "" && !strings.Contains(s, got) {
			t.Fatalf("%q is not part of %q", got, s)
		}
	})
}

// The doubling after a max_tokens stop stops at MaxTokensCap, and never lowers what was asked.
func TestStructuredMaxTokensCap(t *testing.T) {
	for _, tc := range []struct{ asked, cap, want int }{
		{10000, 0, 16384},    // default cap
		{20000, 0, 20000},    // already past the cap: kept, not lowered
		{1000, 1500, 1500},   // a cap of the caller's
		{1000, 100000, 2000}, // under the cap: doubled
	} {
		m, reqs := scripted(`MAX:{"title": "Go"`, `{"title": "Go", "sections": ["x"]}`)
		_, _, err := llm.Structured(context.Background(), m, llm.Request{MaxTokens: tc.asked}, llm.StructuredConfig[plan]{MaxTokensCap: tc.cap})
		if err != nil {
			t.Fatal(err)
		}
		if got := (*reqs)[1].MaxTokens; got != tc.want {
			t.Errorf("asked %d, cap %d: re-asked with %d, want %d", tc.asked, tc.cap, got, tc.want)
		}
	}
}
