package gateway

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/rebound-go/rebound"
)

// api is the wire format of a request: the endpoint it came to.
type api uint8

const (
	apiMessages    api = iota // Anthropic POST /v1/messages
	apiCountTokens            // Anthropic POST /v1/messages/count_tokens
	apiChat                   // OpenAI POST /v1/chat/completions
)

func (a api) String() string {
	switch a {
	case apiMessages:
		return "messages"
	case apiCountTokens:
		return "count_tokens"
	}
	return "chat_completions"
}

func (a api) provider() string {
	if a == apiChat {
		return OpenAI
	}
	return Anthropic
}

// jsonString appends s as a JSON string.
func jsonString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c < 0x20:
			dst = append(dst, `\u00`...)
			dst = append(dst, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// anthropicErrorType is the Anthropic error.type of a gateway-made error of a status.
func anthropicErrorType(status int) string {
	switch status {
	case 400, 405, 422:
		return "invalid_request_error"
	case 401:
		return "authentication_error"
	case 403:
		return "permission_error"
	case 404:
		return "not_found_error"
	case 413:
		return "request_too_large"
	case 429:
		return "rate_limit_error"
	case 504:
		return "timeout_error"
	case 529, 503:
		return "overloaded_error"
	}
	return "api_error"
}

// openaiError is the OpenAI error type and code of a gateway-made error of a status.
func openaiError(status int) (typ, code string) {
	switch status {
	case 401:
		return "invalid_request_error", "invalid_api_key"
	case 404:
		return "invalid_request_error", "model_not_found"
	case 400, 405, 413, 422:
		return "invalid_request_error", ""
	case 429:
		return "rate_limit_error", "rate_limit_exceeded"
	case 504:
		return "timeout_error", "timeout"
	}
	return "server_error", ""
}

// errorBody is a gateway-made error in the provider's own shape: Anthropic's
// {"type":"error","error":{"type":…,"message":…}} or OpenAI's {"error":{"message":…,"type":…,
// "param":null,"code":…}}.
func errorBody(a api, status int, message string) []byte {
	b := make([]byte, 0, 128+len(message))
	if a.provider() == Anthropic {
		b = append(b, `{"type":"error","error":{"type":`...)
		b = jsonString(b, anthropicErrorType(status))
		b = append(b, `,"message":`...)
		b = jsonString(b, message)
		return append(b, "}}"...)
	}
	typ, code := openaiError(status)
	b = append(b, `{"error":{"message":`...)
	b = jsonString(b, message)
	b = append(b, `,"type":`...)
	b = jsonString(b, typ)
	b = append(b, `,"param":null,"code":`...)
	if code == "" {
		b = append(b, "null"...)
	} else {
		b = jsonString(b, code)
	}
	return append(b, "}}"...)
}

// writeError answers with a gateway-made error in the provider's shape.
func writeError(w http.ResponseWriter, a api, status int, message string) {
	body := errorBody(a, status, message)
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	w.Write(body)
}

var jsonContentType = []string{"application/json"}

// statusOf is the status a gateway-made error of a failure that came without a response takes:
// the class's own (504 timeout, 529/503 overloaded, 429 rate limited, 502 otherwise).
func statusOf(a api, c rebound.Class, circuitOpen bool) int {
	switch {
	case circuitOpen:
		return http.StatusServiceUnavailable
	case c == rebound.ClassTimeout:
		return http.StatusGatewayTimeout
	case c == rebound.ClassOverloaded:
		if a.provider() == Anthropic {
			return 529
		}
		return http.StatusServiceUnavailable
	case c == rebound.ClassRateLimited:
		return http.StatusTooManyRequests
	}
	return http.StatusBadGateway
}

// streamErrorEvent is the in-band error that ends a stream whose content already went out:
// Anthropic's "event: error" with an error object, OpenAI's data chunk {"error":…} (and no
// [DONE] after it).
func streamErrorEvent(a api, c rebound.Class, message string) []byte {
	b := make([]byte, 0, 160+len(message))
	if a.provider() == Anthropic {
		typ := "api_error"
		switch c {
		case rebound.ClassOverloaded:
			typ = "overloaded_error"
		case rebound.ClassTimeout:
			typ = "timeout_error"
		case rebound.ClassRateLimited:
			typ = "rate_limit_error"
		}
		b = append(b, "event: error\ndata: "...)
		b = append(b, `{"type":"error","error":{"type":`...)
		b = jsonString(b, typ)
		b = append(b, `,"message":`...)
		b = jsonString(b, message)
		return append(b, "}}\n\n"...)
	}
	typ := "server_error"
	if c == rebound.ClassTimeout {
		typ = "timeout_error"
	}
	b = append(b, `data: {"error":{"message":`...)
	b = jsonString(b, message)
	b = append(b, `,"type":`...)
	b = jsonString(b, typ)
	b = append(b, `,"param":null,"code":"stream_incomplete"}}`...)
	return append(b, "\n\n"...)
}

// redact removes the upstream keys from a message that may quote something an upstream or the
// transport said.
func (g *Gateway) redact(s string) string {
	for _, k := range g.upstreamKeys {
		if k != "" && strings.Contains(s, k) {
			s = strings.ReplaceAll(s, k, "[REDACTED]")
		}
	}
	return s
}
