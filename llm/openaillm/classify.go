package openaillm

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/ssestream"

	"github.com/rebound-go/rebound"
)

// Translate turns an error of the OpenAI SDK into a classified error (a *rebound.Error, whose
// Err is the SDK's error), reading clock time as now for an HTTP-date retry-after. It follows
// the classification table of docs/provider-errors.md §5.1: code first, then type, then status;
// x-should-retry is kept as the server's verdict; the server's delay (retry-after-ms,
// retry-after, x-ratelimit-reset-* on a 429) is RetryAfter. An insufficient_quota 429, which the
// SDK itself would retry, is ClassQuota: never retried.
//
// A mid-stream error frame (*ssestream.StreamError) is classified by its error object's code and
// type (server_error: ClassTransient). Errors rebound.Classify already understands (context and
// transport errors) pass through unchanged; a malformed chunk is ClassMalformed. nil stays nil.
func Translate(err error, now time.Time) error {
	if err == nil {
		return nil
	}
	var apiErr *openai.Error
	if errors.As(err, &apiErr) {
		var e *rebound.Error
		if apiErr.Response != nil {
			e = rebound.HTTPError(apiErr.StatusCode, apiErr.Response.Header, now)
		} else {
			e = &rebound.Error{Status: apiErr.StatusCode, Class: rebound.StatusClass(apiErr.StatusCode)}
		}
		e.Provider, e.Type, e.Code, e.Message, e.Err = Provider, apiErr.Type, apiErr.Code, apiErr.Message, apiErr
		if c, ok := classOf(e.Type, e.Code, e.Message); ok {
			e.Class = c
		}
		if e.Class == rebound.ClassQuota || e.Class == rebound.ClassContextOverflow {
			e.RetryAfter = 0 // money or size, not time: no delay makes a retry succeed
		}
		return e
	}
	var se *ssestream.StreamError
	if errors.As(err, &se) {
		var body struct {
			Error struct {
				Message string `json:"message"`
				Type    string `json:"type"`
				Code    any    `json:"code"`
			} `json:"error"`
		}
		_ = json.Unmarshal(se.Event.Data, &body)
		e := &rebound.Error{
			Class: rebound.ClassTransient, Provider: Provider, Status: http.StatusOK,
			Type: body.Error.Type, Message: body.Error.Message, Err: err,
		}
		if s, ok := body.Error.Code.(string); ok {
			e.Code = s
		}
		if c, ok := classOf(e.Type, e.Code, e.Message); ok {
			e.Class = c
		} else if c, ok := streamTypeClass[e.Type]; ok {
			e.Class = c
		}
		return e
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	// The SDK reports a 2xx body it cannot decode as fmt.Errorf("error parsing response json: %w")
	// (internal/requestconfig); the wrapped error may be a bare io.ErrUnexpectedEOF, so the prefix
	// is what tells it from a cut connection.
	if errors.As(err, &syn) || errors.As(err, &typ) || strings.HasPrefix(err.Error(), "error parsing response json: ") {
		return &rebound.Error{Class: rebound.ClassMalformed, Provider: Provider, Message: "bad JSON from the API: " + err.Error(), Err: err}
	}
	return err
}

// OpenAI error codes (error.code), which decide before the type.
var codeClass = map[string]rebound.Class{
	"context_length_exceeded":              rebound.ClassContextOverflow,
	"string_above_max_length":              rebound.ClassContextOverflow,
	"insufficient_quota":                   rebound.ClassQuota,
	"credit_balance_exhausted":             rebound.ClassQuota,
	"organization_spend_limit_exceeded":    rebound.ClassQuota,
	"project_spend_limit_exceeded":         rebound.ClassQuota,
	"organization_usage_limit_exceeded":    rebound.ClassQuota,
	"billing_hard_limit_reached":           rebound.ClassQuota,
	"billing_not_active":                   rebound.ClassQuota,
	"rate_limit_exceeded":                  rebound.ClassRateLimited,
	"slow_down":                            rebound.ClassRateLimited,
	"server_is_overloaded":                 rebound.ClassOverloaded,
	"engine_overloaded":                    rebound.ClassOverloaded,
	"invalid_api_key":                      rebound.ClassAuth,
	"invalid_organization":                 rebound.ClassAuth,
	"unsupported_country_region_territory": rebound.ClassAuth,
	"model_not_found":                      rebound.ClassInvalid,
	"content_filter":                       rebound.ClassContentPolicy,
	"content_policy_violation":             rebound.ClassContentPolicy,
}

// OpenAI error types (error.type) that say more than the status. The generic ones
// (invalid_request_error for every 4xx, server_error for every 5xx) do not: the status decides
// then (409 is transient, 413 context_overflow, 504 timeout).
var typeClass = map[string]rebound.Class{
	"insufficient_quota":   rebound.ClassQuota,
	"authentication_error": rebound.ClassAuth,
	"permission_error":     rebound.ClassAuth,
	"rate_limit_error":     rebound.ClassRateLimited,
	"requests":             rebound.ClassRateLimited,
	"tokens":               rebound.ClassRateLimited,
	"overloaded_error":     rebound.ClassOverloaded,
	"timeout_error":        rebound.ClassTimeout,
}

// streamTypeClass classifies the generic types of an error frame inside a stream, which has
// no status of its own.
var streamTypeClass = map[string]rebound.Class{
	"invalid_request_error": rebound.ClassInvalid,
	"server_error":          rebound.ClassTransient,
	"api_error":             rebound.ClassTransient,
}

// classOf decides by code, then type, and reports false when neither is known (the status
// decides).
func classOf(typ, code, message string) (rebound.Class, bool) {
	c, ok := codeClass[code]
	if !ok {
		c, ok = typeClass[typ]
	}
	// Matched by text in this one place: a single request bigger than the tokens-per-minute
	// limit comes back as a rate_limit_exceeded 429 whose message starts "Request too large for
	// gpt-4o ... on tokens per min (TPM): Limit 30000, Requested 31538" (TheR1D/shell_gpt#653).
	// Waiting cannot help: it is a size problem.
	if ok && c == rebound.ClassRateLimited && strings.HasPrefix(strings.TrimSpace(message), "Request too large") {
		return rebound.ClassContextOverflow, true
	}
	return c, ok
}

// StopError returns the error that a choice's finish_reason and refusal mean, or nil when the
// choice is an answer: content_filter and a non-empty refusal are rebound.ClassContentPolicy.
func StopError(finish, refusal string, header http.Header) *rebound.Error {
	switch {
	case finish == "content_filter":
		return &rebound.Error{
			Class: rebound.ClassContentPolicy, Provider: Provider, Status: http.StatusOK,
			Type: "content_filter", Message: "the answer was withheld by the content filter",
			RequestID: header.Get("x-request-id"),
		}
	case refusal != "":
		return &rebound.Error{
			Class: rebound.ClassContentPolicy, Provider: Provider, Status: http.StatusOK,
			Type: "refusal", Message: refusal, RequestID: header.Get("x-request-id"),
		}
	}
	return nil
}

// ClassOf returns the class that an OpenAI error object's type, code and message mean, by the
// table Translate follows, and false when neither the code nor the type is known (the HTTP
// status decides then). inStream is true for an error frame inside a 200 stream, whose generic
// types (server_error, invalid_request_error) say what a status would have. The gateway
// (package gateway) classifies the error bodies it forwards with it.
func ClassOf(typ, code, message string, inStream bool) (rebound.Class, bool) {
	if c, ok := classOf(typ, code, message); ok {
		return c, true
	}
	if inStream {
		c, ok := streamTypeClass[typ]
		return c, ok
	}
	return rebound.ClassUnknown, false
}
