package fakellm

import (
	"net/http"
	"strconv"
)

// anthropicType is the Messages API error type for a status (reference §2.1).
func anthropicType(status int) string {
	switch status {
	case 400:
		return "invalid_request_error"
	case 401:
		return "authentication_error"
	case 402:
		return "billing_error"
	case 403:
		return "permission_error"
	case 404:
		return "not_found_error"
	case 409:
		return "conflict_error"
	case 413:
		return "request_too_large"
	case 429:
		return "rate_limit_error"
	case 504:
		return "timeout_error"
	case 529:
		return "overloaded_error"
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}

func anthropicMessage(status int, typ string) string {
	switch typ {
	case "authentication_error":
		return "invalid x-api-key"
	case "billing_error":
		return "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."
	case "permission_error":
		return "Your API key does not have permission to use the specified resource."
	case "not_found_error":
		return "Not found"
	case "conflict_error":
		return "Conflict"
	case "request_too_large":
		return "Request exceeds the maximum allowed number of bytes."
	case "rate_limit_error":
		return "Number of requests has exceeded your per-minute rate limit"
	case "timeout_error":
		return "Request timeout"
	case "overloaded_error":
		return "Overloaded"
	case "api_error":
		if status == 503 {
			return "Service unavailable"
		}
		return "Internal server error"
	}
	return "Invalid request"
}

// anthropicError appends {"type":"error","error":{"type","message"[,"details":{"error_code"}]},"request_id"}.
func anthropicError(b []byte, status int, typ, code, msg, reqID string) []byte {
	if typ == "" {
		typ = anthropicType(status)
	}
	if msg == "" {
		msg = anthropicMessage(status, typ)
	}
	b = append(b, `{"type":"error","error":{"type":`...)
	b = appendJSONString(b, typ)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, msg)
	if code != "" {
		b = append(b, `,"details":{"error_code":`...)
		b = appendJSONString(b, code)
		b = append(b, '}')
	}
	b = append(b, `},"request_id":`...)
	b = appendJSONString(b, reqID)
	return append(b, '}')
}

func appendMsgID(b []byte, seq int64, hash string) []byte {
	b = append(b, `"msg_fake_`...)
	b = append(b, hash...)
	b = append(b, '_')
	b = appendInt(b, seq)
	return append(b, '"')
}

func appendUsage(b []byte, in, out int64) []byte {
	b = append(b, `{"input_tokens":`...)
	b = appendInt(b, in)
	b = append(b, `,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":`...)
	b = appendInt(b, out)
	return append(b, '}')
}

func appendStopDetails(b []byte, o outcome) []byte {
	if o.stop != "refusal" {
		return append(b, "null"...)
	}
	return append(b, `{"type":"refusal","category":"cyber","explanation":"The request was declined by the fake's scripted refusal."}`...)
}

