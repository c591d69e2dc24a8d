package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
	fleetredis "github.com/rebound-go/rebound/fleet/redis"
	"github.com/rebound-go/rebound/observe"
	"github.com/rebound-go/rebound/pipeline"
	"github.com/rebound-go/rebound/ratelimit"
	"github.com/rebound-go/rebound/retry"
)

// Options are what New needs besides the configuration file. The zero value works.
type Options struct {
	// Logger receives one line per request that failed or fell back (never a key). Nil: no
	// logging.
	Logger *slog.Logger
	// Registry is where the gateway's Prometheus collectors are registered. Nil: a registry of
	// its own (with the Go and process collectors), served at /metrics.
	Registry *prometheus.Registry
	// TracerProvider makes the spans (one per request). Nil: otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// Transport sends the upstream requests. Nil: an http.Transport tuned for many requests to
	// few hosts.
	Transport http.RoundTripper
	// Getenv reads the environment variables the configuration names. Nil: os.Getenv.
	Getenv func(string) string
}

// Gateway is the HTTP handler of the gateway: POST /v1/messages (and count_tokens), POST
// /v1/chat/completions, /healthz and /metrics. Build it with New, and Close it when done.
type Gateway struct {
	cfg          *Config
	pol          Policy
	log          *slog.Logger
	rt           http.RoundTripper
	routes       map[routeKey]*route
	upstreams    []*upstream
	byName       map[string]*upstream
	upstreamKeys []string
	clientKeys   map[[32]byte]struct{}
	pipe         *pipeline.Pipeline
	breakers     *breaker.Set
	fallbackOn   [16]bool
	met          *metrics
	tracer       trace.Tracer
	registry     *prometheus.Registry

	rdb      *redis.Client
	redisUp  atomic.Bool
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

type routeKey struct {
	provider, model string
}

type route struct {
	model   string // the requested model, as configured
	label   string // the metric label: the model, or "" for no route
	targets []*target
}

type target struct {
	up    *upstream
	model string
	key   string // "upstream/model": the breaker's and the events' key
	hot   targetHot
}

type upstream struct {
	name     string
	provider string
	url      string // the messages or chat completions endpoint
	countURL string // Anthropic's count_tokens endpoint
	key      rebound.Secret
	// account names the limits the upstream's answers report: the provider, base URL and key
	// (the key as a hash), so that upstreams that share a key share one limiter, and every
	// replica paces under one bucket in Redis whatever it calls the upstream.
	account string
	limiter *ratelimit.Limiter // the account's: shared by the upstreams of the account
	hot     upstreamHot
}

// New builds a Gateway from a validated configuration (see Load). It reads the upstream and
// client keys from the environment (and files) now, and connects to Redis if one is
// configured; an error names what is missing.
func New(cfg *Config, opts Options) (*Gateway, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	g := &Gateway{cfg: cfg, pol: cfg.Policy.withDefaults(), log: opts.Logger, stop: make(chan struct{})}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	g.rt = opts.Transport
	if g.rt == nil {
		g.rt = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          1024,
			MaxIdleConnsPerHost:   512,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
	}
	// Upstreams and their keys.
	byName := map[string]*upstream{}
	limiters := map[string]*ratelimit.Limiter{} // by account
	for i, u := range cfg.Upstreams {
		key := getenv(u.KeyEnv)
		if key == "" {
			return nil, fmt.Errorf("%s: upstreams[%d].key_env: the environment variable %s is empty or unset", cfg.file, i, u.KeyEnv)
		}
		base := strings.TrimRight(u.BaseURL, "/")
		up := &upstream{name: u.Name, provider: u.Provider, key: rebound.Secret(key), account: accountOf(u.Provider, base, key)}
		if up.limiter = limiters[up.account]; up.limiter == nil {
			up.limiter = ratelimit.New(ratelimit.Config{Name: u.Name})
			limiters[up.account] = up.limiter
		}
		if u.Provider == Anthropic {
			up.url, up.countURL = base+"/v1/messages", base+"/v1/messages/count_tokens"
		} else {
			up.url = base + "/chat/completions"
		}
		byName[u.Name] = up
		g.upstreams = append(g.upstreams, up)
		g.upstreamKeys = append(g.upstreamKeys, key)
	}
	g.byName = byName
	// Routes: the configured chains, then every listed model not routed explicitly (served by
	// the first upstream that lists it).
	g.routes = map[routeKey]*route{}
	for model, chain := range cfg.Routes {
		r := &route{model: model, label: model}
		for _, t := range chain {
			name, m, _ := strings.Cut(t, "/")
			if m == "" {
				m = model
			}
			r.targets = append(r.targets, &target{up: byName[name], model: m, key: name + "/" + m})
		}
		g.routes[routeKey{r.targets[0].up.provider, model}] = r
	}
	for _, up := range g.upstreams {
		for _, m := range cfg.Upstreams[indexOf(g.upstreams, up)].Models {
			k := routeKey{up.provider, m}
			if _, ok := g.routes[k]; !ok {
				g.routes[k] = &route{model: m, label: m, targets: []*target{{up: up, model: m, key: up.name + "/" + m}}}
			}
		}
	}
	// Client keys.
	g.clientKeys = map[[32]byte]struct{}{}
	for i, ks := range cfg.ClientKeys {
		var keys []string
		if ks.Env != "" {
			v := getenv(ks.Env)
			if v == "" {
				return nil, fmt.Errorf("%s: client_keys[%d].env: the environment variable %s is empty or unset", cfg.file, i, ks.Env)
			}
			keys = append(keys, v)
		} else {
			data, err := os.ReadFile(ks.File)
			if err != nil {
				return nil, fmt.Errorf("%s: client_keys[%d].file: %v", cfg.file, i, err)
			}
			for _, line := range strings.Split(string(data), "\n") {
				line = strings.TrimSpace(line)
				if line != "" && !strings.HasPrefix(line, "#") {
					keys = append(keys, line)
				}
			}
			if len(keys) == 0 {
				return nil, fmt.Errorf("%s: client_keys[%d].file: %s holds no key", cfg.file, i, ks.File)
			}
		}
		for _, k := range keys {
			for _, uk := range g.upstreamKeys {
				if k == uk {
					return nil, fmt.Errorf("%s: client_keys[%d]: a client key is also an upstream's key: give clients keys of their own", cfg.file, i)
				}
			}
			g.clientKeys[sha256.Sum256([]byte(k))] = struct{}{}
		}
	}
	for _, s := range g.pol.FallbackOn {
		c, _ := rebound.ParseClass(s)
		g.fallbackOn[c] = true
	}
	if len(g.pol.FallbackOn) == 0 {
		for _, c := range defaultFallbackOn {
			g.fallbackOn[c] = true
		}
	}
	// Metrics and traces.
	g.registry = opts.Registry
	if g.registry == nil {
		g.registry = newRegistry()
	}
	g.met = newMetrics(g.registry)
	om := observe.NewMetrics(g.registry)
	tp := opts.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	g.tracer = tp.Tracer("github.com/rebound-go/rebound/gateway")
	g.prepareHot()

	// The pipeline: one retry layer, the breaker of each upstream model, pacing by upstream.
	bs := breaker.Settings{
		ConsecutiveFailures: g.pol.Breaker.ConsecutiveFailures,
		FailureRate:         g.pol.Breaker.FailureRate,
		MinCalls:            g.pol.Breaker.MinCalls,
		OpenFor:             time.Duration(g.pol.Breaker.OpenFor),
		Hook:                om.Hook(),
	}
	set, err := breaker.NewSet(breaker.SetConfig{Settings: bs})
	if err != nil {
		return nil, fmt.Errorf("%s: policy.breaker: %v", cfg.file, err)
	}
	g.breakers = set
	pc := pipeline.Config{
		Retry: retry.Policy{
			MaxAttempts: g.pol.Attempts,
			Base:        time.Duration(g.pol.RetryBase),
			Cap:         time.Duration(g.pol.MaxRetryAfter),
		},
		Breakers: set,
		Limiter:  g.limiterOf,
		Hook:     om.Hook(),
	}
	redisURL := cfg.Redis
	if cfg.RedisEnv != "" {
		redisURL = getenv(cfg.RedisEnv)
		if redisURL == "" {
			return nil, fmt.Errorf("%s: redis_env: the environment variable %s is empty or unset", cfg.file, cfg.RedisEnv)
		}
	}
	if redisURL != "" {
		ro, err := redis.ParseURL(redisURL)
		if err != nil {
			return nil, fmt.Errorf("%s: redis: %v", cfg.file, redactURL(err.Error(), redisURL))
		}
		ro.DialTimeout, ro.ReadTimeout, ro.WriteTimeout = time.Second, 200*time.Millisecond, 200*time.Millisecond
		g.rdb = redis.NewClient(ro)
		prefix := cfg.RedisPrefix
		if prefix == "" {
			prefix = DefaultRedisPrefix
		}
		onErr := func(part string) func(error) {
			return func(error) {
				g.met.redisErrors.WithLabelValues(part).Inc()
				g.setRedisUp(false)
			}
		}
		lim := fleetredis.NewLimiter(g.rdb, fleetredis.LimiterConfig{Name: prefix + ":ratelimit", Local: g.localLimiter, OnError: onErr("limiter")})
		budget := fleetredis.NewBudget(g.rdb, fleetredis.BudgetConfig{Name: prefix + ":retry-budget", OnError: onErr("budget")})
		ev := fleetredis.NewEvidence(g.rdb, fleetredis.EvidenceConfig{Name: prefix + ":breaker", OnError: onErr("evidence")})
		guards := ev.Guards(set)
		pc.Pace = func(ctx context.Context, key string, tokens int) (func(http.Header, int), error) {
			return lim.PaceRequest(ctx, g.accountOf(key), tokens)
		}
		pc.Limiter = nil
		pc.BreakerFor = guards.BreakerFor
		pc.Breakers = nil
		pc.Retry.Budget = budget
		g.registry.MustRegister(g.met.redisUp)
		g.redisUp.Store(true)
		g.met.redisUp.Set(1)
		g.wg.Add(1)
		go g.watchRedis()
	}
	g.pipe, err = pipeline.New(pc)
	if err != nil {
		return nil, fmt.Errorf("%s: policy: %v", cfg.file, err)
	}
	return g, nil
}

func indexOf(ups []*upstream, u *upstream) int {
	for i, v := range ups {
		if v == u {
			return i
		}
	}
	return -1
}

// redactURL keeps a Redis URL (which may carry a password) out of an error message.
func redactURL(msg, u string) string { return strings.ReplaceAll(msg, u, "[redis URL]") }

// upstreamOf is the upstream's name in a target key "upstream/model".
func upstreamOf(key string) string {
	if i := strings.IndexByte(key, '/'); i >= 0 {
		return key[:i]
	}
	return key
}

// accountOf is the account of an upstream: provider and a hash of its base URL and key (never
// the key), the fleet limiter's key in Redis.
func accountOf(provider, base, key string) string {
	h := sha256.Sum256([]byte(base + "\x00" + key))
	return provider + "-" + hex.EncodeToString(h[:8])
}

// limiterOf paces the attempts of a target key under its upstream's limiter (one account, one
// set of limits, shared by its models and by the upstreams of the same account).
func (g *Gateway) limiterOf(key string) *ratelimit.Limiter {
	if u := g.byName[upstreamOf(key)]; u != nil {
		return u.limiter
	}
	return nil
}

// accountOf is the account of a target key's upstream.
func (g *Gateway) accountOf(key string) string {
	if u := g.byName[upstreamOf(key)]; u != nil {
		return u.account
	}
	return upstreamOf(key)
}

// localLimiter is the fleet limiter's local limiter for an account.
func (g *Gateway) localLimiter(account string) *ratelimit.Limiter {
	for _, u := range g.upstreams {
		if u.account == account {
			return u.limiter
		}
	}
	return ratelimit.New(ratelimit.Config{Name: account})
}

func (g *Gateway) setRedisUp(up bool) {
	if g.redisUp.Swap(up) != up {
		if up {
			g.met.redisUp.Set(1)
			g.log.Info("gateway: Redis answers again: shared state")
		} else {
			g.met.redisUp.Set(0)
			g.log.Warn("gateway: Redis does not answer: each replica goes on with its local state")
		}
	}
}

// watchRedis pings Redis once a second, so that /healthz and the metric say whether the
// replicas share their state now.
func (g *Gateway) watchRedis() {
	defer g.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
			err := g.rdb.Ping(ctx).Err()
			cancel()
			if err != nil {
				g.met.redisErrors.WithLabelValues("ping").Inc()
			}
			g.setRedisUp(err == nil)
		}
	}
}

