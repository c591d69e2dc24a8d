package openaillm_test

import (
	"errors"
	"testing"
	"time"

	"github.com/openai/openai-go/v3/packages/ssestream"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/llm/openaillm"
)

// An error frame inside a stream is outside input: whatever its data, Translate classifies it
// without panicking, as a stream failure (status 200) that is never ClassUnknown.
func FuzzTranslateStreamError(f *testing.F) {
	f.Add([]byte(`{"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}`))
	f.Add([]byte(`{"error":{"message":"x","type":"insufficient_quota","code":"insufficient_quota"}}`))
	f.Add([]byte(`{"error":{"code":429}}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, data []byte) {
		err := openaillm.Translate(&ssestream.StreamError{Message: "received error while streaming", Event: ssestream.Event{Data: data}}, time.Now())
		var e *rebound.Error
		if !errors.As(err, &e) {
			t.Fatalf("%v is not a *rebound.Error", err)
		}
		if e.Status != 200 || e.Class == rebound.ClassUnknown {
			t.Fatalf("status %d class %v", e.Status, e.Class)
		}
	})
}
