package fakellm

import "net/http"

// stream writes a streamed reply, applying a stream fault if the rule is one.
func (c *call) stream(o outcome, fault *Rule) {
	seq := c.rec.Seq
	var ev []sseEvent
	if c.openai {
		ev = c.openaiEvents(o, seq)
	} else {
		ev = c.anthropicEvents(o, seq)
	}
	var kind Kind
	after := -1
	if fault != nil {
		kind = fault.Kind
		after = fault.After
	}
	switch o.inputFault {
	case "cut":
		kind, after = KindCut, c.inputAt
	case "truncate":
		kind, after = KindTruncate, c.inputAt
	}
	// Where the fault strikes: after that many events. Cut, truncate and stall default to
	// the middle of the stream and never reach past the terminal event.
	switch kind {
	case KindCut, KindTruncate, KindStall:
		if after < 0 {
			after = len(ev) / 2
		}
		if after > len(ev)-1 {
			after = len(ev) - 1
		}
	case KindStreamError:
		if after < 0 {
			after = 2
		}
		if after > len(ev)-1 {
			after = len(ev) - 1
		}
	case KindMalformed:
		if after < 0 {
			after = 1
		}
		if after > len(ev)-1 {
			after = len(ev) - 1
		}
	}
	c.set("Content-Type", "text/event-stream; charset=utf-8")
	c.set("Cache-Control", "no-cache")
	c.w.WriteHeader(http.StatusOK)
	c.status = http.StatusOK
	fl, _ := c.w.(http.Flusher)
	buf := getBuf()
	defer putBuf(buf)
	flush := func() {
		c.w.Write(*buf)
		*buf = (*buf)[:0]
		if fl != nil {
			fl.Flush()
		}
	}
	for i, e := range ev {
		if i == after {
			switch kind {
			case KindCut:
				flush()
				panic(http.ErrAbortHandler)
			case KindTruncate:
				flush()
				return
			case KindStall:
				flush()
				if fault.For > 0 {
					c.wait(fault.For) // then the rest of the stream, as a slow first token
				} else {
					c.hang()
				}
			case KindStreamError:
				var se sseEvent
				if c.openai {
					se = openaiStreamError(fault, c.req.Model)
				} else {
					se = anthropicStreamError(fault)
				}
				*buf = AppendSSE(*buf, se.name, se.data)
				flush()
				return
			case KindMalformed:
				e.data = e.data[:len(e.data)/2]
			}
		}
		if i > 0 && c.slow > 0 {
			flush()
			c.wait(c.slow)
		}
		*buf = AppendSSE(*buf, e.name, e.data)
		// Flush per event so that a client sees each as it comes, as the real APIs send them.
		flush()
	}
}
