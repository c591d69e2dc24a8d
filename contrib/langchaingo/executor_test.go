package reboundlangchaingo_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	ooption "github.com/openai/openai-go/v3/option"
	"github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/callbacks"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/schema"
	"github.com/tmc/langchaingo/tools"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/agent"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/anthropicllm"
	"github.com/rebound-go/rebound/llm/llmtest"
	"github.com/rebound-go/rebound/llm/openaillm"
	"github.com/rebound-go/rebound/retry"

	reboundlangchaingo "github.com/rebound-go/rebound/contrib/langchaingo"
)

// flakyTool is a langchaingo tool that fails its first failures calls with err.
type flakyTool struct {
	name, desc string
	failures   int
	err        error
	answer     string

	mu     sync.Mutex
	inputs []string
}

func (f *flakyTool) Name() string        { return f.name }
func (f *flakyTool) Description() string { return f.desc }
func (f *flakyTool) Call(_ context.Context, input string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inputs = append(f.inputs, input)
	if len(f.inputs) <= f.failures {
		return "", f.err
	}
	return f.answer, nil
}

func (f *flakyTool) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.inputs)
}

// answers records every answer the model gives the executor, through langchaingo's callbacks.
type answers struct {
	callbacks.SimpleHandler
	mu    sync.Mutex
	resps []*llms.ContentResponse
	errs  []error
}

func (a *answers) HandleLLMGenerateContentEnd(_ context.Context, r *llms.ContentResponse) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.resps = append(a.resps, r)
}

func (a *answers) HandleLLMError(_ context.Context, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.errs = append(a.errs, err)
}

// chain is Anthropic (primary) and OpenAI (fallback), each in llm.Resilient with 2 attempts a
// call, over the two fakes.
func chain(t *testing.T, ant, oai *fakellm.Server, hook rebound.Hook) llm.Model {
	t.Helper()
	return llmtest.Chain(t, hook,
		anthropicllm.New(anthropic.NewClient(aoption.WithAPIKey("sk-ant-test"), aoption.WithBaseURL(ant.AnthropicBaseURL)), "claude-haiku-4-5"),
		openaillm.New(openai.NewClient(ooption.WithAPIKey("sk-test"), ooption.WithBaseURL(oai.OpenAIBaseURL)), "gpt-4o"))
}

// langchaingo's own agent loop (the OpenAI-functions agent and its executor) runs a support
// conversation through Rebound against fakellm: the first request gets a 429 with retry-after
// and is retried after the hint; Anthropic calls lookup_order, which fails once (a read-only
// tool, retried inside the call, the model never sees the failure); Anthropic is then
// overloaded (529 on both attempts) in the middle of the tool conversation, and OpenAI takes
// the turn, its answer marked degraded, and calls issue_refund with Anthropic's call and result
// translated; the last turn is Anthropic's again. Every attempt is one HTTP request (the SDKs
// never retry under Rebound), and every request is a valid conversation for its API.
func TestExecutorThroughFaults(t *testing.T) {
	ant := fakellm.NewServer(t, llmtest.ConversationPrimary)
	oai := fakellm.NewServer(t, llmtest.ConversationFallback)
	var evs llmtest.Events
	rec := &answers{}
	model := reboundlangchaingo.NewWith(chain(t, ant, oai, evs.Emit), reboundlangchaingo.Config{CallbacksHandler: rec})

	lookup := &flakyTool{name: "lookup_order", desc: "Look an order up by its number.", failures: 1,
		err: rebound.Transient(errors.New("orders service: connection reset")), answer: "order 1042: a kettle, 79.99, delivered broken"}
	refund := &flakyTool{name: "issue_refund", desc: "Refund an order.", answer: "refunded 79.99 on order 1042"}
	lookupTool := reboundlangchaingo.AgentTool(lookup, agent.ReadOnly)
	lookupTool.Retry = retry.Policy{Base: time.Millisecond, Cap: time.Millisecond}
	ts, err := agent.NewToolset(agent.ToolsetConfig{Hook: evs.Emit, Tools: []agent.Tool{
		lookupTool, reboundlangchaingo.AgentTool(refund, agent.Irreversible),
	}})
	if err != nil {
		t.Fatal(err)
	}

	a := agents.NewOpenAIFunctionsAgent(model, reboundlangchaingo.Tools(ts))
	exec := agents.NewExecutor(a, agents.WithReturnIntermediateSteps())
	out, err := exec.Call(context.Background(), map[string]any{"input": "Order 1042 arrived broken. I want my money back."})
	if err != nil {
		t.Fatalf("executor: %v", err)
	}
	if s, _ := out["output"].(string); !strings.HasPrefix(s, "[fakellm ") {
		t.Errorf("output %q", out["output"])
	}
	steps, _ := out["intermediateSteps"].([]schema.AgentStep)
	if len(steps) != 2 || steps[0].Action.Tool != "lookup_order" || steps[0].Observation != lookup.answer ||
		steps[1].Action.Tool != "issue_refund" || steps[1].Observation != refund.answer {
		t.Errorf("steps %+v", steps)
	}
	if lookup.calls() != 2 || refund.calls() != 1 {
		t.Errorf("lookup ran %d times (want 2: failed once, retried), refund %d (want 1)", lookup.calls(), refund.calls())
	}

	// One request per attempt: the fakes saw exactly the attempts Rebound made, none of them
	// an SDK retry; the 429's retry-after was honoured.
	llmtest.CheckConversation(t, ant, oai, &evs)

	// The fallback is marked: turn 2 was OpenAI's, degraded, after Anthropic's overload.
	if len(rec.resps) != 3 {
		t.Fatalf("%d answers", len(rec.resps))
	}
	var models []string
	for _, r := range rec.resps {
		p, ok := reboundlangchaingo.Provenance(r)
		if !ok {
			t.Fatalf("answer without provenance: %+v", r.Choices[0].GenerationInfo)
		}
		models = append(models, p.Model)
	}
	if !slices.Equal(models, []string{"anthropic/claude-haiku-4-5", "openai/gpt-4o", "anthropic/claude-haiku-4-5"}) {
		t.Errorf("models %v", models)
	}
	p, _ := reboundlangchaingo.Provenance(rec.resps[1])
	info := rec.resps[1].Choices[0].GenerationInfo
	if !p.Degraded || info[reboundlangchaingo.InfoDegraded] != true || len(p.Failures) != 1 ||
		p.Failures[0].Model != "anthropic/claude-haiku-4-5" || p.Failures[0].Class != rebound.ClassOverloaded {
		t.Errorf("turn 2 provenance %+v", p)
	}
	if fb := evs.Of(rebound.FallbackUsed); len(fb) != 1 || fb[0].To != "openai/gpt-4o" {
		t.Errorf("fallback events %+v", fb)
	}
	if tf := evs.Of(rebound.ToolFailed); len(tf) != 0 {
		t.Errorf("tool calls failed: %+v", tf)
	}
	if tc := evs.Of(rebound.ToolCompleted); len(tc) != 2 {
		t.Errorf("%d tool calls completed, want 2", len(tc))
	}
}

