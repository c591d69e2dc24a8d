package fakellm

import (
	"encoding/json"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Handler. The zero value works.
type Options struct {
	// LogSize bounds the request log kept for the control plane. Default 1000; negative keeps none.
	LogSize int
	// RequireKey makes a request without an API key fail with 401 in the provider's shape.
	// Default false: a missing key is accepted (and recorded as missing).
	RequireKey bool
	// Key, when set, is the one API key accepted: a request with any other key (or none) fails
	// with 401 in the provider's shape, as a real API refuses a wrong key.
	Key string
	// Models, when set, are the model names served (globs, path.Match: "claude-*"); a request
	// for any other model fails with 404 (Anthropic not_found_error, OpenAI model_not_found).
	Models []string
	// MaxBodyBytes bounds a request body; a larger one gets 413 in the provider's shape.
	// Default 32 MiB, the Messages API's own limit.
	MaxBodyBytes int64
}

// Handler is the fake server as an http.Handler: the Anthropic and OpenAI endpoints under /v1/
// and the control plane under /_fakellm/. It is safe for concurrent use.
type Handler struct {
	opts  Options
	state atomic.Pointer[state]
	done  chan struct{} // closed by Close: hanging requests return
	once  sync.Once
	ids   atomic.Int64 // request IDs, never reset
	busy  atomic.Int64 // API requests in flight
	clock rfc3339Cache

	mu       sync.Mutex
	total    int64
	byModel  map[string]int64
	byStatus map[int]int64
	byFault  map[string]int64
	log      []RequestRecord // ring of at most opts.LogSize
	logNext  int
}

// state is a loaded script with its own request numbering, fault counts and rate-limit buckets.
type state struct {
	script   *Script
	loaded   time.Time
	lim      *limiter
	seq      atomic.Int64
	modelMu  sync.Mutex
	modelSeq map[string]*atomic.Int64
}

// New returns a Handler running the given fault script (empty: every request succeeds).
// A bad script is a *ScriptError naming the line and the reason.
func New(script string, opts Options) (*Handler, error) {
	s, err := ParseScript(script)
	if err != nil {
		return nil, err
	}
	return NewWithScript(s, opts), nil
}

// NewWithScript returns a Handler running an already parsed script (for example from LoadScript).
// The Handler keeps the rules' counts (times=) in s: do not run one *Script in two Handlers at once.
func NewWithScript(s *Script, opts Options) *Handler {
	if opts.LogSize == 0 {
		opts.LogSize = 1000
	}
	if opts.LogSize < 0 {
		opts.LogSize = 0
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 32 << 20
	}
	h := &Handler{
		opts:     opts,
		done:     make(chan struct{}),
		byModel:  map[string]int64{},
		byStatus: map[int]int64{},
		byFault:  map[string]int64{},
	}
	h.load(s)
	return h
}

func (h *Handler) load(s *Script) {
	if s == nil {
		s = &Script{}
	}
	st := &state{script: s, loaded: time.Now(), modelSeq: map[string]*atomic.Int64{}}
	if s.Limit.Enabled() {
		st.lim = newLimiter(s.Limit)
	}
	// Rules are shared with the caller's *Script; reset their counts for this run.
	for _, r := range s.Rules {
		r.fired.Store(0)
	}
	h.state.Store(st)
}

// SetScript replaces the running script. Request numbers, fault counts, time windows and rate
// limit buckets start again; counters and the request log are kept. A bad script is rejected
// and the running one stays.
func (h *Handler) SetScript(text string) error {
	s, err := ParseScript(text)
	if err != nil {
		return err
	}
	h.load(s)
	return nil
}

// Script returns the running script.
func (h *Handler) Script() *Script { return h.state.Load().script }

// Close releases requests that hang or stall (they end as if the connection had dropped) and
// makes later ones fail at once. Call it before closing the http.Server, whose Shutdown would
// otherwise wait for them.
func (h *Handler) Close() { h.once.Do(func() { close(h.done) }) }

// ServeHTTP routes to the Anthropic and OpenAI endpoints and the control plane.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, ControlPrefix):
		h.control(w, r)
	case p == "/v1/messages":
		h.serveGenerate(w, r, false)
	case p == "/v1/chat/completions":
		h.serveGenerate(w, r, true)
	case p == "/v1/messages/count_tokens":
		h.serveCountTokens(w, r)
	default:
		c := &call{h: h, w: w, r: r, openai: !strings.HasPrefix(p, "/v1/messages") && r.Header.Get("anthropic-version") == ""}
		c.id = h.ids.Add(1)
		c.reqID = requestID(c.id)
		c.setIDHeader()
		c.writeError(http.StatusNotFound, "", "", "Not found: "+p, nil)
	}
}

