package reboundgenkit_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebase/genkit/go/ai"
	"github.com/firebase/genkit/go/genkit"
	"github.com/openai/openai-go/v3"
	ooption "github.com/openai/openai-go/v3/option"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/agent"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/llmtest"
	"github.com/rebound-go/rebound/llm/openaillm"
	"github.com/rebound-go/rebound/retry"

	reboundgenkit "github.com/rebound-go/rebound/contrib/genkit"
)

type orderIn struct {
	OrderID string `json:"order_id"`
}

// counter counts a tool's calls and fails the first failures of them with err.
type counter struct {
	mu       sync.Mutex
	n        int
	failures int
	err      error
}

func (c *counter) call() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if c.n <= c.failures {
		return c.err
	}
	return nil
}

func (c *counter) calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// chain is gpt-4o (primary) and gpt-4o-mini (fallback), each in llm.Resilient with 2 attempts
// a call, over the two fakes. (Rebound's Anthropic adapter cannot be linked with Genkit v1.4.0:
// see README.md.)
func chain(t *testing.T, first, second *fakellm.Server, hook rebound.Hook) llm.Model {
	t.Helper()
	return llmtest.Chain(t, hook,
		openaillm.New(openai.NewClient(ooption.WithAPIKey("sk-primary"), ooption.WithBaseURL(first.OpenAIBaseURL)), "gpt-4o"),
		openaillm.New(openai.NewClient(ooption.WithAPIKey("sk-backup"), ooption.WithBaseURL(second.OpenAIBaseURL)), "gpt-4o-mini"))
}