// Without Rebound's tools, the same tool failure ends langchaingo's run: the executor returns
// the tool's first error. Through Tools, an irreversible tool whose call is in doubt (a
// connection reset) is not run again either: the run stops with an escalation naming the call.
func TestExecutorToolFailures(t *testing.T) {
	script := "ok result=issue_refund\ntool-use name=issue_refund"
	newRefund := func() *flakyTool {
		return &flakyTool{name: "issue_refund", desc: "Refund an order.", failures: 1,
			err: rebound.Transient(errors.New("payments: connection reset")), answer: "refunded"}
	}
	input := map[string]any{"input": "Refund order 1042."}

	// langchaingo alone: the run ends on the tool's error.
	bare := newRefund()
	srv := fakellm.NewServer(t, script)
	lc := reboundlangchaingo.New(chain(t, srv, fakellm.NewServer(t, ""), nil))
	_, err := agents.NewExecutor(agents.NewOpenAIFunctionsAgent(lc, []tools.Tool{bare})).Call(context.Background(), input)
	if err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Errorf("bare executor: %v", err)
	}

	// Through Tools: irreversible and in doubt, it escalates and is not re-run.
	refund := newRefund()
	ts, err := agent.NewToolset(agent.ToolsetConfig{Tools: []agent.Tool{reboundlangchaingo.AgentTool(refund, agent.Irreversible)}})
	if err != nil {
		t.Fatal(err)
	}
	srv = fakellm.NewServer(t, script)
	lc = reboundlangchaingo.New(chain(t, srv, fakellm.NewServer(t, ""), nil))
	_, err = agents.NewExecutor(agents.NewOpenAIFunctionsAgent(lc, reboundlangchaingo.Tools(ts))).Call(context.Background(), input)
	var esc *checkpoint.EscalateError
	if !errors.As(err, &esc) || esc.Reason != rebound.ReasonAmbiguousState || refund.calls() != 1 {
		t.Errorf("irreversible in doubt: %v; ran %d times", err, refund.calls())
	}

	// Read-only, the same failure every time: retried, then an error result the model reads,
	// and the run completes.
	lookup := &flakyTool{name: "issue_refund", desc: "Refund an order.", failures: 100,
		err: rebound.Transient(errors.New("payments: connection reset"))}
	lt := reboundlangchaingo.AgentTool(lookup, agent.ReadOnly)
	lt.Retry = retry.Policy{MaxAttempts: 2, Base: time.Millisecond, Cap: time.Millisecond}
	ts, err = agent.NewToolset(agent.ToolsetConfig{Tools: []agent.Tool{lt}})
	if err != nil {
		t.Fatal(err)
	}
	srv = fakellm.NewServer(t, "ok result=issue_refund result-error=true\ntool-use name=issue_refund")
	lc = reboundlangchaingo.New(chain(t, srv, fakellm.NewServer(t, ""), nil))
	out, err := agents.NewExecutor(agents.NewOpenAIFunctionsAgent(lc, reboundlangchaingo.Tools(ts)),
		agents.WithReturnIntermediateSteps()).Call(context.Background(), input)
	steps, _ := out["intermediateSteps"].([]schema.AgentStep)
	if err != nil || len(steps) != 1 || !strings.HasPrefix(steps[0].Observation, "Error: tool issue_refund is unavailable") || lookup.calls() != 2 {
		t.Errorf("read-only failing: %v, steps %+v, ran %d times", err, steps, lookup.calls())
	}
	// The error result went to Anthropic as one (is_error): the script's result-error=true
	// rule answered it.
	if recs := llmtest.Log(srv, 2); len(recs) != 2 || !strings.HasPrefix(recs[1].Fault, "line 1:") {
		t.Errorf("requests %+v", recs)
	}
}
