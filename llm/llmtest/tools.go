package llmtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm"
)

// WeatherTools are the tools the tool rows offer.
var WeatherTools = []llm.Tool{
	{Name: "get_weather", Description: "The weather in a city.", InputSchema: json.RawMessage(
		`{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city"]}`)},
	{Name: "get_time", Description: "The local time in a city.", InputSchema: json.RawMessage(
		`{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`)},
	{Name: "search", Description: "Search the web.", InputSchema: json.RawMessage(
		`{"type":"object","properties":{"q":{"type":"string"}}}`)},
}

// ToolRequest is the first request of a tool conversation.
func ToolRequest() llm.Request {
	return llm.Request{
		Messages:  []llm.Message{llm.User("What is the weather in Paris?")},
		Tools:     WeatherTools,
		MaxTokens: 256,
	}
}

// call runs req through Generate or Stream.
func call(m llm.Model, req llm.Request, stream bool, onDelta func(llm.Delta)) (*llm.Response, error) {
	if stream {
		return m.Stream(context.Background(), req, onDelta)
	}
	return m.Generate(context.Background(), req)
}

func mode(stream bool) string {
	if stream {
		return "stream/"
	}
	return ""
}

// Tools runs the tool rows through Generate and Stream: one call, parallel calls, a result
// with the error flag, streamed input, a stream cut (or ended) inside a tool input, an input
// that is not JSON, tool choice forced and none, an image. Every follow-up request must be one
// the fake (which checks conversations as the real APIs do) accepts.
func Tools(t *testing.T, newModel NewModel) {
	for _, stream := range []bool{false, true} {
		t.Run(mode(stream)+"OneCall", func(t *testing.T) {
			m, srv := newModel(t, "ok result=get_weather\ntool-use name=get_weather input='{\"city\":\"Paris\",\"days\":2}'")
			req := ToolRequest()
			resp, err := call(m, req, stream, nil)
			if err != nil {
				t.Fatal(err)
			}
			calls := resp.ToolCalls()
			if resp.StopReason != llm.StopToolUse || len(calls) != 1 || calls[0].Name != "get_weather" || calls[0].ID == "" {
				t.Fatalf("stop %q calls %+v", resp.StopReason, calls)
			}
			if !jsonEqual(calls[0].Input, `{"city":"Paris","days":2}`) {
				t.Errorf("input %s", calls[0].Input)
			}
			turn := resp.Message()
			if turn.Role != rebound.RoleAssistant || len(turn.ToolCalls()) != 1 || turn.Source != m.Name() {
				t.Errorf("Message() = %+v", turn)
			}
			req.Messages = append(req.Messages, turn, rebound.ToolResults(rebound.ToolResult(calls[0].ID, "18°C, sunny", false)))
			resp, err = call(m, req, stream, nil)
			if err != nil {
				t.Fatalf("follow-up with the result: %v", err)
			}
			if resp.StopReason != llm.StopEndTurn || len(resp.ToolCalls()) != 0 || resp.Text == "" {
				t.Errorf("follow-up: stop %q text %q calls %d", resp.StopReason, resp.Text, len(resp.ToolCalls()))
			}
			CheckLog(t, srv, 2)
		})
		t.Run(mode(stream)+"ParallelCalls", func(t *testing.T) {
			m, srv := newModel(t, "ok result=get_time\ntool-use name=get_weather,get_time")
			req := ToolRequest()
			resp, err := call(m, req, stream, nil)
			if err != nil {
				t.Fatal(err)
			}
			calls := resp.ToolCalls()
			if len(calls) != 2 || calls[0].Name != "get_weather" || calls[1].Name != "get_time" || calls[0].ID == calls[1].ID {
				t.Fatalf("calls %+v", calls)
			}
			req.Messages = append(req.Messages, resp.Message(), rebound.ToolResults(
				rebound.ToolResult(calls[0].ID, "18°C", false), rebound.ToolResult(calls[1].ID, "14:05", false)))
			if _, err := call(m, req, stream, nil); err != nil {
				t.Fatalf("follow-up with both results: %v", err)
			}
			// One result missing is a conversation the API refuses.
			req.Messages[len(req.Messages)-1] = rebound.ToolResults(rebound.ToolResult(calls[0].ID, "18°C", false))
			_, err = call(m, req, stream, nil)
			if c, _ := rebound.Classify(err); c != rebound.ClassInvalid {
				t.Errorf("one of two results: class %v (%v), want invalid", c, err)
			}
			recs := Log(srv, 3)
			if n := len(recs); n != 3 || len(recs[1].ToolUses) != 2 || len(recs[1].ToolResults) != 2 {
				t.Errorf("log %+v", recs)
			}
		})
		t.Run(mode(stream)+"ErrorResult", func(t *testing.T) {
			// An error result gets a search; any other a text answer: the flag must reach the wire.
			m, srv := newModel(t, "tool-use name=search result=get_weather result-error=true\nok result=get_weather\ntool-use name=get_weather")
			req := ToolRequest()
			resp, err := call(m, req, stream, nil)
			if err != nil {
				t.Fatal(err)
			}
			id := resp.ToolCalls()[0].ID
			failed := append(append([]llm.Message(nil), req.Messages...), resp.Message(),
				rebound.ToolResults(rebound.ToolResult(id, "weather service down (HTTP 503)", true)))
			r2, err := call(m, llm.Request{Messages: failed, Tools: req.Tools, MaxTokens: 256}, stream, nil)
			if err != nil {
				t.Fatal(err)
			}
			if calls := r2.ToolCalls(); len(calls) != 1 || calls[0].Name != "search" {
				t.Errorf("after an error result: %+v, want a call of search", calls)
			}
			ok := append(append([]llm.Message(nil), req.Messages...), resp.Message(),
				rebound.ToolResults(rebound.ToolResult(id, "18°C", false)))
			r3, err := call(m, llm.Request{Messages: ok, Tools: req.Tools, MaxTokens: 256}, stream, nil)
			if err != nil || len(r3.ToolCalls()) != 0 {
				t.Errorf("after a good result: %v, calls %+v", err, r3)
			}
			CheckLog(t, srv, 3)
		})
		t.Run(mode(stream)+"ToolChoiceForced", func(t *testing.T) {
			m, _ := newModel(t, "")
			req := ToolRequest()
			req.ToolChoice = llm.ToolChoice{Mode: llm.ToolChoiceTool, Name: "get_time"}
			resp, err := call(m, req, stream, nil)
			if err != nil {
				t.Fatal(err)
			}
			if calls := resp.ToolCalls(); len(calls) != 1 || calls[0].Name != "get_time" {
				t.Errorf("forced get_time: %+v", calls)
			}
			req.ToolChoice = llm.ToolChoice{Mode: llm.ToolChoiceAny}
			resp, err = call(m, req, stream, nil)
			if err != nil || len(resp.ToolCalls()) != 1 {
				t.Errorf("any: %v %+v", err, resp)
			}
		})
		t.Run(mode(stream)+"ToolChoiceNone", func(t *testing.T) {
			m, _ := newModel(t, "tool-use")
			req := ToolRequest()
			req.ToolChoice = llm.ToolChoice{Mode: llm.ToolChoiceNone}
			resp, err := call(m, req, stream, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.ToolCalls()) != 0 || resp.Text == "" {
				t.Errorf("tool choice none: %+v", resp)
			}
		})
		t.Run(mode(stream)+"NoParallel", func(t *testing.T) {
			m, _ := newModel(t, "tool-use name=get_weather,get_time")
			req := ToolRequest()
			req.DisableParallelToolCalls = true
			resp, err := call(m, req, stream, nil)
			if err != nil || len(resp.ToolCalls()) != 1 {
				t.Errorf("parallel calls off: %v %+v", err, resp)
			}
		})
		t.Run(mode(stream)+"NotJSONInput", func(t *testing.T) {
			m, _ := newModel(t, "tool-use name=get_weather input-fault=not-json")
			resp, err := call(m, ToolRequest(), stream, nil)
			if c, _ := rebound.Classify(err); c != rebound.ClassMalformed {
				t.Errorf("input that is not JSON: class %v (%v), response %+v; want malformed", c, err, resp)
			}
		})
		t.Run(mode(stream)+"Image", func(t *testing.T) {
			m, srv := newModel(t, "")
			req := llm.Request{Messages: []llm.Message{rebound.NewMessage(rebound.RoleUser,
				rebound.Text("What is in this picture?"), rebound.Image("image/png", PNG))}, MaxTokens: 64}
			if _, err := call(m, req, stream, nil); err != nil {
				t.Fatal(err)
			}
			if recs := Log(srv, 1); len(recs) != 1 || recs[0].Images != 1 {
				t.Errorf("the fake saw %+v, want one image", recs)
			}
		})
	}
	t.Run("StreamedInput", func(t *testing.T) {
		m, _ := newModel(t, "tool-use name=get_weather chunk=3")
		whole, err := m.Generate(context.Background(), ToolRequest())
		if err != nil {
			t.Fatal(err)
		}
		deltas := 0
		resp, err := m.Stream(context.Background(), ToolRequest(), func(llm.Delta) { deltas++ })
		if err != nil {
			t.Fatal(err)
		}
		in := whole.ToolCalls()[0].Input
		if got := resp.ToolCalls()[0].Input; !jsonEqual(got, string(in)) {
			t.Errorf("streamed input %s, want %s", got, in)
		}
		if deltas < len(in)/3 {
			t.Errorf("%d deltas for %d bytes of input in 3-byte pieces", deltas, len(in))
		}
	})
	t.Run("StreamCutInInput", func(t *testing.T) {
		m, _ := newModel(t, "tool-use name=get_weather input-fault=cut")
		resp, err := m.Stream(context.Background(), ToolRequest(), nil)
		if err == nil || !rebound.Retriable(err) {
			t.Errorf("stream aborted inside a tool input: %v, response %+v; want a retriable error", err, resp)
		}
	})
	t.Run("StreamEndsInInput", func(t *testing.T) {
		m, _ := newModel(t, "tool-use name=get_weather input-fault=truncate")
		resp, err := m.Stream(context.Background(), ToolRequest(), nil)
		if c, _ := rebound.Classify(err); c != rebound.ClassMalformed {
			t.Errorf("stream ended inside a tool input: class %v (%v), response %+v; want malformed", c, err, resp)
		}
	})
	t.Run("ForeignOpaqueDropped", func(t *testing.T) {
		// Another provider's opaque block is dropped for this one; the request is still valid.
		m, srv := newModel(t, "")
		req := llm.Request{Messages: []llm.Message{
			llm.User("Hi"),
			rebound.NewMessage(rebound.RoleAssistant, rebound.Opaque("elsewhere", json.RawMessage(`{"type":"reasoning","x":1}`)), rebound.Text("Hello.")),
			llm.User("Again"),
		}, MaxTokens: 64}
		if _, err := m.Generate(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		CheckLog(t, srv, 1)
	})
}

// Thinking checks that an answer's thinking and redacted_thinking blocks come back as opaque
// blocks, survive the run journal (a checkpoint run that stops and resumes) byte for byte, and
// go back to the provider unchanged: the fake refuses a thinking block whose signature no longer
// matches. For an adapter whose provider returns such blocks (Anthropic).
func Thinking(t *testing.T, newModel NewModel) {
	for _, stream := range []bool{false, true} {
		t.Run(mode(stream)+"Thinking", func(t *testing.T) {
			m, srv := newModel(t, "ok result=get_weather\ntool-use name=get_weather thinking=true")
			req := ToolRequest()
			first, err := call(m, req, stream, nil)
			if err != nil {
				t.Fatal(err)
			}
			var opaque []rebound.Block
			for _, b := range first.Blocks {
				if b.Type == rebound.BlockOpaque {
					opaque = append(opaque, b)
				}
			}
			if len(opaque) != 2 || len(first.ToolCalls()) != 1 {
				t.Fatalf("blocks %+v: want thinking, redacted_thinking and a call", first.Blocks)
			}
			// Journal the turn, stop, resume: the resumed run reads it back from the journal.
			runner := checkpoint.NewRunner(checkpoint.NewMemoryStore(), checkpoint.Config{})
			stop := errors.New("stop here")
			var journaled []rebound.Message
			resumed := false
			workflow := func(ctx context.Context, run *checkpoint.Run) error {
				_, err := checkpoint.Step(ctx, run, "turn", func(ctx context.Context) (bool, error) {
					return true, run.Append(ctx, req.Messages[0], first.Message())
				})
				if err != nil {
					return err
				}
				if !resumed {
					return stop
				}
				journaled = run.Messages()
				return nil
			}
			if err := runner.Run(context.Background(), "thinking-"+mode(stream), workflow); !errors.Is(err, stop) {
				t.Fatalf("first run: %v", err)
			}
			resumed = true
			if err := runner.Run(context.Background(), "thinking-"+mode(stream), workflow); err != nil {
				t.Fatalf("resume: %v", err)
			}
			if len(journaled) != 2 || !journaled[1].Equal(first.Message()) {
				t.Fatalf("journal gave back %+v\nwant %+v", journaled, first.Message())
			}
			back := 0
			for _, b := range journaled[1].Blocks {
				if b.Type == rebound.BlockOpaque {
					if string(b.Raw) != string(opaque[back].Raw) {
						t.Errorf("opaque block %d changed: %s, want %s", back, b.Raw, opaque[back].Raw)
					}
					back++
				}
			}
			id := first.ToolCalls()[0].ID
			req.Messages = append(journaled, rebound.ToolResults(rebound.ToolResult(id, "18°C", false)))
			if _, err := call(m, req, stream, nil); err != nil {
				t.Fatalf("sending the thinking back: %v", err)
			}
			CheckLog(t, srv, 2)
		})
	}
}

// CheckLog checks that the server answered n requests, none refused as an invalid conversation.
func CheckLog(t *testing.T, srv *fakellm.Server, n int) {
	t.Helper()
	recs := Log(srv, n)
	if len(recs) != n {
		t.Errorf("server saw %d requests, want %d", len(recs), n)
	}
	for _, r := range recs {
		if r.Invalid != "" || r.Status != 200 {
			t.Errorf("request %d: status %d %s", r.ID, r.Status, r.Invalid)
		}
	}
}

func jsonEqual(a json.RawMessage, b string) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}

// PNG is a 1×1 transparent PNG, base64-encoded.
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="

// Log returns srv's request log, in the order the requests arrived, once it holds n requests,
// or after two seconds (the server logs
// a request when its handler ends, which may be after the client has read the answer).
func Log(srv *fakellm.Server, n int) []fakellm.RequestRecord {
	deadline := time.Now().Add(2 * time.Second)
	for {
		recs := srv.Requests()
		if len(recs) >= n || time.Now().After(deadline) {
			sort.Slice(recs, func(i, j int) bool { return recs[i].ID < recs[j].ID })
			return recs
		}
		time.Sleep(5 * time.Millisecond)
	}
}
