package fakellm

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
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

// Counters are the totals since the Handler started (or since Reset).
type Counters struct {
	Requests int64            `json:"requests"`  // finished API requests
	InFlight int64            `json:"in_flight"` // API requests being answered (or hanging) now
	ByModel  map[string]int64 `json:"by_model"`
	ByStatus map[string]int64 `json:"by_status"` // "200", "529"; "0" when no status was sent (reset, hang)
	ByFault  map[string]int64 `json:"by_fault"`  // rule name ("line 3: error 529") or "rate-limit"
}

// Counters returns a copy of the counters.
func (h *Handler) Counters() Counters {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := Counters{Requests: h.total, InFlight: h.busy.Load(), ByModel: map[string]int64{}, ByStatus: map[string]int64{}, ByFault: map[string]int64{}}
	for k, v := range h.byModel {
		c.ByModel[k] = v
	}
	for k, v := range h.byStatus {
		c.ByStatus[strconv.Itoa(k)] = v
	}
	for k, v := range h.byFault {
		c.ByFault[k] = v
	}
	return c
}

// RequestRecord is one entry of the request log. The API key itself is never kept.
type RequestRecord struct {
	ID         int64     `json:"id"`  // matches the request-id / x-request-id header (req_fake_ID)
	Seq        int64     `json:"seq"` // request number under the current script (0: not numbered)
	Time       time.Time `json:"time"`
	Path       string    `json:"path"`
	Provider   string    `json:"provider"`
	Model      string    `json:"model,omitempty"`
	Stream     bool      `json:"stream"`
	Status     int       `json:"status"` // 0 when none was sent
	Fault      string    `json:"fault,omitempty"`
	RetryCount string    `json:"retry_count,omitempty"` // X-Stainless-Retry-Count as sent
	HasKey     bool      `json:"has_key"`
	AuthHeader string    `json:"auth_header,omitempty"` // "x-api-key" or "authorization"
	Version    string    `json:"anthropic_version,omitempty"`
	Prompt     string    `json:"prompt,omitempty"` // first words of the last user message
	ReplyHash  string    `json:"reply_hash,omitempty"`
	Millis     int64     `json:"ms"`
}

// Requests returns the request log, oldest first (at most Options.LogSize entries).
func (h *Handler) Requests() []RequestRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]RequestRecord, 0, len(h.log))
	if len(h.log) < h.opts.LogSize {
		return append(out, h.log...)
	}
	out = append(out, h.log[h.logNext:]...)
	return append(out, h.log[:h.logNext]...)
}

// Reset clears the counters and the request log and restarts the running script.
func (h *Handler) Reset() {
	h.mu.Lock()
	h.total = 0
	clear(h.byModel)
	clear(h.byStatus)
	clear(h.byFault)
	h.log = h.log[:0]
	h.logNext = 0
	h.mu.Unlock()
	h.load(h.state.Load().script)
}

func (h *Handler) record(rec *RequestRecord) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.total++
	if rec.Model != "" {
		if _, ok := h.byModel[rec.Model]; ok || len(h.byModel) < 1000 {
			h.byModel[rec.Model]++
		}
	}
	h.byStatus[rec.Status]++
	if rec.Fault != "" {
		h.byFault[rec.Fault]++
	}
	if h.opts.LogSize == 0 {
		return
	}
	if len(h.log) < h.opts.LogSize {
		h.log = append(h.log, *rec)
		return
	}
	h.log[h.logNext] = *rec
	h.logNext = (h.logNext + 1) % h.opts.LogSize
}

// ControlPrefix is the reserved path of the control plane.
const ControlPrefix = "/_fakellm/"

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
	status int
	rec    RequestRecord
	hv     []string // backing array for header values: one allocation instead of one per header
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
	if c.h.opts.RequireKey && c.key == "" {
		c.setIDHeader()
		msg := "x-api-key header is required"
		if c.openai {
			msg = "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
		}
		c.writeError(http.StatusUnauthorized, "", "", msg, nil)
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
	}
	if msg != "" {
		c.setIDHeader()
		c.writeError(http.StatusBadRequest, "", "", msg, nil)
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

func (st *state) modelCounter(model string) *atomic.Int64 {
	st.modelMu.Lock()
	defer st.modelMu.Unlock()
	n := st.modelSeq[model]
	if n == nil {
		if len(st.modelSeq) >= 1000 {
			model = "\x00other"
			if n = st.modelSeq[model]; n != nil {
				return n
			}
		}
		n = new(atomic.Int64)
		st.modelSeq[model] = n
	}
	return n
}

// mix is splitmix64: a deterministic uniform number in [0,1) from the seed, a rule and a request.
func mix(seed uint64, line int, seq int64, salt uint64) float64 {
	z := seed ^ uint64(line)*0x9e3779b97f4a7c15 ^ uint64(seq)*0xbf58476d1ce4e5b9 ^ salt*0x94d049bb133111eb
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11) / (1 << 53)
}