func requestID(id int64) string {
	b := make([]byte, 0, 24)
	b = append(b, "req_fake_"...)
	b = strconv.AppendInt(b, id, 10)
	return string(b)
}

// call is one API request in flight.
type call struct {
	h      *Handler
	st     *state
	w      http.ResponseWriter
	r      *http.Request
	openai bool
	id     int64
	reqID  string
	req    apiRequest
	p      prompt
	q      quota
	key    string
	now    time.Time
	slow   time.Duration
	cv     convo         // the request's tool conversation
	choice choice        // its tool_choice
	tools  []offeredTool // the tools it offers
	calls  []toolCall    // the calls a tool-use rule scripted
	// inputAt is the stream event after which the first tool input's first piece has been sent
	// (where input-fault=cut and truncate strike).
	inputAt int
	status  int
	rec     RequestRecord
	hv      []string // backing array for header values: one allocation instead of one per header
}

// set sets a header whose key is already canonical, without allocating a slice per header.
func (c *call) set(key, v string) {
	if c.hv == nil {
		c.hv = make([]string, 0, 24)
	}
	c.hv = append(c.hv, v)
	n := len(c.hv)
	c.w.Header()[key] = c.hv[n-1 : n : n]
}

func (c *call) provider() string {
	if c.openai {
		return "openai"
	}
	return "anthropic"
}

// apiKey returns the key from x-api-key or Authorization: Bearer, and which header carried it.
func apiKey(r *http.Request) (key, header string) {
	if k := r.Header.Get("X-Api-Key"); k != "" {
		return k, "x-api-key"
	}
	if a := r.Header.Get("Authorization"); a != "" {
		if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			return strings.TrimSpace(a[7:]), "authorization"
		}
		return "", "authorization"
	}
	return "", ""
}

func (h *Handler) begin(w http.ResponseWriter, r *http.Request, openai bool) *call {
	h.busy.Add(1)
	c := &call{h: h, st: h.state.Load(), w: w, r: r, openai: openai, now: time.Now()}
	c.id = h.ids.Add(1)
	c.reqID = requestID(c.id)
	c.key, c.rec.AuthHeader = apiKey(r)
	c.rec.ID = c.id
	c.rec.Time = c.now
	c.rec.Path = r.URL.Path
	c.rec.Provider = c.provider()
	c.rec.HasKey = c.key != ""
	c.rec.RetryCount = r.Header.Get("X-Stainless-Retry-Count")
	c.rec.Version = r.Header.Get("Anthropic-Version")
	return c
}

func (c *call) finish() {
	c.h.busy.Add(-1)
	c.rec.Status = c.status
	c.rec.Millis = time.Since(c.now).Milliseconds()
	c.h.record(&c.rec)
}