// anthropicBody appends a non-streaming Messages response.
func (c *call) anthropicBody(b []byte, o outcome, seq int64) []byte {
	b = append(b, `{"id":`...)
	b = appendMsgID(b, seq, c.p.hash)
	b = append(b, `,"type":"message","role":"assistant","model":`...)
	b = appendJSONString(b, c.req.Model)
	b = append(b, `,"content":[`...)
	if o.thinking {
		th := thinkingText(c.p)
		b = append(b, `{"type":"thinking","thinking":`...)
		b = appendJSONString(b, th)
		b = append(b, `,"signature":`...)
		b = appendJSONString(b, signature(th))
		b = append(b, `},{"type":"redacted_thinking","data":`...)
		b = appendJSONString(b, redactedData(c.p))
		b = append(b, "},"...)
	}
	if len(o.tools) > 0 {
		for i, t := range o.tools {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"type":"tool_use","id":`...)
			b = appendToolID(b, o.idPrefix("toolu_fake_"), seq, c.p.hash, i)
			b = append(b, `,"name":`...)
			b = appendJSONString(b, t.name)
			b = append(b, `,"input":`...)
			if i == 0 && o.inputFault == "not-json" {
				// A JSON body cannot hold input that is not JSON: it comes as a string.
				b = appendJSONString(b, t.input)
			} else {
				b = append(b, t.input...)
			}
			b = append(b, '}')
		}
	} else if o.stop != "refusal" {
		b = append(b, `{"type":"text","text":`...)
		b = appendJSONString(b, o.text)
		b = append(b, '}')
	}
	b = append(b, `],"stop_reason":`...)
	b = appendJSONString(b, o.stop)
	b = append(b, `,"stop_sequence":null,"stop_details":`...)
	b = appendStopDetails(b, o)
	b = append(b, `,"usage":`...)
	b = appendUsage(b, c.p.inTokens, o.outTok)
	return append(b, '}')
}

// appendToolID appends the id of call i of answer seq: prefix, hash, seq, and "_i" after the
// first call.
func appendToolID(b []byte, prefix string, seq int64, hash string, i int) []byte {
	b = append(b, '"')
	b = append(b, prefix...)
	b = append(b, hash...)
	b = append(b, '_')
	b = appendInt(b, seq)
	if i > 0 {
		b = append(b, '_')
		b = appendInt(b, int64(i))
	}
	return append(b, '"')
}

// halves splits s in two (on a byte boundary that is not inside a UTF-8 sequence).
func halves(s string) []string {
	h := len(s) / 2
	for h > 0 && s[h]&0xc0 == 0x80 {
		h--
	}
	if h == 0 {
		return []string{s}
	}
	return []string{s[:h], s[h:]}
}

// chunks splits a reply into stream deltas of about three words.
func chunks(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	words := 0
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			words++
			if words == 3 {
				out = append(out, s[start:i+1])
				start = i + 1
				words = 0
			}
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// anthropicEvents is the full event sequence of a streamed reply; the last is message_stop.
func (c *call) anthropicEvents(o outcome, seq int64) []sseEvent {
	var ev []sseEvent
	add := func(name string, b []byte) { ev = append(ev, sseEvent{name, b}) }
	b := []byte(`{"type":"message_start","message":{"id":`)
	b = appendMsgID(b, seq, c.p.hash)
	b = append(b, `,"type":"message","role":"assistant","model":`...)
	b = appendJSONString(b, c.req.Model)
	b = append(b, `,"content":[],"stop_reason":null,"stop_sequence":null,"stop_details":null,"usage":`...)
	b = appendUsage(b, c.p.inTokens, 1)
	b = append(b, "}}"...)
	add("message_start", b)
	base := 0 // the index of the first content block after thinking
	if o.thinking {
		th := thinkingText(c.p)
		add("content_block_start", []byte(`{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}`))
		for _, t := range chunks(th) {
			add("content_block_delta", append(appendJSONString([]byte(`{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":`), t), "}}"...))
		}
		add("content_block_delta", append(appendJSONString([]byte(`{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":`), signature(th)), "}}"...))
		add("content_block_stop", []byte(`{"type":"content_block_stop","index":0}`))
		d := appendJSONString([]byte(`{"type":"content_block_start","index":1,"content_block":{"type":"redacted_thinking","data":`), redactedData(c.p))
		add("content_block_start", append(d, "}}"...))
		add("content_block_stop", []byte(`{"type":"content_block_stop","index":1}`))
		base = 2
	}
	if len(o.tools) > 0 {
		for i, t := range o.tools {
			idx := appendInt(nil, int64(base+i))
			d := []byte(`{"type":"content_block_start","index":`)
			d = append(d, idx...)
			d = append(d, `,"content_block":{"type":"tool_use","id":`...)
			d = appendToolID(d, o.idPrefix("toolu_fake_"), seq, c.p.hash, i)
			d = append(d, `,"name":`...)
			d = appendJSONString(d, t.name)
			add("content_block_start", append(d, `,"input":{}}}`...))
			if i == 0 {
				add("ping", []byte(`{"type": "ping"}`))
			}
			for j, part := range inputChunks(t.input, o.chunk) {
				d := []byte(`{"type":"content_block_delta","index":`)
				d = append(d, idx...)
				d = append(d, `,"delta":{"type":"input_json_delta","partial_json":`...)
				d = appendJSONString(d, part)
				add("content_block_delta", append(d, "}}"...))
				if i == 0 && j == 0 {
					c.inputAt = len(ev)
				}
			}
			add("content_block_stop", append(append([]byte(`{"type":"content_block_stop","index":`), idx...), '}'))
		}
	} else if o.stop != "refusal" {
		idx := appendInt(nil, int64(base))
		add("content_block_start", append(append([]byte(`{"type":"content_block_start","index":`), idx...), `,"content_block":{"type":"text","text":""}}`...))
		add("ping", []byte(`{"type": "ping"}`))
		for _, t := range chunks(o.text) {
			d := append(append([]byte(`{"type":"content_block_delta","index":`), idx...), `,"delta":{"type":"text_delta","text":`...)
			d = appendJSONString(d, t)
			add("content_block_delta", append(d, "}}"...))
		}
		add("content_block_stop", append(append([]byte(`{"type":"content_block_stop","index":`), idx...), '}'))
	} else {
		add("ping", []byte(`{"type": "ping"}`))
	}
	d := []byte(`{"type":"message_delta","delta":{"stop_reason":`)
	d = appendJSONString(d, o.stop)
	d = append(d, `,"stop_sequence":null,"stop_details":`...)
	d = appendStopDetails(d, o)
	d = append(d, `},"usage":`...)
	d = appendUsage(d, c.p.inTokens, o.outTok)
	add("message_delta", append(d, '}'))
	add("message_stop", []byte(`{"type":"message_stop"}`))
	return ev
}

// anthropicStreamError is the error event a stream-error rule sends.
func anthropicStreamError(r *Rule) sseEvent {
	typ, msg := r.Type, r.Message
	if typ == "" {
		typ = "overloaded_error"
	}
	if msg == "" {
		msg = anthropicMessage(http.StatusOK, typ)
	}
	b := []byte(`{"type":"error","error":{"type":`)
	b = appendJSONString(b, typ)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, msg)
	if r.Code != "" {
		b = append(b, `,"details":{"error_code":`...)
		b = appendJSONString(b, r.Code)
		b = append(b, '}')
	}
	return sseEvent{"error", append(b, "}}"...)}
}

// thinkingText is the thinking an answer with thinking=true starts with.
func thinkingText(p prompt) string {
	return "[fakellm " + p.hash + "] thinking about: " + p.words
}

// signature is the signature of a thinking block: the fake checks it when the block comes back,
// as the real API refuses a thinking block that was changed.
func signature(thinking string) string {
	v := fnvAdd(fnvAdd(fnvOffset, "fakellm-signature\x00"), thinking)
	return "fakesig" + strconv.FormatUint(v, 36) + "=="
}

func redactedData(p prompt) string { return "fakellm-redacted-" + p.hash + "==" }
