package reboundeino_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudwego/eino/components/model"
	"github.com/cloudwego/eino/components/tool"
	"github.com/cloudwego/eino/components/tool/utils"
	"github.com/cloudwego/eino/compose"
	"github.com/cloudwego/eino/schema"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/agent"
	"github.com/rebound-go/rebound/checkpoint"
	reboundeino "github.com/rebound-go/rebound/contrib/eino"
	"github.com/rebound-go/rebound/llm"
)

// recorder is an llm.Model that keeps the requests and answers with resp.
type recorder struct {
	mu   sync.Mutex
	reqs []llm.Request
	resp llm.Response
}

func (r *recorder) Name() string       { return "test/recorder" }
func (r *recorder) ContextWindow() int { return 0 }
func (r *recorder) Generate(_ context.Context, req llm.Request) (*llm.Response, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, req)
	resp := r.resp
	return &resp, nil
}
func (r *recorder) Stream(ctx context.Context, req llm.Request, onDelta func(llm.Delta)) (*llm.Response, error) {
	onDelta(llm.Delta{Text: "par"})
	onDelta(llm.Delta{Restart: true})
	onDelta(llm.Delta{Text: "part"})
	return r.Generate(ctx, req)
}

func TestConversation(t *testing.T) {
	rec := &recorder{resp: llm.Response{Text: "ok", StopReason: llm.StopEndTurn, Usage: llm.Usage{InputTokens: 10, OutputTokens: 2},
		Provenance: llm.Provenance{Model: "test/recorder"}}}
	base := reboundeino.NewModel(rec)
	info := &schema.ToolInfo{Name: "lookup_order", Desc: "Look an order up.", ParamsOneOf: schema.NewParamsOneOfByParams(map[string]*schema.ParameterInfo{
		"order_id": {Type: schema.String, Required: true},
	})}
	bound, err := base.WithTools([]*schema.ToolInfo{info})
	if err != nil {
		t.Fatal(err)
	}
	in := []*schema.Message{
		schema.SystemMessage("Be brief."),
		schema.UserMessage("Where are orders 1 and 2?"),
		{Role: schema.Assistant, Content: "Looking.", ToolCalls: []schema.ToolCall{
			{ID: "c1", Type: "function", Function: schema.FunctionCall{Name: "lookup_order", Arguments: `{"order_id":"1"}`}},
			{ID: "c2", Type: "function", Function: schema.FunctionCall{Name: "lookup_order", Arguments: ``}},
		}},
		schema.ToolMessage("order 1: shipped", "c1"),
		schema.ToolMessage("Error: tool lookup_order failed: not found", "c2"),
	}
	out, err := bound.Generate(context.Background(), in, model.WithToolChoice(schema.ToolChoiceForced, "lookup_order"),
		model.WithTemperature(0.5), model.WithMaxTokens(99), model.WithStop([]string{"END"}))
	if err != nil {
		t.Fatal(err)
	}
	req := rec.reqs[0]
	if req.System != "Be brief." || len(req.Messages) != 3 || req.MaxTokens != 99 || *req.Temperature != 0.5 ||
		req.StopSequences[0] != "END" || req.ToolChoice != (llm.ToolChoice{Mode: llm.ToolChoiceTool, Name: "lookup_order"}) {
		t.Fatalf("request %+v", req)
	}
	if len(req.Tools) != 1 || req.Tools[0].Name != "lookup_order" || !strings.Contains(string(req.Tools[0].InputSchema), `"order_id"`) {
		t.Fatalf("tools %+v", req.Tools)
	}
	calls := req.Messages[1].ToolCalls()
	if len(calls) != 2 || calls[0].ID != "c1" || string(calls[1].Input) != "{}" || req.Messages[1].Text() != "Looking." {
		t.Fatalf("assistant turn %+v", req.Messages[1])
	}
	rs := req.Messages[2].ToolResultBlocks()
	if len(rs) != 2 || rs[0].IsError || !rs[1].IsError || rs[1].CallID != "c2" {
		t.Fatalf("one message of both results, the second failed: %+v", req.Messages[2])
	}
	if out.Content != "ok" || out.ResponseMeta.Usage.TotalTokens != 12 || out.ResponseMeta.FinishReason != "end_turn" ||
		out.Extra[reboundeino.ExtraModel] != "test/recorder" {
		t.Fatalf("answer %+v", out)
	}
	// WithTools made a new model: the base has none.
	if _, err := base.Generate(context.Background(), in[:2]); err != nil || len(rec.reqs[1].Tools) != 0 {
		t.Fatalf("base model: %v, tools %v", err, rec.reqs[1].Tools)
	}
	// Tool calls that are not JSON are refused before any request, class invalid.
	bad := []*schema.Message{{Role: schema.Assistant, ToolCalls: []schema.ToolCall{{ID: "x", Function: schema.FunctionCall{Name: "f", Arguments: "{"}}}}}
	if _, err := base.Generate(context.Background(), bad); classOf(err) != rebound.ClassInvalid || len(rec.reqs) != 2 {
		t.Fatalf("bad arguments: %v", err)
	}
}

