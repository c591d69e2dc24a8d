package reboundeino_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/cloudwego/eino/components/tool"
	"github.com/cloudwego/eino/components/tool/utils"
	"github.com/cloudwego/eino/compose"
	"github.com/cloudwego/eino/flow/agent/react"
	"github.com/cloudwego/eino/schema"
	"github.com/openai/openai-go/v3"
	ooption "github.com/openai/openai-go/v3/option"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/agent"
	reboundeino "github.com/rebound-go/rebound/contrib/eino"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/anthropicllm"
	"github.com/rebound-go/rebound/llm/llmtest"
	"github.com/rebound-go/rebound/llm/openaillm"
	"github.com/rebound-go/rebound/retry"
)

// counted counts the calls that reach a provider's adapter: the attempts Resilient makes.
type counted struct {
	llm.Model
	n atomic.Int64
}

func (c *counted) Generate(ctx context.Context, req llm.Request) (*llm.Response, error) {
	c.n.Add(1)
	return c.Model.Generate(ctx, req)
}

func (c *counted) Stream(ctx context.Context, req llm.Request, onDelta func(llm.Delta)) (*llm.Response, error) {
	c.n.Add(1)
	return c.Model.Stream(ctx, req, onDelta)
}

// stack is Anthropic primary, OpenAI fallback, each in llm.Resilient, over two fakes.
type stack struct {
	chain    llm.Model
	ant, oai *fakellm.Server
	antN     *counted
	oaiN     *counted
}

func newStack(t *testing.T, antScript, oaiScript string, c llm.Config) *stack {
	t.Helper()
	ant := fakellm.NewServer(t, antScript)
	oai := fakellm.NewServer(t, oaiScript)
	a := &counted{Model: anthropicllm.New(anthropic.NewClient(aoption.WithAPIKey("sk-ant-t"), aoption.WithBaseURL(ant.AnthropicBaseURL)), "claude-haiku-4-5")}
	o := &counted{Model: openaillm.New(openai.NewClient(ooption.WithAPIKey("sk-t"), ooption.WithBaseURL(oai.OpenAIBaseURL)), "gpt-4o")}
	ra, err := llm.Resilient(a, c)
	if err != nil {
		t.Fatal(err)
	}
	ro, err := llm.Resilient(o, c)
	if err != nil {
		t.Fatal(err)
	}
	return &stack{chain: llm.Fallback(ra, ro), ant: ant, oai: oai, antN: a, oaiN: o}
}

type orderIn struct {
	OrderID string `json:"order_id" jsonschema:"description=the order's id"`
}

// shop is the agent's two Eino tools: lookup_order fails once (its service answers 503), then
// works; refund_order refuses (the order was refunded already).
type shop struct {
	mu      sync.Mutex
	lookups int
	refunds int
}

