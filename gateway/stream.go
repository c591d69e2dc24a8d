package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/rebound-go/rebound"
)

// Stream outcomes (the outcome label of rebound_gateway_streams_total).
const (
	streamComplete      = "complete"       // the upstream's terminal frame went out
	streamUpstreamError = "upstream_error" // the upstream's own in-band error went out
	streamCut           = "cut"            // the upstream ended early: an in-band error went out
	streamIdle          = "idle_timeout"   // the upstream went silent: an in-band error went out
	streamMalformed     = "malformed"      // a frame that does not parse: an in-band error went out
	streamClientGone    = "client_gone"    // the client went away
)

// event is one SSE event as the upstream sent it.
type event struct {
	raw  []byte // every line of it, the blank line that ends it included (valid until the next)
	name string // the event: field ("" when none)
	data []byte // the data: fields joined by '\n'
}

// sseReader reads SSE events one at a time, keeping each one's bytes as they came.
type sseReader struct {
	br    *bufio.Reader
	raw   []byte
	data  []byte
	multi bool
}

// next returns the next event: io.EOF at the end of a stream between events,
// io.ErrUnexpectedEOF when it ends inside one (an incomplete event is never dispatched, as the
// SSE specification says).
func (s *sseReader) next() (event, error) {
	s.raw = s.raw[:0]
	s.data = s.data[:0]
	s.multi = false
	var ev event
	fields := false
	var dataStart, dataEnd int
	ndata := 0
	for {
		start := len(s.raw)
		line, err := s.br.ReadSlice('\n')
		s.raw = append(s.raw, line...)
		for err == bufio.ErrBufferFull {
			line, err = s.br.ReadSlice('\n')
			s.raw = append(s.raw, line...)
		}
		if err != nil {
			if err == io.EOF {
				if len(s.raw) == 0 || (!fields && len(bytes.TrimSpace(s.raw)) == 0) {
					return ev, io.EOF
				}
				return ev, io.ErrUnexpectedEOF
			}
			return ev, err
		}
		l := s.raw[start:]
		l = bytes.TrimSuffix(bytes.TrimSuffix(l, []byte{'\n'}), []byte{'\r'})
		if len(l) == 0 {
			if !fields {
				continue // blank lines between events
			}
			break
		}
		fields = true
		if l[0] == ':' {
			continue // a comment
		}
		name, value, _ := bytes.Cut(l, []byte{':'})
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
		switch string(name) {
		case "event":
			ev.name = eventName(value)
		case "data":
			ndata++
			if ndata == 1 {
				dataStart = start + (len(l) - len(value))
				dataEnd = dataStart + len(value)
			} else {
				if ndata == 2 {
					s.data = append(s.data, s.raw[dataStart:dataEnd]...)
				}
				s.data = append(s.data, '\n')
				s.data = append(s.data, value...)
				s.multi = true
			}
		}
	}
	ev.raw = s.raw
	if s.multi {
		ev.data = s.data
	} else if ndata == 1 {
		ev.data = s.raw[dataStart:dataEnd]
	}
	return ev, nil
}

// eventName is the event: field's value as a string, without allocating one for the names
// the providers send.
func eventName(b []byte) string {
	switch string(b) {
	case "message_start":
		return "message_start"
	case "content_block_start":
		return "content_block_start"
	case "content_block_delta":
		return "content_block_delta"
	case "content_block_stop":
		return "content_block_stop"
	case "message_delta":
		return "message_delta"
	case "message_stop":
		return "message_stop"
	case "ping":
		return "ping"
	case "error":
		return "error"
	}
	return string(b)
}

// What an event is to the gateway.
type eventKind uint8

const (
	evHold      eventKind = iota // before any content: held until the first meaningful frame
	evContent                    // content, a tool call's piece, the end of a block or the message's delta
	evTerminal                   // message_stop, [DONE]: the stream is complete
	evError                      // the upstream's in-band error
	evMalformed                  // a frame that does not parse
)

var doneData = []byte("[DONE]")

