package anthropicllm

import (
	"context"
	"net/http"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/llm"
)

// Provider is the provider part of every Model's Name.
const Provider = "anthropic"

// DefaultContextWindow is the context window, in tokens, of a model New does not know and no
// WithContextWindow sets.
const DefaultContextWindow = 200_000

// Model is an llm.Model over an Anthropic client. It is safe for concurrent use.
type Model struct {
	client anthropic.Client
	model  string
	window int
	opts   []option.RequestOption
}

var _ llm.Model = (*Model)(nil)

// Option configures a Model.
type Option func(*Model)

// WithContextWindow declares the model's context window in tokens (default DefaultContextWindow).
func WithContextWindow(tokens int) Option { return func(m *Model) { m.window = tokens } }

// WithRequestOptions adds SDK request options to every call (headers, a per-attempt request
// timeout, ...). option.WithMaxRetries(0) is always appended after them.
func WithRequestOptions(opts ...option.RequestOption) Option {
	return func(m *Model) { m.opts = append(m.opts, opts...) }
}

// New returns the model named model (e.g. "claude-haiku-4-5") on client, the caller's own
// configured client (key, base URL, HTTP client). Every call appends option.WithMaxRetries(0):
// the SDK's own retries are off, so that Rebound's retry policy (llm.Resilient) is the only
// retry layer and attempts never multiply.
func New(client anthropic.Client, model string, opts ...Option) *Model {
	m := &Model{client: client, model: model, window: DefaultContextWindow}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Name returns "anthropic/" followed by the model's ID.
func (m *Model) Name() string { return Provider + "/" + m.model }

// ContextWindow returns the model's declared context window in tokens.
func (m *Model) ContextWindow() int { return m.window }

// Generate sends req with Messages.New and returns the answer. A refusal is a
// rebound.ClassContentPolicy error and model_context_window_exceeded a
// rebound.ClassContextOverflow error; a max_tokens stop is a Response with StopMaxTokens.
func (m *Model) Generate(ctx context.Context, req llm.Request) (*llm.Response, error) {
	var header http.Header
	opts, err := m.callOptions(req, &header)
	if err != nil {
		return nil, err
	}
	msg, err := m.client.Messages.New(ctx, m.params(req), opts...)
	if err != nil {
		return nil, llm.WithResponseHeader(Translate(err, time.Now()), header)
	}
	return m.response(msg, nil, header)
}

// Stream sends req with Messages.NewStreaming, calling onDelta for every content delta. A
// mid-stream error event is classified by its error type; a stream that ends without
// message_stop is a rebound.ClassMalformed error (truncated), whatever it delivered.
func (m *Model) Stream(ctx context.Context, req llm.Request, onDelta func(llm.Delta)) (*llm.Response, error) {
	var header http.Header
	opts, err := m.callOptions(req, &header)
	if err != nil {
		return nil, err
	}
	stream := m.client.Messages.NewStreaming(ctx, m.params(req), opts...)
	defer stream.Close()
	var acc anthropic.Message
	stopped := false
	partial := map[int][]byte{} // tool inputs as streamed, by block index
	open := -1                  // the tool_use block whose input is streaming
	for stream.Next() {
		ev := stream.Current()
		if err := acc.Accumulate(ev); err != nil {
			return nil, llm.WithResponseHeader(&rebound.Error{
				Class: rebound.ClassMalformed, Provider: Provider, Status: http.StatusOK,
				Message: "bad stream event: " + err.Error(), Err: err,
			}, header)
		}
		switch ev.Type {
		case "content_block_start":
			if ev.ContentBlock.Type == "tool_use" {
				open = int(ev.Index)
				partial[open] = nil
			}
		case "content_block_stop":
			if int(ev.Index) == open {
				open = -1
			}
		case "content_block_delta":
			if ev.Delta.Type == "input_json_delta" {
				i := int(ev.Index)
				if _, ok := partial[i]; ok {
					partial[i] = append(partial[i], ev.Delta.PartialJSON...)
				}
			}
			if onDelta != nil {
				onDelta(llm.Delta{Text: ev.Delta.Text})
			}
		case "message_stop":
			stopped = true
		}
	}
	if err := stream.Err(); err != nil {
		return nil, llm.WithResponseHeader(Translate(err, time.Now()), header)
	}
	if !stopped {
		msg := "stream ended without message_stop (truncated)"
		if open >= 0 {
			msg = "stream ended inside the input of a tool call (truncated)"
		}
		return nil, llm.WithResponseHeader(&rebound.Error{
			Class: rebound.ClassMalformed, Provider: Provider, Status: http.StatusOK,
			Message: msg, RequestID: header.Get("request-id"),
		}, header)
	}
	return m.response(&acc, partial, header)
}

func (m *Model) callOptions(req llm.Request, header *http.Header) ([]option.RequestOption, error) {
	extra, err := extraOptions(req)
	if err != nil {
		return nil, err
	}
	opts := make([]option.RequestOption, 0, len(m.opts)+len(extra)+2)
	opts = append(opts, m.opts...)
	opts = append(opts, extra...)
	opts = append(opts,
		option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
			res, err := next(r)
			if res != nil {
				*header = res.Header
			}
			return res, err
		}),
		option.WithMaxRetries(0),
	)
	return opts, nil
}

func (m *Model) params(req llm.Request) anthropic.MessageNewParams {
	p := anthropic.MessageNewParams{
		Model:     anthropic.Model(m.model),
		MaxTokens: int64(req.MaxTokensOrDefault()),
	}
	system, msgs := messages(req.System, req.Messages)
	p.Messages = msgs
	if system != "" {
		p.System = []anthropic.TextBlockParam{{Text: system}}
	}
	if len(req.StopSequences) > 0 {
		p.StopSequences = req.StopSequences
	}
	tools(&p, req)
	return p
}

// response turns a whole message into a Response, or into the error its stop reason means.
func (m *Model) response(msg *anthropic.Message, partial map[int][]byte, header http.Header) (*llm.Response, error) {
	if err := StopError(msg, header); err != nil {
		return nil, llm.WithResponseHeader(err, header)
	}
	text, blocks, err := content(msg, partial, header)
	if err != nil {
		return nil, llm.WithResponseHeader(err, header)
	}
	return &llm.Response{
		Text:       text,
		Blocks:     blocks,
		StopReason: stopReason(msg.StopReason),
		Usage: llm.Usage{
			InputTokens:  int(msg.Usage.InputTokens),
			OutputTokens: int(msg.Usage.OutputTokens),
		},
		Provenance: llm.Provenance{Model: m.Name()},
		Header:     header,
	}, nil
}

func stopReason(s anthropic.StopReason) llm.StopReason {
	switch s {
	case anthropic.StopReasonEndTurn:
		return llm.StopEndTurn
	case anthropic.StopReasonStopSequence:
		return llm.StopSequence
	case anthropic.StopReasonToolUse:
		return llm.StopToolUse
	case anthropic.StopReasonPauseTurn:
		return llm.StopPauseTurn
	case anthropic.StopReasonMaxTokens:
		return llm.StopMaxTokens
	}
	return llm.StopUnrecognized
}
