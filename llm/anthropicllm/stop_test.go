package anthropicllm_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/anthropicllm"
)

// Stop reasons from bodies in the shape of reference §5.2 (TestStopReasonsThroughFake drives
// the ones fakellm produces).
func TestStopReasons(t *testing.T) {
	tests := []struct {
		stop  string
		class rebound.Class // ClassUnknown: an answer
		want  llm.StopReason
	}{
		{"model_context_window_exceeded", rebound.ClassContextOverflow, ""},
		{"pause_turn", rebound.ClassUnknown, llm.StopPauseTurn},
		{"stop_sequence", rebound.ClassUnknown, llm.StopSequence},
		{"tool_use", rebound.ClassUnknown, llm.StopToolUse},
	}
	for _, tt := range tests {
		t.Run(tt.stop, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("content-type", "application/json")
				w.Header().Set("request-id", "req_test_1")
				io.WriteString(w, `{"id":"msg_fake_01","type":"message","role":"assistant","model":"claude-sonnet-4-5",`+
					`"content":[{"type":"text","text":"hi"}],"stop_reason":"`+tt.stop+`","stop_sequence":null,"stop_details":null,`+
					`"usage":{"input_tokens":5,"output_tokens":1,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}`)
			}))
			defer srv.Close()
			m := anthropicllm.New(anthropic.NewClient(option.WithAPIKey("k"), option.WithBaseURL(srv.URL)), "claude-sonnet-4-5")
			resp, err := m.Generate(context.Background(), req)
			if tt.class != rebound.ClassUnknown {
				if c, _ := rebound.Classify(err); c != tt.class {
					t.Fatalf("class %v (%v), want %v", c, err, tt.class)
				}
				return
			}
			if err != nil || resp.StopReason != tt.want || resp.Text != "hi" {
				t.Fatalf("%+v %v", resp, err)
			}
		})
	}
}

// The stop reasons fakellm scripts, through the SDK, non-streaming and streaming.
func TestStopReasonsThroughFake(t *testing.T) {
	tests := []struct {
		script string
		class  rebound.Class // ClassUnknown: an answer
		want   llm.StopReason
	}{
		{"context-window", rebound.ClassContextOverflow, ""},
		{"pause-turn", rebound.ClassUnknown, llm.StopPauseTurn},
		{"max-tokens", rebound.ClassUnknown, llm.StopMaxTokens},
	}
	for _, stream := range []bool{false, true} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/stream=%v", tt.script, stream), func(t *testing.T) {
				m, _ := newModel(t, tt.script)
				var resp *llm.Response
				var err error
				if stream {
					resp, err = m.Stream(context.Background(), req, nil)
				} else {
					resp, err = m.Generate(context.Background(), req)
				}
				if tt.class != rebound.ClassUnknown {
					if c, _ := rebound.Classify(err); c != tt.class || rebound.Retriable(err) {
						t.Fatalf("class %v (%v), want %v, not retriable", c, err, tt.class)
					}
					return
				}
				if err != nil || resp.StopReason != tt.want || resp.Text == "" {
					t.Fatalf("%+v %v", resp, err)
				}
			})
		}
	}
}
