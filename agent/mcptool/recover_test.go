package mcptool_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/agent"
	"github.com/rebound-go/rebound/agent/mcptool"
	"github.com/rebound-go/rebound/breaker"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/checkpoint/checkpointtest"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/llmtest"
	"github.com/rebound-go/rebound/retry"
)

// httpServer is a streamable HTTP MCP server at a fixed address that can go away and come
// back. Each time it comes back it is a new server (a new incarnation, with no memory of the
// old sessions, as after a restart), with its own counts.
type httpServer struct {
	t    *testing.T
	addr string
	hold *hold

	mu    sync.Mutex
	srv   *http.Server
	mcp   *mcp.Server
	lives []*counts // the counts of each incarnation
}

// hold makes the next call of a *_hold tool block until the server goes away (once per
// httpServer): the call is in flight when it dies.
type hold struct {
	armed   atomic.Bool
	entered chan string   // the held call's tool
	release chan struct{} // closed when the test is done with the held call
	once    sync.Once
}

func newHold() *hold {
	return &hold{entered: make(chan string, 1), release: make(chan struct{})}
}

func (h *hold) done() { h.once.Do(func() { close(h.release) }) }

func newHTTPServer(t *testing.T) *httpServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &httpServer{t: t, addr: l.Addr().String(), hold: newHold()}
	h.serve(l)
	t.Cleanup(func() {
		h.hold.done()
		h.down()
	})
	return h
}

func (h *httpServer) url() string { return "http://" + h.addr + "/mcp" }

// life returns the counts of incarnation n (0 is the first).
func (h *httpServer) life(n int) *counts {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n >= len(h.lives) {
		return &counts{}
	}
	return h.lives[n]
}

func (h *httpServer) serve(l net.Listener) {
	c := &counts{}
	s := newTestServer(c, "")
	hold := h.hold
	held := func(name, answer string, ann *mcp.ToolAnnotations) {
		mcp.AddTool(s, &mcp.Tool{Name: name, Description: "A tool whose call can be held in flight.", Annotations: ann},
			func(ctx context.Context, _ *mcp.CallToolRequest, in orderIn) (*mcp.CallToolResult, any, error) {
				c.add(name)
				if hold.armed.CompareAndSwap(true, false) {
					hold.entered <- name
					select {
					case <-ctx.Done():
					case <-hold.release:
					}
					return nil, nil, errors.New("the server went away")
				}
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: answer}}}, nil, nil
			})
	}
	held("stock_hold", "12 in stock", &mcp.ToolAnnotations{ReadOnlyHint: true})
	held("address_hold", "address set", &mcp.ToolAnnotations{IdempotentHint: true})
	held("charge_hold", "charged", nil)
	srv := &http.Server{Handler: mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil)}
	h.mu.Lock()
	h.srv, h.mcp = srv, s
	h.lives = append(h.lives, c)
	h.mu.Unlock()
	go func() { _ = srv.Serve(l) }()
}

// down makes the server go away: its listener, every connection and every session are closed
// (what the process held dies with it).
func (h *httpServer) down() {
	h.mu.Lock()
	srv, ms := h.srv, h.mcp
	h.srv, h.mcp = nil, nil
	h.mu.Unlock()
	if srv == nil {
		return
	}
	_ = srv.Close()
	h.hold.done() // a call held in flight ends with its server
	for ss := range ms.Sessions() {
		_ = ss.Close()
	}
}

// up brings a new incarnation of the server back at the same address.
func (h *httpServer) up() {
	h.t.Helper()
	l, err := net.Listen("tcp", h.addr)
	if err != nil {
		h.t.Fatalf("listen again on %s: %v", h.addr, err)
	}
	h.serve(l)
}

// dialer counts the client's connection attempts, and those refused.
type dialer struct {
	attempts, refusedN atomic.Int64
	refused            chan struct{} // receives (without blocking) on every refused attempt
}

func newClient(t *testing.T) (*http.Client, *dialer) {
	d := &dialer{refused: make(chan struct{}, 1)}
	var nd net.Dialer
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		d.attempts.Add(1)
		c, err := nd.DialContext(ctx, network, addr)
		if err != nil {
			d.refusedN.Add(1)
			select {
			case d.refused <- struct{}{}:
			default:
			}
		}
		return c, err
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}, d
}

// run runs an agent with tools on a durable runner; again (same id) resumes it.
type runner struct {
	esc *checkpointtest.Escalator
	r   *checkpoint.Runner
	a   *agent.Agent
	id  string
}

func newRunner(t *testing.T, model llm.Model, tools ...[]agent.Tool) *runner {
	t.Helper()
	var all []agent.Tool
	for _, ts := range tools {
		all = append(all, ts...)
	}
	a, err := agent.New(agent.Config{Model: model, Tools: all})
	if err != nil {
		t.Fatal(err)
	}
	esc := &checkpointtest.Escalator{}
	return &runner{esc: esc, a: a, id: fmt.Sprintf("run-%d", runs.Add(1)),
		r: checkpoint.NewRunner(checkpoint.NewMemoryStore(), checkpoint.Config{Escalations: esc})}
}

