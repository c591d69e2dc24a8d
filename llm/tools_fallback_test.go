package llm_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	ooption "github.com/openai/openai-go/v3/option"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/anthropicllm"
	"github.com/rebound-go/rebound/llm/llmtest"
	"github.com/rebound-go/rebound/llm/openaillm"
)

// A tool conversation crosses providers and comes back: it starts on Anthropic, which calls two
// tools in parallel; Anthropic is overloaded for the next turn, so the chain falls back to
// OpenAI, which calls a third tool; the turn after goes back to Anthropic. Every request each
// fake received is a valid conversation for its API (the fakes refuse any other with 400, as
// the real APIs do), checked from their request logs: each tool call answered by exactly one
// result with the right id in the right place, parallel calls still parallel, the primary's own
// ids untouched, ids the receiving API would refuse translated the same way in the call and in
// its result. The conversation (what the journal keeps) holds the original ids throughout.
//
// The fakes make ids of other shapes on purpose: Anthropic's are longer than OpenAI's 40
// characters, OpenAI's hold a '.' and a ':' that Anthropic's id pattern refuses.
func TestToolConversationAcrossProviders(t *testing.T) {
	longPrefix := "toolu_vrtx_01ABCDEFGHIJKLMNOPQRSTUVWXYZ_"
	ant := fakellm.NewServer(t, strings.Join([]string{
		"error 529 req=2",
		"ok result=book_table",
		"tool-use name=get_weather,get_time id-prefix=" + longPrefix,
	}, "\n"))
	oai := fakellm.NewServer(t, "tool-use name=book_table result=get_time id-prefix=functions.book_table:")
	a := anthropicllm.New(anthropic.NewClient(aoption.WithAPIKey("sk-ant-t"), aoption.WithBaseURL(ant.AnthropicBaseURL)), "claude-haiku-4-5")
	o := openaillm.New(openai.NewClient(ooption.WithAPIKey("sk-t"), ooption.WithBaseURL(oai.OpenAIBaseURL)), "gpt-4o")
	chain := llm.Fallback(a, o)

	tools := append(append([]llm.Tool(nil), llmtest.WeatherTools...), llm.Tool{
		Name: "book_table", Description: "Book a table.",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"time":{"type":"string"}}}`),
	})
	conv := []llm.Message{llm.User("Book a table in Paris if the weather is good this evening.")}
	turn := func(results ...rebound.Block) *llm.Response {
		t.Helper()
		resp, err := chain.Generate(context.Background(), llm.Request{Messages: conv, Tools: tools, MaxTokens: 256})
		if err != nil {
			t.Fatalf("turn %d: %v", len(conv)/2+1, err)
		}
		conv = append(conv, resp.Message())
		return resp
	}
	answer := func(calls []rebound.Block) {
		var rs []rebound.Block
		for _, c := range calls {
			rs = append(rs, rebound.ToolResult(c.ID, c.Name+" says: fine", false))
		}
		conv = append(conv, rebound.ToolResults(rs...))
	}

	// Turn 1, Anthropic: two calls in parallel.
	r1 := turn()
	calls1 := r1.ToolCalls()
	if r1.Provenance.Model != a.Name() || len(calls1) != 2 || !strings.HasPrefix(calls1[0].ID, longPrefix) {
		t.Fatalf("turn 1: %s, calls %+v", r1.Provenance.Model, calls1)
	}
	answer(calls1)
	// Turn 2: Anthropic overloaded, OpenAI answers with a call of another tool.
	r2 := turn()
	calls2 := r2.ToolCalls()
	if r2.Provenance.Model != o.Name() || !r2.Provenance.Degraded || len(calls2) != 1 || calls2[0].Name != "book_table" {
		t.Fatalf("turn 2: %+v, calls %+v", r2.Provenance, calls2)
	}
	answer(calls2)
	// Turn 3: back on the primary, which answers in text.
	r3 := turn()
	if r3.Provenance.Model != a.Name() || r3.Provenance.Degraded || len(r3.ToolCalls()) != 0 || r3.Text == "" {
		t.Fatalf("turn 3: %+v %q", r3.Provenance, r3.Text)
	}

	// The conversation keeps every id as its provider made it.
	if conv[1].ToolCalls()[0].ID != calls1[0].ID || conv[3].ToolCalls()[0].ID != calls2[0].ID ||
		!strings.HasPrefix(calls2[0].ID, "functions.book_table:") {
		t.Errorf("conversation ids changed: %+v", conv)
	}

	// What each fake received.
	antLog, oaiLog := llmtest.Log(ant, 3), llmtest.Log(oai, 1)
	if len(antLog) != 3 || len(oaiLog) != 1 {
		t.Fatalf("anthropic saw %d requests, openai %d", len(antLog), len(oaiLog))
	}
	for _, r := range append(slices.Clone(antLog), oaiLog...) {
		if r.Invalid != "" {
			t.Errorf("%s request %d refused: %s", r.Provider, r.Seq, r.Invalid)
		}
	}
	if antLog[0].Status != 200 || antLog[1].Status != 529 || antLog[2].Status != 200 || oaiLog[0].Status != 200 {
		t.Errorf("statuses: anthropic %d %d %d, openai %d", antLog[0].Status, antLog[1].Status, antLog[2].Status, oaiLog[0].Status)
	}
	// OpenAI got both parallel calls in one assistant message and one result each, under ids
	// of at most 40 characters, the same in the call and its result.
	got := oaiLog[0]
	if len(got.ToolUses) != 2 || !slices.Equal(got.ToolUses, got.ToolResults) {
		t.Errorf("openai: calls %v results %v", got.ToolUses, got.ToolResults)
	}
	for _, id := range got.ToolUses {
		if len(id) > 40 || !strings.HasPrefix(id, openaillm.CallIDPrefix) {
			t.Errorf("openai got id %q", id)
		}
	}
	// Back on Anthropic: its own ids untouched, OpenAI's translated to its pattern, every call
	// answered once.
	back := antLog[2]
	if len(back.ToolUses) != 3 || back.ToolUses[0] != calls1[0].ID || back.ToolUses[1] != calls1[1].ID ||
		!strings.HasPrefix(back.ToolUses[2], anthropicllm.CallIDPrefix) || !slices.Equal(back.ToolUses, back.ToolResults) {
		t.Errorf("anthropic turn 3: calls %v results %v", back.ToolUses, back.ToolResults)
	}
	// The translation is a function of the id: the retried turn 2 went to Anthropic (529) with
	// the same ids as turn 3.
	if !slices.Equal(antLog[1].ToolUses, back.ToolUses[:2]) {
		t.Errorf("turn 2 to anthropic %v, turn 3 %v", antLog[1].ToolUses, back.ToolUses)
	}
}

// Resilient passes a tool request through unchanged: the retried attempt carries the same
// tools and conversation, and the answer's tool calls come back.
func TestResilientPassesToolsThrough(t *testing.T) {
	a, _, srv := fakeModels(t, "error 529 times=1 retry-after-ms=1\ntool-use name=get_weather,get_time")
	m := mustResilient(t, a, llm.Config{Retry: quick})
	req := llmtest.ToolRequest()
	req.ToolChoice = llm.ToolChoice{Mode: llm.ToolChoiceAny}
	for _, stream := range []bool{false, true} {
		srv.Reset()
		var resp *llm.Response
		var err error
		if stream {
			resp, err = m.Stream(context.Background(), req, nil)
		} else {
			resp, err = m.Generate(context.Background(), req)
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.ToolCalls()) != 2 {
			t.Errorf("stream %v: calls %+v", stream, resp.ToolCalls())
		}
		recs := llmtest.Log(srv, 2)
		if len(recs) != 2 || recs[0].Status != 529 || !slices.Equal(recs[0].Tools, recs[1].Tools) || len(recs[1].Tools) != 3 {
			t.Errorf("stream %v: requests %+v", stream, recs)
		}
	}
}
