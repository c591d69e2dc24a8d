package fakellm

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Kind names what a rule does to the requests it matches.
type Kind string

// The rule kinds. Latency and Slow are modifiers: every matching modifier applies. Of the others,
// the first matching rule in script order decides the outcome.
const (
	KindOK              Kind = "ok"               // a normal reply (stops the search for a fault)
	KindError           Kind = "error"            // an HTTP error in the provider's shape
	KindQuota           Kind = "quota"            // 429 spend limit / insufficient_quota, not to be retried
	KindContextOverflow Kind = "context-overflow" // 400 prompt too long / context_length_exceeded
	KindLatency         Kind = "latency"          // delay before the response (modifier)
	KindSlow            Kind = "slow"             // delay between stream events (modifier)
	KindHang            Kind = "hang"             // never answer; wait until the client gives up
	KindReset           Kind = "reset"            // close the connection (TCP reset) before any response
	KindMalformed       Kind = "malformed"        // 200 with a body (or one stream event) that is not valid JSON
	KindHTML            Kind = "html"             // a proxy's HTML error page (413 by default)
	KindCut             Kind = "cut"              // the response is cut mid-way (connection aborted)
	KindTruncate        Kind = "truncate"         // the stream ends cleanly without its terminal event
	KindStreamError     Kind = "stream-error"     // an error event in the middle of a 200 stream
	KindStall           Kind = "stall"            // the stream stops sending mid-way and waits for the client to give up
	KindMaxTokens       Kind = "max-tokens"       // stop_reason max_tokens / finish_reason length
	KindRefusal         Kind = "refusal"          // stop_reason refusal / message.refusal
	KindContentFilter   Kind = "content-filter"   // finish_reason content_filter (Anthropic: refusal)
	KindNotJSON         Kind = "not-json"         // prose where the prompt asked for JSON
	KindPauseTurn       Kind = "pause-turn"       // stop_reason pause_turn (OpenAI: a normal stop)
	KindContextWindow   Kind = "context-window"   // stop_reason model_context_window_exceeded / finish_reason length
	KindToolUse         Kind = "tool-use"         // a call of one of the request's tools (not a fault: a scripted turn)
)

var kinds = map[Kind]bool{
	KindOK: true, KindError: true, KindQuota: true, KindContextOverflow: true, KindLatency: true,
	KindSlow: true, KindHang: true, KindReset: true, KindMalformed: true, KindHTML: true, KindCut: true,
	KindTruncate: true, KindStreamError: true, KindStall: true, KindMaxTokens: true, KindRefusal: true,
	KindContentFilter: true, KindNotJSON: true, KindPauseTurn: true, KindContextWindow: true, KindToolUse: true,
}

func (k Kind) modifier() bool { return k == KindLatency || k == KindSlow }

// streamOnly kinds match streaming requests only: a JSON body has no events to delay, error
// mid-way, stall between or end early without.
func (k Kind) streamOnly() bool {
	return k == KindSlow || k == KindTruncate || k == KindStreamError || k == KindStall
}

// Script is a parsed fault script: the rules in order, the seed for probabilities and
// distributions, and the rate limit. The zero Script answers every request normally.
type Script struct {
	Text  string // the source text
	Seed  uint64 // "seed N"; 0 when absent
	Limit Limit  // "limit ..."; zero means no limit is enforced
	Rules []*Rule
}

// Limit is a per-key token-bucket rate limit on requests and on tokens.
type Limit struct {
	RequestsPerSec float64 // refill rate of the request bucket; 0 = unlimited
	RequestBurst   float64 // capacity of the request bucket
	TokensPerSec   float64 // refill rate of the token bucket; 0 = unlimited
	TokenBurst     float64 // capacity of the token bucket
}

// Enabled reports whether any limit is set.
func (l Limit) Enabled() bool { return l.RequestsPerSec > 0 || l.TokensPerSec > 0 }

