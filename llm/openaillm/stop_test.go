package openaillm_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/rebound-go/rebound/llm"
)

// The soft stops fakellm scripts map onto OpenAI's finish reasons: an exceeded context window
// comes back as finish_reason length (StopMaxTokens), a paused turn as stop.
func TestSoftStopsThroughFake(t *testing.T) {
	tests := []struct {
		script string
		want   llm.StopReason
	}{
		{"context-window", llm.StopMaxTokens},
		{"pause-turn", llm.StopEndTurn},
		{"max-tokens", llm.StopMaxTokens},
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
				if err != nil || resp.StopReason != tt.want || resp.Text == "" {
					t.Fatalf("%+v %v", resp, err)
				}
			})
		}
	}
}