// readBody reads and parses the request body, answering the error itself when it fails.
func (c *call) readBody() bool {
	r := c.r
	if r.Method != http.MethodPost {
		c.setIDHeader()
		c.w.Header().Set("Allow", "POST")
		c.writeError(http.StatusMethodNotAllowed, "", "", "Method "+r.Method+" not allowed; use POST", nil)
		return false
	}
	if (c.h.opts.RequireKey || c.h.opts.Key != "") && c.key == "" {
		c.setIDHeader()
		msg := "x-api-key header is required"
		if c.openai {
			msg = "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
		}
		c.writeError(http.StatusUnauthorized, "", "", msg, nil)
		return false
	}
	if c.h.opts.Key != "" && c.key != c.h.opts.Key {
		c.setIDHeader()
		c.writeError(http.StatusUnauthorized, "", "", "", nil) // the provider's "invalid key" wording
		return false
	}
	bp := getBuf()
	defer putBuf(bp)
	buf := *bp
	lr := io.LimitReader(r.Body, c.h.opts.MaxBodyBytes+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			*bp = buf
			c.setIDHeader()
			c.writeError(http.StatusBadRequest, "", "", "could not read request body: "+err.Error(), nil)
			return false
		}
	}
	*bp = buf
	if int64(len(buf)) > c.h.opts.MaxBodyBytes {
		c.setIDHeader()
		c.writeError(http.StatusRequestEntityTooLarge, "", "", "Request exceeds the maximum allowed number of bytes.", nil)
		return false
	}
	if err := json.Unmarshal(buf, &c.req); err != nil {
		c.setIDHeader()
		c.writeError(http.StatusBadRequest, "", "", "The request body is not valid JSON: "+err.Error(), nil)
		return false
	}
	c.rec.Model = c.req.Model
	c.rec.Stream = c.req.Stream
	p, err := readPrompt(&c.req)
	if err != nil {
		c.setIDHeader()
		c.writeError(http.StatusBadRequest, "", "", err.Error(), nil)
		return false
	}
	c.p = p
	if c.openai {
		c.cv = openaiConvo(c.req.Messages)
	} else {
		c.cv = anthropicConvo(c.req.Messages)
	}
	c.choice = readChoice(&c.req)
	c.tools = offered(c.req.Tools)
	c.rec.ToolUses, c.rec.ToolResults, c.rec.Images = c.cv.uses, c.cv.results, c.cv.images
	for _, t := range c.tools {
		c.rec.Tools = append(c.rec.Tools, t.name)
	}
	var msg string
	switch {
	case c.req.Model == "":
		msg = "model: Field required"
		if c.openai {
			msg = "you must provide a model parameter"
		}
	case len(c.req.Messages) == 0 && r.URL.Path != "/v1/messages/count_tokens":
		msg = "messages: Field required"
		if c.openai {
			msg = "Missing required parameter: 'messages'."
		}
	case !c.openai && c.req.MaxTokens <= 0 && r.URL.Path == "/v1/messages":
		msg = "max_tokens: Field required"
	case c.cv.invalid != "":
		msg = c.cv.invalid
		c.rec.Invalid = msg
	case c.choice.mode == "tool" && !hasTool(c.tools, c.choice.name):
		msg = "tool_choice: tool " + strconv.Quote(c.choice.name) + " is not among the request's tools"
		c.rec.Invalid = msg
	}
	if msg != "" {
		c.setIDHeader()
		c.writeError(http.StatusBadRequest, "", "", msg, nil)
		return false
	}
	if len(c.h.opts.Models) > 0 && !c.served(c.req.Model) {
		c.setIDHeader()
		msg := "model: " + c.req.Model
		if c.openai {
			msg = "" // model_not_found's own wording
		}
		c.writeError(http.StatusNotFound, "", "", msg, nil)
		return false
	}
	c.rec.Prompt = p.words
	c.rec.ReplyHash = p.hash
	return true
}

func (h *Handler) serveCountTokens(w http.ResponseWriter, r *http.Request) {
	c := h.begin(w, r, false)
	defer c.finish()
	if !c.readBody() {
		return
	}
	c.setHeaders()
	b := getBuf()
	defer putBuf(b)
	*b = append(*b, `{"input_tokens":`...)
	*b = appendInt(*b, c.p.inTokens)
	*b = append(*b, '}')
	c.writeJSON(http.StatusOK, *b)
}

