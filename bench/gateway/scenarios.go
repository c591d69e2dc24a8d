package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/rebound-go/rebound/fakellm"
)

// prompt is every scenario's last user message: eight words, so that fakellm's complete
// answer is exactly "[fakellm HASH] " + prompt (the reply echoes the first eight words).
const prompt = "explain why gateways must never hide truncated answers"

// A Scenario is one named failure, defined in README.md: the faults each fake account injects
// and what the agent must see. Most scenarios are one call (Call) whose result must pass each
// check in Want, in order; a scenario of several calls or its own timing has Run instead.
type Scenario struct {
	Name string
	// Scripts are the fault scripts of the fakes A, B, C (fakellm's script format), loaded
	// just before the scenario runs on a fresh gateway.
	A, B, C string
	// Short: part of the reduced scorecard go test runs.
	Short bool
	Call  request
	Want  []check
	// Passed is the detail of a pass of Call's checks.
	Passed func(e *env, r Result) string
	// Run, if set, is the whole scenario, in place of Call, Want and Passed.
	Run func(e *env, d Driver) verdict
}

// A request is a scenario's one call: the wire, the model asked for, streamed or not.
type request struct {
	provider, model string
	stream          bool
}

// A check looks at a scenario's result and says what is wrong with it ("" nothing). It gets
// the driver to make calls of its own (stillHealthy).
type check func(e *env, d Driver, r Result) string

func (s Scenario) run(e *env, d Driver) verdict {
	if s.Run != nil {
		return s.Run(e, d)
	}
	return s.judge(e, d, e.call(d, s.Call.provider, s.Call.model, s.Call.stream))
}

// judge applies the checks to r in order: the first that finds something wrong fails the
// scenario, and the checks after it do not run.
func (s Scenario) judge(e *env, d Driver, r Result) verdict {
	for _, c := range s.Want {
		if why := c(e, d, r); why != "" {
			return fail("%s", why)
		}
	}
	return pass("%s", s.Passed(e, r))
}

// says is a Passed that does not depend on the result.
func says(detail string) func(*env, Result) string {
	return func(*env, Result) string { return detail }
}

// A verdict is one scenario's outcome through one SDK.
type verdict struct {
	pass   bool
	detail string
}

func pass(format string, args ...any) verdict { return verdict{true, fmt.Sprintf(format, args...)} }
func fail(format string, args ...any) verdict { return verdict{false, fmt.Sprintf(format, args...)} }

// env is what a scenario runs against: the gateway and the fakes behind it.
type env struct {
	gw      *gatewayProc
	a, b, c *fake
	quick   bool // the reduced (CI) variant of long scenarios
	start   time.Time
	// truncated counts answers the SDK returned as complete (no error) that were not.
	truncated int
	calls     int
}

// call makes one call through the gateway with prompt as the last user message.
func (e *env) call(d Driver, provider, model string, stream bool, mod ...func(*Call)) Result {
	c := Call{Provider: provider, APIKey: clientKey, Model: model, Stream: stream, MaxTokens: 256, TimeoutMS: 30000,
		Messages: []Message{{Role: "user", Text: prompt}}}
	c.BaseURL = e.gw.url
	if provider == "openai" {
		c.BaseURL += "/v1"
	}
	for _, m := range mod {
		m(&c)
	}
	r := d.Do(context.Background(), c)
	e.calls++
	if r.OK && len(r.ToolCalls) == 0 && e.answeredBy(r) == nil {
		e.truncated++
	}
	if r.OK && len(r.ToolCalls) > 0 {
		for _, tc := range r.ToolCalls {
			if !json.Valid([]byte(tc.Input)) {
				e.truncated++
				break
			}
		}
	}
	return r
}

// answer says which fake gave a complete answer: the SDK raised no error, the stop reason is
// a normal end, and the text is exactly "[fakellm HASH] prompt" for a HASH one of the fakes
// answered with a 200 for the model the body names.
type answer struct {
	fake  *fake
	model string
}

