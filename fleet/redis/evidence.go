package fleetredis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
)

// The defaults of an EvidenceConfig.
const (
	DefaultEvidenceName     = "rebound:breaker"
	DefaultEvidenceWindow   = 10 * time.Second
	DefaultEvidenceMinCalls = 10
	DefaultMinProcesses     = 2
	DefaultCheckEvery       = 200 * time.Millisecond
	DefaultProbeEvery       = breaker.DefaultOpenFor
)

// EvidenceConfig configures the fleet's breaker evidence. Its zero value works.
type EvidenceConfig struct {
	// Name is the evidence's key prefix in Redis; processes that use the same Name share the
	// outcomes of each dependency. It is wrapped in braces ({Name}) so that every key lives in
	// one Redis Cluster slot. Empty: "rebound:breaker".
	Name string
	// Window is how far back outcomes are counted, rounded up to whole seconds (the buckets are
	// Redis's seconds). Zero: 10 s.
	Window time.Duration
	// FailureRate is the share of failures among the window's calls at or above which the
	// fleet is failing, once the window holds MinCalls calls. Zero: 0.5
	// (breaker.DefaultFailureRate).
	FailureRate float64
	// MinCalls is the number of calls the window must hold before the fleet can be failing.
	// Zero: 10, so that two processes that each paid a breaker's 5 failures are enough.
	MinCalls int
	// MinProcesses is the quorum: the number of distinct processes (Evidence values) whose own
	// breakers must have opened in the window for the fleet to be failing whatever the other
	// processes' successes (Counts.Opened), and the number that must have recorded failures for
	// the failure share to count. So one process with a bad network path cannot open every other
	// process's breaker. Zero: 2; 1: a fresh process trusts one other process's failures.
	//
	// Below the quorum, another process's open breaker still makes the dependency suspect (see
	// Guard): a process's breaker then opens on its own first failure, not its threshold, so that
	// with two processes the second pays one call for an outage the first has seen, not five. An
	// opening on suspicion casts no vote (Counts.Opened), so the quorum's property holds.
	MinProcesses int
	// IgnorePeers turns suspicion off: a process's breaker opens on its own threshold or on the
	// quorum's evidence, whatever the other processes' breakers say below the quorum.
	IgnorePeers bool
	// Failures lists the classes that count as failures. Nil: transient, overloaded, timeout
	// (the breaker's default; rate limiting is the limiter's business).
	Failures []rebound.Class
	// Neutral lists the classes that are not recorded at all. Nil: canceled. Every other
	// outcome, nil included, is a success: the dependency answered.
	Neutral []rebound.Class
	// CheckEvery is how old a Guard's view of the fleet may grow before the next call reads it
	// again from Redis (every recorded outcome also refreshes it), and how long a Guard leaves
	// Redis alone after a failure. Zero: 200 ms, so that once the fleet is failing a busy
	// process's breaker opens within about 250 ms.
	CheckEvery time.Duration
	// ProbeEvery is how long the fleet's probe slot for a dependency lasts once a process takes
	// it: one probe per ProbeEvery fleet-wide while the breakers are half-open. Zero: 1 s
	// (breaker.DefaultOpenFor).
	ProbeEvery time.Duration
	// Timeout bounds each Redis round trip. Zero: 100 ms.
	Timeout time.Duration
	// OnError, if set, is told of the Redis failures a Guard meets (it then acts on its local
	// breaker alone). It is called on the caller's goroutine with no lock held.
	OnError func(error)
}

// Evidence is what the fleet has seen of its dependencies: per dependency key, the calls and
// failures of each second in Redis, counted by short Lua scripts on Redis's clock and
// forgotten once they leave the window. It answers whether the fleet sees a dependency failing
// above the threshold, so that a breaker in a fresh process opens without paying its own
// failures (see Guard). No lock is ever held across a call. Safe for concurrent use.
type Evidence struct {
	client     redis.Scripter
	prefix     string
	window     int64
	rate       float64
	minCalls   int64
	minProcs   int64
	peers      bool // suspicion: another process's open breaker lowers this one's threshold
	process    string
	failures   uint32
	neutral    uint32
	checkEvery time.Duration
	probeEvery time.Duration
	timeout    time.Duration
	onError    func(error)
}

// Counts are the fleet's outcomes for a dependency over the window.
type Counts struct {
	Calls, Failures int64
	// Processes counts the distinct processes that recorded failures in the window (counted
	// only when MinProcesses is above 1; else 0).
	Processes int64
	// Recovered is the second (on Redis's clock) in which a process last told the fleet its
	// breaker recovered, within the window; 0 if none.
	Recovered int64
	// Opened counts the distinct processes whose own breaker was open after a failure they
	// recorded (not one a Guard forced or tripped on suspicion) in the window, after the last
	// recovery: each such process's vote that the dependency is down.
	Opened int64
	// PeerOpened counts the votes of Opened cast by processes other than the one asking.
	PeerOpened int64
	// PeerVote is the second (on Redis's clock) of the latest of those other processes' votes
	// (a process votes again with each failure while its breaker is open, its probes' included);
	// 0 if none.
	PeerVote int64
}

