package mcptool_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/agent"
	"github.com/rebound-go/rebound/agent/mcptool"
	"github.com/rebound-go/rebound/retry"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func effects(s *mcptool.Server) map[string]agent.Effect {
	m := map[string]agent.Effect{}
	for _, t := range s.Tools() {
		m[t.Name] = t.Effect
	}
	return m
}

func TestEffectsFollowTrustNotTheServer(t *testing.T) {
	c := &counts{}
	untrusted := connect(t, mcptool.Config{Name: "shop", Transport: memory(c)})
	for name, e := range effects(untrusted) {
		if e != agent.Irreversible {
			t.Errorf("untrusted %s: effect %s, want irreversible", name, e)
		}
	}
	trusted := connect(t, mcptool.Config{Name: "shop", Transport: memory(c), Trusted: true, Prefix: "shop_",
		Effects: map[string]agent.Effect{"delete_all_orders": agent.Irreversible}})
	want := map[string]agent.Effect{
		"shop_lookup_order": agent.ReadOnly, "shop_set_address": agent.Idempotent, "shop_refund": agent.Irreversible,
		"shop_find_order": agent.ReadOnly, "shop_slow_report": agent.ReadOnly, "shop_stock_once": agent.ReadOnly,
		"shop_delete_all_orders": agent.Irreversible, // the operator's override wins over the hint
	}
	got := effects(trusted)
	for name, e := range want {
		if got[name] != e {
			t.Errorf("trusted %s: effect %s, want %s", name, got[name], e)
		}
	}
	if len(got) != len(want) {
		t.Errorf("tools %v, want %v", got, want)
	}
	for _, tl := range trusted.Tools() {
		if tl.Breaker != trusted.Breaker() {
			t.Errorf("%s: not the server's breaker", tl.Name)
		}
	}
	if name := trusted.Breaker().Name(); name != "mcp/shop" {
		t.Errorf("breaker %q", name)
	}
}

func TestUntrustedLiarNeedsApproval(t *testing.T) {
	c := &counts{}
	srv := connect(t, mcptool.Config{Name: "shop", Transport: memory(c)})
	h := newHarness(t, srv, calls("delete_all_orders", `{"order_id":"1042"}`))
	_, err := h.run()
	h.escalated(err, rebound.ReasonIrreversibleAction)
	if n := c.get("delete_all_orders"); n != 0 {
		t.Fatalf("the tool ran %d times before approval", n)
	}
	// The same server, trusted, would have been believed: this is the operator's choice.
	c2 := &counts{}
	trusted := connect(t, mcptool.Config{Name: "shop", Transport: memory(c2), Trusted: true})
	res, err := newHarness(t, trusted, calls("delete_all_orders", `{"order_id":"1042"}`)).run()
	if err != nil || res.Calls[0].Content != "deleted" || c2.get("delete_all_orders") != 1 {
		t.Fatalf("trusted: %v %+v", err, res)
	}
}

func TestIsErrorIsAnErrorResult(t *testing.T) {
	c := &counts{}
	srv := connect(t, mcptool.Config{Name: "shop", Transport: memory(c), Trusted: true})
	model := calls("find_order", `{"order_id":"77"}`)
	res, err := newHarness(t, srv, model).run()
	if err != nil {
		t.Fatal(err)
	}
	o := res.Calls[0]
	if !o.IsError || o.Class != "invalid" || !strings.Contains(o.Content, "order 77 not found") {
		t.Fatalf("outcome %+v", o)
	}
	if n := c.get("find_order"); n != 1 {
		t.Fatalf("ran %d times, want 1 (a tool's own error is not retried)", n)
	}
	last := model.Last().Messages
	rs := last[len(last)-1].ToolResultBlocks()
	if len(rs) != 1 || !rs[0].IsError {
		t.Fatalf("the model was sent %+v", rs)
	}
	if srv.Breaker().State().String() != "closed" {
		t.Fatalf("breaker %s after a tool error", srv.Breaker().State())
	}
}

func TestBadArgumentsAndUnknownTool(t *testing.T) {
	c := &counts{}
	var live *mcp.Server
	srv := connect(t, mcptool.Config{Name: "shop", Trusted: true, Transport: func(ctx context.Context) (mcp.Transport, error) {
		st, ct := mcp.NewInMemoryTransports()
		live = newTestServer(c, "")
		_, err := live.Connect(ctx, st, nil)
		return ct, err
	}})
	// Arguments the server's input schema refuses are refused by the agent before the call.
	res, err := newHarness(t, srv, calls("lookup_order", `{"order_id":1042}`)).run()
	if err != nil || !res.Calls[0].IsError || res.Calls[0].Class != agent.ClassInvalidInput || c.get("lookup_order") != 0 {
		t.Fatalf("bad arguments: %v %+v", err, res)
	}
	// The server drops a tool after it was listed: the call is refused (not in doubt, even for an
	// irreversible tool), and the model is told.
	live.RemoveTools("refund")
	h := newHarness(t, srv, calls("refund", `{"order_id":"1042"}`))
	_, err = h.run()
	id := h.escalated(err, rebound.ReasonIrreversibleAction)
	h.esc.Decide(id, rebound.Decision{Action: rebound.ActionApprove, By: "ana"})
	res, err = h.run()
	if err != nil {
		t.Fatalf("unknown tool: %v", err)
	}
	if o := res.Calls[0]; !o.IsError || o.Class != "invalid" || !strings.Contains(o.Error, "refund") {
		t.Fatalf("unknown tool: %+v", o)
	}
}