func (h *Handler) serveGenerate(w http.ResponseWriter, r *http.Request, openai bool) {
	c := h.begin(w, r, openai)
	defer c.finish()
	if !c.readBody() {
		return
	}
	seq := c.st.seq.Add(1)
	modelSeq := c.st.modelCounter(c.req.Model).Add(1)
	c.rec.Seq = seq

	if c.st.lim != nil {
		c.q = c.st.lim.take(c.key, c.p.inTokens, c.now)
		if c.q.deniedBy != "" {
			c.rec.Fault = "rate-limit"
			c.setHeaders()
			c.rateLimited()
			return
		}
	}
	delay, fault := c.pick(seq, modelSeq)
	if fault != nil {
		c.rec.Fault = fault.Name
	}
	c.wait(delay)
	var kind Kind
	if fault != nil {
		kind = fault.Kind
	}
	switch kind {
	case KindHang:
		c.hang()
	case KindReset:
		c.reset()
		return
	case KindHTML:
		c.html(fault)
		return
	}
	c.setHeaders()
	switch kind {
	case KindError, KindQuota, KindContextOverflow:
		c.faultError(fault)
		return
	}
	maxTok := c.req.MaxTokens
	if c.openai && c.req.MaxCompletionTokens > 0 {
		maxTok = c.req.MaxCompletionTokens
	}
	o := answer(c.p, maxTok, kind)
	o.thinking = fault != nil && fault.Thinking && !c.openai
	if kind == "" || kind == KindOK {
		// A forced tool choice is a call whatever the script says, as the real APIs make one.
		if c.choice.mode == "any" || c.choice.mode == "tool" {
			if calls, ok := toolCalls(c.tools, nil, c.choice, c.p); ok {
				c.calls = calls
				kind = KindToolUse
			}
		}
	}
	if kind == KindToolUse && len(c.calls) > 0 {
		o = outcome{stop: "tool_use", tools: c.calls, outTok: 10, thinking: o.thinking}
		if fault != nil && fault.Kind == KindToolUse {
			o.inputFault, o.chunk, o.ids = fault.InputFault, fault.Chunk, fault.IDPrefix
		}
		if o.inputFault == "not-json" {
			o.tools = append([]toolCall(nil), o.tools...)
			o.tools[0].input = notJSON(o.tools[0].input)
		}
		for _, t := range o.tools {
			o.outTok += tokensOf(t.input)
		}
		if !c.req.Stream && (o.inputFault == "cut" || o.inputFault == "truncate") {
			kind = KindCut // a JSON body has no events: it is cut half-way
		}
	}
	if c.st.lim != nil {
		c.st.lim.spend(c.key, o.outTok, time.Now(), &c.q)
		c.setRateHeaders()
	}
	if c.req.Stream {
		c.stream(o, fault)
		return
	}
	var body []byte
	bp := getBuf()
	defer putBuf(bp)
	if c.openai {
		body = c.openaiBody(*bp, o, seq)
	} else {
		body = c.anthropicBody(*bp, o, seq)
	}
	*bp = body
	switch kind {
	case KindMalformed:
		c.writeJSON(http.StatusOK, body[:len(body)/2])
	case KindCut:
		c.w.Header().Set("Content-Type", "application/json")
		c.w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		c.w.WriteHeader(http.StatusOK)
		c.status = http.StatusOK
		c.w.Write(body[:len(body)/2])
		if f, ok := c.w.(http.Flusher); ok {
			f.Flush()
		}
		panic(http.ErrAbortHandler)
	default:
		c.writeJSON(http.StatusOK, body)
	}
}

func hasTool(tools []offeredTool, name string) bool {
	for _, t := range tools {
		if t.name == name {
			return true
		}
	}
	return false
}

// served reports whether model is one of Options.Models.
func (c *call) served(model string) bool {
	for _, m := range c.h.opts.Models {
		if ok, _ := path.Match(m, model); ok {
			return true
		}
	}
	return false
}
