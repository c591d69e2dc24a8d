package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/anthropicllm"
	"github.com/rebound-go/rebound/retry"
)

// demoModels are the models the research pipeline calls.
type demoModels struct {
	// text is the primary model, falling back to the fallback model when there is one.
	text llm.Model
	// structured asks text for a JSON section and repairs an answer that is not one.
	structured func(ctx context.Context, req llm.Request) (section, *llm.Response, error)
	close      func()
}

// The demo's recovery settings on the built-in fake: short, so that the whole demo takes
// seconds, while every pattern still shows.
var (
	fakeRetry = retry.Policy{MaxAttempts: 4, Base: 200 * time.Millisecond, Cap: 3 * time.Second}
	fakeBreak = breaker.Settings{ConsecutiveFailures: 3, OpenFor: 5 * time.Second}
)

const (
	fakeAttemptTimeout = 2 * time.Second
	realAttemptTimeout = 90 * time.Second
)

// errNoOpenAI refuses --provider openai in a rebound built without the OpenAI SDK.
var errNoOpenAI = usagef("--provider openai needs a rebound built without -tags noopenai: " +
	"go run ./cmd/rebound demo --provider openai, or " +
	"go install github.com/rebound-go/rebound/cmd/rebound@latest")

// checkKeys refuses a real provider whose key is not in the environment (a compatible server
// named by --base-url may need none).
func (g *globals) checkKeys(in demoInput) error {
	switch {
	case in.Provider == providerOAI && !openAIBuilt:
		return errNoOpenAI
	case in.Provider == providerAnth && in.BaseURL == "" && g.secretEnv("ANTHROPIC_API_KEY") == "":
		return usagef("--provider anthropic needs ANTHROPIC_API_KEY in the environment")
	case in.Provider == providerOAI && in.BaseURL == "" && g.secretEnv("OPENAI_API_KEY") == "":
		return usagef("--provider openai needs OPENAI_API_KEY in the environment")
	}
	return nil
}

// baseURLTrust says which recorded base URLs a process sends its API keys to. nil trusts every
// one: `demo` and `runs resume` run what their own user chose. `serve --worker` resumes runs
// anyone with access to the store may have started, so it trusts only the provider's own API
// (no base URL recorded) and the URLs given to --trust-base-url.
type baseURLTrust []string

// trusts reports whether the key may go to base (an empty base is the provider's own API).
func (t baseURLTrust) trusts(base string) bool {
	if t == nil || base == "" {
		return true
	}
	for _, u := range t {
		if sameBaseURL(u, base) {
			return true
		}
	}
	return false
}

// sameBaseURL compares two base URLs by scheme, host (case-insensitive) and path without its
// trailing slash.
func sameBaseURL(a, b string) bool {
	pa, erra := url.Parse(strings.TrimSpace(a))
	pb, errb := url.Parse(strings.TrimSpace(b))
	if erra != nil || errb != nil {
		return false
	}
	return strings.EqualFold(pa.Scheme, pb.Scheme) && strings.EqualFold(pa.Host, pb.Host) &&
		strings.TrimSuffix(pa.Path, "/") == strings.TrimSuffix(pb.Path, "/") && pa.User == nil && pb.User == nil
}

// buildModels makes the models in names: the built-in fake (started here, with the run's fault
// script) or a real provider, whose key comes from the environment. A missing key is a
// configuration error.
func (g *globals) buildModels(ctx context.Context, in demoInput) (*demoModels, error) {
	return g.buildModelsTrusting(ctx, in, nil)
}

// buildModelsTrusting is buildModels sending the environment's key only to a base URL trust
// trusts; any other gets no key ("unused"), so a compatible server that needs none still
// answers, and one that needs a key answers 401.
func (g *globals) buildModelsTrusting(_ context.Context, in demoInput, trust baseURLTrust) (*demoModels, error) {
	if err := g.checkKeys(in); err != nil {
		return nil, err
	}
	keyFor := func(env string) rebound.Secret {
		if !trust.trusts(in.BaseURL) {
			return ""
		}
		return g.secretEnv(env)
	}
	m := &demoModels{close: func() {}}
	var primary, fallback llm.Model
	cfg := llm.Config{AttemptTimeout: realAttemptTimeout}
	switch in.Provider {
	case providerFake:
		h, err := fakellm.New(in.Faults, fakellm.Options{})
		if err != nil {
			return nil, usagef("the run's fault script: %w", err)
		}
		srv := fakellm.Serve(h)
		tr := http.DefaultTransport.(*http.Transport).Clone()
		m.close = func() {
			srv.Close()
			tr.CloseIdleConnections()
		}
		client := anthropic.NewClient(anthropicoption.WithBaseURL(srv.AnthropicBaseURL),
			anthropicoption.WithAPIKey("fake-key"), anthropicoption.WithHTTPClient(&http.Client{Transport: tr}))
		primary = anthropicllm.New(client, in.Model)
		if in.FallbackModel != "" {
			fallback = anthropicllm.New(client, in.FallbackModel)
		}
		cfg = llm.Config{Retry: fakeRetry, Breaker: fakeBreak, AttemptTimeout: fakeAttemptTimeout}
	case providerAnth:
		key := keyFor("ANTHROPIC_API_KEY")
		opts := []anthropicoption.RequestOption{anthropicoption.WithAPIKey(orKey(key).Reveal())}
		if in.BaseURL != "" {
			opts = append(opts, anthropicoption.WithBaseURL(in.BaseURL))
		}
		client := anthropic.NewClient(opts...)
		primary = anthropicllm.New(client, in.Model)
		if in.FallbackModel != "" {
			fallback = anthropicllm.New(client, in.FallbackModel)
		}
	case providerOAI:
		var err error
		if primary, fallback, err = openAIModels(keyFor("OPENAI_API_KEY"), in); err != nil {
			return nil, err
		}
	default:
		return nil, usagef("unknown provider %q", in.Provider)
	}
	if in.AttemptTimeout > 0 {
		cfg.AttemptTimeout = time.Duration(in.AttemptTimeout)
	}
	// One breaker set for both models, so that each model has its own breaker and the
	// breaker_changed events name it.
	set, err := breaker.NewSet(breaker.SetConfig{Settings: cfg.Breaker})
	if err != nil {
		m.close()
		return nil, err
	}
	cfg.Breakers = set
	first, err := llm.Resilient(primary, cfg)
	if err != nil {
		m.close()
		return nil, err
	}
	models := []llm.Model{first}
	if fallback != nil {
		second, err := llm.Resilient(fallback, cfg)
		if err != nil {
			m.close()
			return nil, err
		}
		models = append(models, second)
	}
	if len(models) == 1 {
		m.text = models[0]
	} else {
		m.text = llm.Fallback(models...)
	}
	m.structured = structuredSection(m.text)
	return m, nil
}

// orKey stands in for a key a compatible server does not check.
func orKey(k rebound.Secret) rebound.Secret {
	if k == "" {
		return "unused"
	}
	return k
}

// openAIBase makes sure an OpenAI base URL ends with a slash, as the SDK joins paths to it, and
// that a bare host (http://127.0.0.1:8081) gets the /v1/ that OpenAI-compatible servers serve
// under, as in the SDK's own default (https://api.openai.com/v1/).
func openAIBase(u string) string {
	if p, err := url.Parse(u); err == nil && (p.Path == "" || p.Path == "/") && p.RawQuery == "" {
		return strings.TrimSuffix(u, "/") + "/v1/"
	}
	if !strings.HasSuffix(u, "/") {
		u += "/"
	}
	return u
}