// kind classifies an event of the API's format; committed says whether content already went
// out (then an OpenAI chunk need not be looked into).
func (x *exchange) kind(ev event, committed bool) eventKind {
	if x.api.provider() == Anthropic {
		name := ev.name
		if len(ev.data) > 0 && !validJSON(ev.data) {
			return evMalformed
		}
		switch name {
		case "message_stop":
			return evTerminal
		case "content_block_delta", "content_block_stop", "message_delta":
			return evContent
		case "error":
			return evError
		case "":
			if len(ev.data) > 0 {
				return evMalformed // Anthropic names every event
			}
		}
		return evHold // message_start, content_block_start, ping, an event type added later
	}
	if len(ev.data) == 0 {
		return evHold
	}
	if bytes.Equal(ev.data, doneData) {
		return evTerminal
	}
	if !validJSON(ev.data) {
		return evMalformed
	}
	if hasTopKey(ev.data, "error") {
		return evError
	}
	if committed {
		return evContent
	}
	var chunk struct {
		Choices []struct {
			Delta struct {
				Content   string          `json:"content"`
				Refusal   string          `json:"refusal"`
				ToolCalls json.RawMessage `json:"tool_calls"`
			} `json:"delta"`
			FinishReason *string `json:"finish_reason"`
		} `json:"choices"`
		Usage json.RawMessage `json:"usage"`
	}
	if json.Unmarshal(ev.data, &chunk) != nil {
		return evMalformed
	}
	for _, c := range chunk.Choices {
		if c.Delta.Content != "" || c.Delta.Refusal != "" || len(c.Delta.ToolCalls) > 0 || c.FinishReason != nil {
			return evContent
		}
	}
	if len(chunk.Choices) == 0 && len(chunk.Usage) > 0 && string(chunk.Usage) != "null" {
		return evContent
	}
	return evHold
}

// hasTopKey reports whether the JSON object b has the top-level key.
func hasTopKey(b []byte, key string) bool {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i++
	for {
		i = skipWS(b, i)
		if i >= len(b) || b[i] == '}' {
			return false
		}
		if b[i] == ',' {
			i++
			continue
		}
		if b[i] != '"' {
			return false
		}
		ke, err := skipString(b, i)
		if err != nil {
			return false
		}
		if string(b[i+1:ke-1]) == key {
			return true
		}
		i = skipWS(b, ke)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		ve, err := skipValue(b, skipWS(b, i+1))
		if err != nil {
			return false
		}
		i = ve
	}
}

// eventError classifies the upstream's in-band error event.
func (x *exchange) eventError(t *target, data []byte) *rebound.Error {
	var eb errorBodyJSON
	_ = json.Unmarshal(data, &eb)
	e := &rebound.Error{Class: rebound.ClassTransient, Provider: t.key, Status: http.StatusOK,
		Type: eb.Error.Type, Message: "in-band error: " + x.g.redact(eb.Error.Message)}
	eb.classify(t.up.provider, e, true)
	return e
}

