package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rebound-go/rebound"
)

// Providers: the wire formats an upstream speaks.
const (
	Anthropic = "anthropic" // POST {base_url}/v1/messages, x-api-key
	OpenAI    = "openai"    // POST {base_url}/chat/completions, Authorization: Bearer
)

// Config is the gateway's configuration file, JSON or YAML (docs/gateway.md has the complete
// example). Load reads and validates one.
type Config struct {
	// Listen is the address to listen on (the command's --listen wins). Default
	// 127.0.0.1:8090. Any address that is not loopback needs ClientKeys.
	Listen string `json:"listen,omitempty"`
	// ClientKeys are the keys clients authenticate with (x-api-key or Authorization: Bearer).
	// None: no authentication, which is allowed on a loopback address only.
	ClientKeys []KeySource `json:"client_keys,omitempty"`
	// Redis, if set, is the URL of the Redis the replicas share their limiter, retry budget and
	// breaker evidence through (redis://host:6379/0). RedisEnv names an environment variable
	// holding it instead (for a URL with a password).
	Redis    string `json:"redis,omitempty"`
	RedisEnv string `json:"redis_env,omitempty"`
	// RedisPrefix is the prefix of the gateway's Redis keys. Default "rebound:gateway".
	RedisPrefix string `json:"redis_prefix,omitempty"`
	// Upstreams are the providers' endpoints the gateway forwards to.
	Upstreams []Upstream `json:"upstreams"`
	// Routes maps a requested model to its chain: targets "upstream/model" (or "upstream", for
	// the requested model on that upstream), tried in order. A model without a route is served
	// by the one upstream that lists it in its models.
	Routes map[string][]string `json:"routes,omitempty"`
	// Policy is how each request is retried, timed and guarded.
	Policy Policy `json:"policy,omitzero"`

	file string
}

// KeySource is where a client key comes from: an environment variable, or a file holding one
// key a line (blank lines and lines starting with # are skipped).
type KeySource struct {
	Env  string `json:"env,omitempty"`
	File string `json:"file,omitempty"`
}

// Upstream is one provider endpoint with one API key.
type Upstream struct {
	// Name names it in routes, headers and metrics: letters, digits, '-', '_' and '.'.
	Name string `json:"name"`
	// Provider is "anthropic" or "openai": the wire format it speaks.
	Provider string `json:"provider"`
	// BaseURL is what the provider's SDK takes as its base URL: https://api.anthropic.com
	// (the gateway appends /v1/messages), https://api.openai.com/v1 (it appends
	// /chat/completions).
	BaseURL string `json:"base_url"`
	// KeyEnv names the environment variable that holds the upstream's API key.
	KeyEnv string `json:"key_env"`
	// Models are the models the upstream serves.
	Models []string `json:"models"`
}

// Policy is how the gateway retries, times out and guards the attempts.
type Policy struct {
	// Attempts is the number of attempts per target, the first included (1: no retry).
	// Default 2.
	Attempts int `json:"attempts,omitempty"`
	// RetryBase is the delay before the first retry of a target when the upstream asks for
	// none (full jitter). Default 200ms.
	RetryBase Duration `json:"retry_base,omitzero"`
	// MaxRetryAfter is the longest retry-after the gateway waits for: a longer one moves to
	// the next target at once. Default 10s.
	MaxRetryAfter Duration `json:"max_retry_after,omitzero"`
	// FirstToken bounds a streamed attempt until its first meaningful frame (content, a tool
	// call, the end of the message). Default 15s.
	FirstToken Duration `json:"first_token_timeout,omitzero"`
	// Idle bounds the wait between two frames of a stream once it flows. Default 30s.
	Idle Duration `json:"idle_timeout,omitzero"`
	// Response bounds a non-streamed attempt, until its whole body has arrived. Default 120s.
	Response Duration `json:"response_timeout,omitzero"`
	// MaxBody is the largest request body accepted, in bytes. Default 32 MiB.
	MaxBody int64 `json:"max_body,omitempty"`
	// Breaker configures the breaker of each upstream model.
	Breaker BreakerPolicy `json:"breaker,omitzero"`
	// FallbackOn lists the failure classes after which the next target of a chain is tried.
	// Default: transient, rate_limited, overloaded, timeout, malformed, context_overflow,
	// quota, auth (the upstream's key refused) and an open breaker (transient). invalid is a
	// bug in the request: no other target would take it.
	FallbackOn []string `json:"fallback_on,omitempty"`
}

