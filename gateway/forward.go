package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/llm/anthropicllm"
	"github.com/rebound-go/rebound/llm/openaillm"
	"github.com/rebound-go/rebound/pipeline"
)

// The marking headers of every answer (docs/gateway.md).
const (
	HeaderUpstream = "X-Rebound-Upstream" // the upstream that answered (or failed last)
	HeaderModel    = "X-Rebound-Model"    // the model that answered (or failed last)
	HeaderDegraded = "X-Rebound-Degraded" // "true" when a fallback answered, else "false"
	HeaderAttempts = "X-Rebound-Attempts" // the attempts sent upstream, in all
	HeaderFailures = "X-Rebound-Failures" // the failed attempts before: "upstream/model class status; …"
)

// exchange is one client request on its way through the chain.
type exchange struct {
	g     *Gateway
	w     http.ResponseWriter
	in    http.Header // the client request's
	api   api
	body  []byte
	ri    reqInfo
	route *route
	span  trace.Span

	start     time.Time
	attempts  int
	failures  []failure
	committed bool // response headers went to the client
	// upstream is the time spent waiting for the upstream in the attempt that answered, up to
	// the point the answer went out (the whole body; a stream's first meaningful frame).
	upstream time.Duration
	// streamOutcome is how a committed stream ended (metric label).
	streamOutcome string
}

// failure is one failed attempt, for the X-Rebound-Failures header, the metrics and the last
// answer.
type failure struct {
	t     *target
	class rebound.Class
	err   error
	resp  *upstreamError // the upstream's error response, if one came
}

// upstreamError is an attempt answered with a failing status: the classified error and the
// response as it came (its body buffered), for the client should the chain end there.
type upstreamError struct {
	err    *rebound.Error
	status int
	header http.Header
	body   []byte
}

func (e *upstreamError) Error() string { return e.err.Error() }
func (e *upstreamError) Unwrap() error { return e.err }

// result is a successful attempt.
type result struct {
	status int
	header http.Header
	body   *bytes.Buffer // a non-streamed answer; nil for a stream (already written)
}

func (g *Gateway) serveAPI(w http.ResponseWriter, r *http.Request, a api) {
	start := time.Now()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeError(w, a, http.StatusMethodNotAllowed, r.Method+" is not allowed: use POST")
		return
	}
	if !g.authorized(r) {
		g.met.requests.WithLabelValues(a.String(), "", "", "unauthorized", "false").Inc()
		writeError(w, a, http.StatusUnauthorized, "invalid gateway key: send one of the gateway's client keys as x-api-key or Authorization: Bearer (not an upstream's key)")
		return
	}
	buf := getBuf()
	defer putBuf(buf)
	if err := readBody(buf, r, g.pol.MaxBody); err != nil {
		if errors.Is(err, errBodyTooLarge) {
			writeError(w, a, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over the gateway's limit of %d bytes", g.pol.MaxBody))
		} else {
			writeError(w, a, http.StatusBadRequest, "could not read the request body")
		}
		return
	}
	body := buf.Bytes()
	ri, err := scanRequest(body)
	if err != nil {
		g.met.requests.WithLabelValues(a.String(), "", "", "invalid", "false").Inc()
		writeError(w, a, http.StatusBadRequest, "invalid request body: "+err.Error())
		return
	}
	if ri.model == "" {
		g.met.requests.WithLabelValues(a.String(), "", "", "invalid", "false").Inc()
		writeError(w, a, http.StatusBadRequest, "model: field required")
		return
	}
	if a == apiCountTokens {
		ri.stream = false
	}
	rt := g.routes[routeKey{a.provider(), ri.model}]
	if rt == nil {
		g.met.requests.WithLabelValues(a.String(), "", "", "not_found", "false").Inc()
		writeError(w, a, http.StatusNotFound, "model "+strconv.Quote(ri.model)+" is not served by this gateway ("+a.provider()+" endpoint)")
		return
	}
	ctx, span := g.tracer.Start(r.Context(), spanNames[a], serverSpan...)
	defer span.End()
	x := &exchange{g: g, w: w, in: r.Header, api: a, body: body, ri: ri, route: rt, span: span, start: start}
	x.run(ctx)
}

// The spans' names, by API, and their options.
var (
	spanNames  = [...]string{apiMessages: "gateway messages", apiCountTokens: "gateway count_tokens", apiChat: "gateway chat_completions"}
	serverSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}
)