// stream reads a streamed answer up to its first meaningful frame, holding what came before
// it: a failure until then is the attempt's, retried or fallen back from with nothing sent.
// Then it commits (the headers and the held frames go out) and forwards every frame as it
// came, byte for byte, until the upstream's terminal frame. A failure after the commit ends
// the client's stream with an in-band error in the provider's format, never a clean end, and
// is returned marked permanent (the breaker counts it; nothing retries it).
func (x *exchange) stream(ctx, actx context.Context, cancel context.CancelCauseFunc, firstToken *time.Timer, t *target, resp *http.Response, sent time.Time) (*result, error) {
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return nil, &rebound.Error{Class: rebound.ClassMalformed, Provider: t.key, Status: resp.StatusCode,
			Message: "the upstream answered a stream request with Content-Type " + ct}
	}
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(resp.Body)
	defer func() {
		br.Reset(nil)
		readerPool.Put(br)
	}()
	sr := &sseReader{br: br}
	held := getBuf()
	defer putBuf(held)
	var kind eventKind
	for {
		ev, err := sr.next()
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				if ctx.Err() == nil && context.Cause(actx) == nil {
					msg := "the stream ended before any content"
					if held.Len() == 0 {
						msg = "an empty stream"
					}
					return nil, &rebound.Error{Class: rebound.ClassTransient, Provider: t.key, Status: resp.StatusCode, Message: msg}
				}
			}
			return nil, x.attemptErr(ctx, actx, t, err)
		}
		kind = x.kind(ev, false)
		switch kind {
		case evHold:
			held.Write(ev.raw)
			continue
		case evError:
			return nil, x.eventError(t, ev.data)
		case evMalformed:
			return nil, &rebound.Error{Class: rebound.ClassMalformed, Provider: t.key, Status: resp.StatusCode,
				Message: "a malformed frame before any content"}
		}
		held.Write(ev.raw)
		break
	}
	firstToken.Stop()
	x.upstream = time.Since(sent)

	// Commit: from here on the client has this stream, and only this one.
	h := x.w.Header()
	copyHeaders(h, resp.Header)
	h["Cache-Control"] = noCache
	x.mark(h, t, t != x.route.targets[0])
	x.w.WriteHeader(resp.StatusCode)
	x.committed = true
	flusher, _ := x.w.(http.Flusher)
	write := func(b []byte) bool {
		if _, err := x.w.Write(b); err != nil {
			return false
		}
		if br.Buffered() == 0 && flusher != nil {
			flusher.Flush() // flush when the upstream has nothing more for now
		}
		return true
	}
	res := &result{status: resp.StatusCode, header: resp.Header}
	if !write(held.Bytes()) {
		return x.clientGone(cancel)
	}
	if kind == evTerminal {
		return x.complete(res, br, flusher, cancel)
	}
	idleFor := time.Duration(x.g.pol.Idle)
	idle := time.AfterFunc(idleFor, func() { cancel(errIdle) })
	defer idle.Stop()
	for {
		ev, err := sr.next()
		if err != nil {
			if ctx.Err() != nil {
				x.streamOutcome = streamClientGone
				return nil, rebound.Permanent(ctx.Err())
			}
			var e *rebound.Error
			if context.Cause(actx) == errIdle {
				x.streamOutcome = streamIdle
				e = &rebound.Error{Class: rebound.ClassTimeout, Provider: t.key, Message: "the upstream stream went idle for " + idleFor.String()}
			} else {
				x.streamOutcome = streamCut
				msg := "the upstream stream ended before its end (" + terminalName(x.api) + ")"
				if err != io.EOF && err != io.ErrUnexpectedEOF {
					msg = "the upstream stream broke: " + x.g.redact(err.Error())
				}
				e = &rebound.Error{Class: rebound.ClassTransient, Provider: t.key, Message: msg}
			}
			x.inBand(flusher, e.Class, e.Message)
			return nil, rebound.Permanent(e)
		}
		idle.Reset(idleFor)
		switch x.kind(ev, true) {
		case evTerminal:
			if !write(ev.raw) {
				return x.clientGone(cancel)
			}
			return x.complete(res, br, flusher, cancel)
		case evError:
			// Already an in-band error in the client's format: it goes out as it came, and
			// the stream ends there (OpenAI: no [DONE] after it).
			e := x.eventError(t, ev.data)
			x.streamOutcome = streamUpstreamError
			write(ev.raw)
			if flusher != nil {
				flusher.Flush()
			}
			return nil, rebound.Permanent(e)
		case evMalformed:
			x.streamOutcome = streamMalformed
			e := &rebound.Error{Class: rebound.ClassMalformed, Provider: t.key, Message: "the upstream sent a malformed frame mid-stream"}
			x.inBand(flusher, e.Class, e.Message)
			return nil, rebound.Permanent(e)
		}
		if !write(ev.raw) {
			return x.clientGone(cancel)
		}
	}
}

var noCache = []string{"no-cache"}

func terminalName(a api) string {
	if a.provider() == Anthropic {
		return "message_stop"
	}
	return "data: [DONE]"
}

// inBand ends a committed stream with the gateway's in-band error.
func (x *exchange) inBand(flusher http.Flusher, c rebound.Class, msg string) {
	x.w.Write(streamErrorEvent(x.api, c, msg))
	if flusher != nil {
		flusher.Flush()
	}
}

func (x *exchange) clientGone(cancel context.CancelCauseFunc) (*result, error) {
	x.streamOutcome = streamClientGone
	cancel(context.Canceled)
	return nil, rebound.Permanent(context.Canceled)
}

// complete ends a stream whose terminal frame went out: it reads what little may follow (so
// that the upstream connection can be reused) and flushes.
func (x *exchange) complete(res *result, br *bufio.Reader, flusher http.Flusher, cancel context.CancelCauseFunc) (*result, error) {
	x.streamOutcome = streamComplete
	if flusher != nil {
		flusher.Flush()
	}
	// The body's end normally follows the terminal frame at once; an upstream that keeps it
	// open gets a moment, then the attempt's context ends it (and the connection is dropped).
	t := time.AfterFunc(drainFor, func() { cancel(errDrained) })
	_, _ = io.Copy(io.Discard, io.LimitReader(br, 64<<10))
	t.Stop()
	return res, nil
}

// drainFor bounds the read of what follows a stream's terminal frame.
const drainFor = 250 * time.Millisecond

var errDrained = errors.New("the stream is complete")