func (e *env) answeredBy(r Result) *answer {
	if !r.OK || (r.StopReason != "end_turn" && r.StopReason != "stop") {
		return nil
	}
	for _, f := range []*fake{e.a, e.b, e.c} {
		for _, rec := range f.requests("") {
			if rec.Status == 200 && rec.ReplyHash != "" && r.Text == "[fakellm "+rec.ReplyHash+"] "+rec.Prompt {
				return &answer{f, rec.Model}
			}
		}
	}
	return nil
}

// complete says what keeps r from being a complete answer by fake f for model (nil f: any
// fake), "" nothing.
func (e *env) complete(r Result, f *fake, model string) string {
	a := e.answeredBy(r)
	if a == nil {
		return "not a complete answer: " + describe(r)
	}
	if f != nil && (a.fake != f || a.model != model) {
		return fmt.Sprintf("answered by %s/%s, want %s/%s", a.fake.name, a.model, f.name, model)
	}
	return ""
}

// fake is the fake account named "A", "B" or "C" (nil for any other name).
func (e *env) fake(name string) *fake {
	for _, f := range []*fake{e.a, e.b, e.c} {
		if f.name == name {
			return f
		}
	}
	return nil
}

// describe sums up a result for a detail column.
func describe(r Result) string {
	if r.Err != nil {
		msg := r.Err.Message
		if len(msg) > 80 {
			msg = msg[:80] + "…"
		}
		return fmt.Sprintf("error %s (%q) after %.0fms, %d chars of text", r.Err, msg, r.ElapsedMS, len(r.Text))
	}
	return fmt.Sprintf("ok stop=%q model=%q %d chars, %d tool calls, %.0fms", r.StopReason, r.Model, len(r.Text), len(r.ToolCalls), r.ElapsedMS)
}

// marked checks the marking headers of a fallback answer.
func marked(r Result, upstream, model string) string {
	if r.header("x-rebound-degraded") != "true" || r.header("x-rebound-upstream") != upstream || r.header("x-rebound-model") != model {
		return fmt.Sprintf("marking: degraded=%q upstream=%q model=%q, want true %s %s",
			r.header("x-rebound-degraded"), r.header("x-rebound-upstream"), r.header("x-rebound-model"), upstream, model)
	}
	return ""
}

// healthy checks the gateway still answers (a request on a route whose upstream is healthy).
func (e *env) healthy(d Driver) string {
	if !e.gw.alive() {
		return "the gateway process died"
	}
	r := e.call(d, "anthropic", "claude-healthy", true)
	if why := e.complete(r, e.a, "claude-healthy"); why != "" {
		return "a healthy request afterwards: " + why
	}
	return ""
}

// gap is the time between the first two requests of recs.
func gap(recs []fakellm.RequestRecord) time.Duration {
	if len(recs) < 2 {
		return 0
	}
	return recs[1].Time.Sub(recs[0].Time)
}

func secs(ms float64) string { return fmt.Sprintf("%.2fs", ms/1000) }

// inBand checks that a call whose stream broke after content ended with an error the SDK
// raised from inside the stream (the provider's in-band error event), not a clean end.
func inBand(r Result) string {
	switch {
	case r.OK:
		return "TRUNCATED answer passed off as complete: " + describe(r)
	case r.Err == nil:
		return "no error"
	case r.Err.Kind != "stream":
		return "ended by " + describe(r) + ", not by an in-band error event"
	case r.Text == "":
		return "no content reached the client before the error (the fault struck after content)"
	case r.Starts > 1:
		return fmt.Sprintf("%d stream starts: two streams spliced", r.Starts)
	}
	return ""
}

// The checks of the scenario table.

// completeBy: a complete answer by the fake account ("" any) for model.
func completeBy(account, model string) check {
	return func(e *env, _ Driver, r Result) string { return e.complete(r, e.fake(account), model) }
}

// markedAs: the answer is marked degraded, by upstream's model.
func markedAs(upstream, model string) check {
	return func(_ *env, _ Driver, r Result) string { return marked(r, upstream, model) }
}

// inBandError: the stream ended with an in-band error after content (inBand).
func inBandError(_ *env, _ Driver, r Result) string { return inBand(r) }

