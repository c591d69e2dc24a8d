package observe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/observe"
)

func TestLogHook(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	h := observe.LogHook(logger)
	h(context.Background(), rebound.Event{Kind: rebound.RetryScheduled, RunID: "r", Step: "outline",
		Attempt: 1, Class: rebound.ClassRateLimited, Delay: 1500 * time.Millisecond, Model: "fake/primary"})
	h(context.Background(), rebound.Event{Kind: rebound.RunFailed, RunID: "r", Err: errors.New("boom")})
	dec := json.NewDecoder(&buf)
	var first, second map[string]any
	if err := dec.Decode(&first); err != nil {
		t.Fatal(err)
	}
	if err := dec.Decode(&second); err != nil {
		t.Fatal(err)
	}
	if first["msg"] != "retry_scheduled" || first["class"] != "rate_limited" || first["step"] != "outline" || first["level"] != "INFO" {
		t.Errorf("first record: %v", first)
	}
	if second["level"] != "ERROR" || second["err"] != "boom" {
		t.Errorf("second record: %v", second)
	}
}

func ExampleLogHook() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	hook := observe.LogHook(logger)
	hook(context.Background(), rebound.Event{Kind: rebound.FallbackUsed, RunID: "report-1", Step: "section_2",
		From: "anthropic/claude-sonnet-4-6", To: "anthropic/claude-haiku-4-5"})
	// Output:
	// level=WARN msg=fallback_used run_id=report-1 step=section_2 from=anthropic/claude-sonnet-4-6 to=anthropic/claude-haiku-4-5
}