// Rule is one line of a script: a kind, its parameters and its selectors.
type Rule struct {
	Line int
	Kind Kind
	Name string // "line 3: error 529", the key of the per-fault counters

	// parameters
	Status       int
	Type         string // error type override
	Code         string // error code override
	Message      string
	RetryAfter   string        // retry-after header value
	RetryAfterMS string        // retry-after-ms header value
	ShouldRetry  string        // x-should-retry header value
	After        int           // stream events (or chunks) sent before a stream fault; -1 = default
	Tools        []string      // tool-use: the tools to call, in order; nil = the request's first tool
	Input        string        // tool-use: every call's input (a JSON object); "" = built from the schema
	Chunk        int           // tool-use: bytes per streamed input delta; 0 = two halves
	InputFault   string        // tool-use: "cut", "truncate" or "not-json" (the first call's input)
	Thinking     bool          // ok, tool-use: Anthropic answers start with thinking blocks
	IDPrefix     string        // tool-use: call ids start with this (another provider's shape)
	Delay        Dist          // latency / slow
	For          time.Duration // stall: resume the stream after this long; 0 = wait for the client to give up

	// selectors
	Provider  string // "anthropic" or "openai"; "" = both
	Model     string // glob (path.Match); "" = any
	Contains  string // substring of the last user message
	Req       Range  // global request number, 1-based
	ModelReq  Range  // request number among requests for the same model
	P         float64
	HasP      bool
	From, To  time.Duration // time window since the script was loaded; To 0 = open
	HasWindow bool
	Times     int64  // fire at most this many times; 0 = unlimited
	Stream    int    // 0 any, 1 streaming only, 2 non-streaming only
	Result    string // the last turn carries a result of this tool ("*": of any tool)
	ResultErr int    // 0 either, 1 that result is an error, 2 it is not

	fired atomic.Int64
}

// Range is an inclusive range of request numbers; Hi 0 means open-ended. The zero Range matches all.
type Range struct{ Lo, Hi int64 }

func (r Range) set() bool { return r.Lo != 0 || r.Hi != 0 }

func (r Range) match(n int64) bool {
	if !r.set() {
		return true
	}
	return n >= r.Lo && (r.Hi == 0 || n <= r.Hi)
}

// Dist is a delay distribution: fixed (Min), uniform (Min..Max), exponential with mean Mean,
// or normal with mean Mean and standard deviation SD (clamped at 0).
type Dist struct {
	Kind     string // "fixed", "uniform", "exp", "normal"
	Min, Max time.Duration
	Mean, SD time.Duration
}

// sample draws a delay from the distribution using u1, u2 uniform in [0,1).
func (d Dist) sample(u1, u2 float64) time.Duration {
	switch d.Kind {
	case "uniform":
		return d.Min + time.Duration(u1*float64(d.Max-d.Min))
	case "exp":
		return time.Duration(-math.Log(1-u1) * float64(d.Mean))
	case "normal":
		if u1 == 0 {
			u1 = 1e-12
		}
		z := math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
		v := float64(d.Mean) + z*float64(d.SD)
		if v < 0 {
			v = 0
		}
		return time.Duration(v)
	}
	return d.Min
}

// ScriptError is a script that was rejected: the line (1-based) and the reason.
type ScriptError struct {
	Line   int
	Reason string
}

func (e *ScriptError) Error() string {
	return fmt.Sprintf("fault script line %d: %s", e.Line, e.Reason)
}

