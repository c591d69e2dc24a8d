package fakellm

// openaiDefaults is the Chat Completions error type, code and message for a status (reference §3.5).
func openaiDefaults(status int, model string) (typ, code, msg string) {
	switch status {
	case 400:
		return "invalid_request_error", "", "Invalid request."
	case 401:
		return "invalid_request_error", "invalid_api_key", "Incorrect API key provided: sk-fake****. You can find your API key at https://platform.openai.com/account/api-keys."
	case 403:
		return "invalid_request_error", "unsupported_country_region_territory", "Country, region, or territory not supported"
	case 404:
		return "invalid_request_error", "model_not_found", "The model `" + model + "` does not exist or you do not have access to it."
	case 405:
		return "invalid_request_error", "", "Method not allowed."
	case 409:
		return "invalid_request_error", "", "Conflict."
	case 413:
		return "invalid_request_error", "", "Request too large."
	case 429:
		return "requests", "rate_limit_exceeded", "Rate limit reached for " + model + " in organization org-fakellm on requests per min (RPM). Please try again later."
	case 500:
		return "server_error", "", "The server had an error while processing your request. Sorry about that!"
	case 502:
		return "server_error", "", "Bad gateway."
	case 503:
		return "server_error", "server_is_overloaded", "The engine is currently overloaded, please try again later"
	case 504:
		return "server_error", "", "Gateway timeout."
	}
	if status >= 500 {
		return "server_error", "", "The server had an error while processing your request."
	}
	return "invalid_request_error", "", "Invalid request."
}

// openaiError appends {"error":{"message","type","param","code"}}.
func openaiError(b []byte, status int, typ, code, msg string, param *string, model string) []byte {
	dt, dc, dm := openaiDefaults(status, model)
	if typ == "" {
		typ = dt
		if code == "" {
			code = dc
		}
	}
	if msg == "" {
		msg = dm
	}
	b = append(b, `{"error":{"message":`...)
	b = appendJSONString(b, msg)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, typ)
	b = append(b, `,"param":`...)
	if param != nil {
		b = appendJSONString(b, *param)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"code":`...)
	if code != "" {
		b = appendJSONString(b, code)
	} else {
		b = append(b, "null"...)
	}
	return append(b, "}}"...)
}

func finishReason(o outcome) string {
	switch {
	case len(o.tools) > 0:
		return "tool_calls"
	case o.filter:
		return "content_filter"
	case o.stop == "max_tokens", o.stop == "model_context_window_exceeded":
		return "length"
	}
	return "stop"
}

const created = "1700000000"

func appendChatID(b []byte, seq int64, hash string) []byte {
	b = append(b, `"chatcmpl-fake`...)
	b = append(b, hash...)
	b = append(b, '-')
	b = appendInt(b, seq)
	return append(b, '"')
}

func appendOpenAIUsage(b []byte, in, out int64) []byte {
	b = append(b, `{"prompt_tokens":`...)
	b = appendInt(b, in)
	b = append(b, `,"completion_tokens":`...)
	b = appendInt(b, out)
	b = append(b, `,"total_tokens":`...)
	b = appendInt(b, in+out)
	return append(b, `,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}`...)
}

// openaiBody appends a non-streaming chat.completion.
func (c *call) openaiBody(b []byte, o outcome, seq int64) []byte {
	b = append(b, `{"id":`...)
	b = appendChatID(b, seq, c.p.hash)
	b = append(b, `,"object":"chat.completion","created":`+created+`,"model":`...)
	b = appendJSONString(b, c.req.Model)
	b = append(b, `,"choices":[{"index":0,"message":{"role":"assistant","content":`...)
	switch {
	case len(o.tools) > 0:
		b = append(b, `null,"refusal":null,"tool_calls":[`...)
		for i, t := range o.tools {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":`...)
			b = appendToolID(b, o.idPrefix("call_fake_"), seq, c.p.hash, i)
			b = append(b, `,"type":"function","function":{"name":`...)
			b = appendJSONString(b, t.name)
			b = append(b, `,"arguments":`...)
			b = appendJSONString(b, t.input)
			b = append(b, "}}"...)
		}
		b = append(b, ']')
	case o.refusal:
		b = append(b, `null,"refusal":`...)
		b = appendJSONString(b, refusalText)
	case o.filter:
		b = append(b, `null,"refusal":null`...)
	default:
		b = appendJSONString(b, o.text)
		b = append(b, `,"refusal":null`...)
	}
	b = append(b, `,"annotations":[]},"logprobs":null,"finish_reason":`...)
	b = appendJSONString(b, finishReason(o))
	b = append(b, `}],"usage":`...)
	b = appendOpenAIUsage(b, c.p.inTokens, o.outTok)
	return append(b, `,"service_tier":"default","system_fingerprint":"fp_fakellm"}`...)
}