// pick applies the script to the call: the sum of matching modifiers' delays, the stream delay,
// and the first matching fault (nil: a normal reply).
func (c *call) pick(seq, modelSeq int64) (delay time.Duration, fault *Rule) {
	s := c.st.script
	elapsed := c.now.Sub(c.st.loaded)
	for _, r := range s.Rules {
		if fault != nil && !r.Kind.modifier() {
			continue
		}
		if r.Provider != "" && r.Provider != c.provider() {
			continue
		}
		if r.Stream == 1 && !c.req.Stream || r.Stream == 2 && c.req.Stream {
			continue
		}
		if r.Model != "" {
			if ok, _ := path.Match(r.Model, c.req.Model); !ok {
				continue
			}
		}
		if !r.Req.match(seq) || !r.ModelReq.match(modelSeq) {
			continue
		}
		if r.HasWindow && (elapsed < r.From || r.To != 0 && elapsed >= r.To) {
			continue
		}
		if r.Contains != "" && !strings.Contains(c.p.lastUser, r.Contains) {
			continue
		}
		if r.HasP && mix(s.Seed, r.Line, seq, 0) >= r.P {
			continue
		}
		if r.Times > 0 && r.fired.Add(1) > r.Times {
			continue
		} else if r.Times == 0 {
			r.fired.Add(1)
		}
		switch r.Kind {
		case KindLatency:
			delay += r.Delay.sample(mix(s.Seed, r.Line, seq, 1), mix(s.Seed, r.Line, seq, 2))
		case KindSlow:
			c.slow += r.Delay.sample(mix(s.Seed, r.Line, seq, 1), mix(s.Seed, r.Line, seq, 2))
		default:
			fault = r
		}
	}
	return delay, fault
}

// wait sleeps d. When the client goes away or the Handler closes first, it aborts the
// response (the connection is dropped; nothing half-written is sent as if it were complete).
func (c *call) wait(d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return
	case <-c.r.Context().Done():
	case <-c.h.done:
	}
	panic(http.ErrAbortHandler)
}

// hang waits until the client gives up or the Handler closes, then aborts the response.
func (c *call) hang() {
	select {
	case <-c.r.Context().Done():
	case <-c.h.done:
	}
	panic(http.ErrAbortHandler)
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
	case KindCut, KindTruncate, KindStall, KindStreamError:
		c.w.Header().Set("Content-Type", "application/json")
		c.w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		c.w.WriteHeader(http.StatusOK)
		c.status = http.StatusOK
		c.w.Write(body[:len(body)/2])
		if f, ok := c.w.(http.Flusher); ok {
			f.Flush()
		}
		if kind == KindStall {
			c.hang()
		}
		panic(http.ErrAbortHandler)
	default:
		c.writeJSON(http.StatusOK, body)
	}
}

func (c *call) writeJSON(status int, body []byte) {
	c.set("Content-Type", "application/json")
	c.set("Content-Length", strconv.Itoa(len(body)))
	c.w.WriteHeader(status)
	c.status = status
	c.w.Write(body)
}