// tools returns lookup_order (read-only) and issue_refund (irreversible) as Genkit tools run
// through a Toolset, counting their calls.
func tools(t *testing.T, g *genkit.Genkit, hook rebound.Hook, lookup, refund *counter) []ai.ToolRef {
	t.Helper()
	lookupTool, err := reboundgenkit.AgentTool(ai.NewTool("lookup_order", "Look an order up by its number.",
		func(_ *ai.ToolContext, in orderIn) (string, error) {
			if err := lookup.call(); err != nil {
				return "", err
			}
			return "order " + in.OrderID + ": a kettle, 79.99, delivered broken", nil
		}), agent.ReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	lookupTool.Retry = retry.Policy{Base: time.Millisecond, Cap: time.Millisecond}
	refundTool, err := reboundgenkit.AgentTool(ai.NewTool("issue_refund", "Refund an order.",
		func(_ *ai.ToolContext, in orderIn) (string, error) {
			if err := refund.call(); err != nil {
				return "", err
			}
			return "refunded order " + in.OrderID, nil
		}), agent.Irreversible)
	if err != nil {
		t.Fatal(err)
	}
	refundTool.Retry = retry.Policy{Base: time.Millisecond, Cap: time.Millisecond}
	ts, err := agent.NewToolset(agent.ToolsetConfig{Hook: hook, Tools: []agent.Tool{lookupTool, refundTool}})
	if err != nil {
		t.Fatal(err)
	}
	refs, err := reboundgenkit.Tools(g, ts)
	if err != nil {
		t.Fatal(err)
	}
	return refs
}

// Genkit's own generate loop, with tools, runs a support conversation through Rebound against
// fakellm: the first request gets a 429 with retry-after and is retried after the hint; the
// primary (gpt-4o) calls lookup_order, which fails once (read-only: retried inside the call,
// the model never sees the failure); the primary is then overloaded (529 on both attempts) in
// the middle of the tool conversation, and the fallback (gpt-4o-mini, another server and key)
// takes the turn, its message marked degraded, and calls issue_refund; the last turn is the
// primary's again. Every attempt is one HTTP request, and every request is a valid
// conversation.
func TestGenerateThroughFaults(t *testing.T) {
	primary := fakellm.NewServer(t, llmtest.ConversationPrimary)
	backup := fakellm.NewServer(t, llmtest.ConversationFallback)
	var evs llmtest.Events
	ctx := context.Background()
	g := genkit.Init(ctx)
	model := reboundgenkit.DefineModel(g, "rebound/support", chain(t, primary, backup, evs.Emit), reboundgenkit.Config{})
	lookup := &counter{failures: 1, err: rebound.Transient(errors.New("orders service: connection reset"))}
	refund := &counter{}

	resp, err := genkit.Generate(ctx, g, ai.WithModel(model), ai.WithTools(tools(t, g, evs.Emit, lookup, refund)...),
		ai.WithPrompt("Order 1042 arrived broken. I want my money back."))
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	if !strings.HasPrefix(resp.Text(), "[fakellm ") || resp.FinishReason != ai.FinishReasonStop {
		t.Errorf("answer %q (%s)", resp.Text(), resp.FinishReason)
	}
	if lookup.calls() != 2 || refund.calls() != 1 {
		t.Errorf("lookup ran %d times (want 2: failed once, retried), refund %d (want 1)", lookup.calls(), refund.calls())
	}

	// The conversation Genkit kept: three model turns, each marked with who answered.
	var models []string
	var results []string
	for _, m := range resp.History() {
		switch m.Role {
		case ai.RoleModel:
			name, degraded, ok := reboundgenkit.AnsweredBy(m)
			if !ok {
				t.Fatalf("model message without marks: %+v", m.Metadata)
			}
			if degraded != (name == "openai/gpt-4o-mini") {
				t.Errorf("%s degraded=%v", name, degraded)
			}
			models = append(models, name)
		case ai.RoleTool:
			for _, p := range m.Content {
				s, _ := p.ToolResponse.Output.(string)
				results = append(results, s)
			}
		}
	}
	if !slices.Equal(models, []string{"openai/gpt-4o", "openai/gpt-4o-mini", "openai/gpt-4o"}) {
		t.Errorf("models %v", models)
	}
	if len(results) != 2 || !strings.Contains(results[0], "delivered broken") || !strings.HasPrefix(results[1], "refunded order") {
		t.Errorf("tool results %q", results)
	}

	// One request per attempt, none an SDK retry; every conversation valid for its API.
	llmtest.CheckConversation(t, primary, backup, &evs)
	if fb := evs.Of(rebound.FallbackUsed); len(fb) != 1 || fb[0].To != "openai/gpt-4o-mini" {
		t.Errorf("fallback events %+v", fb)
	}
}

// Without Rebound's tools a tool's error ends Genkit's whole generate. Through Tools, an
// irreversible call in doubt (a connection reset) is not run again: the generate stops with a
// Genkit interrupt naming the call, and Approve restarts it, once, under the same idempotency
// key; the conversation then completes.
func TestGenerateToolFailures(t *testing.T) {
	ctx := context.Background()
	script := "ok result=issue_refund\ntool-use name=issue_refund"
	reset := rebound.Transient(errors.New("payments: connection reset"))

	g := genkit.Init(ctx)
	srv := fakellm.NewServer(t, script)
	model := reboundgenkit.DefineModel(g, "rebound/bare", chain(t, srv, fakellm.NewServer(t, ""), nil), reboundgenkit.Config{})
	bare := &counter{failures: 1, err: reset}
	refund := ai.NewTool("issue_refund", "Refund an order.", func(_ *ai.ToolContext, in orderIn) (string, error) {
		return "refunded", bare.call()
	})
	_, err := genkit.Generate(ctx, g, ai.WithModel(model), ai.WithTools(refund), ai.WithPrompt("Refund order 1042."))
	if err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Errorf("bare genkit: %v", err)
	}

	g = genkit.Init(ctx)
	srv = fakellm.NewServer(t, script)
	model = reboundgenkit.DefineModel(g, "rebound/support", chain(t, srv, fakellm.NewServer(t, ""), nil), reboundgenkit.Config{})
	lookup, pay := &counter{}, &counter{failures: 1, err: reset}
	refs := tools(t, g, nil, lookup, pay)
	resp, err := genkit.Generate(ctx, g, ai.WithModel(model), ai.WithTools(refs...), ai.WithPrompt("Refund order 1042."))
	if err != nil || resp.FinishReason != ai.FinishReasonInterrupted || len(resp.Interrupts()) != 1 || pay.calls() != 1 {
		t.Fatalf("in doubt: %v, %+v; refund ran %d times", err, resp, pay.calls())
	}
	part := resp.Interrupts()[0]
	meta, _ := part.Metadata["interrupt"].(map[string]any)
	if meta[reboundgenkit.InterruptReason] != string(rebound.ReasonAmbiguousState) || meta[reboundgenkit.InterruptKey] == "" ||
		!strings.Contains(meta[reboundgenkit.InterruptContext].(string), "issue_refund") {
		t.Errorf("interrupt metadata %+v", meta)
	}
	resp, err = genkit.Generate(ctx, g, ai.WithModel(model), ai.WithTools(refs...),
		ai.WithMessages(resp.History()...), ai.WithToolRestarts(reboundgenkit.Approve(part)))
	if err != nil || resp.FinishReason != ai.FinishReasonStop || pay.calls() != 2 || !strings.HasPrefix(resp.Text(), "[fakellm ") {
		t.Fatalf("approved: %v, %+v; refund ran %d times", err, resp, pay.calls())
	}
	if recs := llmtest.Log(srv, 2); len(recs) != 2 || recs[1].Invalid != "" || len(recs[1].ToolResults) != 1 {
		t.Errorf("requests %+v", recs)
	}

	// A name Genkit already has is refused: Genkit would run its own tool.
	genkit.DefineTool(g, "lookup_order", "Look an order up.", func(*ai.ToolContext, orderIn) (string, error) { return "", nil })
	ts, _ := agent.NewToolset(agent.ToolsetConfig{Tools: []agent.Tool{{Name: "lookup_order", Effect: agent.ReadOnly,
		Handler: agent.Handle(func(context.Context, agent.Call, orderIn) (string, error) { return "", nil })}}})
	if _, err := reboundgenkit.Tools(g, ts); err == nil {
		t.Error("a registered name was accepted")
	}
}