// BreakerPolicy configures the breaker of each upstream model.
type BreakerPolicy struct {
	// ConsecutiveFailures opens it after this many failures in a row. Default 5.
	ConsecutiveFailures int `json:"consecutive_failures,omitempty"`
	// FailureRate (0..1] opens it when this share of the recent calls failed. Default 0.5.
	FailureRate float64 `json:"failure_rate,omitempty"`
	// MinCalls is the number of calls the rate needs. Default 20.
	MinCalls int `json:"min_calls,omitempty"`
	// OpenFor is how long it stays open before a probe. Default 1s.
	OpenFor Duration `json:"open_for,omitzero"`
}

// Duration is a time.Duration written as a Go duration string ("1.5s", "200ms").
type Duration time.Duration

// UnmarshalJSON reads "1.5s" (or a number of seconds).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var f float64
		if err2 := json.Unmarshal(b, &f); err2 != nil {
			return fmt.Errorf("duration %s: want a string such as \"10s\"", b)
		}
		*d = Duration(f * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %v", s, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Defaults of Policy.
const (
	DefaultListen        = "127.0.0.1:8090"
	DefaultAttempts      = 2
	DefaultRetryBase     = 200 * time.Millisecond
	DefaultMaxRetryAfter = 10 * time.Second
	DefaultFirstToken    = 15 * time.Second
	DefaultIdle          = 30 * time.Second
	DefaultResponse      = 120 * time.Second
	DefaultMaxBody       = 32 << 20
	DefaultRedisPrefix   = "rebound:gateway"
)

var defaultFallbackOn = []rebound.Class{
	rebound.ClassTransient, rebound.ClassRateLimited, rebound.ClassOverloaded, rebound.ClassTimeout,
	rebound.ClassMalformed, rebound.ClassContextOverflow, rebound.ClassQuota, rebound.ClassAuth,
}

// Load reads the configuration file at path (YAML if it ends in .yaml or .yml, else JSON) and
// validates it; errors name the file and the field.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("gateway config: %w", err)
	}
	return Parse(path, data)
}

// Parse parses and validates a configuration; name is the file's name for errors, and its
// extension says YAML (.yaml, .yml) or JSON (anything else).
func Parse(name string, data []byte) (*Config, error) {
	ext := strings.ToLower(filepath.Ext(name))
	if ext == ".yaml" || ext == ".yml" {
		var v any
		if err := yaml.Unmarshal(data, &v); err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		j, err := json.Marshal(yamlToJSON(v))
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		data = j
	}
	var c Config
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	c.file = name
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// yamlToJSON turns the maps YAML decodes (map[string]any with any keys) into ones JSON
// encodes.
func yamlToJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = yamlToJSON(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = yamlToJSON(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = yamlToJSON(e)
		}
		return x
	}
	return v
}

// fieldError is a validation error naming the file and the field.
type fieldError struct {
	file, field, msg string
}

func (e *fieldError) Error() string { return e.file + ": " + e.field + ": " + e.msg }

