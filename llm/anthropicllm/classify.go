package anthropicllm

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"

	"github.com/rebound-go/rebound"
)

// Translate turns an error of the Anthropic SDK into a classified error (a *rebound.Error, whose
// Err is the SDK's error), reading clock time as now for an HTTP-date retry-after. It follows
// the classification table of docs/provider-errors.md §5.1: the error type and code decide
// before the status; x-should-retry is kept as the server's verdict (it wins over the class);
// the server's delay (retry-after-ms, retry-after, anthropic-ratelimit-*-reset on a 429) is
// RetryAfter.
//
// Errors that are not the API's pass through unchanged when rebound.Classify already
// understands them (context errors, transport errors such as a reset connection or an
// unexpected EOF). A malformed stream event becomes ClassMalformed; the SDK's refusal to send a
// long non-streaming request ("streaming is required") ClassInvalid. nil stays nil.
func Translate(err error, now time.Time) error {
	if err == nil {
		return nil
	}
	var apiErr *anthropic.Error
	if errors.As(err, &apiErr) {
		return translateAPI(apiErr, now)
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	// The SDK reports a 2xx body it cannot decode as fmt.Errorf("error parsing response json: %w")
	// (internal/requestconfig); the wrapped error may be a bare io.ErrUnexpectedEOF, so the prefix
	// is what tells it from a cut connection.
	if errors.As(err, &syn) || errors.As(err, &typ) || strings.HasPrefix(err.Error(), "error parsing response json: ") {
		return &rebound.Error{Class: rebound.ClassMalformed, Provider: Provider, Message: "bad JSON from the API: " + err.Error(), Err: err}
	}
	// The one message matched by text: the SDK's own refusal, before sending, to run a
	// non-streaming request that may take longer than 10 minutes (client.go,
	// CalculateNonStreamingTimeout). No typed error exists for it.
	if strings.Contains(err.Error(), "streaming is required for operations that may take longer than 10 minutes") {
		return &rebound.Error{Class: rebound.ClassInvalid, Provider: Provider, Message: "use Stream: " + err.Error(), Err: err}
	}
	return err
}

func translateAPI(apiErr *anthropic.Error, now time.Time) *rebound.Error {
	status := apiErr.StatusCode
	var e *rebound.Error
	if status == http.StatusOK || apiErr.Response == nil {
		// An error event inside a stream: the status is the stream's 200 and its headers say
		// nothing about the error; the type decides.
		e = &rebound.Error{Status: status, Class: rebound.StatusClass(status)}
	} else {
		e = rebound.HTTPError(status, apiErr.Response.Header, now)
	}
	e.Provider = Provider
	e.Type = string(apiErr.Type())
	e.Code = string(apiErr.ErrorCode())
	e.Message = apiErr.Message
	if apiErr.RequestID != "" {
		e.RequestID = apiErr.RequestID
	}
	e.Err = apiErr
	if c, ok := classOf(e.Type, e.Code, e.Message); ok {
		e.Class = c
	} else if status == http.StatusOK {
		// An error event of a type this version does not know: a failure of the stream, as a
		// cut would be.
		e.Class = rebound.ClassTransient
	}
	if e.Class == rebound.ClassQuota {
		e.RetryAfter = 0 // a spend limit is money, not time: no delay makes a retry succeed
	}
	return e
}

// Anthropic error codes (error.details.error_code) that change the class of their type.
var codeClass = map[string]rebound.Class{
	// 429 rate_limit_error: spend caps, not rate limits. Not transient.
	"enforced_spend_limit_reached": rebound.ClassQuota,
	"contract_spend_limit_reached": rebound.ClassQuota,
	// 429: the acceleration limit; retry after the retry-after header.
	"ramp_limit_exceeded": rebound.ClassRateLimited,
	// 402, 403 and 400 billing and account holds.
	"linked_organization_billing_unavailable": rebound.ClassQuota,
	"linked_organization_spend_limit_reached": rebound.ClassQuota,
	"user_profile_billing_not_authorized":     rebound.ClassQuota,
	"user_profile_not_billable":               rebound.ClassQuota,
	"organization_on_hold":                    rebound.ClassQuota,
	// 413: the body is over the request size cap.
	"request_body_too_large_after_decoding": rebound.ClassContextOverflow,
}

// Anthropic error types (error.type).
var typeClass = map[string]rebound.Class{
	"invalid_request_error": rebound.ClassInvalid,
	"authentication_error":  rebound.ClassAuth,
	"permission_error":      rebound.ClassAuth,
	"billing_error":         rebound.ClassQuota,
	"not_found_error":       rebound.ClassInvalid,
	"conflict_error":        rebound.ClassTransient,
	"request_too_large":     rebound.ClassContextOverflow,
	"rate_limit_error":      rebound.ClassRateLimited,
	"api_error":             rebound.ClassTransient,
	"timeout_error":         rebound.ClassTimeout,
	"overloaded_error":      rebound.ClassOverloaded,
}

// classOf decides by code, then type (with the two messages the API gives no code for), and
// reports false when neither is known (the status decides).
func classOf(typ, code, message string) (rebound.Class, bool) {
	if c, ok := codeClass[code]; ok {
		return c, true
	}
	if typ == "invalid_request_error" {
		// Matched by text in this one place: the API sends these as a bare
		// invalid_request_error, e.g. {"type":"invalid_request_error","message":"prompt is too
		// long: 200251 tokens > 200000 maximum"} (boldsoftware/exe.dev#62), and a 400 when an
		// organisation's or workspace's spend limit is reached.
		m := strings.ToLower(message)
		switch {
		case strings.Contains(m, "prompt is too long"), strings.Contains(m, "context window"):
			return rebound.ClassContextOverflow, true
		case strings.Contains(m, "spend limit"), strings.Contains(m, "usage limit"), strings.Contains(m, "credit balance"):
			return rebound.ClassQuota, true
		}
	}
	c, ok := typeClass[typ]
	return c, ok
}

// StopError returns the error that a message's stop reason means, or nil when the message is
// an answer: a refusal is rebound.ClassContentPolicy (Type "refusal", Code the policy category,
// Message the explanation), model_context_window_exceeded is rebound.ClassContextOverflow.
// Neither is retried on the same model.
func StopError(msg *anthropic.Message, header http.Header) *rebound.Error {
	switch msg.StopReason {
	case anthropic.StopReasonRefusal:
		e := &rebound.Error{
			Class: rebound.ClassContentPolicy, Provider: Provider, Status: http.StatusOK,
			Type: "refusal", Code: string(msg.StopDetails.Category), Message: msg.StopDetails.Explanation,
		}
		if e.Message == "" {
			e.Message = "the model refused"
		}
		e.RequestID = header.Get("request-id")
		return e
	case anthropic.StopReasonModelContextWindowExceeded:
		return &rebound.Error{
			Class: rebound.ClassContextOverflow, Provider: Provider, Status: http.StatusOK,
			Type: string(msg.StopReason), Message: "the model's context window was exceeded",
			RequestID: header.Get("request-id"),
		}
	}
	return nil
}

// ClassOf returns the class that an Anthropic error object's type (error.type), code
// (error.details.error_code) and message mean, by the table Translate follows, and false when
// neither the code nor the type is known (the HTTP status decides then). The gateway (package
// gateway) classifies the error bodies it forwards with it, without decoding them through the
// SDK.
func ClassOf(typ, code, message string) (rebound.Class, bool) { return classOf(typ, code, message) }