// run tries the route's targets in order, each through the pipeline (its retries, its
// breaker, its pacing), and answers with the first success, or the last failure.
func (x *exchange) run(ctx context.Context) {
	g := x.g
	for i, t := range x.route.targets {
		body := x.body
		if t.model != x.ri.model {
			// Another model of the same wire format: only the model field changes.
			body = withModel(make([]byte, 0, len(x.body)+len(t.model)), x.body, x.ri, t.model)
		}
		attemptsBefore := x.attempts
		res, err := pipeline.Do(ctx, g.pipe, pipeline.Call[*result]{
			Key:      t.key,
			Timeout:  -1, // the attempt's timeouts are the exchange's own (first token, idle, response)
			Response: responseOf,
		}, func(ctx context.Context) (*result, error) {
			res, err := x.attempt(ctx, t, body)
			if err != nil && !x.committed && ctx.Err() == nil {
				x.failed(t, err)
			}
			return res, err
		})
		if err == nil {
			x.answer(t, i > 0, res)
			return
		}
		class, _ := rebound.ClassifyContext(ctx, err)
		if x.committed {
			// The stream went out and ended with an in-band error: nothing more can be sent.
			x.finish(t, i > 0, class)
			return
		}
		if ctx.Err() != nil {
			x.finish(t, i > 0, rebound.ClassCanceled)
			return
		}
		// Refused by its breaker before any attempt (or after the attempts: the last one
		// opened it, and its failure is recorded already).
		open := errors.Is(err, rebound.ErrCircuitOpen)
		if open && x.attempts == attemptsBefore {
			x.failures = append(x.failures, failure{t: t, class: class, err: errCircuitOpen})
		}
		if !open && !g.fallbackOn[class] {
			break
		}
	}
	x.fail()
}

var errCircuitOpen = errors.New("circuit open")

// failed records a failed attempt.
func (x *exchange) failed(t *target, err error) {
	class, _ := rebound.Classify(err)
	f := failure{t: t, class: class, err: err}
	var ue *upstreamError
	if errors.As(err, &ue) {
		f.resp = ue
	}
	x.failures = append(x.failures, f)
	if x.span.IsRecording() {
		x.span.AddEvent("attempt failed", trace.WithAttributes(attribute.String("target", t.key), attribute.String("class", class.String())))
	}
}

// responseOf is what an attempt tells the pacer: the header and status of the response.
func responseOf(res *result, err error) (http.Header, int) {
	if res != nil {
		return res.header, res.status
	}
	var ue *upstreamError
	if errors.As(err, &ue) {
		return ue.header, ue.status
	}
	return nil, 0
}

// passHeaders are the upstream response headers passed to the client besides Content-Type.
var passHeaders = []string{"Request-Id", "X-Request-Id"}

func (x *exchange) mark(h http.Header, t *target, degraded bool) {
	h[HeaderUpstream] = t.hot.upstreamValue
	h[HeaderModel] = t.hot.modelValue
	if degraded {
		h[HeaderDegraded] = trueValue
	} else {
		h[HeaderDegraded] = falseValue
	}
	h[HeaderAttempts] = attemptsValue(x.attempts)
	if len(x.failures) > 0 {
		h[HeaderFailures] = []string{x.failureList()}
	}
}

var trueValue, falseValue = []string{"true"}, []string{"false"}

// failureList is the X-Rebound-Failures value: "upstream/model class status; …" (status 0
// when no response came; "open" for a target whose breaker was open).
func (x *exchange) failureList() string {
	var b strings.Builder
	for i, f := range x.failures {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.t.key)
		b.WriteByte(' ')
		if f.err == errCircuitOpen {
			b.WriteString("circuit_open")
			continue
		}
		b.WriteString(f.class.String())
		if f.resp != nil {
			b.WriteByte(' ')
			b.WriteString(strconv.Itoa(f.resp.status))
		}
	}
	return b.String()
}

// answer writes a successful non-streamed answer (a stream is already written).
func (x *exchange) answer(t *target, degraded bool, res *result) {
	if res.body != nil {
		h := x.w.Header()
		copyHeaders(h, res.header)
		x.mark(h, t, degraded)
		h["Content-Length"] = []string{strconv.Itoa(res.body.Len())}
		x.w.WriteHeader(res.status)
		x.w.Write(res.body.Bytes())
		putBuf(res.body)
	}
	x.finish(t, degraded, rebound.ClassUnknown)
}

func copyHeaders(dst, src http.Header) {
	if v := src["Content-Type"]; len(v) > 0 {
		dst["Content-Type"] = v
	}
	for _, k := range passHeaders {
		if v := src[k]; len(v) > 0 {
			dst[k] = v
		}
	}
}