// reset drops the connection without a response: a TCP reset where the connection can be
// hijacked, else an aborted response.
func (c *call) reset() {
	if hj, ok := c.w.(http.Hijacker); ok {
		conn, _, err := hj.Hijack()
		if err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

const html413 = "<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n<center><h1>413 Request Entity Too Large</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"

func (c *call) html(r *Rule) {
	body := html413
	if r.Status != 413 {
		t := strconv.Itoa(r.Status) + " " + http.StatusText(r.Status)
		body = "<html>\r\n<head><title>" + t + "</title></head>\r\n<body>\r\n<center><h1>" + t + "</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"
	}
	h := c.w.Header()
	h.Set("Content-Type", "text/html")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Server", "cloudflare")
	c.hintHeaders(r)
	c.w.WriteHeader(r.Status)
	c.status = r.Status
	io.WriteString(c.w, body)
}

func (c *call) hintHeaders(r *Rule) {
	h := c.w.Header()
	if r.RetryAfter != "" {
		h.Set("Retry-After", r.RetryAfter)
	}
	if r.RetryAfterMS != "" {
		h.Set("Retry-After-Ms", r.RetryAfterMS)
	}
	if r.ShouldRetry != "" {
		h.Set("X-Should-Retry", r.ShouldRetry)
	}
}

func (c *call) setIDHeader() {
	if c.openai {
		c.set("X-Request-Id", c.reqID)
	} else {
		c.set("Request-Id", c.reqID)
	}
}

// setHeaders sets the request ID and rate-limit headers every API response carries.
func (c *call) setHeaders() {
	c.setIDHeader()
	if c.openai {
		c.set("Openai-Version", "2020-10-01")
		c.set("Openai-Organization", "org-fakellm")
		c.set("Openai-Processing-Ms", "1")
	} else {
		c.set("Anthropic-Organization-Id", "00000000-0000-4000-8000-00000000fa4e")
	}
	c.setRateHeaders()
}

func (c *call) setRateHeaders() {
	q := &c.q
	if c.openai {
		if !q.enabled || q.reqLimit == 0 {
			c.set("X-Ratelimit-Limit-Requests", nominalReqStr)
			c.set("X-Ratelimit-Remaining-Requests", nominalReqStr)
			c.set("X-Ratelimit-Reset-Requests", "0s")
		} else {
			c.set("X-Ratelimit-Limit-Requests", strconv.FormatInt(q.reqLimit, 10))
			c.set("X-Ratelimit-Remaining-Requests", strconv.FormatInt(q.reqRemain, 10))
			c.set("X-Ratelimit-Reset-Requests", goDuration(q.reqReset))
		}
		if !q.enabled || q.tokLimit == 0 {
			c.set("X-Ratelimit-Limit-Tokens", nominalTokStr)
			c.set("X-Ratelimit-Remaining-Tokens", nominalTokStr)
			c.set("X-Ratelimit-Reset-Tokens", "0s")
		} else {
			c.set("X-Ratelimit-Limit-Tokens", strconv.FormatInt(q.tokLimit, 10))
			c.set("X-Ratelimit-Remaining-Tokens", strconv.FormatInt(q.tokRemain, 10))
			c.set("X-Ratelimit-Reset-Tokens", goDuration(q.tokReset))
		}
		return
	}
	now := c.clock().format(c.now)
	if !q.enabled || q.reqLimit == 0 {
		c.set("Anthropic-Ratelimit-Requests-Limit", nominalReqStr)
		c.set("Anthropic-Ratelimit-Requests-Remaining", nominalReqStr)
		c.set("Anthropic-Ratelimit-Requests-Reset", now)
	} else {
		c.set("Anthropic-Ratelimit-Requests-Limit", strconv.FormatInt(q.reqLimit, 10))
		c.set("Anthropic-Ratelimit-Requests-Remaining", strconv.FormatInt(q.reqRemain, 10))
		c.set("Anthropic-Ratelimit-Requests-Reset", c.clock().resetTime(c.now, q.reqReset))
	}
	lim, rem, reset := nominalTokStr, nominalTokStr, now
	if q.enabled && q.tokLimit > 0 {
		lim = strconv.FormatInt(q.tokLimit, 10)
		rem = strconv.FormatInt(q.tokRemain, 10)
		reset = c.clock().resetTime(c.now, q.tokReset)
	}
	for _, k := range [...][3]string{
		{"Anthropic-Ratelimit-Tokens-Limit", "Anthropic-Ratelimit-Tokens-Remaining", "Anthropic-Ratelimit-Tokens-Reset"},
		{"Anthropic-Ratelimit-Input-Tokens-Limit", "Anthropic-Ratelimit-Input-Tokens-Remaining", "Anthropic-Ratelimit-Input-Tokens-Reset"},
		{"Anthropic-Ratelimit-Output-Tokens-Limit", "Anthropic-Ratelimit-Output-Tokens-Remaining", "Anthropic-Ratelimit-Output-Tokens-Reset"},
	} {
		c.set(k[0], lim)
		c.set(k[1], rem)
		c.set(k[2], reset)
	}
}

func (c *call) clock() *rfc3339Cache { return &c.h.clock }

// rateLimited answers a request the limiter refused: 429 with retry-after, as the providers do.
func (c *call) rateLimited() {
	q := &c.q
	h := c.w.Header()
	if !q.tooLarge {
		secs := int64((q.wait + time.Second - 1) / time.Second)
		if secs < 1 {
			secs = 1
		}
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	if c.openai {
		var msg string
		if q.tooLarge {
			msg = fmt.Sprintf("Request too large for %s in organization org-fakellm on tokens per min (TPM): Limit %d, Requested %d. The input or output tokens must be reduced in order to run successfully.", c.req.Model, q.tokLimit, q.tokRequired)
		} else if q.deniedBy == "requests" {
			msg = fmt.Sprintf("Rate limit reached for %s in organization org-fakellm on requests per min (RPM): Limit %d, Used %d, Requested 1. Please try again in %s.", c.req.Model, q.reqLimit, q.reqUsed, goDuration(q.wait))
		} else {
			msg = fmt.Sprintf("Rate limit reached for %s in organization org-fakellm on tokens per min (TPM): Limit %d, Used %d, Requested %d. Please try again in %s.", c.req.Model, q.tokLimit, q.tokLimit-q.tokRemain, q.tokRequired, goDuration(q.wait))
		}
		c.writeError(http.StatusTooManyRequests, q.deniedBy, "rate_limit_exceeded", msg, nil)
		return
	}
	var msg string
	if q.deniedBy == "requests" {
		msg = fmt.Sprintf("This request would exceed your organization's rate limit of %d requests per minute (org: fakellm, model: %s). For details, refer to: https://docs.claude.com/en/api/rate-limits.", q.reqLimit, c.req.Model)
	} else {
		msg = fmt.Sprintf("This request would exceed your organization's rate limit of %d input tokens per minute (org: fakellm, model: %s). For details, refer to: https://docs.claude.com/en/api/rate-limits.", q.tokLimit, c.req.Model)
	}
	c.writeError(http.StatusTooManyRequests, "rate_limit_error", "", msg, nil)
}

// faultError answers an error, quota or context-overflow rule.
func (c *call) faultError(r *Rule) {
	status, typ, code, msg := r.Status, r.Type, r.Code, r.Message
	var param *string
	switch r.Kind {
	case KindQuota:
		status = http.StatusTooManyRequests
		if c.openai {
			if typ == "" {
				typ = "insufficient_quota"
			}
			if code == "" {
				code = "insufficient_quota"
			}
			if msg == "" {
				msg = "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors."
			}
		} else {
			if typ == "" {
				typ = "rate_limit_error"
			}
			if code == "" {
				code = "enforced_spend_limit_reached"
			}
			if msg == "" {
				y, m, _ := c.now.UTC().Date()
				next := time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC)
				msg = "You have reached your specified API usage limits. You will regain access on " + next.Format("2006-01-02") + " at 00:00 UTC."
			}
		}
	case KindContextOverflow:
		status = http.StatusBadRequest
		tokens := c.p.inTokens + 200000
		if c.openai {
			if code == "" {
				code = "context_length_exceeded"
			}
			if msg == "" {
				msg = fmt.Sprintf("This model's maximum context length is 128000 tokens. However, your messages resulted in %d tokens. Please reduce the length of the messages.", tokens)
			}
			p := "messages"
			param = &p
		} else if msg == "" {
			msg = fmt.Sprintf("prompt is too long: %d tokens > 200000 maximum", tokens)
		}
	}
	c.hintHeaders(r)
	c.writeError(status, typ, code, msg, param)
}

// writeError writes an error body in the provider's shape; empty type and message get the
// provider's usual ones for the status.
func (c *call) writeError(status int, typ, code, msg string, param *string) {
	b := getBuf()
	defer putBuf(b)
	if c.openai {
		*b = openaiError(*b, status, typ, code, msg, param, c.req.Model)
	} else {
		*b = anthropicError(*b, status, typ, code, msg, c.reqID)
	}
	c.writeJSON(status, *b)
}

// control serves the control plane.
func (h *Handler) control(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, ControlPrefix)
	writeJSON := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(v)
	}
	switch name {
	case "script":
		switch r.Method {
		case http.MethodGet:
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			io.WriteString(w, h.Script().Text)
		case http.MethodPut, http.MethodPost:
			b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err != nil {
				http.Error(w, "read script: "+err.Error(), http.StatusBadRequest)
				return
			}
			if err := h.SetScript(string(b)); err != nil {
				var se *ScriptError
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				out := map[string]any{"error": err.Error()}
				if errors.As(err, &se) {
					out["line"] = se.Line
					out["reason"] = se.Reason
				}
				json.NewEncoder(w).Encode(out)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Allow", "GET, PUT, POST")
			http.Error(w, "use GET, PUT or POST", http.StatusMethodNotAllowed)
		}
	case "counters":
		writeJSON(h.Counters())
	case "requests":
		writeJSON(h.Requests())
	case "reset":
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			http.Error(w, "use POST", http.StatusMethodNotAllowed)
			return
		}
		h.Reset()
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "fakellm control plane: GET|PUT|POST script, GET counters, GET requests, POST reset", http.StatusNotFound)
	}
}
