package openaillm

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/llm"
)

// Provider is the provider part of every Model's Name.
const Provider = "openai"

// DefaultContextWindow is the context window, in tokens, of a model no WithContextWindow sets.
const DefaultContextWindow = 128_000

// Model is an llm.Model over an OpenAI client's Chat Completions API. It is safe for concurrent
// use.
type Model struct {
	client openai.Client
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

// New returns the model named model (e.g. "gpt-4o") on client, the caller's own configured
// client (key, base URL, HTTP client). Every call appends option.WithMaxRetries(0): the SDK's
// own retries are off (it would retry even an insufficient_quota 429), so that Rebound's retry
// policy (llm.Resilient) is the only retry layer and attempts never multiply.
func New(client openai.Client, model string, opts ...Option) *Model {
	m := &Model{client: client, model: model, window: DefaultContextWindow}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Name returns "openai/" followed by the model's ID.
func (m *Model) Name() string { return Provider + "/" + m.model }

// ContextWindow returns the model's declared context window in tokens.
func (m *Model) ContextWindow() int { return m.window }

// Generate sends req with Chat.Completions.New and returns the answer. finish_reason
// content_filter and a refusal are rebound.ClassContentPolicy errors; length is a Response with
// StopMaxTokens.
func (m *Model) Generate(ctx context.Context, req llm.Request) (*llm.Response, error) {
	var cap capture
	p, opts, err := m.prepare(req, &cap)
	if err != nil {
		return nil, err
	}
	cc, err := m.client.Chat.Completions.New(ctx, p, opts...)
	if err != nil {
		return nil, llm.WithResponseHeader(Translate(err, time.Now()), cap.header)
	}
	if len(cc.Choices) == 0 {
		return nil, llm.WithResponseHeader(&rebound.Error{
			Class: rebound.ClassMalformed, Provider: Provider, Status: http.StatusOK,
			Message: "answer has no choices", RequestID: cap.header.Get("x-request-id"),
		}, cap.header)
	}
	ch := cc.Choices[0]
	usage := llm.Usage{InputTokens: int(cc.Usage.PromptTokens), OutputTokens: int(cc.Usage.CompletionTokens)}
	calls := make([]toolCall, 0, len(ch.Message.ToolCalls))
	for _, tc := range ch.Message.ToolCalls {
		calls = append(calls, toolCall{id: tc.ID, name: tc.Function.Name, args: tc.Function.Arguments})
	}
	return m.response(ch.Message.Content, ch.Message.Refusal, ch.FinishReason, calls, usage, cap.header)
}

// Stream sends req with Chat.Completions.NewStreaming, calling onDelta for every content
// delta. An error frame is classified by its error type and code; a stream that ends without
// "data: [DONE]" or without a finish_reason is a rebound.ClassMalformed error (truncated),
// whatever it delivered.
func (m *Model) Stream(ctx context.Context, req llm.Request, onDelta func(llm.Delta)) (*llm.Response, error) {
	var cap capture
	cap.watchDone = true
	p, opts, err := m.prepare(req, &cap)
	if err != nil {
		return nil, err
	}
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := m.client.Chat.Completions.NewStreaming(ctx, p, opts...)
	defer stream.Close()
	var text, refusal strings.Builder
	var finish string
	var calls []toolCall // by the chunks' index: arguments arrive in pieces
	var usage llm.Usage
	for stream.Next() {
		chunk := stream.Current()
		if chunk.Usage.TotalTokens > 0 || chunk.Usage.PromptTokens > 0 {
			usage = llm.Usage{InputTokens: int(chunk.Usage.PromptTokens), OutputTokens: int(chunk.Usage.CompletionTokens)}
		}
		for _, ch := range chunk.Choices {
			if ch.Index != 0 {
				continue
			}
			d := ch.Delta
			if d.Content != "" || d.Refusal != "" || len(d.ToolCalls) > 0 {
				text.WriteString(d.Content)
				refusal.WriteString(d.Refusal)
				for _, tc := range d.ToolCalls {
					i := int(tc.Index)
					if i < 0 || i > 1024 {
						continue
					}
					for len(calls) <= i {
						calls = append(calls, toolCall{})
					}
					if tc.ID != "" {
						calls[i].id = tc.ID
					}
					if tc.Function.Name != "" {
						calls[i].name = tc.Function.Name
					}
					calls[i].args += tc.Function.Arguments
				}
				if onDelta != nil {
					onDelta(llm.Delta{Text: d.Content})
				}
			}
			if ch.FinishReason != "" {
				finish = ch.FinishReason
			}
		}
	}
	if err := stream.Err(); err != nil {
		return nil, llm.WithResponseHeader(Translate(err, time.Now()), cap.header)
	}
	if !cap.done.Load() || finish == "" {
		what := "data: [DONE]"
		if cap.done.Load() {
			what = "a finish_reason"
		}
		return nil, llm.WithResponseHeader(&rebound.Error{
			Class: rebound.ClassMalformed, Provider: Provider, Status: http.StatusOK,
			Message: "stream ended without " + what + " (truncated)", RequestID: cap.header.Get("x-request-id"),
		}, cap.header)
	}
	return m.response(text.String(), refusal.String(), finish, calls, usage, cap.header)
}

func (m *Model) response(text, refusal, finish string, calls []toolCall, usage llm.Usage, header http.Header) (*llm.Response, error) {
	if err := StopError(finish, refusal, header); err != nil {
		return nil, llm.WithResponseHeader(err, header)
	}
	if finish == "tool_calls" && len(calls) == 0 {
		return nil, llm.WithResponseHeader(&rebound.Error{
			Class: rebound.ClassMalformed, Provider: Provider, Status: http.StatusOK,
			Message: "finish_reason tool_calls without any tool call", RequestID: header.Get("x-request-id"),
		}, header)
	}
	blocks, err := answerBlocks(text, calls, header)
	if err != nil {
		return nil, llm.WithResponseHeader(err, header)
	}
	return &llm.Response{
		Text:       text,
		Blocks:     blocks,
		StopReason: stopReason(finish),
		Usage:      usage,
		Provenance: llm.Provenance{Model: m.Name()},
		Header:     header,
	}, nil
}

// capture records the HTTP response of one call: its header, and whether a stream's body
// carried the terminal "data: [DONE]" frame (the SDK's stream hides that).
type capture struct {
	header    http.Header
	watchDone bool
	done      atomic.Bool
}

func (m *Model) callOptions(c *capture) []option.RequestOption {
	opts := make([]option.RequestOption, 0, len(m.opts)+2)
	opts = append(opts, m.opts...)
	opts = append(opts,
		option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
			res, err := next(r)
			if res != nil {
				c.header = res.Header
				if c.watchDone && res.Body != nil && res.StatusCode < 300 {
					res.Body = &doneWatcher{rc: res.Body, done: &c.done, tail: []byte("\n")}
				}
			}
			return res, err
		}),
		option.WithMaxRetries(0),
	)
	return opts
}

