package fakellm

import (
	"net/http"
	"path"
	"strings"
	"sync/atomic"
	"time"
)

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
		if !c.req.Stream && r.Kind.streamOnly() {
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
		if r.Result != "" {
			name := r.Result
			if name == "*" {
				name = ""
			}
			if !c.cv.matchResult(name, r.ResultErr) {
				continue
			}
		}
		var calls []toolCall
		if r.Kind == KindToolUse {
			var ok bool
			if calls, ok = toolCalls(c.tools, r, c.choice, c.p); !ok {
				continue // the request offers no such tool, or tool_choice none
			}
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
			c.calls = calls
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