// stillHealthy: the gateway answers a healthy request afterwards.
func stillHealthy(e *env, d Driver, _ Result) string { return e.healthy(d) }

// noLeak: no upstream key reached the client.
func noLeak(_ *env, _ Driver, r Result) string { return leaks(r) }

// oneStart: the client saw one stream start (nothing of a failed stream leaked).
func oneStart(_ *env, _ Driver, r Result) string {
	if r.Starts != 1 {
		return fmt.Sprintf("%d stream starts (want 1): the failed stream leaked", r.Starts)
	}
	return ""
}

// within: the call ended within limit; what names the end.
func within(limit time.Duration, what string) check {
	return func(_ *env, _ Driver, r Result) string {
		if r.ElapsedMS > float64(limit.Milliseconds()) {
			return fmt.Sprintf("%s after %s (limit %v)", what, secs(r.ElapsedMS), limit)
		}
		return ""
	}
}

// attempts: the fake account got exactly want generation requests for model ("" any);
// what says which.
func attempts(account, model string, want int, what string) check {
	return func(e *env, _ Driver, _ Result) string {
		if n := len(e.fake(account).requests(model)); n != want {
			return fmt.Sprintf("%d attempts %s (want %d)", n, what, want)
		}
		return ""
	}
}

// atMost: as attempts, but no more than most.
func atMost(account, model string, most int, what string) check {
	return func(e *env, _ Driver, _ Result) string {
		if n := len(e.fake(account).requests(model)); n > most {
			return fmt.Sprintf("%d attempts %s (at most %d)", n, what, most)
		}
		return ""
	}
}

// apiError: the SDK raised the upstream's API error, with the status, type and code parsed.
func apiError(status int, typ, code string) check {
	return func(_ *env, _ Driver, r Result) string {
		switch {
		case r.Err == nil || r.Err.Kind != "api" || r.Err.Status != status:
			return fmt.Sprintf("want the upstream's %d, got %s", status, describe(r))
		case r.Err.Type != typ || r.Err.Code != code:
			return fmt.Sprintf("the SDK parsed type=%q code=%q, want %s/%s", r.Err.Type, r.Err.Code, typ, code)
		}
		return ""
	}
}