// ParseScript parses a fault script. An error is a *ScriptError naming the line and the reason.
func ParseScript(text string) (*Script, error) {
	s := &Script{Text: text}
	seenLimit, seenSeed := 0, 0
	for i, raw := range strings.Split(text, "\n") {
		line := i + 1
		toks, err := tokenize(raw)
		if err != nil {
			return nil, &ScriptError{line, err.Error()}
		}
		if len(toks) == 0 {
			continue
		}
		switch toks[0] {
		case "seed":
			if seenSeed != 0 {
				return nil, &ScriptError{line, fmt.Sprintf("second seed (first on line %d)", seenSeed)}
			}
			seenSeed = line
			if len(toks) != 2 {
				return nil, &ScriptError{line, "seed takes one integer: seed 42"}
			}
			v, err := strconv.ParseUint(toks[1], 10, 64)
			if err != nil {
				return nil, &ScriptError{line, fmt.Sprintf("seed %q is not a non-negative integer", toks[1])}
			}
			s.Seed = v
		case "limit":
			if seenLimit != 0 {
				return nil, &ScriptError{line, fmt.Sprintf("second limit (first on line %d); put all keys on one line", seenLimit)}
			}
			seenLimit = line
			l, err := parseLimit(toks[1:])
			if err != nil {
				return nil, &ScriptError{line, err.Error()}
			}
			s.Limit = l
		default:
			r, err := parseRule(toks)
			if err != nil {
				return nil, &ScriptError{line, err.Error()}
			}
			r.Line = line
			r.Name = fmt.Sprintf("line %d: %s", line, strings.Join(headTokens(toks), " "))
			s.Rules = append(s.Rules, r)
		}
	}
	return s, nil
}

// LoadScript reads and parses a fault script file.
func LoadScript(name string) (*Script, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read fault script: %w", err)
	}
	s, err := ParseScript(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

// headTokens is the kind and its positional arguments, for rule names.
func headTokens(toks []string) []string {
	n := 1
	for n < len(toks) && !strings.Contains(toks[n], "=") {
		n++
	}
	return toks[:n]
}

// tokenize splits a line into tokens: whitespace separates, '#' outside quotes starts a comment,
// and a double-quoted part (with \" and \\ escapes) may contain spaces: contains="two words".
func tokenize(line string) ([]string, error) {
	var toks []string
	var cur strings.Builder
	in := false // inside a token
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '"':
			in = true
			i++
			closed := false
			for ; i < len(line); i++ {
				c = line[i]
				if c == '\\' && i+1 < len(line) && (line[i+1] == '"' || line[i+1] == '\\') {
					cur.WriteByte(line[i+1])
					i++
					continue
				}
				if c == '"' {
					closed = true
					break
				}
				cur.WriteByte(c)
			}
			if !closed {
				return nil, errors.New("unterminated quoted string")
			}
		case c == '\'' && i > 0 && line[i-1] == '=':
			// A value in single quotes is taken literally, for JSON: input='{"city":"Paris"}'.
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unterminated single-quoted value")
			}
			in = true
			cur.WriteString(line[i+1 : i+1+end])
			i += 1 + end
		case c == '#' && !in:
			return toks, nil
		case c == ' ' || c == '\t' || c == '\r':
			if in {
				toks = append(toks, cur.String())
				cur.Reset()
				in = false
			}
		default:
			if c < 0x20 || c == 0x7f {
				return nil, fmt.Errorf("control character 0x%02x", c)
			}
			in = true
			cur.WriteByte(c)
		}
	}
	if in {
		toks = append(toks, cur.String())
	}
	return toks, nil
}

