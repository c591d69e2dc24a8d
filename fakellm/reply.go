package fakellm

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// apiRequest is the part of an Anthropic Messages or OpenAI Chat Completions request body the
// fake reads.
type apiRequest struct {
	Model               string          `json:"model"`
	System              json.RawMessage `json:"system"`
	Messages            []apiMessage    `json:"messages"`
	MaxTokens           int64           `json:"max_tokens"`
	MaxCompletionTokens int64           `json:"max_completion_tokens"`
	Stream              bool            `json:"stream"`
	StreamOptions       struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	ResponseFormat json.RawMessage `json:"response_format"`
	OutputFormat   json.RawMessage `json:"output_format"`
	OutputConfig   json.RawMessage `json:"output_config"`
	Tools          json.RawMessage `json:"tools"`
	ToolChoice     json.RawMessage `json:"tool_choice"`
	// ParallelToolCalls is OpenAI's parallel_tool_calls (nil: not sent).
	ParallelToolCalls *bool `json:"parallel_tool_calls"`
}

type apiMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	ToolCalls  []apiToolCall   `json:"tool_calls"`   // OpenAI assistant
	ToolCallID string          `json:"tool_call_id"` // OpenAI tool
}

type contentBlock struct {
	Type    string          `json:"type"`
	Text    string          `json:"text"`
	Content json.RawMessage `json:"content"`
}

// textOf returns the text of a content value: a string, or an array of blocks whose text
// fields (and the text inside tool results) are joined with newlines.
func textOf(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	switch raw[0] {
	case '"':
		if len(raw) >= 2 && bytes.IndexByte(raw, '\\') < 0 {
			return string(raw[1 : len(raw)-1]), nil // already validated by the outer decoder
		}
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case '[':
		var blocks []contentBlock
		if err := json.Unmarshal(raw, &blocks); err != nil {
			return "", err
		}
		var sb strings.Builder
		for _, b := range blocks {
			t := b.Text
			if t == "" && len(b.Content) > 0 {
				t, _ = textOf(b.Content)
			}
			if t == "" {
				continue
			}
			if sb.Len() > 0 {
				sb.WriteByte('\n')
			}
			sb.WriteString(t)
		}
		return sb.String(), nil
	}
	return "", errors.New("content is neither a string nor an array of blocks")
}

// prompt is what the fake derives from a request.
type prompt struct {
	system    string
	lastUser  string
	hash      string // 12 hex digits over model, system and every message
	words     string // first eight words of the last user message
	inTokens  int64
	wantsJSON bool
	schema    map[string]any // JSON schema of a structured-output request, if any
}