var scenarios = []Scenario{
	{
		Name:  "retry-after-honoured",
		A:     "error 429 retry-after=2 times=1 model=claude-primary",
		Short: true,
		Run: func(e *env, d Driver) verdict {
			r := e.call(d, "anthropic", "claude-primary", true)
			recs := e.a.requests("claude-primary")
			if why := e.complete(r, nil, ""); why != "" {
				return fail("%s", why)
			}
			if len(recs) >= 2 {
				if g := gap(recs); g < 1800*time.Millisecond {
					return fail("retried after %v against retry-after: 2", g.Round(time.Millisecond))
				}
				return pass("retried the primary after %v (retry-after: 2), answered in %s", gap(recs).Round(10*time.Millisecond), secs(r.ElapsedMS))
			}
			if why := marked(r, "anthropic-b", "claude-fallback"); why != "" {
				return fail("%s", why)
			}
			return pass("fell over at once to the fallback, marked, in %s", secs(r.ElapsedMS))
		},
	},
	{
		Name:  "overload-with-fallback",
		A:     "error 529 model=claude-primary",
		Short: true,
		Call:  request{"anthropic", "claude-primary", false},
		Want: []check{completeBy("B", "claude-fallback"), markedAs("anthropic-b", "claude-fallback"),
			atMost("A", "claude-primary", 2, "on the overloaded primary")},
		Passed: func(e *env, r Result) string {
			return fmt.Sprintf("fallback answered, marked degraded (failures: %s), body model %s; %d primary attempts",
				r.header("x-rebound-failures"), r.Model, len(e.a.requests("claude-primary")))
		},
	},
	{
		Name: "500-burst",
		A:    "error 500 model=gpt-primary times=6",
		Run: func(e *env, d Driver) verdict {
			okN := 0
			var last string
			for range 8 {
				r := e.call(d, "openai", "gpt-primary", true)
				if why := e.complete(r, nil, ""); why == "" {
					okN++
				} else {
					last = why
				}
			}
			n := len(e.a.requests("gpt-primary"))
			if okN != 8 {
				return fail("%d of 8 answered; %s", okN, last)
			}
			if n > 16 {
				return fail("%d primary attempts for 8 requests", n)
			}
			return pass("8 of 8 answered through a burst of six 500s; %d primary attempts", n)
		},
	},
	{
		Name:  "reset-before-headers",
		A:     "reset times=1 model=gpt-primary",
		Short: true,
		Call:  request{"openai", "gpt-primary", false},
		Want:  []check{completeBy("", "")},
		Passed: func(e *env, r Result) string {
			return fmt.Sprintf("answered by %s after a TCP reset, %d upstream attempts", r.header("x-rebound-upstream"),
				len(e.a.requests("gpt-primary"))+len(e.b.requests("gpt-fallback")))
		},
	},
	{
		Name:  "silent-upstream",
		A:     "hang model=claude-primary",
		Short: true,
		Call:  request{"anthropic", "claude-primary", true},
		Want: []check{completeBy("B", "claude-fallback"), within(11*time.Second, "the fallback answered"),
			markedAs("anthropic-b", "claude-fallback")},
		Passed: func(e *env, r Result) string {
			return fmt.Sprintf("fallback answered after %s; %d attempts on the silent primary", secs(r.ElapsedMS), len(e.a.requests("claude-primary")))
		},
	},
	{
		Name: "slow-first-token",
		A:    "stall after=1 for=20s model=gpt-primary",
		Call: request{"openai", "gpt-primary", true},
		Want: []check{completeBy("B", "gpt-fallback"), oneStart, within(11*time.Second, "the fallback answered")},
		Passed: func(_ *env, r Result) string {
			return fmt.Sprintf("primary's first token due at 20s; fallback answered in %s", secs(r.ElapsedMS))
		},
	},
	{
		Name:   "fallback-before-first-token",
		A:      "stream-error after=1 model=claude-primary",
		Short:  true,
		Call:   request{"anthropic", "claude-primary", true},
		Want:   []check{completeBy("B", "claude-fallback"), oneStart, markedAs("anthropic-b", "claude-fallback")},
		Passed: says("primary sent message_start then overloaded_error; the client saw one clean stream from the fallback"),
	},
	{
		Name:  "stream-cut-after-content",
		A:     "cut after=5 model=claude-primary",
		Short: true,
		Call:  request{"anthropic", "claude-primary", true},
		Want:  []check{inBandError, stillHealthy},
		Passed: func(_ *env, r Result) string {
			return fmt.Sprintf("%d chars, then in-band %s; not passed as complete", len(r.Text), r.Err)
		},
	},
	{
		Name: "stream-ended-early",
		A:    "truncate after=3 model=gpt-primary",
		Call: request{"openai", "gpt-primary", true},
		Want: []check{inBandError},
		Passed: func(_ *env, r Result) string {
			return fmt.Sprintf("a clean end without finish_reason/[DONE] after %d chars became in-band %s", len(r.Text), r.Err)
		},
	},
	{
		Name:  "stall-mid-stream",
		A:     "stall after=3 model=gpt-primary",
		Short: true,
		Call:  request{"openai", "gpt-primary", true},
		Want:  []check{inBandError, within(10*time.Second, "the stall ended"), stillHealthy},
		Passed: func(_ *env, r Result) string {
			return fmt.Sprintf("stall ended after %s by in-band %s", secs(r.ElapsedMS), r.Err)
		},
	},
	{
		Name:   "malformed-frame",
		A:      "malformed after=1 model=claude-primary",
		Short:  true,
		Call:   request{"anthropic", "claude-primary", true},
		Want:   []check{completeBy("B", "claude-fallback"), oneStart, stillHealthy},
		Passed: says("a half JSON frame before content: the fallback answered, one clean stream"),
	},
	{
		Name: "malformed-after-content",
		A:    "malformed after=2 model=gpt-primary",
		Call: request{"openai", "gpt-primary", true},
		Want: []check{inBandError, stillHealthy},
		Passed: func(_ *env, r Result) string {
			return fmt.Sprintf("%d chars, then in-band %s", len(r.Text), r.Err)
		},
	},
	{
		Name: "flapping-primary",
		// The outage window is set by the scenario (quick: 3 s).
		Run: flapping,
	},
	{
		Name:  "quota-on-one-provider",
		A:     "quota model=gpt-quota",
		Short: true,
		Call:  request{"openai", "gpt-quota", false},
		Want: []check{completeBy("B", "gpt-quota"), attempts("A", "gpt-quota", 1, "on the account out of quota"),
			markedAs("openai-b", "gpt-quota")},
		Passed: says("account A out of quota, tried once; account B answered, marked"),
	},
	{
		Name:  "context-overflow-to-larger-window",
		A:     "context-overflow model=claude-small",
		Short: true,
		Call:  request{"anthropic", "claude-small", false},
		Want:  []check{completeBy("A", "claude-large"), attempts("A", "claude-small", 1, "on the small window")},
		Passed: func(_ *env, r Result) string {
			return "prompt too long for claude-small (1 attempt); claude-large answered, degraded=" + r.header("x-rebound-degraded")
		},
	},
	{
		Name:  "invalid-request-not-retried",
		A:     `error 400 type=invalid_request_error code=invalid_value message="bad value" model=gpt-primary`,
		Short: true,
		Call:  request{"openai", "gpt-primary", false},
		Want: []check{apiError(400, "invalid_request_error", "invalid_value"),
			attempts("A", "gpt-primary", 1, "on the primary"), attempts("B", "", 0, "on the fallback")},
		Passed: says("400 invalid_value in OpenAI's shape, 1 attempt, no fallback"),
	},
	{
		Name:  "key-refused",
		Short: true,
		Call:  request{"anthropic", "claude-keyed", false},
		Want: []check{completeBy("B", "claude-fallback"), attempts("C", "", 1, "with the refused key"), noLeak,
			markedAs("anthropic-b", "claude-fallback")},
		Passed: says("account C refused the gateway's key (401, 1 attempt); B answered, marked; no key in the answer"),
	},
	{
		Name:  "tool-conversation-across-fallback",
		A:     "tool-use name=get_weather model=claude-primary model-req=1\nerror 529 model=claude-primary",
		B:     "ok result=get_weather",
		Short: true,
		Run:   toolConversation,
	},
	{
		Name:  "gateway-client-auth-refused",
		Short: true,
		Run: func(e *env, d Driver) verdict {
			wrong := func(c *Call) { c.APIKey = "sk-not-a-client-key" }
			ra := e.call(d, "anthropic", "claude-primary", false, wrong)
			ro := e.call(d, "openai", "gpt-primary", true, wrong)
			n := len(e.a.requests("")) + len(e.b.requests("")) + len(e.c.requests(""))
			switch {
			case ra.Err == nil || ra.Err.Status != 401 || ra.Err.Type != "authentication_error":
				return fail("Anthropic wire: want 401 authentication_error, got %s", describe(ra))
			case ro.Err == nil || ro.Err.Status != 401 || ro.Err.Type == "" && ro.Err.Code == "":
				return fail("OpenAI wire: want a 401 in OpenAI's shape, got %s", describe(ro))
			case n != 0:
				return fail("%d requests reached the upstreams", n)
			}
			if l := leaks(ra) + leaks(ro); l != "" {
				return fail("%s", l)
			}
			return pass("401 %s / %s in each provider's shape; nothing sent upstream", ra.Err.Type, ro.Err)
		},
	},
}