// Outcome is how a call's result counts as evidence.
type Outcome uint8

// The outcomes.
const (
	Success Outcome = iota
	Failure
	Neutral
)

// NewEvidence returns the fleet's breaker evidence kept in Redis through client (a
// *redis.Client, *redis.ClusterClient or *redis.Ring).
func NewEvidence(client redis.Scripter, cfg EvidenceConfig) *Evidence {
	if cfg.Name == "" {
		cfg.Name = DefaultEvidenceName
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultEvidenceWindow
	}
	if !(cfg.FailureRate > 0) {
		cfg.FailureRate = breaker.DefaultFailureRate
	}
	if cfg.MinCalls <= 0 {
		cfg.MinCalls = DefaultEvidenceMinCalls
	}
	if cfg.MinProcesses <= 0 {
		cfg.MinProcesses = DefaultMinProcesses
	}
	if cfg.ProbeEvery <= 0 {
		cfg.ProbeEvery = DefaultProbeEvery
	}
	var id [8]byte
	rand.Read(id[:])
	if cfg.Failures == nil {
		cfg.Failures = []rebound.Class{rebound.ClassTransient, rebound.ClassOverloaded, rebound.ClassTimeout}
	}
	if cfg.Neutral == nil {
		cfg.Neutral = []rebound.Class{rebound.ClassCanceled}
	}
	if cfg.CheckEvery <= 0 {
		cfg.CheckEvery = DefaultCheckEvery
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &Evidence{
		client:     client,
		prefix:     "{" + cfg.Name + "}",
		window:     int64(math.Ceil(cfg.Window.Seconds())),
		rate:       min(cfg.FailureRate, 1),
		minCalls:   int64(cfg.MinCalls),
		minProcs:   int64(cfg.MinProcesses),
		peers:      !cfg.IgnorePeers,
		process:    hex.EncodeToString(id[:]),
		failures:   classBits(cfg.Failures),
		neutral:    classBits(cfg.Neutral),
		checkEvery: cfg.CheckEvery,
		probeEvery: cfg.ProbeEvery,
		timeout:    cfg.Timeout,
		onError:    cfg.OnError,
	}
}

func classBits(cs []rebound.Class) uint32 {
	var s uint32
	for _, c := range cs {
		s |= 1 << c
	}
	return s
}

// Outcome classifies err, returned by a call under ctx, as evidence: nil is a success; an
// error counts by its class (rebound.ClassifyContext, so the caller's own cancellation is
// neutral) as Failures and Neutral say.
func (e *Evidence) Outcome(ctx context.Context, err error) Outcome {
	if err == nil {
		return Success
	}
	c, _ := rebound.ClassifyContext(ctx, err)
	switch {
	case e.failures&(1<<c) != 0:
		return Failure
	case e.neutral&(1<<c) != 0:
		return Neutral
	}
	return Success
}

// Failing reports whether counts say the dependency is failing: either at least MinProcesses
// processes' own breakers opened in the window (Counts.Opened: a quorum of breakers, which the
// successes of other processes do not dilute), or at least MinCalls calls, a share of failures at
// or above FailureRate, and (when MinProcesses is above 1) failures from at least MinProcesses
// processes.
func (e *Evidence) Failing(c Counts) bool {
	if c.Opened >= max(e.minProcs, 1) {
		return true
	}
	return c.Calls >= e.minCalls && c.Calls > 0 && float64(c.Failures) >= e.rate*float64(c.Calls) &&
		(e.minProcs <= 1 || c.Processes >= e.minProcs)
}

// Keys: <prefix>:<dependency>:<unix second> is a hash of the calls (c) and failures (f)
// recorded in that second, expiring once it leaves the window; <prefix>:<dependency>:recovered
// is the second in which a process's breaker last closed after its probes succeeded: the
// window counts only the seconds after it, as a breaker forgets its counts when it closes;
// with a quorum (MinProcesses > 1), <prefix>:<dependency>:p:<unix second> is the set of the
// processes that recorded failures in that second; <prefix>:<dependency>:open is a sorted set of
// the processes whose own breaker was open after a failure, scored by the second of their latest
// such failure. ARGV[1] is the window, ARGV[2] 1 to count the processes, ARGV[3] the process
// asking (whose own vote is not a peer's).

const evidenceCountsLua = `
local function counts(k, now, window, procs, me)
  local since = tonumber(redis.call('GET', k .. ':recovered')) or 0
  local calls, failures, seen, n = 0, 0, {}, 0
  for i = 0, window - 1 do
    local s = now - i
    if s <= since then break end
    local v = redis.call('HMGET', k .. ':' .. s, 'c', 'f')
    calls = calls + (tonumber(v[1]) or 0)
    failures = failures + (tonumber(v[2]) or 0)
    if procs and v[2] then
      for _, p in ipairs(redis.call('SMEMBERS', k .. ':p:' .. s)) do
        if not seen[p] then seen[p] = true; n = n + 1 end
      end
    end
  end
  local ok, floor = k .. ':open', math.max(since, now - window)
  local opened = redis.call('ZCOUNT', ok, '(' .. floor, '+inf')
  local peers, vote = opened, 0
  local mine = redis.call('ZSCORE', ok, me)
  if mine and tonumber(mine) > floor then peers = peers - 1 end
  if peers > 0 then
    local top = redis.call('ZREVRANGEBYSCORE', ok, '+inf', '(' .. floor, 'WITHSCORES', 'LIMIT', 0, 2)
    if top[1] ~= me then vote = tonumber(top[2]) else vote = tonumber(top[4]) end
  end
  return {calls, failures, n, since, opened, peers, vote}
end
`

var recordScript = redis.NewScript(evidenceCountsLua + `
local now = tonumber(redis.call('TIME')[1])
local window = tonumber(ARGV[1])
local k = KEYS[1] .. ':' .. now
redis.call('HINCRBY', k, 'c', 1)
redis.call('EXPIRE', k, window + 1)
if ARGV[4] == '1' then
  redis.call('HINCRBY', k, 'f', 1)
  if ARGV[2] == '1' then
    local pk = KEYS[1] .. ':p:' .. now
    redis.call('SADD', pk, ARGV[3])
    redis.call('EXPIRE', pk, window + 1)
  end
  if ARGV[5] == '1' then
    local ok = KEYS[1] .. ':open'
    redis.call('ZADD', ok, now, ARGV[3])
    redis.call('ZREMRANGEBYSCORE', ok, '-inf', now - window)
    redis.call('EXPIRE', ok, window + 1)
  end
end
return counts(KEYS[1], now, window, ARGV[2] == '1', ARGV[3])
`)

var evidenceScript = redis.NewScript(evidenceCountsLua + `
return counts(KEYS[1], tonumber(redis.call('TIME')[1]), tonumber(ARGV[1]), ARGV[2] == '1', ARGV[3])
`)

var recoveredScript = redis.NewScript(evidenceCountsLua + `
local now = tonumber(redis.call('TIME')[1])
local window = tonumber(ARGV[1])
redis.call('SET', KEYS[1] .. ':recovered', now, 'EX', window + 1)
return counts(KEYS[1], now, window, ARGV[2] == '1', ARGV[3])
`)

// Record counts one call to the dependency key in the fleet's current second, a failure or a
// success, and returns the fleet's counts over the window afterwards.
func (e *Evidence) Record(ctx context.Context, key string, failure bool) (Counts, error) {
	return e.record(ctx, key, failure, false)
}

// record is Record; opened adds this process's vote that the dependency is down (its own
// breaker is open after the failure), counted in Counts.Opened.
func (e *Evidence) record(ctx context.Context, key string, failure, opened bool) (Counts, error) {
	f, o := 0, 0
	if failure {
		f = 1
	}
	if failure && opened {
		o = 1
	}
	return e.run(ctx, recordScript, key, "record outcome", f, o)
}

// Counts returns the fleet's counts for the dependency key over the window.
func (e *Evidence) Counts(ctx context.Context, key string) (Counts, error) {
	return e.run(ctx, evidenceScript, key, "read outcomes")
}

// Recovered tells the fleet that a breaker for key closed after successful probes: the
// outcomes recorded so far are forgotten (a breaker forgets its counts when it closes), so that
// stale failures do not open the other processes' breakers again. It returns the counts
// afterwards.
func (e *Evidence) Recovered(ctx context.Context, key string) (Counts, error) {
	return e.run(ctx, recoveredScript, key, "mark recovery")
}

func (e *Evidence) run(ctx context.Context, s *redis.Script, key, what string, args ...any) (Counts, error) {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	procs := 0
	if e.minProcs > 1 {
		procs = 1
	}
	res, err := s.Run(ctx, e.client, []string{e.prefix + ":" + key}, append([]any{e.window, procs, e.process}, args...)...).Int64Slice()
	if err == nil && len(res) != 7 {
		err = fmt.Errorf("unexpected reply %v", res)
	}
	if err != nil {
		return Counts{}, fmt.Errorf("%s of %q in breaker evidence %s: %w", what, key, e.prefix, err)
	}
	return Counts{Calls: res[0], Failures: res[1], Processes: res[2], Recovered: res[3], Opened: res[4],
		PeerOpened: res[5], PeerVote: res[6]}, nil
}

// probeScript takes the probe slot KEYS[1] for process ARGV[1] for ARGV[2] ms, or keeps it if
// that process holds it (a breaker needs SuccessesToClose probes in a row); 1 if taken.
var probeScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
`)

// takeProbe takes the fleet's probe slot for key for ProbeEvery, unless another process holds
// it.
func (e *Evidence) takeProbe(ctx context.Context, key string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	n, err := probeScript.Run(ctx, e.client, []string{e.prefix + ":" + key + ":probe"}, e.process, e.probeEvery.Milliseconds()).Int64()
	if err != nil {
		return false, fmt.Errorf("take the probe slot of %q in breaker evidence %s: %w", key, e.prefix, err)
	}
	return n == 1, nil
}