func TestStreamRestart(t *testing.T) {
	rec := &recorder{resp: llm.Response{Text: "part", Blocks: []rebound.Block{rebound.Text("part"),
		rebound.ToolUse("c1", "lookup_order", json.RawMessage(`{"order_id":"1"}`))}, StopReason: llm.StopToolUse}}
	restarts := 0
	m := reboundeino.NewModelWith(rec, reboundeino.Config{OnRestart: func(context.Context) { restarts++ }})
	sr, err := m.Stream(context.Background(), []*schema.Message{schema.UserMessage("hi")})
	if err != nil {
		t.Fatal(err)
	}
	calls, err := reboundeino.StreamToolCallChecker(context.Background(), sr)
	if err != nil || !calls || restarts != 1 {
		t.Fatalf("calls %v, err %v, restarts %d", calls, err, restarts)
	}
}

// The tools node: an unknown tool and arguments that do not match the schema are error results;
// an irreversible call that times out is in doubt and ends the run with an escalation naming it.
func TestToolsNodeFailures(t *testing.T) {
	ctx := context.Background()
	slow, err := utils.InferTool("refund_order", "Refund an order.", func(ctx context.Context, in orderIn) (string, error) {
		<-ctx.Done()
		return "", ctx.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	tc, err := reboundeino.ToolsConfig(ctx, reboundeino.Tools{Tools: []tool.BaseTool{slow}, Timeout: 20 * time.Millisecond,
		Effects: map[string]agent.Effect{"refund_order": agent.Irreversible}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := tc.UnknownToolsHandler(ctx, "cancel_order", `{}`)
	if err != nil || !strings.HasPrefix(got, "Error:") || !strings.Contains(got, "refund_order") {
		t.Fatalf("unknown tool: %q %v", got, err)
	}
	node, err := compose.NewToolNode(ctx, &tc)
	if err != nil {
		t.Fatal(err)
	}
	call := func(args string) ([]*schema.Message, error) {
		return node.Invoke(ctx, &schema.Message{Role: schema.Assistant, ToolCalls: []schema.ToolCall{
			{ID: "c1", Type: "function", Function: schema.FunctionCall{Name: "refund_order", Arguments: args}}}})
	}
	out, err := call(`{"order_id":42}`)
	if err != nil || len(out) != 1 || !strings.HasPrefix(out[0].Content, "Error:") || !strings.Contains(out[0].Content, "order_id") {
		t.Fatalf("bad arguments: %v %+v", err, out)
	}
	_, err = call(`{"order_id":"42"}`)
	var esc *checkpoint.EscalateError
	if !errors.As(err, &esc) || esc.Reason != rebound.ReasonAmbiguousState {
		t.Fatalf("irreversible call in doubt: %v", err)
	}
	if _, err := reboundeino.ToolsConfig(ctx, reboundeino.Tools{Tools: []tool.BaseTool{slow}, Effects: map[string]agent.Effect{"refund": agent.ReadOnly}}); err == nil {
		t.Fatal("an effect for a tool that is not there was accepted")
	}
}

func classOf(err error) rebound.Class {
	c, _ := rebound.Classify(err)
	return c
}