func (s *shop) tools(t *testing.T) []tool.BaseTool {
	t.Helper()
	lookup, err := utils.InferTool("lookup_order", "Look an order up.", func(ctx context.Context, in orderIn) (string, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.lookups++
		if s.lookups == 1 {
			return "", rebound.Transient(errors.New("orders service: 503 Service Unavailable"))
		}
		return "order " + in.OrderID + ": delivered, 49.00 EUR", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	refund, err := utils.InferTool("refund_order", "Refund an order.", func(ctx context.Context, in orderIn) (string, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.refunds++
		return "", &rebound.Error{Class: rebound.ClassInvalid, Message: "order " + in.OrderID + " was refunded already"}
	})
	if err != nil {
		t.Fatal(err)
	}
	return []tool.BaseTool{lookup, refund}
}

var effects = map[string]agent.Effect{"lookup_order": agent.ReadOnly, "refund_order": agent.Irreversible}

// The Anthropic primary's script: a 429 with retry-after on the first request; then a call of
// lookup_order; overloaded (529) on every request that carries its result, so that the turn
// falls back to OpenAI; a text answer once refund_order's failure is in the conversation.
const antScript = `
error 429 retry-after=1 times=1
error 529 result=lookup_order
ok result=refund_order result-error=true
tool-use name=lookup_order
`

// OpenAI, the fallback, answers lookup_order's result with a call of refund_order.
const oaiScript = `tool-use name=refund_order result=lookup_order`

var quick = llm.Config{Retry: retry.Policy{MaxAttempts: 2, Base: 10 * time.Millisecond, Cap: 2 * time.Second}}

// Eino's own ReAct agent runs a tool conversation through the Rebound model and tools node:
// a 429 with retry-after is waited out and retried; lookup_order fails once and is retried (it
// is read-only); the primary is overloaded in the middle of the conversation and the turn falls
// back to OpenAI, marked; refund_order's failure comes back to the model as an error result,
// and the run completes on Anthropic. Each attempt is one request to a fake.
func TestReActAgentRecovers(t *testing.T) {
	ctx := context.Background()
	st := newStack(t, antScript, oaiScript, quick)
	s := &shop{}
	tc, err := reboundeino.ToolsConfig(ctx, reboundeino.Tools{Tools: s.tools(t), Effects: effects,
		Retry: retry.Policy{Base: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ag, err := react.NewAgent(ctx, &react.AgentConfig{ToolCallingModel: reboundeino.NewModel(st.chain), ToolsConfig: tc})
	if err != nil {
		t.Fatal(err)
	}
	opt, future := react.WithMessageFuture()
	start := time.Now()
	out, err := ag.Generate(ctx, []*schema.Message{schema.UserMessage("Refund order 1042, please.")}, opt)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	var msgs []*schema.Message
	for it := future.GetMessages(); ; {
		m, ok, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		msgs = append(msgs, m)
	}

	antLog, oaiLog := llmtest.Log(st.ant, 5), llmtest.Log(st.oai, 1)
	status := func(rs []fakellm.RequestRecord) []int {
		var ss []int
		for _, r := range rs {
			ss = append(ss, r.Status)
			if r.Invalid != "" {
				t.Errorf("%s request %d refused as an invalid conversation: %s", r.Provider, r.Seq, r.Invalid)
			}
		}
		return ss
	}
	as, os := status(antLog), status(oaiLog)
	t.Logf("run took %v; anthropic statuses %v (%d attempts), openai %v (%d attempts); lookup_order ran %d times, refund_order %d; %d messages",
		took.Round(time.Millisecond), as, st.antN.n.Load(), os, st.oaiN.n.Load(), s.lookups, s.refunds, len(msgs))

	// One request per attempt: what the adapters were asked is what the fakes received.
	if !slices.Equal(as, []int{429, 200, 529, 529, 200}) || !slices.Equal(os, []int{200}) {
		t.Fatalf("anthropic %v, openai %v", as, os)
	}
	if c := st.ant.Counters(); c.Requests != st.antN.n.Load() || c.Requests != 5 {
		t.Errorf("anthropic: %d requests for %d attempts", c.Requests, st.antN.n.Load())
	}
	if c := st.oai.Counters(); c.Requests != st.oaiN.n.Load() || c.Requests != 1 {
		t.Errorf("openai: %d requests for %d attempts", c.Requests, st.oaiN.n.Load())
	}
	// The retry waited for retry-after (1 s) before the second request.
	if gap := antLog[1].Time.Sub(antLog[0].Time); gap < 900*time.Millisecond {
		t.Errorf("the retry after the 429 came %v later; retry-after said 1s", gap)
	}
	if s.lookups != 2 || s.refunds != 1 {
		t.Errorf("lookup_order ran %d times (want 2: failed once, retried), refund_order %d (want 1)", s.lookups, s.refunds)
	}

	// The conversation: user's turn is the input; then the call of lookup_order (Anthropic), its
	// result, the call of refund_order (OpenAI, marked), its error result, the answer.
	var roles []string
	for _, m := range msgs {
		roles = append(roles, string(m.Role))
	}
	if want := []string{"assistant", "tool", "assistant", "tool", "assistant"}; !slices.Equal(roles, want) {
		t.Fatalf("messages %v, want %v", roles, want)
	}
	first, fb, final := msgs[0], msgs[2], msgs[4]
	if first.Extra[reboundeino.ExtraModel] != "anthropic/claude-haiku-4-5" || first.Extra[reboundeino.ExtraDegraded] != false ||
		len(first.ToolCalls) != 1 || first.ToolCalls[0].Function.Name != "lookup_order" {
		t.Errorf("turn 1: %+v", first)
	}
	if c := msgs[1].Content; !strings.HasPrefix(c, "order ") || !strings.HasSuffix(c, ": delivered, 49.00 EUR") {
		t.Errorf("lookup_order's result: %q", msgs[1].Content)
	}
	if fb.Extra[reboundeino.ExtraModel] != "openai/gpt-4o" || fb.Extra[reboundeino.ExtraDegraded] != true ||
		len(fb.ToolCalls) != 1 || fb.ToolCalls[0].Function.Name != "refund_order" {
		t.Errorf("turn 2 (the fallback): %+v", fb)
	}
	if fs, _ := fb.Extra[reboundeino.ExtraFailures].([]string); len(fs) != 1 || fs[0] != "anthropic/claude-haiku-4-5: overloaded" {
		t.Errorf("turn 2's failures: %v", fb.Extra[reboundeino.ExtraFailures])
	}
	if c := msgs[3].Content; !strings.HasPrefix(c, "Error: ") || !strings.Contains(c, "refunded already") {
		t.Errorf("refund_order's result: %q", c)
	}
	if final.Extra[reboundeino.ExtraModel] != "anthropic/claude-haiku-4-5" || final.Extra[reboundeino.ExtraDegraded] != false ||
		len(final.ToolCalls) != 0 || final.Content == "" || out.Content != final.Content {
		t.Errorf("the answer: %+v (returned %+v)", final, out)
	}
}

// Without Rebound's tools node the same failure of lookup_order ends Eino's run: the default
// this package changes.
func TestEinoAbortsWithoutTheMiddleware(t *testing.T) {
	ctx := context.Background()
	st := newStack(t, "tool-use name=lookup_order", "", quick)
	s := &shop{}
	ag, err := react.NewAgent(ctx, &react.AgentConfig{ToolCallingModel: reboundeino.NewModel(st.chain),
		ToolsConfig: compose.ToolsNodeConfig{Tools: s.tools(t)}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ag.Generate(ctx, []*schema.Message{schema.UserMessage("Refund order 1042, please.")})
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("got %v, want the run to fail on the tool's error", err)
	}
	if s.lookups != 1 {
		t.Fatalf("lookup_order ran %d times", s.lookups)
	}
}

// A streamed run: Eino's ReAct agent streams (Agent.Stream calls ChatModel.Stream). The first
// stream stalls and Resilient's idle timeout ends the attempt; the retry streams the tool call;
// the answer streams in chunks.
func TestReActAgentStreams(t *testing.T) {
	ctx := context.Background()
	c := quick
	c.FirstTokenTimeout, c.IdleTimeout = 300*time.Millisecond, 300*time.Millisecond
	st := newStack(t, "stall after=2 times=1\nok result=lookup_order\ntool-use name=lookup_order", "", c)
	s := &shop{}
	s.lookups = 1 // lookup_order does not fail here
	tc, err := reboundeino.ToolsConfig(ctx, reboundeino.Tools{Tools: s.tools(t), Effects: effects})
	if err != nil {
		t.Fatal(err)
	}
	restarts := 0
	m := reboundeino.NewModelWith(st.chain, reboundeino.Config{OnRestart: func(context.Context) { restarts++ }})
	ag, err := react.NewAgent(ctx, &react.AgentConfig{ToolCallingModel: m, ToolsConfig: tc,
		StreamToolCallChecker: reboundeino.StreamToolCallChecker})
	if err != nil {
		t.Fatal(err)
	}
	sr, err := ag.Stream(ctx, []*schema.Message{schema.UserMessage("Where is order 1042?")})
	if err != nil {
		t.Fatal(err)
	}
	var chunks []*schema.Message
	for {
		ch, err := sr.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, ch)
	}
	sr.Close()
	answer, err := schema.ConcatMessages(chunks)
	if err != nil {
		t.Fatal(err)
	}
	recs := llmtest.Log(st.ant, 3)
	t.Logf("%d chunks: %q; anthropic statuses %v, faults %q, %d attempts; %d restarts", len(chunks), answer.Content,
		[]int{recs[0].Status, recs[1].Status, recs[2].Status}, recs[0].Fault, st.antN.n.Load(), restarts)
	if len(recs) != 3 || st.antN.n.Load() != 3 || !recs[0].Stream || !strings.Contains(recs[0].Fault, "stall") {
		t.Fatalf("requests %+v, %d attempts", recs, st.antN.n.Load())
	}
	if len(chunks) < 2 || answer.Content == "" || answer.Extra[reboundeino.ExtraModel] != "anthropic/claude-haiku-4-5" || s.lookups != 2 {
		t.Fatalf("answer %+v in %d chunks; lookup_order ran %d times", answer, len(chunks), s.lookups-1)
	}
}