// Close stops the Redis watcher and closes the Redis client and idle upstream connections.
func (g *Gateway) Close() error {
	g.stopOnce.Do(func() { close(g.stop) })
	g.wg.Wait()
	if t, ok := g.rt.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
	if g.rdb != nil {
		return g.rdb.Close()
	}
	return nil
}

// Registry is the registry the gateway's metrics are in.
func (g *Gateway) Registry() *prometheus.Registry { return g.registry }

// RequiresKeys reports whether clients must authenticate (client keys are configured).
func (g *Gateway) RequiresKeys() bool { return len(g.clientKeys) > 0 }

// ServeHTTP serves the gateway's endpoints.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/v1/messages":
		g.serveAPI(w, r, apiMessages)
	case "/v1/messages/count_tokens":
		g.serveAPI(w, r, apiCountTokens)
	case "/v1/chat/completions":
		g.serveAPI(w, r, apiChat)
	case "/healthz":
		g.serveHealth(w, r)
	case "/metrics":
		g.serveMetrics(w, r)
	default:
		a := apiChat
		if strings.HasPrefix(r.URL.Path, "/v1/messages") || r.Header.Get("anthropic-version") != "" || r.Header.Get("x-api-key") != "" {
			a = apiMessages
		}
		writeError(w, a, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path+" (the gateway serves POST /v1/messages, /v1/messages/count_tokens and /v1/chat/completions)")
	}
}

