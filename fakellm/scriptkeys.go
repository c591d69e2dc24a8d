package fakellm

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A ruleKey is one key=value argument of a rule: the kinds that take it (nil: every kind) and
// how its value is checked and stored. A new selector or fault parameter is one entry in ruleKeys.
type ruleKey struct {
	kinds []Kind
	arg   string // how the value is shown in the "applies only to" error: "..." or "N"
	set   func(r *Rule, v string) error
}

// The groups of kinds that share keys.
var (
	errorKinds  = []Kind{KindError, KindQuota, KindContextOverflow, KindStreamError}
	retryKinds  = []Kind{KindError, KindQuota, KindContextOverflow, KindHTML}
	streamKinds = []Kind{KindCut, KindTruncate, KindStreamError, KindStall, KindMalformed}
	delayKinds  = []Kind{KindLatency, KindSlow}
)

// ruleKeys maps every key a rule may carry to what it does.
var ruleKeys = map[string]ruleKey{
	// What an error response says.
	"type":    {kinds: errorKinds, set: func(r *Rule, v string) error { r.Type = v; return nil }},
	"code":    {kinds: errorKinds, set: func(r *Rule, v string) error { r.Code = v; return nil }},
	"message": {kinds: errorKinds, set: func(r *Rule, v string) error { r.Message = v; return nil }},

	// The retry headers of an error response.
	"retry-after":    {kinds: retryKinds, set: setRetryAfter},
	"retry-after-ms": {kinds: retryKinds, set: setRetryAfterMS},
	"should-retry":   {kinds: retryKinds, set: setShouldRetry},

	// Where a stream fault strikes.
	"after": {kinds: streamKinds, arg: "N", set: setAfter},
	// How long a stall lasts before the stream goes on (a slow first token); default: until the
	// client gives up.
	"for": {kinds: []Kind{KindStall}, set: func(r *Rule, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > time.Hour {
			return fmt.Errorf("for=%q is not a duration from 1ns to 1h", v)
		}
		r.For = d
		return nil
	}},

	// A modifier's delay given as a distribution.
	"exp":    {kinds: delayKinds, set: setExp},
	"normal": {kinds: delayKinds, set: setNormal},

	// The tools a tool-use turn calls, their input, how it streams and what goes wrong with it.
	"name":        {kinds: []Kind{KindToolUse}, set: setName},
	"input":       {kinds: []Kind{KindToolUse}, set: setInput},
	"chunk":       {kinds: []Kind{KindToolUse}, arg: "N", set: setChunk},
	"input-fault": {kinds: []Kind{KindToolUse}, set: setInputFault},
	"id-prefix": {kinds: []Kind{KindToolUse}, set: func(r *Rule, v string) error {
		if v == "" || len(v) > 200 {
			return fmt.Errorf("id-prefix=%q: want 1 to 200 characters", v)
		}
		r.IDPrefix = v
		return nil
	}},
	"thinking": {kinds: []Kind{KindOK, KindToolUse}, set: func(r *Rule, v string) error {
		if v != "true" {
			return fmt.Errorf("thinking=%q: want thinking=true", v)
		}
		r.Thinking = true
		return nil
	}},

	// Selectors: which requests a rule matches (every kind).
	"provider": {set: setProvider},
	"model":    {set: setModel},
	"contains": {set: setContains},
	"req":      {set: func(r *Rule, v string) (err error) { r.Req, err = keyRange("req", v); return err }},
	"model-req": {set: func(r *Rule, v string) (err error) {
		r.ModelReq, err = keyRange("model-req", v)
		return err
	}},
	"p":      {set: setP},
	"during": {set: setDuring},
	"times":  {set: setTimes},
	"stream": {set: setStream},
	"result": {set: setResult},
	"result-error": {set: func(r *Rule, v string) error {
		switch v {
		case "true":
			r.ResultErr = 1
		case "false":
			r.ResultErr = 2
		default:
			return fmt.Errorf("result-error=%q: want true or false", v)
		}
		if r.Result == "" {
			r.Result = "*"
		}
		return nil
	}},
}

func (r *Rule) setKey(key, v string) error {
	k, ok := ruleKeys[key]
	if !ok {
		return fmt.Errorf("unknown key %q for %s", key, r.Kind)
	}
	if k.kinds != nil && !slices.Contains(k.kinds, r.Kind) {
		arg := k.arg
		if arg == "" {
			arg = "..."
		}
		return fmt.Errorf("%s=%s applies only to %s", key, arg, kindList(k.kinds))
	}
	return k.set(r, v)
}

