package fleetredis_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
	fleetredis "github.com/rebound-go/rebound/fleet/redis"
	"github.com/rebound-go/rebound/pipeline"
)

const dependency = "anthropic/claude-sonnet-4-6"

var errDown = rebound.HTTPError(503, nil, time.Now())

func newBreaker(t testing.TB, s breaker.Settings) *breaker.Breaker {
	t.Helper()
	if s.Name == "" {
		s.Name = dependency
	}
	b, err := breaker.New(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEvidenceOutcome(t *testing.T) {
	ev := fleetredis.NewEvidence(downRedis(t), fleetredis.EvidenceConfig{})
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	for _, tt := range []struct {
		name string
		ctx  context.Context
		err  error
		want fleetredis.Outcome
	}{
		{"nil", t.Context(), nil, fleetredis.Success},
		{"503", t.Context(), errDown, fleetredis.Failure},
		{"529", t.Context(), rebound.HTTPError(529, nil, time.Now()), fleetredis.Failure},
		{"timeout", t.Context(), context.DeadlineExceeded, fleetredis.Failure},
		{"429", t.Context(), rebound.HTTPError(429, nil, time.Now()), fleetredis.Success},
		{"400", t.Context(), rebound.HTTPError(400, nil, time.Now()), fleetredis.Success},
		{"caller canceled", canceled, errDown, fleetredis.Neutral},
	} {
		if got := ev.Outcome(tt.ctx, tt.err); got != tt.want {
			t.Errorf("%s: Outcome = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestEvidenceFailing(t *testing.T) {
	ev := fleetredis.NewEvidence(downRedis(t), fleetredis.EvidenceConfig{MinProcesses: 1}) // the rate rule alone
	for _, tt := range []struct {
		c    fleetredis.Counts
		want bool
	}{
		{fleetredis.Counts{}, false},
		{fleetredis.Counts{Calls: 9, Failures: 9}, false}, // under MinCalls
		{fleetredis.Counts{Calls: 10, Failures: 5}, true},
		{fleetredis.Counts{Calls: 10, Failures: 4}, false},
		{fleetredis.Counts{Calls: 100, Failures: 60}, true},
	} {
		if got := ev.Failing(tt.c); got != tt.want {
			t.Errorf("Failing(%+v) = %v, want %v", tt.c, got, tt.want)
		}
	}
}

func TestEvidenceRecordSharedAndExpiring(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := t.Context()
	cfg := fleetredis.EvidenceConfig{Name: prefix, Window: 3 * time.Second, MinProcesses: 1}
	a := fleetredis.NewEvidence(c, cfg)
	b := fleetredis.NewEvidence(newClient(t, c), cfg)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			ev := a
			if g%2 == 1 {
				ev = b
			}
			for i := range 10 {
				if _, err := ev.Record(ctx, dependency, i < 3); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	got, err := b.Counts(ctx, dependency)
	if err != nil || got != (fleetredis.Counts{Calls: 80, Failures: 24}) {
		t.Fatalf("Counts = %+v, %v; want 80 calls, 24 failures", got, err)
	}
	if other, _ := a.Counts(ctx, "tool/search"); other != (fleetredis.Counts{}) {
		t.Fatalf("another dependency has counts %+v", other)
	}
	keys, _ := c.Keys(ctx, "{"+prefix+"}*").Result()
	for _, k := range keys {
		if ttl, err := c.TTL(ctx, k).Result(); err != nil || ttl <= 0 || ttl > 4*time.Second {
			t.Fatalf("key %s has TTL %v (%v), want within (0, 4s]", k, ttl, err)
		}
	}
	// Recovered forgets what was counted.
	rec, err := a.Recovered(ctx, dependency)
	if err != nil || rec.Recovered == 0 || rec != (fleetredis.Counts{Recovered: rec.Recovered}) {
		t.Fatalf("Recovered = %+v, %v; want empty counts and the second of the recovery", rec, err)
	}
	if got, _ := b.Counts(ctx, dependency); got != (fleetredis.Counts{Recovered: got.Recovered}) {
		t.Fatalf("Counts after recovery = %+v", got)
	}
}

// process is one process of the fleet: its own Redis connection, breaker and Guard.
type process struct {
	guard *fleetredis.Guard
	calls atomic.Int64 // calls that reached the dependency
}

func newProcess(t *testing.T, client redis.Scripter, cfg fleetredis.EvidenceConfig, s breaker.Settings) *process {
	return &process{guard: fleetredis.NewEvidence(client, cfg).Guard(newBreaker(t, s))}
}

func (p *process) call(ctx context.Context, err error) error {
	_, got := fleetredis.Do(ctx, p.guard, func(context.Context) (string, error) {
		p.calls.Add(1)
		return "", err
	})
	return got
}

func TestGuardFreshProcessOpensOnFleetEvidence(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := t.Context()
	// The quorum alone: without suspicion, the second process pays its breaker's 5 failures too
	// (see TestGuardSuspicion).
	cfg := fleetredis.EvidenceConfig{Name: prefix, IgnorePeers: true, OnError: failOnError(t)}
	a := newProcess(t, c, cfg, breaker.Settings{})
	b := newProcess(t, newClient(t, c), cfg, breaker.Settings{})
	// Two processes each pay their breaker's 5 failures; the fleet has seen 10.
	for _, p := range []*process{a, b} {
		for range 7 {
			p.call(ctx, errDown)
		}
		if p.calls.Load() != 5 || p.guard.Breaker().State() != breaker.Open {
			t.Fatalf("%d calls reached the dependency, breaker %v; want 5 and open", p.calls.Load(), p.guard.Breaker().State())
		}
	}
	// A fresh process pays nothing.
	fresh := newProcess(t, newClient(t, c), cfg, breaker.Settings{})
	err := fresh.call(ctx, errDown)
	var open *breaker.OpenError
	if !errors.As(err, &open) || !errors.Is(err, rebound.ErrCircuitOpen) {
		t.Fatalf("fresh process's call = %v, want the breaker's OpenError", err)
	}
	if fresh.calls.Load() != 0 || !fresh.guard.Forced() || fresh.guard.Breaker().State() != breaker.Open {
		t.Fatalf("fresh process: %d calls, forced %v, state %v; want none, forced open", fresh.calls.Load(), fresh.guard.Forced(), fresh.guard.Breaker().State())
	}
}

func TestGuardFleetRecovers(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := t.Context()
	cfg := fleetredis.EvidenceConfig{Name: prefix, CheckEvery: 10 * time.Millisecond, IgnorePeers: true, OnError: failOnError(t)}
	s := breaker.Settings{OpenFor: 50 * time.Millisecond}
	a := newProcess(t, c, cfg, s)
	b := newProcess(t, newClient(t, c), cfg, s)
	for _, p := range []*process{a, b} {
		for range 5 {
			p.call(ctx, errDown)
		}
	}
	fresh := newProcess(t, newClient(t, c), cfg, s)
	if err := fresh.call(ctx, nil); !errors.Is(err, rebound.ErrCircuitOpen) || !fresh.guard.Forced() {
		t.Fatalf("fresh process's call = %v, forced %v; want refused on the fleet's evidence", err, fresh.guard.Forced())
	}
	// The dependency is back. Process a's own breaker probes after its open time and closes
	// after two successes; it tells the fleet, and the fresh process's breaker is reset.
	deadline := time.Now().Add(5 * time.Second)
	for a.guard.Breaker().State() != breaker.Closed {
		if time.Now().After(deadline) {
			t.Fatalf("process a's breaker is %v 5 s after its 50 ms open time", a.guard.Breaker().State())
		}
		a.call(ctx, nil)
		time.Sleep(10 * time.Millisecond)
	}
	for fresh.call(ctx, nil) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("fresh process still refused after the fleet recovered (forced %v)", fresh.guard.Forced())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if fresh.guard.Forced() || fresh.calls.Load() != 1 {
		t.Fatalf("fresh process: forced %v, %d calls; want reset, 1 call", fresh.guard.Forced(), fresh.calls.Load())
	}
	// A success does not count as a recovery unless the breaker had opened.
	if got, _ := fleetredis.NewEvidence(c, cfg).Counts(ctx, dependency); got.Failures != 0 {
		t.Fatalf("fleet counts %+v after the recovery, want no failures", got)
	}
}

func TestGuardNeutralNotRecorded(t *testing.T) {
	c, prefix := testRedis(t)
	cfg := fleetredis.EvidenceConfig{Name: prefix, OnError: failOnError(t)}
	p := newProcess(t, c, cfg, breaker.Settings{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	p.call(ctx, context.Canceled)
	p.call(t.Context(), rebound.HTTPError(429, nil, time.Now()))
	got, err := fleetredis.NewEvidence(c, cfg).Counts(t.Context(), dependency)
	if err != nil || got != (fleetredis.Counts{Calls: 1}) {
		t.Fatalf("Counts = %+v, %v; want one success (the 429) and nothing for the cancelled call", got, err)
	}
}

func TestGuardRedisDownActsLocally(t *testing.T) {
	var log errorLog
	p := newProcess(t, downRedis(t), fleetredis.EvidenceConfig{Name: "down", OnError: log.add}, breaker.Settings{})
	ctx := t.Context()
	for range 7 {
		p.call(ctx, errDown)
	}
	if p.calls.Load() != 5 || p.guard.Breaker().State() != breaker.Open {
		t.Fatalf("%d calls, breaker %v; want the local breaker's 5 and open", p.calls.Load(), p.guard.Breaker().State())
	}
	errs := log.all()
	if len(errs) != 1 { // then Redis is left alone for CheckEvery
		t.Fatalf("OnError told of %d errors, want 1: %v", len(errs), errs)
	}
	if !strings.Contains(errs[0].Error(), "breaker evidence {down}") || !strings.Contains(errs[0].Error(), dependency) {
		t.Fatalf("error %q does not name the evidence and the dependency", errs[0])
	}
}

// TestGuardRedisLostResetsForced: a process whose breaker the fleet's evidence holds open
// loses Redis; its breaker is reset and decides alone.
func TestGuardRedisLostResetsForced(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := t.Context()
	for range 10 {
		fleetredis.NewEvidence(c, fleetredis.EvidenceConfig{Name: prefix}).Record(ctx, dependency, true)
	}
	lost := newClient(t, c)
	var log errorLog
	p := newProcess(t, lost, fleetredis.EvidenceConfig{Name: prefix, CheckEvery: 10 * time.Millisecond, OnError: log.add}, breaker.Settings{})
	if err := p.call(ctx, nil); !errors.Is(err, rebound.ErrCircuitOpen) || !p.guard.Forced() {
		t.Fatalf("call = %v, forced %v; want refused on the fleet's evidence", err, p.guard.Forced())
	}
	lost.Close()
	time.Sleep(20 * time.Millisecond) // real time, short setting: the view is older than CheckEvery
	if err := p.call(ctx, nil); err != nil || p.guard.Forced() {
		t.Fatalf("call with Redis lost = %v, forced %v; want the local breaker's decision (closed)", err, p.guard.Forced())
	}
	if len(log.all()) == 0 {
		t.Fatal("OnError was not told that Redis was lost")
	}
}

// BenchmarkGuardDo is one guarded call: an outcome recorded in Redis (one round trip).
func BenchmarkGuardDo(b *testing.B) {
	c, prefix := benchRedis(b)
	ctx := context.Background()
	g := fleetredis.NewEvidence(c, fleetredis.EvidenceConfig{Name: prefix, OnError: func(err error) { b.Fatal(err) }}).Guard(newBreaker(b, breaker.Settings{}))
	op := func(context.Context) (int, error) { return 1, nil }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := fleetredis.Do(ctx, g, op); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGuardAllow is the admission alone, on a view younger than CheckEvery: no round trip.
func BenchmarkGuardAllow(b *testing.B) {
	c, prefix := benchRedis(b)
	ctx := context.Background()
	g := fleetredis.NewEvidence(c, fleetredis.EvidenceConfig{Name: prefix, CheckEvery: time.Hour}).Guard(newBreaker(b, breaker.Settings{}))
	g.Allow(ctx) // reads the view once
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Allow(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEvidenceQuorum: with MinProcesses 2, one process's failures, however many, do not make
// the fleet failing; a second process's do.
func TestEvidenceQuorum(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := t.Context()
	cfg := fleetredis.EvidenceConfig{Name: prefix, MinProcesses: 2, OnError: failOnError(t)}
	a := fleetredis.NewEvidence(c, cfg)
	b := fleetredis.NewEvidence(newClient(t, c), cfg)
	var got fleetredis.Counts
	for range 20 {
		got, _ = a.Record(ctx, dependency, true)
	}
	if got.Calls != 20 || got.Failures != 20 || got.Processes != 1 || a.Failing(got) {
		t.Fatalf("one process's 20 failures: %+v, failing %v; want one process, not failing", got, a.Failing(got))
	}
	fresh := fleetredis.NewEvidence(newClient(t, c), cfg).Guard(newBreaker(t, breaker.Settings{}))
	if _, err := fresh.Allow(ctx); err != nil {
		t.Fatalf("fresh process refused on one process's failures: %v", err)
	}
	got, _ = b.Record(ctx, dependency, true)
	if got.Processes != 2 || !b.Failing(got) {
		t.Fatalf("after a second process's failure: %+v, failing %v", got, b.Failing(got))
	}
	if got, _ := b.Record(ctx, dependency, false); got.Processes != 2 {
		t.Fatalf("a success changed the processes counted: %+v", got)
	}
}

// TestFleetBreaker: three processes (each its own Evidence) on one dependency, through the
// pipeline.Breaker a Guard is. One process failing alone (a broken network of its own) opens
// only its own breaker: the quorum is 2. Once two have failed, the third is refused at its next
// look at the fleet (CheckEvery). While half-open, one probe goes out fleet-wide: the process
// holding the probe slot probes, the others are refused. When its probes close its breaker, the
// others close theirs at their next look, without probing.
func TestFleetBreaker(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := t.Context()
	cfg := fleetredis.EvidenceConfig{Name: prefix, CheckEvery: 20 * time.Millisecond, ProbeEvery: time.Second, OnError: failOnError(t)}
	s := breaker.Settings{OpenFor: 100 * time.Millisecond, Jitter: -1}
	var ps []*process
	var bs []pipeline.Breaker
	for range 3 {
		p := newProcess(t, newClient(t, c), cfg, s)
		ps = append(ps, p)
		bs = append(bs, p.guard.Pipeline())
	}
	attempt := func(i int, fail error) error {
		if err := bs[i].Check(ctx); err != nil {
			return err
		}
		p, err := bs[i].Allow(ctx)
		if err != nil {
			return err
		}
		ps[i].calls.Add(1)
		return bs[i].Done(ctx, p, fail)
	}
	// Process 0 alone fails: its breaker opens, the others' do not.
	for range 6 {
		attempt(0, errDown)
	}
	time.Sleep(2 * cfg.CheckEvery)
	if err := attempt(1, nil); err != nil || ps[0].guard.Breaker().State() == breaker.Closed {
		t.Fatalf("one process failing alone: process 1's call = %v, process 0's breaker %v; want admitted, open", err, ps[0].guard.Breaker().State())
	}
	// Process 1 fails too: the fleet is failing, and process 2 is refused without a call.
	for range 6 {
		attempt(1, errDown)
	}
	time.Sleep(2 * cfg.CheckEvery)
	before := ps[2].calls.Load()
	var open *breaker.OpenError
	if err := attempt(2, errDown); !errors.As(err, &open) || ps[2].calls.Load() != before || !ps[2].guard.Forced() {
		t.Fatalf("two processes failing: process 2's call = %v (forced %v); want refused", err, ps[2].guard.Forced())
	}
	// Both open breakers turn half-open; one probe goes out fleet-wide.
	time.Sleep(s.OpenFor)
	e0, e1 := attempt(0, nil), attempt(1, nil)
	if (e0 == nil) == (e1 == nil) {
		t.Fatalf("half-open in two processes: probes %v and %v; want exactly one admitted", e0, e1)
	}
	prober, other := 0, 1
	if e0 != nil {
		prober, other = 1, 0
	}
	// The prober's second probe closes its breaker; the fleet forgets the outage; the other two
	// close at their next look, without a probe of their own.
	if err := attempt(prober, nil); err != nil || ps[prober].guard.Breaker().State() != breaker.Closed {
		t.Fatalf("second probe: %v, state %v; want closed", err, ps[prober].guard.Breaker().State())
	}
	time.Sleep(2 * cfg.CheckEvery)
	for _, i := range []int{other, 2} {
		if err := attempt(i, nil); err != nil {
			t.Errorf("process %d after the fleet recovered: %v, want admitted", i, err)
		}
		if st := ps[i].guard.Breaker().State(); st != breaker.Closed {
			t.Errorf("process %d's breaker is %v after the fleet recovered, want closed", i, st)
		}
	}
}

// TestFleetBreakerRedisDown: with Redis down a Guard's breaker is the local breaker, probes
// included: it opens on its own failures and probes alone; it is never left open for good nor
// admitting everything.
func TestFleetBreakerRedisDown(t *testing.T) {
	var errs errorLog
	ev := fleetredis.NewEvidence(downRedis(t), fleetredis.EvidenceConfig{OnError: errs.add})
	b := ev.Guard(newBreaker(t, breaker.Settings{OpenFor: 50 * time.Millisecond, Jitter: -1})).Pipeline()
	ctx := t.Context()
	for range 5 {
		p, err := b.Allow(ctx)
		if err != nil {
			t.Fatalf("closed breaker refused: %v", err)
		}
		b.Done(ctx, p, errDown)
	}
	if err := b.Check(ctx); !errors.Is(err, rebound.ErrCircuitOpen) {
		t.Fatalf("after 5 failures with Redis down: Check = %v, want open", err)
	}
	time.Sleep(60 * time.Millisecond)
	p, err := b.Allow(ctx)
	if err != nil {
		t.Fatalf("half-open with Redis down: the local probe was refused: %v", err)
	}
	if _, err := b.Allow(ctx); err == nil {
		t.Fatal("half-open with Redis down: a second probe was admitted")
	}
	b.Done(ctx, p, nil)
	if len(errs.all()) == 0 {
		t.Error("OnError heard nothing of Redis being down")
	}
}

// TestGuardSuspicion: below the quorum, another process's open breaker makes the dependency
// suspect. A process that has not answered since pays one call: its first failure trips its
// breaker (the retry around it stops: an OpenedError), and that opening casts no vote. With
// IgnorePeers it pays its breaker's threshold.
func TestGuardSuspicion(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := t.Context()
	cfg := fleetredis.EvidenceConfig{Name: prefix, OnError: failOnError(t)}
	a := newProcess(t, newClient(t, c), cfg, breaker.Settings{})
	for range 6 {
		a.call(ctx, errDown)
	}
	if a.calls.Load() != 5 || a.guard.Breaker().State() != breaker.Open {
		t.Fatalf("process a: %d calls, breaker %v; want its 5, open", a.calls.Load(), a.guard.Breaker().State())
	}
	own, _ := fleetredis.NewEvidence(c, cfg).Counts(ctx, dependency)
	if own.Opened != 1 || own.PeerOpened != 1 || own.PeerVote == 0 {
		t.Fatalf("counts seen by another process: %+v; want a's vote, a peer's", own)
	}
	b := newProcess(t, newClient(t, c), cfg, breaker.Settings{})
	err := b.call(ctx, errDown)
	var opened *breaker.OpenedError
	if !errors.As(err, &opened) || opened.Until.IsZero() {
		t.Fatalf("process b's first failure = %v, want an OpenedError with the time of its probe", err)
	}
	for range 5 {
		b.call(ctx, errDown)
	}
	if b.calls.Load() != 1 || b.guard.Breaker().State() != breaker.Open || b.guard.Forced() {
		t.Fatalf("process b: %d calls, breaker %v, forced %v; want 1 call, open on its own (not forced)", b.calls.Load(), b.guard.Breaker().State(), b.guard.Forced())
	}
	if got, _ := fleetredis.NewEvidence(c, cfg).Counts(ctx, dependency); got.Opened != 1 {
		t.Fatalf("counts after b's trip: %+v; want still a's vote alone", got)
	}
	// Without suspicion, a first failure is one of the breaker's five.
	ignore := cfg
	ignore.IgnorePeers = true
	d := newProcess(t, newClient(t, c), ignore, breaker.Settings{})
	if err := d.call(ctx, errDown); errors.Is(err, rebound.ErrCircuitOpen) || d.guard.Breaker().State() != breaker.Closed {
		t.Fatalf("IgnorePeers: first failure = %v, breaker %v; want closed", err, d.guard.Breaker().State())
	}
}

// TestGuardOneBrokenProcess: one process with a broken network path (its own breaker open, its
// vote in the fleet) does not trip the fleet. A process that answered since learning of the
// vote keeps its breaker's own threshold; a fresh process that is served clears it too; one
// whose own first call after the vote fails trips its breaker alone, and the others are still
// served, never forced.
func TestGuardOneBrokenProcess(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := t.Context()
	cfg := fleetredis.EvidenceConfig{Name: prefix, CheckEvery: 10 * time.Millisecond, OnError: failOnError(t)}
	broken := newProcess(t, newClient(t, c), cfg, breaker.Settings{})
	healthy := newProcess(t, newClient(t, c), cfg, breaker.Settings{})
	unlucky := newProcess(t, newClient(t, c), cfg, breaker.Settings{})
	for range 20 {
		healthy.call(ctx, nil)
	}
	for range 6 {
		broken.call(ctx, errDown)
	}
	if broken.guard.Breaker().State() != breaker.Open {
		t.Fatalf("broken process: breaker %v, want open", broken.guard.Breaker().State())
	}
	time.Sleep(2 * cfg.CheckEvery) // real time, short setting: the others' views are stale
	if err := healthy.call(ctx, nil); err != nil {
		t.Fatalf("healthy process after the vote: %v, want served", err)
	}
	// Its answer after the vote cleared the suspicion: a transient failure is one of its
	// breaker's five.
	if err := healthy.call(ctx, errDown); errors.Is(err, rebound.ErrCircuitOpen) || healthy.guard.Breaker().State() != breaker.Closed {
		t.Fatalf("healthy process's failure after its answer = %v, breaker %v; want closed", err, healthy.guard.Breaker().State())
	}
	// A process whose first call after the vote fails trips alone.
	if err := unlucky.call(ctx, errDown); !errors.Is(err, rebound.ErrCircuitOpen) {
		t.Fatalf("unlucky process's first failure = %v, want its breaker tripped", err)
	}
	fresh := newProcess(t, newClient(t, c), cfg, breaker.Settings{})
	time.Sleep(2 * cfg.CheckEvery)
	for i, p := range []*process{healthy, fresh, fresh} {
		if err := p.call(ctx, nil); err != nil || p.guard.Forced() {
			t.Fatalf("call %d of a served process: %v (forced %v); want served", i, err, p.guard.Forced())
		}
	}
	got, _ := fleetredis.NewEvidence(c, cfg).Counts(ctx, dependency)
	if got.Opened != 1 || fleetredis.NewEvidence(c, cfg).Failing(got) {
		t.Fatalf("fleet counts %+v: want the broken process's vote alone, not failing", got)
	}
}

// TestGuardSuspicionOldAnswer: an answer to a call admitted before the process learned of the
// peer's vote (it was on its way before the outage) clears nothing; the next failure trips.
func TestGuardSuspicionOldAnswer(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := t.Context()
	cfg := fleetredis.EvidenceConfig{Name: prefix, CheckEvery: 10 * time.Millisecond, OnError: failOnError(t)}
	a := newProcess(t, newClient(t, c), cfg, breaker.Settings{})
	b := fleetredis.NewEvidence(newClient(t, c), cfg).Guard(newBreaker(t, breaker.Settings{}))
	early, err := b.Allow(ctx) // in flight before the outage
	if err != nil {
		t.Fatal(err)
	}
	for range 6 {
		a.call(ctx, errDown)
	}
	time.Sleep(2 * cfg.CheckEvery) // real time, short setting: b's view is stale
	late, err := b.Allow(ctx)      // reads the fleet: a's vote
	if err != nil {
		t.Fatal(err)
	}
	early.Done(ctx, nil)
	if err := late.Done(ctx, errDown); !errors.Is(err, rebound.ErrCircuitOpen) || b.Breaker().State() != breaker.Open {
		t.Fatalf("failure after an old call's answer = %v, breaker %v; want tripped", err, b.Breaker().State())
	}
}