// authorized reports whether the request carries a client key (x-api-key or Authorization:
// Bearer), or whether none is needed.
func (g *Gateway) authorized(r *http.Request) bool {
	if len(g.clientKeys) == 0 {
		return true
	}
	k := r.Header.Get("X-Api-Key")
	if k == "" {
		a := r.Header.Get("Authorization")
		if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			k = strings.TrimSpace(a[7:])
		}
	}
	if k == "" {
		return false
	}
	_, ok := g.clientKeys[sha256.Sum256([]byte(k))]
	return ok
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuf() *bytes.Buffer { return bufPool.Get().(*bytes.Buffer) }

func putBuf(b *bytes.Buffer) {
	if b.Cap() > 4<<20 {
		return // keep the pool from holding on to a rare huge body
	}
	b.Reset()
	bufPool.Put(b)
}

var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 32<<10) }}

// errBodyTooLarge is a request body over Policy.MaxBody.
var errBodyTooLarge = errors.New("request body too large")

// readBody reads r's body into buf, up to max bytes.
func readBody(buf *bytes.Buffer, r *http.Request, max int64) error {
	if r.ContentLength > max {
		return errBodyTooLarge
	}
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	n, err := buf.ReadFrom(http.MaxBytesReader(nil, r.Body, max))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) || n > max {
		return errBodyTooLarge
	}
	return err
}