// leaks names any upstream key found in a result's headers or error.
func leaks(r Result) string {
	hay := r.Text
	if r.Err != nil {
		hay += r.Err.Message
	}
	for k, v := range r.Headers {
		hay += k + v
	}
	for _, k := range []string{upstreamKeyA, upstreamKeyB, upstreamKeyC, keyCRequired} {
		if strings.Contains(hay, k) || strings.Contains(hay, k[len(k)-8:]) {
			return "an upstream key reached the client"
		}
	}
	return ""
}

var weatherTool = Tool{Name: "get_weather", Description: "The weather in a city.",
	Schema: map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"}}}

// toolConversation: turn 1 is answered by the primary with a tool call; the primary is
// overloaded for turn 2, which carries the tool's result: the fallback must get a valid
// conversation (fakellm refuses a tool_result whose call it cannot find, as the API does) and
// answer it.
func toolConversation(e *env, d Driver) verdict {
	withTool := func(c *Call) { c.Tools = []Tool{weatherTool} }
	r1 := e.call(d, "anthropic", "claude-primary", true, withTool)
	if r1.Err != nil || len(r1.ToolCalls) != 1 || r1.StopReason != "tool_use" {
		return fail("turn 1: want one tool call, got %s", describe(r1))
	}
	tc := r1.ToolCalls[0]
	if !json.Valid([]byte(tc.Input)) {
		return fail("turn 1: tool input %q is not JSON", tc.Input)
	}
	r2 := e.call(d, "anthropic", "claude-primary", true, withTool, func(c *Call) {
		c.Messages = append(c.Messages,
			Message{Role: "assistant", ToolCalls: []ToolCall{tc}},
			Message{Role: "user", ToolResults: []ToolResult{{ID: tc.ID, Content: `{"temp_c":14}`}}, Text: prompt})
	})
	if why := e.complete(r2, e.b, "claude-fallback"); why != "" {
		for _, rec := range e.b.requests("") {
			if rec.Invalid != "" {
				why += "; the fallback refused the conversation: " + rec.Invalid
			}
		}
		return fail("turn 2: %s", why)
	}
	recs := e.b.requests("claude-fallback")
	if len(recs) == 0 || len(recs[len(recs)-1].ToolResults) != 1 || recs[len(recs)-1].ToolResults[0] != tc.ID {
		return fail("turn 2: the fallback did not get the tool result for %s", tc.ID)
	}
	return pass("turn 1 tool call %s by the primary; turn 2 (its result) answered by the fallback, conversation intact", tc.ID)
}

// flapping: the primary answers 503 for an outage window (10 s; quick: 3 s), then is healthy;
// requests arrive one every 150 ms. Pass: every request answered; during the outage at most
// 0.3 primary attempts per request (quick: 0.5), so the breaker, not every request, pays; the
// primary serves again within 2 s of its recovery.
func flapping(e *env, d Driver) verdict {
	// The breaker's opening costs a few attempts and each probe one, so the share falls with
	// the outage's length: the quick variant's 3 s allows 0.5.
	outage, tail, limit := 10*time.Second, 4*time.Second, 0.3
	if e.quick {
		outage, tail, limit = 3*time.Second, 3*time.Second, 0.5
	}
	e.a.h.SetScript(fmt.Sprintf("error 503 model=claude-primary during=0s..%s", outage))
	start := time.Now()
	var n, answered, inOutage int
	recovered := time.Duration(-1)
	for time.Since(start) < outage+tail {
		t := time.Since(start)
		r := e.call(d, "anthropic", "claude-primary", true)
		n++
		if t < outage {
			inOutage++
		}
		if a := e.answeredBy(r); a != nil {
			answered++
			if a.fake == e.a && t >= outage && recovered < 0 {
				recovered = t - outage
			}
		}
		time.Sleep(150 * time.Millisecond)
	}
	var primaryInOutage int
	for _, rec := range e.a.requests("claude-primary") {
		if rec.Time.Sub(start) < outage {
			primaryInOutage++
		}
	}
	per := float64(primaryInOutage) / float64(inOutage)
	detail := fmt.Sprintf("%d of %d answered; %.2f primary attempts per request in the %v outage (%d for %d)", answered, n, per, outage, primaryInOutage, inOutage)
	switch {
	case answered != n:
		return fail("%s", detail)
	case recovered < 0:
		return fail("%s; the primary never served again", detail)
	case recovered > 2*time.Second:
		return fail("%s; primary back %v after recovery (limit 2s)", detail, recovered.Round(10*time.Millisecond))
	case per > limit:
		return fail("%s (limit %.1f)", detail, limit)
	}
	return pass("%s; primary back %v after recovery", detail, recovered.Round(10*time.Millisecond))
}