// doneWatcher passes a stream's body through, noting when a "data: [DONE]" line goes by.
type doneWatcher struct {
	rc   io.ReadCloser
	done *atomic.Bool
	tail []byte
}

var doneMarks = [][]byte{[]byte("\ndata: [DONE]"), []byte("\ndata:[DONE]")}

func (w *doneWatcher) Read(p []byte) (int, error) {
	n, err := w.rc.Read(p)
	if n > 0 && !w.done.Load() {
		buf := append(w.tail, p[:n]...)
		for _, mark := range doneMarks {
			if bytes.Contains(buf, mark) {
				w.done.Store(true)
			}
		}
		keep := min(len(buf), 16)
		w.tail = append(w.tail[:0:0], buf[len(buf)-keep:]...)
	}
	return n, err
}

func (w *doneWatcher) Close() error { return w.rc.Close() }

// prepare builds the SDK request and the call options (the caller's, Extra's fields, the
// header capture, no SDK retries).
func (m *Model) prepare(req llm.Request, c *capture) (openai.ChatCompletionNewParams, []option.RequestOption, error) {
	p := openai.ChatCompletionNewParams{
		Model:               m.model,
		MaxCompletionTokens: openai.Int(int64(req.MaxTokensOrDefault())),
		Messages:            messages(req.System, req.Messages),
	}
	switch len(req.StopSequences) {
	case 0:
	case 1:
		p.Stop.OfString = openai.String(req.StopSequences[0])
	default:
		p.Stop.OfStringArray = req.StopSequences
	}
	if err := tools(&p, req); err != nil {
		return p, nil, err
	}
	extra, err := extraOptions(req)
	if err != nil {
		return p, nil, err
	}
	return p, append(extra, m.callOptions(c)...), nil
}

func stopReason(finish string) llm.StopReason {
	switch finish {
	case "stop":
		return llm.StopEndTurn
	case "length":
		return llm.StopMaxTokens
	case "tool_calls", "function_call":
		return llm.StopToolUse
	}
	return llm.StopUnrecognized
}
