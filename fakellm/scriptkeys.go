package fakellm

import (
	"errors"
	"fmt"
	"math"
	"path"
	"strconv"
	"strings"
	"time"
)

func (r *Rule) setKey(key, v string) error {
	errorish := r.Kind == KindError || r.Kind == KindQuota || r.Kind == KindContextOverflow || r.Kind == KindStreamError
	streamish := r.Kind == KindCut || r.Kind == KindTruncate || r.Kind == KindStreamError || r.Kind == KindStall || r.Kind == KindMalformed
	switch key {
	case "type", "code", "message":
		if !errorish {
			return fmt.Errorf("%s=... applies only to error, quota, context-overflow and stream-error", key)
		}
		switch key {
		case "type":
			r.Type = v
		case "code":
			r.Code = v
		default:
			r.Message = v
		}
	case "retry-after", "retry-after-ms", "should-retry":
		if r.Kind != KindError && r.Kind != KindQuota && r.Kind != KindContextOverflow && r.Kind != KindHTML {
			return fmt.Errorf("%s=... applies only to error, quota, context-overflow and html", key)
		}
		switch key {
		case "retry-after":
			if v == "" {
				return errors.New("retry-after is empty")
			}
			r.RetryAfter = v
		case "retry-after-ms":
			if _, err := strconv.ParseFloat(v, 64); err != nil {
				return fmt.Errorf("retry-after-ms=%q is not a number", v)
			}
			r.RetryAfterMS = v
		default:
			if v != "true" && v != "false" {
				return fmt.Errorf("should-retry=%q: want true or false", v)
			}
			r.ShouldRetry = v
		}
	case "after":
		if !streamish {
			return errors.New("after=N applies only to cut, truncate, stream-error, stall and malformed")
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1000 {
			return fmt.Errorf("after=%q is not a count from 0 to 1000", v)
		}
		r.After = n
	case "exp", "normal":
		if !r.Kind.modifier() {
			return fmt.Errorf("%s=... applies only to latency and slow", key)
		}
		if r.Delay.Kind != "" {
			return errors.New("give one delay: a duration, a range, exp= or normal=")
		}
		if key == "exp" {
			d, err := parseDur(v)
			if err != nil {
				return fmt.Errorf("exp: %v", err)
			}
			r.Delay = Dist{Kind: "exp", Mean: d}
		} else {
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
		}
	case "name":
		if r.Kind != KindToolUse {
			return errors.New("name=... applies only to tool-use")
		}
		if v == "" {
			return errors.New("name is empty")
		}
		r.Tool = v
	case "provider":
		if v != "anthropic" && v != "openai" {
			return fmt.Errorf("provider=%q: want anthropic or openai", v)
		}
		r.Provider = v
	case "model":
		if _, err := path.Match(v, ""); err != nil {
			return fmt.Errorf("model=%q is not a valid pattern", v)
		}
		r.Model = v
	case "contains":
		if v == "" {
			return errors.New("contains is empty")
		}
		r.Contains = v
	case "req", "model-req":
		rg, err := parseRange(v)
		if err != nil {
			return fmt.Errorf("%s: %v", key, err)
		}
		if key == "req" {
			r.Req = rg
		} else {
			r.ModelReq = rg
		}
	case "p":
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1 || math.IsNaN(f) {
			return fmt.Errorf("p=%q is not a probability from 0 to 1", v)
		}
		r.P, r.HasP = f, true
	case "during":
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
	case "times":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return fmt.Errorf("times=%q is not a positive integer", v)
		}
		r.Times = n
	case "stream":
		switch v {
		case "true":
			r.Stream = 1
		case "false":
			r.Stream = 2
		default:
			return fmt.Errorf("stream=%q: want true or false", v)
		}
	default:
		return fmt.Errorf("unknown key %q for %s", key, r.Kind)
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