// finish records the request's metrics and span; class is ClassUnknown for a success.
func (x *exchange) finish(t *target, degraded bool, class rebound.Class) {
	g := x.g
	outcome := "ok"
	if class != rebound.ClassUnknown {
		outcome = class.String()
	}
	up, model := "", ""
	if t != nil {
		up, model = t.up.name, t.model
	}
	fb := "false"
	if degraded {
		fb = "true"
	}
	if outcome == "ok" && t != nil {
		t.served(g.met, x.api, degraded).Inc()
	} else {
		g.met.requests.WithLabelValues(x.api.String(), up, model, outcome, fb).Inc()
	}
	if x.ri.stream && x.streamOutcome != "" {
		g.met.stream(x.api, x.streamOutcome).Inc()
	}
	if outcome == "ok" && x.attempts == 1 {
		// The gateway's own share of the time: the whole minus the upstream's.
		added := time.Since(x.start) - x.upstream
		if x.ri.stream {
			g.met.addedStream.Observe(added.Seconds())
		} else {
			g.met.added.Observe(added.Seconds())
		}
	}
	if x.span.IsRecording() {
		x.span.SetAttributes(
			attribute.String("rebound.upstream", up), attribute.String("rebound.model", model),
			attribute.Int("rebound.attempts", x.attempts), attribute.Bool("rebound.degraded", degraded),
			attribute.String("rebound.outcome", outcome),
		)
		if outcome != "ok" {
			x.span.SetStatus(codes.Error, outcome)
		}
	}
	if outcome != "ok" || degraded {
		g.log.Info("gateway request", "api", x.api.String(), "route", x.route.label, "upstream", up, "model", model,
			"outcome", outcome, "degraded", degraded, "attempts", x.attempts, "failures", x.failureList())
	}
}

// fail answers with the chain's last failure: the upstream's own error response as it came
// (provider shape, its status), or, when none came, a gateway-made error of its class. Either
// way it says x-should-retry: false: the gateway already retried, and an SDK retrying on top
// would multiply the load on an upstream in trouble.
func (x *exchange) fail() {
	last := x.failures[len(x.failures)-1]
	fellBack := last.t != x.route.targets[0]
	h := x.w.Header()
	x.mark(h, last.t, fellBack)
	h["X-Should-Retry"] = falseValue
	if last.resp != nil {
		copyHeaders(h, last.resp.header)
		if v := last.resp.header.Get("Retry-After"); v != "" {
			h.Set("Retry-After", v)
		}
		h["Content-Length"] = []string{strconv.Itoa(len(last.resp.body))}
		x.w.WriteHeader(last.resp.status)
		x.w.Write(last.resp.body)
	} else {
		msg := "every upstream of model " + strconv.Quote(x.ri.model) + " failed; last: " + last.t.key + ": "
		if last.err == errCircuitOpen {
			msg += "circuit open"
		} else {
			msg += x.g.redact(last.err.Error())
		}
		writeError(x.w, x.api, statusOf(x.api, last.class, last.err == errCircuitOpen), msg)
	}
	x.finish(last.t, fellBack, last.class)
}

// errFirstToken, errIdle and errResponse are the causes with which an attempt's own timeouts
// end it.
var (
	errFirstToken = errors.New("no first token in time")
	errIdle       = errors.New("the stream went idle")
	errResponse   = errors.New("no complete response in time")
)