func parseLimit(args []string) (Limit, error) {
	var l Limit
	var rpm, rps, burst, tpm, tps, tburst float64
	if len(args) == 0 {
		return l, errors.New("limit needs keys: limit rpm=1200 tpm=400000, or limit rps=20 burst=20")
	}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return l, fmt.Errorf("limit: %q is not key=value", a)
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			return l, fmt.Errorf("limit: %s=%q is not a positive number", k, v)
		}
		switch k {
		case "rpm":
			rpm = f
		case "rps":
			rps = f
		case "burst":
			burst = f
		case "tpm":
			tpm = f
		case "tps":
			tps = f
		case "token-burst":
			tburst = f
		default:
			return l, fmt.Errorf("limit: unknown key %q (want rpm, rps, burst, tpm, tps, token-burst)", k)
		}
	}
	if rpm > 0 && rps > 0 {
		return l, errors.New("limit: give rpm or rps, not both")
	}
	if tpm > 0 && tps > 0 {
		return l, errors.New("limit: give tpm or tps, not both")
	}
	switch {
	case rpm > 0:
		l.RequestsPerSec, l.RequestBurst = rpm/60, rpm
	case rps > 0:
		l.RequestsPerSec, l.RequestBurst = rps, rps
	}
	if burst > 0 {
		if l.RequestsPerSec == 0 {
			return l, errors.New("limit: burst needs rpm or rps")
		}
		l.RequestBurst = burst
	}
	switch {
	case tpm > 0:
		l.TokensPerSec, l.TokenBurst = tpm/60, tpm
	case tps > 0:
		l.TokensPerSec, l.TokenBurst = tps, tps
	}
	if tburst > 0 {
		if l.TokensPerSec == 0 {
			return l, errors.New("limit: token-burst needs tpm or tps")
		}
		l.TokenBurst = tburst
	}
	if l.RequestBurst > 0 && l.RequestBurst < 1 {
		return l, errors.New("limit: request burst below 1 would refuse every request")
	}
	return l, nil
}

func parseRule(toks []string) (*Rule, error) {
	k := Kind(toks[0])
	if !kinds[k] {
		return nil, fmt.Errorf("unknown rule %q (want seed, limit, or one of: ok, error, quota, context-overflow, latency, slow, hang, reset, malformed, html, cut, truncate, stream-error, stall, max-tokens, refusal, content-filter, not-json, pause-turn, context-window, tool-use)", toks[0])
	}
	r := &Rule{Kind: k, After: -1}
	var pos []string
	for _, t := range toks[1:] {
		if strings.Contains(t, "=") {
			break
		}
		pos = append(pos, t)
	}
	kv := toks[1+len(pos):]
	// positional arguments
	switch k {
	case KindError:
		if len(pos) != 1 {
			return nil, errors.New("error needs one status: error 529")
		}
		st, err := strconv.Atoi(pos[0])
		if err != nil || st < 400 || st > 599 {
			return nil, fmt.Errorf("error status %q is not a number from 400 to 599", pos[0])
		}
		r.Status = st
	case KindHTML:
		r.Status = 413
		if len(pos) > 1 {
			return nil, errors.New("html takes at most one status: html 413")
		}
		if len(pos) == 1 {
			st, err := strconv.Atoi(pos[0])
			if err != nil || st < 400 || st > 599 {
				return nil, fmt.Errorf("html status %q is not a number from 400 to 599", pos[0])
			}
			r.Status = st
		}
	case KindLatency, KindSlow:
		if len(pos) > 1 {
			return nil, fmt.Errorf("%s takes one duration or range: %s 200ms, %s 100ms..500ms", k, k, k)
		}
		if len(pos) == 1 {
			d, err := parseDist(pos[0])
			if err != nil {
				return nil, fmt.Errorf("%s: %v", k, err)
			}
			r.Delay = d
		}
	default:
		if len(pos) > 0 {
			return nil, fmt.Errorf("%s takes no positional argument, got %q (keys are written key=value)", k, pos[0])
		}
	}
	seen := map[string]bool{}
	for _, a := range kv {
		key, v, ok := strings.Cut(a, "=")
		if !ok {
			return nil, fmt.Errorf("%q after key=value arguments is not key=value", a)
		}
		if seen[key] {
			return nil, fmt.Errorf("key %q given twice", key)
		}
		seen[key] = true
		if err := r.setKey(key, v); err != nil {
			return nil, err
		}
	}
	if (k == KindLatency || k == KindSlow) && r.Delay.Kind == "" {
		return nil, fmt.Errorf("%s needs a delay: %s 200ms, %s 100ms..500ms, %s exp=200ms, %s normal=200ms/50ms", k, k, k, k, k)
	}
	return r, nil
}