func (r *runner) run() (*agent.Result, error) {
	var res *agent.Result
	err := r.r.Run(context.Background(), r.id, func(ctx context.Context, run *checkpoint.Run) error {
		x, err := r.a.Run(ctx, run, rebound.User("help with order 1042"))
		res = x
		return err
	})
	return res, err
}

type ran struct {
	res *agent.Result
	err error
}

// inFlightDeath starts run, waits for its call to be held on the server, makes the server go
// away, waits until the client has found it away (a refused connection) or the run has ended
// without trying it again, brings the server back, and returns what the run came to.
func inFlightDeath(t *testing.T, hs *httpServer, d *dialer, run func() (*agent.Result, error)) (*agent.Result, error) {
	t.Helper()
	hs.hold.armed.Store(true)
	done := make(chan ran, 1)
	go func() {
		res, err := run()
		done <- ran{res, err}
	}()
	select {
	case <-hs.hold.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the call never reached the server")
	}
	hs.down()
	var r ran
	ended := false
	select {
	case <-d.refused:
	case r = <-done:
		ended = true
	case <-time.After(10 * time.Second):
		t.Fatal("the client neither tried the server while it was away nor ended the run")
	}
	hs.up()
	if !ended {
		select {
		case r = <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("the run did not end after the server came back")
		}
	}
	return r.res, r.err
}

// A streamable HTTP server goes away while a call is in flight and comes back (a new
// incarnation at the same address): the call is in doubt, decided by its effect. A read-only
// or idempotent call runs again on a new connection to the server that came back; an
// irreversible one escalates ambiguous_state and does not run again.
func TestStreamableHTTPReconnect(t *testing.T) {
	for _, tc := range []struct {
		tool, effect string
		retried      bool
	}{
		{"stock_hold", "read_only", true},
		{"address_hold", "idempotent", true},
		{"charge_hold", "irreversible", false},
	} {
		t.Run(tc.effect, func(t *testing.T) {
			hs := newHTTPServer(t)
			client, d := newClient(t)
			srv := connect(t, mcptool.Config{Name: "shop", URL: hs.url(), HTTPClient: client, Trusted: true,
				Retry: retry.Policy{Base: 10 * time.Millisecond}, Reconnect: retry.Policy{MaxAttempts: 5, Base: 20 * time.Millisecond, Cap: 100 * time.Millisecond}})
			r := newRunner(t, calls(tc.tool, `{"order_id":"1042"}`), srv.Tools())
			if !tc.retried {
				// An irreversible tool needs approval first.
				_, err := r.run()
				id := escalation(t, err, rebound.ReasonIrreversibleAction)
				r.esc.Decide(id, rebound.Decision{Action: rebound.ActionApprove, By: "ana"})
			}
			res, err := inFlightDeath(t, hs, d, r.run)
			first, second := hs.life(0).get(tc.tool), hs.life(1).get(tc.tool)
			t.Logf("%s: ran %d time(s) on the server that died, %d on the one that came back; %d connections; %d of %d dials refused",
				tc.effect, first, second, srv.Connections(), d.refusedN.Load(), d.attempts.Load())
			if first != 1 {
				t.Fatalf("ran %d times on the first server, want 1 (the call in flight)", first)
			}
			if tc.retried {
				if err != nil {
					t.Fatal(err)
				}
				o := res.Calls[0]
				if o.IsError || o.Content == "" || second != 1 || srv.Connections() != 2 {
					t.Fatalf("outcome %+v; ran %d times on the new server, %d connections; want the result from one run on a second connection", o, second, srv.Connections())
				}
				if o.Effect != tc.effect {
					t.Fatalf("effect %q", o.Effect)
				}
				return
			}
			escalation(t, err, rebound.ReasonAmbiguousState)
			if second != 0 || srv.Connections() != 1 {
				t.Fatalf("the irreversible call was retried: %d runs on the new server, %d connections", second, srv.Connections())
			}
			// The server that came back serves the next call, on a new connection.
			res, err = newRunner(t, calls("lookup_order", `{"order_id":"7"}`), srv.Tools()).run()
			if err != nil || res.Calls[0].Content != "order 7: shipped" || srv.Connections() != 2 {
				t.Fatalf("after the reconnection: %v %+v, %d connections", err, res, srv.Connections())
			}
		})
	}
}

func escalation(t *testing.T, err error, reason rebound.EscalationReason) string {
	t.Helper()
	var ee *checkpoint.EscalatedError
	if !errors.As(err, &ee) || ee.Reason != reason {
		t.Fatalf("got %v, want an escalation (%s)", err, reason)
	}
	return ee.EscalationID
}

// turn is a model turn calling tools, then an answer.
func turn(calls ...[2]string) *llmtest.Scripted {
	var bs []rebound.Block
	for i, c := range calls {
		bs = append(bs, rebound.ToolUse(fmt.Sprintf("call_%d", i+1), c[0], json.RawMessage(c[1])))
	}
	return &llmtest.Scripted{Script: []*llm.Response{
		{Blocks: bs, StopReason: llm.StopToolUse},
		{Text: "done", StopReason: llm.StopEndTurn},
	}}
}