// attempt sends one attempt to t and reads its answer: the whole body of a non-streamed
// answer, or a stream up to its first meaningful frame (then the stream is forwarded to the
// client as it comes, and the exchange is committed).
func (x *exchange) attempt(ctx context.Context, t *target, body []byte) (*result, error) {
	x.attempts++
	url, u := t.up.url, t.up.hot.url
	if x.api == apiCountTokens {
		url, u = t.up.countURL, t.up.hot.countURL
	}
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	limit, cause := time.Duration(x.g.pol.Response), errResponse
	if x.ri.stream {
		limit, cause = time.Duration(x.g.pol.FirstToken), errFirstToken
	}
	timer := time.AfterFunc(limit, func() { cancel(cause) })
	defer timer.Stop()

	req, err := upstreamRequest(actx, u, url, body)
	if err != nil {
		return nil, rebound.Permanent(err)
	}
	x.upstreamHeaders(req.Header, t.up)
	sent := time.Now()
	resp, err := x.g.rt.RoundTrip(req)
	if err != nil {
		return nil, x.attemptErr(ctx, actx, t, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return nil, x.statusErr(ctx, actx, t, resp)
	}
	if !x.ri.stream {
		buf := getBuf()
		_, err := buf.ReadFrom(resp.Body)
		if err != nil {
			putBuf(buf)
			return nil, x.attemptErr(ctx, actx, t, err)
		}
		if buf.Len() == 0 || !validJSON(buf.Bytes()) {
			putBuf(buf)
			return nil, &rebound.Error{Class: rebound.ClassMalformed, Provider: t.key, Status: resp.StatusCode,
				Message: "the upstream's answer is not valid JSON"}
		}
		x.upstream = time.Since(sent)
		return &result{status: resp.StatusCode, header: resp.Header, body: buf}, nil
	}
	return x.stream(ctx, actx, cancel, timer, t, resp, sent)
}

// upstreamHeaders sets the headers of an upstream request: the client's protocol headers
// (never its key), and the upstream's own key.
func (x *exchange) upstreamHeaders(h http.Header, up *upstream) {
	in := x.in
	h["Content-Type"] = jsonContentType
	if x.ri.stream {
		h["Accept"] = sseAccept
	} else {
		h["Accept"] = jsonContentType
	}
	if up.provider == Anthropic {
		if v := in["Anthropic-Version"]; len(v) > 0 {
			h["Anthropic-Version"] = v
		} else {
			h["Anthropic-Version"] = defaultAnthropicVersion
		}
		if v := in["Anthropic-Beta"]; len(v) > 0 {
			h["Anthropic-Beta"] = v
		}
		h["X-Api-Key"] = []string{up.key.Reveal()}
	} else {
		if v := in["Openai-Beta"]; len(v) > 0 {
			h["Openai-Beta"] = v
		}
		h["Authorization"] = []string{"Bearer " + up.key.Reveal()}
	}
	if v := in["Idempotency-Key"]; len(v) > 0 {
		h["Idempotency-Key"] = v
	}
}

var (
	sseAccept               = []string{"text/event-stream"}
	defaultAnthropicVersion = []string{"2023-06-01"}
)

// attemptErr classifies a failure without a (complete) response: the attempt's own timeouts
// are ClassTimeout; the client's cancellation is returned as it is.
func (x *exchange) attemptErr(ctx, actx context.Context, t *target, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	switch cause := context.Cause(actx); cause {
	case errFirstToken, errIdle, errResponse:
		limit := x.g.pol.Response
		switch cause {
		case errFirstToken:
			limit = x.g.pol.FirstToken
		case errIdle:
			limit = x.g.pol.Idle
		}
		return &rebound.Error{Class: rebound.ClassTimeout, Provider: t.key,
			Message: fmt.Sprintf("%s (%s)", cause, time.Duration(limit))}
	}
	c, _ := rebound.Classify(err)
	if c == rebound.ClassUnknown {
		c = rebound.ClassTransient
	}
	return &rebound.Error{Class: c, Provider: t.key, Message: x.g.redact(err.Error())}
}

// errorBodyJSON is the error body both providers send, in an answer and as an in-band event
// (Anthropic's error.details.error_code, OpenAI's error.code).
type errorBodyJSON struct {
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
		Code    any    `json:"code"`
		Details struct {
			ErrorCode string `json:"error_code"`
		} `json:"details"`
	} `json:"error"`
}

// classify sets e's Code and, where the provider's own table knows the error, its Class: the
// llm adapters' tables, so that the gateway and the library classify a body alike. inStream
// says the error came as an in-band event of a streamed answer.
func (eb *errorBodyJSON) classify(provider string, e *rebound.Error, inStream bool) {
	var c rebound.Class
	ok := false
	if provider == Anthropic {
		e.Code = eb.Error.Details.ErrorCode
		c, ok = anthropicllm.ClassOf(e.Type, e.Code, eb.Error.Message)
	} else {
		if s, isStr := eb.Error.Code.(string); isStr {
			e.Code = s
		}
		c, ok = openaillm.ClassOf(e.Type, e.Code, eb.Error.Message, inStream)
	}
	if ok {
		e.Class = c
	}
}

// maxErrorBody bounds the error body kept of a failing response.
const maxErrorBody = 64 << 10

// statusErr classifies a failing response by its status, headers and error body (the
// provider's error type and code decide before the status, as in the llm adapters).
func (x *exchange) statusErr(ctx, actx context.Context, t *target, resp *http.Response) error {
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	e := rebound.HTTPError(resp.StatusCode, resp.Header, time.Now())
	e.Provider = t.key
	e.Message = resp.Status
	var eb errorBodyJSON
	if json.Unmarshal(body, &eb) == nil {
		e.Type, e.Message = eb.Error.Type, x.g.redact(eb.Error.Message)
		eb.classify(t.up.provider, e, false)
		if e.Class == rebound.ClassQuota || e.Class == rebound.ClassContextOverflow {
			e.RetryAfter = 0
		}
	}
	if e.Class == rebound.ClassAuth {
		// The upstream refused the gateway's key: the client's request may be fine elsewhere,
		// but the client must not see the upstream's words about a key it never sent.
		body = errorBody(x.api, http.StatusBadGateway, "upstream "+t.up.name+" refused the gateway's credentials for "+t.model)
		return &upstreamError{err: e, status: http.StatusBadGateway, header: resp.Header, body: body}
	}
	return &upstreamError{err: e, status: resp.StatusCode, header: resp.Header, body: []byte(x.g.redact(string(body)))}
}
