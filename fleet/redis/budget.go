package fleetredis

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rebound-go/rebound/retry"
)

// The defaults of a BudgetConfig.
const (
	DefaultName    = "rebound:retry-budget"
	DefaultWindow  = 10 * time.Second
	DefaultTimeout = 100 * time.Millisecond
)

// BudgetConfig configures a fleet-wide retry budget. Its zero value works.
type BudgetConfig struct {
	// Name is the budget's key prefix in Redis; processes that use the same Name share the budget.
	// Use one name per dependency whose load the budget should bound. It is wrapped in braces
	// ({Name}) so that every key of a budget lives in one Redis Cluster slot. Empty:
	// "rebound:retry-budget".
	Name string
	// Window is how far back calls and retries are counted, rounded up to whole seconds. Zero:
	// 10 s.
	Window time.Duration
	// Ratio is the share of the calls started in the window that may be retries. Zero: 0.2.
	Ratio float64
	// MinRetries is the number of retries always allowed in a window, however few calls were
	// made. Zero: 3. Negative: none.
	MinRetries int
	// Timeout bounds each Redis round trip. Zero: 100 ms.
	Timeout time.Duration
	// Local is the process's own budget (concurrent retries, see retry.Budget). A retry needs
	// both the local and the fleet's budget; when Redis fails, the local one decides alone. Nil:
	// a new retry.Budget with Ratio and MinRetries.
	Local *retry.Budget
	// OnError, if set, is told of every Redis failure (the budget then carries on with its local
	// decision). It is called on the caller's goroutine with no lock held.
	OnError func(error)
}

// Budget is a retry budget shared by a fleet of processes through Redis. It implements
// retry.Budgeter; share one *Budget between the policies of a process. Safe for concurrent use.
type Budget struct {
	client  redis.Scripter
	prefix  string
	window  int64
	ratio   string
	min     int64
	timeout time.Duration
	local   *retry.Budget
	onError func(error)
}

var _ retry.Budgeter = (*Budget)(nil)

// NewBudget returns a fleet-wide retry budget kept in Redis through client (a *redis.Client,
// *redis.ClusterClient or *redis.Ring).
func NewBudget(client redis.Scripter, cfg BudgetConfig) *Budget {
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if !(cfg.Ratio > 0) {
		cfg.Ratio = retry.DefaultBudgetRatio
	}
	minRetries := int64(cfg.MinRetries)
	switch {
	case minRetries == 0:
		minRetries = retry.DefaultBudgetMinRetries
	case minRetries < 0:
		minRetries = 0
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Local == nil {
		cfg.Local = &retry.Budget{Ratio: cfg.Ratio, MinRetries: cfg.MinRetries}
	}
	return &Budget{
		client:  client,
		prefix:  "{" + cfg.Name + "}",
		window:  int64(math.Ceil(cfg.Window.Seconds())),
		ratio:   strconv.FormatFloat(cfg.Ratio, 'g', -1, 64),
		min:     minRetries,
		timeout: cfg.Timeout,
		local:   cfg.Local,
		onError: cfg.OnError,
	}
}

// Keys: <prefix>:c:<unix second> counts the calls begun in that second, <prefix>:r:<unix second>
// the retries granted; each expires once it leaves the window. Time is Redis's own (TIME), so the
// fleet's clocks need not agree.

var beginScript = redis.NewScript(`
local now = tonumber(redis.call('TIME')[1])
local k = KEYS[1] .. ':c:' .. now
redis.call('INCR', k)
redis.call('EXPIRE', k, tonumber(ARGV[1]) + 1)
return now
`)

// counts sums the calls and retries of the window ending at now.
const countsLua = `
local function counts(prefix, now, window)
  local ck, rk = {}, {}
  for i = 0, window - 1 do
    ck[#ck + 1] = prefix .. ':c:' .. (now - i)
    rk[#rk + 1] = prefix .. ':r:' .. (now - i)
  end
  local calls, retries = 0, 0
  for _, v in ipairs(redis.call('MGET', unpack(ck))) do if v then calls = calls + tonumber(v) end end
  for _, v in ipairs(redis.call('MGET', unpack(rk))) do if v then retries = retries + tonumber(v) end end
  return calls, retries
end
`

var acquireScript = redis.NewScript(countsLua + `
local now = tonumber(redis.call('TIME')[1])
local window = tonumber(ARGV[1])
local calls, retries = counts(KEYS[1], now, window)
local limit = math.max(tonumber(ARGV[3]), math.floor(tonumber(ARGV[2]) * calls))
if retries >= limit then
  return {0, calls, retries}
end
local k = KEYS[1] .. ':r:' .. now
redis.call('INCR', k)
redis.call('EXPIRE', k, window + 1)
return {1, calls, retries + 1}
`)

var countsScript = redis.NewScript(countsLua + `
local calls, retries = counts(KEYS[1], tonumber(redis.call('TIME')[1]), tonumber(ARGV[1]))
return {calls, retries}
`)

// Begin counts a call in the fleet's window and in the local budget.
func (b *Budget) Begin(ctx context.Context) {
	b.local.Begin(ctx)
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	if err := beginScript.Run(ctx, b.client, []string{b.prefix}, b.window).Err(); err != nil {
		b.fail(fmt.Errorf("count call in retry budget %s: %w", b.prefix, err))
	}
}

// End ends a call in the local budget (the fleet's window forgets calls by time).
func (b *Budget) End(ctx context.Context) { b.local.End(ctx) }

// AcquireRetry grants a retry if both the local budget and the fleet's window allow it. When
// Redis fails, the local budget's answer stands.
func (b *Budget) AcquireRetry(ctx context.Context) bool {
	if !b.local.AcquireRetry(ctx) {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	res, err := acquireScript.Run(ctx, b.client, []string{b.prefix}, b.window, b.ratio, b.min).Int64Slice()
	if err != nil || len(res) == 0 {
		if err == nil {
			err = fmt.Errorf("unexpected reply %v", res)
		}
		b.fail(fmt.Errorf("acquire retry from budget %s: %w", b.prefix, err))
		return true
	}
	if res[0] != 1 {
		b.local.ReleaseRetry(ctx)
		return false
	}
	return true
}

// ReleaseRetry gives the retry back to the local budget (the fleet's window forgets it by time).
func (b *Budget) ReleaseRetry(ctx context.Context) { b.local.ReleaseRetry(ctx) }

// Counts returns the calls and the retries the fleet has counted in the current window.
func (b *Budget) Counts(ctx context.Context) (calls, retries int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	res, err := countsScript.Run(ctx, b.client, []string{b.prefix}, b.window).Int64Slice()
	if err != nil {
		return 0, 0, fmt.Errorf("read retry budget %s: %w", b.prefix, err)
	}
	if len(res) != 2 {
		return 0, 0, fmt.Errorf("read retry budget %s: unexpected reply %v", b.prefix, res)
	}
	return res[0], res[1], nil
}

// Limit returns how many retries the fleet may make in a window in which calls were begun:
// max(MinRetries, floor(Ratio·calls)).
func (b *Budget) Limit(calls int64) int64 {
	r, _ := strconv.ParseFloat(b.ratio, 64)
	return max(b.min, int64(math.Floor(r*float64(max(calls, 0)))))
}

func (b *Budget) fail(err error) {
	if b.onError != nil {
		b.onError(err)
	}
}