// kindList names kinds the way the errors do: "cut, truncate and stall".
func kindList(ks []Kind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func setRetryAfter(r *Rule, v string) error {
	if v == "" {
		return errors.New("retry-after is empty")
	}
	r.RetryAfter = v
	return nil
}

func setRetryAfterMS(r *Rule, v string) error {
	if _, err := strconv.ParseFloat(v, 64); err != nil {
		return fmt.Errorf("retry-after-ms=%q is not a number", v)
	}
	r.RetryAfterMS = v
	return nil
}

func setShouldRetry(r *Rule, v string) error {
	if v != "true" && v != "false" {
		return fmt.Errorf("should-retry=%q: want true or false", v)
	}
	r.ShouldRetry = v
	return nil
}

func setAfter(r *Rule, v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 1000 {
		return fmt.Errorf("after=%q is not a count from 0 to 1000", v)
	}
	r.After = n
	return nil
}

// oneDelay refuses a second delay: a rule has one.
func oneDelay(r *Rule) error {
	if r.Delay.Kind != "" {
		return errors.New("give one delay: a duration, a range, exp= or normal=")
	}
	return nil
}

func setExp(r *Rule, v string) error {
	if err := oneDelay(r); err != nil {
		return err
	}
	d, err := parseDur(v)
	if err != nil {
		return fmt.Errorf("exp: %v", err)
	}
	r.Delay = Dist{Kind: "exp", Mean: d}
	return nil
}

func setNormal(r *Rule, v string) error {
	if err := oneDelay(r); err != nil {
		return err
	}
	m, sd, ok := strings.Cut(v, "/")
	if !ok {
		return fmt.Errorf("normal=%q: want MEAN/SD, e.g. normal=200ms/50ms", v)
	}
	dm, err := parseDur(m)
	if err != nil {
		return fmt.Errorf("normal mean: %v", err)
	}
	ds, err := parseDur(sd)
	if err != nil {
		return fmt.Errorf("normal sd: %v", err)
	}
	r.Delay = Dist{Kind: "normal", Mean: dm, SD: ds}
	return nil
}

func setName(r *Rule, v string) error {
	if v == "" {
		return errors.New("name is empty")
	}
	for _, n := range strings.Split(v, ",") {
		if n == "" {
			return fmt.Errorf("name=%q: an empty tool name in the list", v)
		}
		r.Tools = append(r.Tools, n)
	}
	return nil
}

func setInput(r *Rule, v string) error {
	var obj map[string]any
	if err := json.Unmarshal([]byte(v), &obj); err != nil || obj == nil {
		return fmt.Errorf("input=%q is not a JSON object (quote it: input='{\"city\":\"Paris\"}')", v)
	}
	r.Input = v
	return nil
}

func setChunk(r *Rule, v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1<<20 {
		return fmt.Errorf("chunk=%q is not a byte count from 1 to 1048576", v)
	}
	r.Chunk = n
	return nil
}

func setInputFault(r *Rule, v string) error {
	switch v {
	case "cut", "truncate", "not-json":
		r.InputFault = v
		return nil
	}
	return fmt.Errorf("input-fault=%q: want cut, truncate or not-json", v)
}

func setResult(r *Rule, v string) error {
	if v == "" {
		return errors.New("result is empty (give a tool name, or * for any tool)")
	}
	r.Result = v
	return nil
}

func setProvider(r *Rule, v string) error {
	if v != "anthropic" && v != "openai" {
		return fmt.Errorf("provider=%q: want anthropic or openai", v)
	}
	r.Provider = v
	return nil
}

func setModel(r *Rule, v string) error {
	if _, err := path.Match(v, ""); err != nil {
		return fmt.Errorf("model=%q is not a valid pattern", v)
	}
	r.Model = v
	return nil
}

func setContains(r *Rule, v string) error {
	if v == "" {
		return errors.New("contains is empty")
	}
	r.Contains = v
	return nil
}

func keyRange(key, v string) (Range, error) {
	rg, err := parseRange(v)
	if err != nil {
		return Range{}, fmt.Errorf("%s: %v", key, err)
	}
	return rg, nil
}

func setP(r *Rule, v string) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1 || math.IsNaN(f) {
		return fmt.Errorf("p=%q is not a probability from 0 to 1", v)
	}
	r.P, r.HasP = f, true
	return nil
}

func setDuring(r *Rule, v string) error {
	a, b, ok := strings.Cut(v, "..")
	if !ok {
		return fmt.Errorf("during=%q: want T1..T2 (either may be empty), e.g. during=10s..20s", v)
	}
	if a != "" {
		d, err := parseDur(a)
		if err != nil {
			return fmt.Errorf("during start: %v", err)
		}
		r.From = d
	}
	if b != "" {
		d, err := parseDur(b)
		if err != nil {
			return fmt.Errorf("during end: %v", err)
		}
		if d <= r.From {
			return fmt.Errorf("during=%q ends before it starts", v)
		}
		r.To = d
	}
	r.HasWindow = true
	return nil
}

func setTimes(r *Rule, v string) error {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return fmt.Errorf("times=%q is not a positive integer", v)
	}
	r.Times = n
	return nil
}

func setStream(r *Rule, v string) error {
	switch v {
	case "true":
		r.Stream = 1
	case "false":
		r.Stream = 2
	default:
		return fmt.Errorf("stream=%q: want true or false", v)
	}
	return nil
}

func parseDur(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration like 250ms or 2s", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	if d > 24*time.Hour {
		return 0, fmt.Errorf("%q is longer than 24h", s)
	}
	return d, nil
}

func parseDist(s string) (Dist, error) {
	if a, b, ok := strings.Cut(s, ".."); ok {
		lo, err := parseDur(a)
		if err != nil {
			return Dist{}, err
		}
		hi, err := parseDur(b)
		if err != nil {
			return Dist{}, err
		}
		if hi < lo {
			return Dist{}, fmt.Errorf("range %q ends before it starts", s)
		}
		return Dist{Kind: "uniform", Min: lo, Max: hi}, nil
	}
	d, err := parseDur(s)
	if err != nil {
		return Dist{}, err
	}
	return Dist{Kind: "fixed", Min: d}, nil
}

// parseRange reads N, A..B or A.. (1-based, inclusive).
func parseRange(s string) (Range, error) {
	num := func(x string) (int64, error) {
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("%q is not a request number (1, 2, ...)", x)
		}
		return n, nil
	}
	a, b, ok := strings.Cut(s, "..")
	lo, err := num(a)
	if err != nil {
		return Range{}, err
	}
	if !ok {
		return Range{lo, lo}, nil
	}
	if b == "" {
		return Range{lo, 0}, nil
	}
	hi, err := num(b)
	if err != nil {
		return Range{}, err
	}
	if hi < lo {
		return Range{}, fmt.Errorf("range %q ends before it starts", s)
	}
	return Range{lo, hi}, nil
}