// readPrompt extracts the prompt from a parsed request. OpenAI system/developer messages count as
// system text.
func readPrompt(req *apiRequest) (prompt, error) {
	var p prompt
	h := fnvAdd(fnvOffset, req.Model)
	sys, err := textOf(req.System)
	if err != nil {
		return p, errors.New("system: " + err.Error())
	}
	chars := len(sys)
	var sysB strings.Builder
	sysB.WriteString(sys)
	for i := range req.Messages {
		m := &req.Messages[i]
		t, err := textOf(m.Content)
		if err != nil {
			return p, errors.New("messages: " + err.Error())
		}
		h = fnvAdd(fnvAdd(fnvAdd(fnvAdd(h, "\x00"), m.Role), "\x00"), t)
		chars += len(t)
		switch m.Role {
		case "user":
			p.lastUser = t
		case "system", "developer":
			if sysB.Len() > 0 {
				sysB.WriteByte('\n')
			}
			sysB.WriteString(t)
		}
	}
	p.system = sysB.String()
	v := fnvAdd(fnvAdd(h, "\x01"), sys)
	var sum [8]byte
	for i := range sum {
		sum[i] = byte(v >> (56 - 8*i))
	}
	hx := make([]byte, 12)
	for i := 0; i < 6; i++ {
		hx[2*i] = hexDigits[sum[i]>>4]
		hx[2*i+1] = hexDigits[sum[i]&0xf]
	}
	p.hash = string(hx)
	p.words = firstWords(p.lastUser, 8)
	p.inTokens = int64(3 + 4*len(req.Messages) + (chars+3)/4)
	p.wantsJSON = containsFold(p.system, "json") || containsFold(p.lastUser, "json")
	for _, f := range []json.RawMessage{req.ResponseFormat, req.OutputFormat, req.OutputConfig} {
		if len(f) == 0 || string(f) == "null" {
			continue
		}
		var v map[string]any
		if json.Unmarshal(f, &v) != nil {
			continue
		}
		if fm, ok := v["format"].(map[string]any); ok { // output_config.format
			v = fm
		}
		switch v["type"] {
		case "json_object":
			p.wantsJSON = true
		case "json_schema":
			p.wantsJSON = true
			if s, ok := v["schema"].(map[string]any); ok {
				p.schema = s
			} else if js, ok := v["json_schema"].(map[string]any); ok {
				if s, ok := js["schema"].(map[string]any); ok {
					p.schema = s
				}
			}
		}
	}
	return p, nil
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// fnvAdd continues an FNV-1a 64 hash over s.
func fnvAdd(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func containsFold(s, sub string) bool {
	n := len(sub)
	for i := 0; i+n <= len(s); i++ {
		if strings.EqualFold(s[i:i+n], sub) {
			return true
		}
	}
	return false
}

// firstWords returns up to n words of s joined by single spaces, at most 80 bytes.
func firstWords(s string, n int) string {
	var buf [80]byte
	b := buf[:0]
	words := 0
	for i := 0; i < len(s) && words < n; {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) {
			break
		}
		j := i
		for j < len(s) && !isSpace(s[j]) {
			j++
		}
		if len(b) > 0 {
			b = append(b, ' ')
		}
		b = append(b, s[i:j]...)
		words++
		i = j
		if len(b) >= 80 {
			break
		}
	}
	if len(b) > 80 {
		return strings.ToValidUTF8(string(b[:80]), "")
	}
	return string(b)
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// replyText is the text the fake answers a prompt with when no fault or JSON request changes it:
// "[fakellm HASH] " followed by the first eight words of the last user message. HASH is 12 hex
// digits over the model, the system text and every message, so the same request always gets
// the same reply and a test can tell which step a reply belongs to from the echoed words.
func replyText(p prompt) string {
	return "[fakellm " + p.hash + "] " + p.words
}

// replyJSON is the JSON answer to a prompt that asked for JSON: an instance of the requested
// schema when one was given, else {"reply": HASH, "echo": first words}.
func replyJSON(p prompt) string {
	if p.schema != nil {
		v := instance(p.schema, p, 0)
		b, err := json.Marshal(v)
		if err == nil {
			return string(b)
		}
	}
	b := make([]byte, 0, 64)
	b = append(b, '{')
	b = appendKStr(b, "reply", p.hash)
	b = appendKStr(b, "echo", p.words)
	return string(append(b, '}'))
}

// instance builds a value that satisfies a (simple) JSON schema.
func instance(s map[string]any, p prompt, depth int) any {
	if depth > 8 {
		return nil
	}
	if c, ok := s["const"]; ok {
		return c
	}
	if e, ok := s["enum"].([]any); ok && len(e) > 0 {
		return e[0]
	}
	for _, k := range []string{"anyOf", "oneOf", "allOf"} {
		if alts, ok := s[k].([]any); ok && len(alts) > 0 {
			if m, ok := alts[0].(map[string]any); ok {
				return instance(m, p, depth+1)
			}
		}
	}
	t := s["type"]
	if ts, ok := t.([]any); ok && len(ts) > 0 {
		t = ts[0]
	}
	switch t {
	case "object":
		out := map[string]any{}
		props, _ := s["properties"].(map[string]any)
		for k, v := range props {
			if m, ok := v.(map[string]any); ok {
				out[k] = instance(m, p, depth+1)
			}
		}
		return out
	case "array":
		n := 1
		if mi, ok := s["minItems"].(float64); ok && int(mi) > n && mi < 100 {
			n = int(mi)
		}
		items, _ := s["items"].(map[string]any)
		arr := make([]any, 0, n)
		for i := 0; i < n; i++ {
			arr = append(arr, instance(items, p, depth+1))
		}
		return arr
	case "integer":
		if mn, ok := s["minimum"].(float64); ok {
			return int64(mn)
		}
		return 1
	case "number":
		if mn, ok := s["minimum"].(float64); ok {
			return mn
		}
		return 1.5
	case "boolean":
		return true
	case "null":
		return nil
	case "string":
		return "[fakellm " + p.hash + "] " + p.words
	}
	if _, ok := s["properties"]; ok {
		return instance(map[string]any{"type": "object", "properties": s["properties"]}, p, depth+1)
	}
	return "[fakellm " + p.hash + "]"
}

func tokensOf(s string) int64 {
	n := int64((len(s) + 3) / 4)
	if n < 1 {
		n = 1
	}
	return n
}

// outcome is the generated answer before it is written in a provider's shape.
type outcome struct {
	text    string
	stop    string // Anthropic stop reason: end_turn, max_tokens, refusal, pause_turn, model_context_window_exceeded
	refusal bool
	filter  bool // OpenAI content_filter
	outTok  int64
	tools   []toolCall // the calls of a tool_use stop
	// inputFault is what goes wrong with the first call's input: "cut" (the stream is aborted
	// inside it), "truncate" (the stream ends cleanly inside it), "not-json".
	inputFault string
	chunk      int    // bytes per streamed input delta (0: two halves)
	thinking   bool   // Anthropic: the answer starts with a thinking and a redacted_thinking block
	ids        string // tool call ids start with this instead of toolu_fake_ / call_fake_
}

func (o *outcome) idPrefix(def string) string {
	if o.ids != "" {
		return o.ids
	}
	return def
}

// toolCall is a scripted call of one of the request's tools.
type toolCall struct {
	name  string
	input string // JSON object
}

const refusalText = "I can't help with that request."

// answer computes the reply for a prompt, applying the soft fault kind if any.
func answer(p prompt, maxTokens int64, soft Kind) outcome {
	var o outcome
	switch {
	case soft == KindNotJSON && p.wantsJSON:
		o.text = "Sure! Here is what you asked for: " + p.words + " (" + p.hash + ")"
	case soft == KindRefusal || soft == KindContentFilter:
		o.refusal = soft == KindRefusal
		o.filter = soft == KindContentFilter
		o.stop = "refusal"
		o.outTok = 1
		return o
	case p.wantsJSON:
		o.text = replyJSON(p)
	default:
		o.text = replyText(p)
	}
	o.stop = "end_turn"
	o.outTok = tokensOf(o.text)
	if soft == KindMaxTokens || soft == KindPauseTurn || soft == KindContextWindow {
		// Cut the reply roughly in half, as a model that stopped early would.
		half := len(o.text) / 2
		for half > 0 && half < len(o.text) && o.text[half]&0xc0 == 0x80 {
			half--
		}
		o.text = o.text[:half]
		o.outTok = tokensOf(o.text)
		switch soft {
		case KindPauseTurn:
			o.stop = "pause_turn"
		case KindContextWindow:
			o.stop = "model_context_window_exceeded"
		default:
			o.stop = "max_tokens"
		}
	} else if maxTokens > 0 && o.outTok > maxTokens {
		cut := int(maxTokens) * 4
		for cut > 0 && cut < len(o.text) && o.text[cut]&0xc0 == 0x80 {
			cut--
		}
		if cut < len(o.text) {
			o.text = o.text[:cut]
		}
		o.outTok = maxTokens
		o.stop = "max_tokens"
	}
	return o
}