func TestSlowToolTimesOut(t *testing.T) {
	c := &counts{}
	srv := connect(t, mcptool.Config{Name: "shop", Transport: memory(c), Trusted: true,
		Timeout: 50 * time.Millisecond, Retry: retry.Policy{MaxAttempts: 2, Base: time.Millisecond}})
	res, err := newHarness(t, srv, calls("slow_report", `{"order_id":"1"}`)).run()
	if err != nil {
		t.Fatal(err)
	}
	if o := res.Calls[0]; !o.IsError || c.get("slow_report") != 2 {
		t.Fatalf("outcome %+v after %d calls", o, c.get("slow_report"))
	}
	// The session survives a call's timeout.
	res, err = newHarness(t, srv, calls("lookup_order", `{"order_id":"1"}`)).run()
	if err != nil || res.Calls[0].Content != "order 1: shipped" || srv.Connections() != 1 {
		t.Fatalf("after the timeout: %v %+v, %d connections", err, res, srv.Connections())
	}
}

// A stdio server that crashes in the middle of a read-only call is started again and the call
// is retried; one that crashes in the middle of an irreversible call leaves it in doubt.
func TestStdioCrashMidCall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	t.Run("read-only: restarted and retried", func(t *testing.T) {
		srv := connect(t, mcptool.Config{Name: "shop", Trusted: true, Command: subprocess(filepath.Join(t.TempDir(), "marker")),
			Retry: retry.Policy{Base: 10 * time.Millisecond}})
		res, err := newHarness(t, srv, calls("stock_once", `{"order_id":"1"}`)).run()
		if err != nil {
			t.Fatal(err)
		}
		if o := res.Calls[0]; o.IsError || o.Content != "12 in stock" {
			t.Fatalf("outcome %+v", o)
		}
		if n := srv.Connections(); n != 2 {
			t.Fatalf("%d connections, want 2 (one restart)", n)
		}
	})
	t.Run("irreversible: in doubt", func(t *testing.T) {
		srv := connect(t, mcptool.Config{Name: "shop", Trusted: true, Command: subprocess(filepath.Join(t.TempDir(), "marker")),
			Retry: retry.Policy{Base: 10 * time.Millisecond}})
		h := newHarness(t, srv, calls("refund", `{"order_id":"1042"}`))
		_, err := h.run()
		id := h.escalated(err, rebound.ReasonIrreversibleAction)
		h.esc.Decide(id, rebound.Decision{Action: rebound.ActionApprove, By: "ana"})
		_, err = h.run()
		h.escalated(err, rebound.ReasonAmbiguousState)
		if n := srv.Connections(); n != 1 {
			t.Fatalf("%d connections: the irreversible call was retried", n)
		}
	})
}

func TestStreamableHTTP(t *testing.T) {
	c := &counts{}
	ts := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return newTestServer(c, "") }, nil))
	t.Cleanup(ts.Close) // after the client's Close (cleanups run last first): its GET stream ends first
	srv := connect(t, mcptool.Config{Name: "shop", URL: ts.URL, HTTPClient: ts.Client(), Trusted: true})
	res, err := newHarness(t, srv, calls("lookup_order", `{"order_id":"9"}`)).run()
	if err != nil || res.Calls[0].Content != "order 9: shipped" {
		t.Fatalf("%v %+v", err, res)
	}
}

func TestConfigErrors(t *testing.T) {
	ctx := context.Background()
	for _, c := range []mcptool.Config{
		{},
		{Name: "x"},
		{Name: "x", URL: "http://127.0.0.1:1", Transport: memory(&counts{})},
	} {
		if _, err := mcptool.Connect(ctx, c); err == nil || !strings.Contains(err.Error(), "mcptool") {
			t.Errorf("%+v: %v", c, err)
		}
	}
	_, err := mcptool.Connect(ctx, mcptool.Config{Name: "gone", URL: "http://127.0.0.1:1/mcp",
		Reconnect: retry.Policy{MaxAttempts: 2, Base: time.Millisecond}})
	if err == nil || !strings.Contains(err.Error(), `"gone"`) {
		t.Fatalf("unreachable server: %v", err)
	}
}