// One breaker per server: a server that fails opens its breaker; then every tool of that server
// is refused at once with a classified error (no connection is attempted) while another
// server's tools, in the same agent and the same turn, still run; once the server is back and
// the open time has passed, a probe closes the breaker.
func TestBreakerPerServer(t *testing.T) {
	set, err := breaker.NewSet(breaker.SetConfig{Settings: breaker.Settings{
		ConsecutiveFailures: 3, OpenFor: 200 * time.Millisecond, Jitter: -1, SuccessesToClose: 1}})
	if err != nil {
		t.Fatal(err)
	}
	hs := newHTTPServer(t)
	client, d := newClient(t)
	shop := connect(t, mcptool.Config{Name: "shop", URL: hs.url(), HTTPClient: client, Trusted: true, Prefix: "shop_", Breakers: set,
		Retry: retry.Policy{MaxAttempts: 3, Base: 5 * time.Millisecond}, Reconnect: retry.Policy{MaxAttempts: 2, Base: 5 * time.Millisecond}})
	wc := &counts{}
	warehouse := connect(t, mcptool.Config{Name: "warehouse", Transport: memory(wc), Trusted: true, Prefix: "wh_", Breakers: set})
	if shop.Breaker() == warehouse.Breaker() || shop.Breaker() != set.Get("mcp/shop") {
		t.Fatal("the servers do not have a breaker each, from the set")
	}

	// The shop server fails: each call fails after Config.Reconnect's attempts (class transient,
	// one failure of the server for its breaker: the reconnection is the call's one retry
	// layer), whichever of the server's tools it calls; three open the breaker.
	hs.down()
	res, err := newRunner(t, turn([2]string{"shop_lookup_order", `{"order_id":"1"}`}, [2]string{"shop_stock_hold", `{"order_id":"1"}`},
		[2]string{"shop_lookup_order", `{"order_id":"2"}`}), shop.Tools(), warehouse.Tools()).run()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range res.Calls {
		t.Logf("failing server: %s: class %s", o.Tool, o.Class)
		if !o.IsError || o.Class != rebound.ClassTransient.String() && o.Class != agent.ClassUnavailable {
			t.Fatalf("outcome %+v", o)
		}
	}
	if s := shop.Breaker().State(); s != breaker.Open {
		t.Fatalf("breaker %s after three failed calls; want open", s)
	}

	// Open: another tool of the same server is refused without reaching for the server, and the
	// other server's tool, called in the same turn, runs.
	dials := d.attempts.Load()
	start := time.Now()
	res, err = newRunner(t, turn([2]string{"shop_set_address", `{"order_id":"1"}`}, [2]string{"wh_lookup_order", `{"order_id":"2"}`}),
		shop.Tools(), warehouse.Tools()).run()
	if err != nil {
		t.Fatal(err)
	}
	refusedIn := time.Since(start)
	o, w := res.Calls[0], res.Calls[1]
	t.Logf("open breaker: %s refused (class %s) with %d connection attempts, turn took %v; %s answered %q",
		o.Tool, o.Class, d.attempts.Load()-dials, refusedIn, w.Tool, w.Content)
	if !o.IsError || o.Class != agent.ClassUnavailable || !strings.Contains(o.Error, `circuit "mcp/shop" open`) {
		t.Fatalf("shop call while open: %+v", o)
	}
	if n := d.attempts.Load() - dials; n != 0 {
		t.Fatalf("%d connection attempts while the breaker was open", n)
	}
	if w.IsError || w.Content != "order 2: shipped" || wc.get("lookup_order") != 1 || warehouse.Breaker().State() != breaker.Closed {
		t.Fatalf("warehouse call: %+v, breaker %s", w, warehouse.Breaker().State())
	}

	// Recovery: the server comes back; after the open time the next call is the probe, it
	// succeeds on a new connection, and the breaker closes.
	hs.up()
	deadline := time.Now().Add(5 * time.Second)
	for shop.Breaker().State() != breaker.HalfOpen {
		if time.Now().After(deadline) {
			t.Fatalf("breaker %s 5 s after opening with OpenFor 200ms", shop.Breaker().State())
		}
		time.Sleep(10 * time.Millisecond)
	}
	res, err = newRunner(t, turn([2]string{"shop_set_address", `{"order_id":"1"}`}), shop.Tools()).run()
	if err != nil {
		t.Fatal(err)
	}
	if o := res.Calls[0]; o.IsError || o.Content != "address set" {
		t.Fatalf("probe: %+v", o)
	}
	if s := shop.Breaker().State(); s != breaker.Closed || hs.life(1).get("set_address") != 1 || shop.Connections() != 2 {
		t.Fatalf("after recovery: breaker %s, %d calls on the server that came back, %d connections", s, hs.life(1).get("set_address"), shop.Connections())
	}
}
