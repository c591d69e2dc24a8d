package fleetredis_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/redis/go-redis/v9"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
	"github.com/rebound-go/rebound/fakellm"
	fleetredis "github.com/rebound-go/rebound/fleet/redis"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/anthropicllm"
	"github.com/rebound-go/rebound/retry"
)

// fleetModel is one process's llm.Resilient model whose breaker is the fleet's: its own Redis
// client, Evidence, breaker.Set and Guards, calling the fake server srv.
type fleetModel struct {
	m      *llm.ResilientModel
	guards *fleetredis.Guards
}

func newFleetModel(t *testing.T, client redis.Scripter, cfg fleetredis.EvidenceConfig, s breaker.Settings, srv *fakellm.Server) *fleetModel {
	t.Helper()
	set, err := breaker.NewSet(breaker.SetConfig{Settings: s})
	if err != nil {
		t.Fatal(err)
	}
	guards := fleetredis.NewEvidence(client, cfg).Guards(set)
	ac := anthropic.NewClient(option.WithAPIKey("sk-ant-fleet"), option.WithBaseURL(srv.AnthropicBaseURL))
	m, err := llm.Resilient(anthropicllm.New(ac, "claude-haiku-4-5"), llm.Config{
		Breakers:   set,
		BreakerFor: guards.BreakerFor,
		Retry:      retry.Policy{MaxAttempts: 1}, // one attempt per call: the test counts requests
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fleetModel{m: m, guards: guards}
}

func (f *fleetModel) call(ctx context.Context) error {
	_, err := f.m.Generate(ctx, llm.Request{Messages: []llm.Message{llm.User("hello")}, MaxTokens: 16})
	return err
}

func (f *fleetModel) forced() bool { return f.guards.Get(f.m.Name()).Forced() }

// TestResilientFleetBreaker: three processes (each its own Redis client, Evidence and
// breaker.Set) call one model through llm.Resilient with the fleet's Guards as BreakerFor.
// Processes 0 and 1 reach the model through a path that fails (a fake answering 529); process 2
// through a healthy one, and has been served often enough that failures are a small share of
// the fleet's window.
//
//   - Process 0 failing alone opens only its own breaker: process 2 is still served (quorum 2).
//   - Process 1 pays one request: process 0's open breaker makes the model suspect, and its first
//     failure trips its breaker, which casts no vote. When its first probe fails too (its own
//     evidence: two processes' breakers, the quorum), process 2's next call after CheckEvery is
//     refused without a request, its breaker forced open by the fleet.
//   - While processes 0 and 1 are half-open, sixteen concurrent calls from both send one probe
//     fleet-wide.
//   - When the failing path recovers, one process's probes close its breaker and the others
//     close theirs at their next look, without a probe of their own.
func TestResilientFleetBreaker(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := t.Context()
	down := fakellm.NewServer(t, "error 529\n")
	up := fakellm.NewServer(t, "")
	cfg := fleetredis.EvidenceConfig{Name: prefix, CheckEvery: 20 * time.Millisecond, ProbeEvery: time.Second, OnError: failOnError(t)}
	s := breaker.Settings{OpenFor: 100 * time.Millisecond, Jitter: -1}
	ps := []*fleetModel{
		newFleetModel(t, newClient(t, c), cfg, s, down),
		newFleetModel(t, newClient(t, c), cfg, s, down),
		newFleetModel(t, newClient(t, c), cfg, s, up),
	}

	// Process 2 has been served 40 times: the fleet's window is mostly successes, which the
	// failure share of the window would let hide the outage; the quorum of breakers does not.
	for range 40 {
		if err := ps[2].call(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		if err := ps[0].call(ctx); err == nil {
			t.Fatal("a call through the failing path succeeded")
		}
	}
	if st := ps[0].m.Breaker().State(); st != breaker.Open {
		t.Fatalf("process 0 after 5 failures: breaker %v, want open", st)
	}
	time.Sleep(2 * cfg.CheckEvery)
	if err := ps[2].call(ctx); err != nil {
		t.Fatalf("one process failing alone opened the fleet: process 2's call = %v", err)
	}

	ps[1].call(ctx)
	if n := down.Counters().Requests; n != 6 || ps[1].m.Breaker().State() == breaker.Closed {
		t.Fatalf("process 1 after process 0's opening: %d requests in all, breaker %v; want 6 (its one), open", n, ps[1].m.Breaker().State())
	}
	time.Sleep(2 * cfg.CheckEvery)
	if err := ps[2].call(ctx); err != nil {
		t.Fatalf("an opening on suspicion opened the fleet: process 2's call = %v", err)
	}
	time.Sleep(s.OpenFor + 20*time.Millisecond)
	if err := ps[1].call(ctx); !errors.Is(err, rebound.ErrCircuitOpen) || down.Counters().Requests != 7 {
		t.Fatalf("process 1's probe = %v after %d requests; want it sent and failed", err, down.Counters().Requests)
	}
	time.Sleep(2 * cfg.CheckEvery)
	before := up.Counters().Requests
	err := ps[2].call(ctx)
	if !errors.Is(err, rebound.ErrCircuitOpen) || !ps[2].forced() {
		t.Fatalf("two processes failing: process 2's call = %v (forced %v); want refused by the fleet", err, ps[2].forced())
	}
	if n := up.Counters().Requests - before; n != 0 {
		t.Fatalf("process 2 sent %d requests after the fleet opened its breaker", n)
	}

	// Half-open in processes 0 and 1: one probe fleet-wide, whatever the number of callers.
	time.Sleep(s.OpenFor + 20*time.Millisecond)
	before = down.Counters().Requests
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() { ps[i%2].call(ctx) })
	}
	wg.Wait()
	if n := down.Counters().Requests - before; n != 1 {
		t.Fatalf("16 calls from two half-open processes sent %d requests, want 1 probe fleet-wide", n)
	}

	// The path recovers. Once the probe slot has expired, the next half-open process probes; its
	// probes close its breaker and the fleet's news of the recovery closes the others'.
	if err := down.SetScript(""); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	closed := func(p *fleetModel) bool { return p.m.Breaker().State() == breaker.Closed }
	for !closed(ps[0]) && !closed(ps[1]) {
		if time.Now().After(deadline) {
			t.Fatalf("no process closed its breaker within 5 s of the recovery: %v, %v", ps[0].m.Breaker().State(), ps[1].m.Breaker().State())
		}
		ps[0].call(ctx)
		ps[1].call(ctx)
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(2 * cfg.CheckEvery)
	for i, p := range ps {
		if err := p.call(ctx); err != nil {
			t.Errorf("process %d after the recovery: %v, want served", i, err)
		}
		if !closed(p) {
			t.Errorf("process %d's breaker is %v after the recovery, want closed", i, p.m.Breaker().State())
		}
	}
}

// TestResilientFleetBreakerRedisDown: with Redis unreachable, llm.Resilient's fleet breaker is
// the local breaker: it opens after its own 5 failures, refuses without a request while open,
// sends one probe once half-open however many calls arrive, and is never unlimited.
func TestResilientFleetBreakerRedisDown(t *testing.T) {
	var errs errorLog
	down := fakellm.NewServer(t, "error 529\n")
	s := breaker.Settings{OpenFor: 100 * time.Millisecond, Jitter: -1}
	p := newFleetModel(t, downRedis(t), fleetredis.EvidenceConfig{OnError: errs.add}, s, down)
	ctx := t.Context()
	for range 5 {
		p.call(ctx)
	}
	if n := down.Counters().Requests; n != 5 {
		t.Fatalf("5 calls sent %d requests", n)
	}
	for range 20 {
		if err := p.call(ctx); !errors.Is(err, rebound.ErrCircuitOpen) {
			t.Fatalf("open breaker with Redis down: call = %v, want refused", err)
		}
	}
	if n := down.Counters().Requests; n != 5 {
		t.Fatalf("open breaker with Redis down let %d requests through", n-5)
	}
	time.Sleep(s.OpenFor + 20*time.Millisecond)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() { p.call(ctx) })
	}
	wg.Wait()
	if n := down.Counters().Requests - 5; n != 1 {
		t.Fatalf("half-open with Redis down: 16 calls sent %d requests, want 1 probe", n)
	}
	if len(errs.all()) == 0 {
		t.Error("OnError heard nothing of Redis being down")
	}
}