// openaiEvents is the full chunk sequence of a streamed reply; the last is [DONE].
func (c *call) openaiEvents(o outcome, seq int64) []sseEvent {
	var ev []sseEvent
	usage := c.req.StreamOptions.IncludeUsage
	head := func(choices bool) []byte {
		b := []byte(`{"id":`)
		b = appendChatID(b, seq, c.p.hash)
		b = append(b, `,"object":"chat.completion.chunk","created":`+created+`,"model":`...)
		b = appendJSONString(b, c.req.Model)
		b = append(b, `,"service_tier":"default","system_fingerprint":"fp_fakellm","choices":[`...)
		return b
	}
	tail := func(b []byte) []byte {
		b = append(b, ']')
		if usage {
			b = append(b, `,"usage":null`...)
		}
		return append(b, '}')
	}
	delta := func(d string, finish string) {
		b := head(true)
		b = append(b, `{"index":0,"delta":`...)
		b = append(b, d...)
		b = append(b, `,"logprobs":null,"finish_reason":`...)
		if finish == "" {
			b = append(b, "null"...)
		} else {
			b = appendJSONString(b, finish)
		}
		b = append(b, '}')
		ev = append(ev, sseEvent{"", tail(b)})
	}
	if len(o.tools) == 0 {
		delta(`{"role":"assistant","content":"","refusal":null}`, "")
	}
	switch {
	case len(o.tools) > 0:
		// Each call opens with its id and name, then its arguments in pieces, by index.
		for i, t := range o.tools {
			idx := appendInt(nil, int64(i))
			d := []byte(`{"tool_calls":[{"index":`)
			if i == 0 {
				d = []byte(`{"role":"assistant","content":null,"refusal":null,"tool_calls":[{"index":`)
			}
			d = append(d, idx...)
			d = append(d, `,"id":`...)
			d = appendToolID(d, o.idPrefix("call_fake_"), seq, c.p.hash, i)
			d = append(d, `,"type":"function","function":{"name":`...)
			d = appendJSONString(d, t.name)
			delta(string(append(d, `,"arguments":""}}]}`...)), "")
			for j, part := range inputChunks(t.input, o.chunk) {
				d := append(append([]byte(`{"tool_calls":[{"index":`), idx...), `,"function":{"arguments":`...)
				d = appendJSONString(d, part)
				delta(string(append(d, "}}]}"...)), "")
				if i == 0 && j == 0 {
					c.inputAt = len(ev)
				}
			}
		}
	case o.refusal:
		for _, t := range chunks(refusalText) {
			delta(string(appendJSONString([]byte(`{"refusal":`), t))+"}", "")
		}
	case o.filter:
	default:
		for _, t := range chunks(o.text) {
			delta(string(appendJSONString([]byte(`{"content":`), t))+"}", "")
		}
	}
	delta(`{}`, finishReason(o))
	if usage {
		b := head(false)
		b = append(b, `],"usage":`...)
		b = appendOpenAIUsage(b, c.p.inTokens, o.outTok)
		ev = append(ev, sseEvent{"", append(b, '}')})
	}
	ev = append(ev, sseEvent{"", []byte("[DONE]")})
	return ev
}

// openaiStreamError is the error frame a stream-error rule sends.
func openaiStreamError(r *Rule, model string) sseEvent {
	typ, code, msg := r.Type, r.Code, r.Message
	if typ == "" {
		typ = "server_error"
	}
	if msg == "" {
		msg = "The server had an error while processing your request. Sorry about that!"
	}
	return sseEvent{"", openaiError(nil, 500, typ, code, msg, nil, model)}
}