func (c *Config) errf(field, format string, args ...any) error {
	return &fieldError{file: c.file, field: field, msg: fmt.Sprintf(format, args...)}
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

func (c *Config) validate() error {
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	if len(c.Upstreams) == 0 {
		add(c.errf("upstreams", "at least one upstream is needed"))
	}
	names := map[string]int{}
	for i, u := range c.Upstreams {
		f := fmt.Sprintf("upstreams[%d]", i)
		if !validName(u.Name) {
			add(c.errf(f+".name", "%q: want letters, digits, '-', '_' or '.'", u.Name))
		} else if j, dup := names[u.Name]; dup {
			add(c.errf(f+".name", "%q is also upstreams[%d]'s name", u.Name, j))
		} else {
			names[u.Name] = i
		}
		if u.Provider != Anthropic && u.Provider != OpenAI {
			add(c.errf(f+".provider", "%q: want %q or %q", u.Provider, Anthropic, OpenAI))
		}
		if pu, err := url.Parse(u.BaseURL); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			add(c.errf(f+".base_url", "%q: want an http or https URL", u.BaseURL))
		}
		if u.KeyEnv == "" {
			add(c.errf(f+".key_env", "name the environment variable holding the upstream's API key"))
		}
		if len(u.Models) == 0 {
			add(c.errf(f+".models", "list the models the upstream serves"))
		}
		for k, m := range u.Models {
			if m == "" || strings.ContainsAny(m, " \t\r\n\"") {
				add(c.errf(fmt.Sprintf("%s.models[%d]", f, k), "%q is not a model name", m))
			}
		}
	}
	for i, k := range c.ClientKeys {
		f := fmt.Sprintf("client_keys[%d]", i)
		if (k.Env == "") == (k.File == "") {
			add(c.errf(f, "give env or file (one of them)"))
		}
	}
	if c.Redis != "" && c.RedisEnv != "" {
		add(c.errf("redis_env", "give redis or redis_env, not both"))
	}
	if c.Redis != "" {
		if _, err := url.Parse(c.Redis); err != nil || !strings.HasPrefix(c.Redis, "redis") {
			add(c.errf("redis", "want a redis:// or rediss:// URL"))
		}
	}
	for model, chain := range c.Routes {
		f := fmt.Sprintf("routes[%q]", model)
		if len(chain) == 0 {
			add(c.errf(f, "an empty chain"))
			continue
		}
		provider := ""
		for i, t := range chain {
			up, m, _ := strings.Cut(t, "/")
			if m == "" {
				m = model
			}
			j, ok := names[up]
			if !ok {
				add(c.errf(fmt.Sprintf("%s[%d]", f, i), "%q names no upstream", t))
				continue
			}
			u := c.Upstreams[j]
			if !contains(u.Models, m) {
				add(c.errf(fmt.Sprintf("%s[%d]", f, i), "upstream %q does not list model %q in its models", up, m))
			}
			if provider == "" {
				provider = u.Provider
			} else if u.Provider != provider {
				add(c.errf(fmt.Sprintf("%s[%d]", f, i), "%q is an %s upstream in a chain that starts with %s: cross-provider fallback is not supported (the request's wire format, tool ids and provider-only fields would not survive the crossing); chain upstreams of one provider", t, u.Provider, provider))
			}
		}
	}
	p := &c.Policy
	if p.Attempts < 0 {
		add(c.errf("policy.attempts", "%d is negative", p.Attempts))
	}
	for _, d := range []struct {
		f string
		v Duration
	}{{"policy.retry_base", p.RetryBase}, {"policy.max_retry_after", p.MaxRetryAfter}, {"policy.first_token_timeout", p.FirstToken}, {"policy.idle_timeout", p.Idle}, {"policy.response_timeout", p.Response}, {"policy.breaker.open_for", p.Breaker.OpenFor}} {
		if d.v < 0 {
			add(c.errf(d.f, "%s is negative", time.Duration(d.v)))
		}
	}
	if p.MaxBody < 0 {
		add(c.errf("policy.max_body", "%d is negative", p.MaxBody))
	}
	if r := p.Breaker.FailureRate; r < 0 || r > 1 {
		add(c.errf("policy.breaker.failure_rate", "%v is not in (0, 1]", r))
	}
	for i, s := range p.FallbackOn {
		cl, err := rebound.ParseClass(s)
		if err != nil || cl == rebound.ClassUnknown || cl == rebound.ClassCanceled {
			add(c.errf(fmt.Sprintf("policy.fallback_on[%d]", i), "%q is not a failure class (transient, rate_limited, overloaded, timeout, malformed, context_overflow, content_policy, quota, auth, invalid)", s))
		}
	}
	return errors.Join(errs...)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// withDefaults returns the policy with its defaults filled in.
func (p Policy) withDefaults() Policy {
	if p.Attempts == 0 {
		p.Attempts = DefaultAttempts
	}
	if p.RetryBase == 0 {
		p.RetryBase = Duration(DefaultRetryBase)
	}
	if p.MaxRetryAfter == 0 {
		p.MaxRetryAfter = Duration(DefaultMaxRetryAfter)
	}
	if p.FirstToken == 0 {
		p.FirstToken = Duration(DefaultFirstToken)
	}
	if p.Idle == 0 {
		p.Idle = Duration(DefaultIdle)
	}
	if p.Response == 0 {
		p.Response = Duration(DefaultResponse)
	}
	if p.MaxBody == 0 {
		p.MaxBody = DefaultMaxBody
	}
	return p
}
