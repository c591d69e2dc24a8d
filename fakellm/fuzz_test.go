package fakellm_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2/packages/ssestream"
	"github.com/rebound-go/rebound/fakellm"
)

// FuzzParseScript: any text is either a script or a *ScriptError naming a line of the text.
func FuzzParseScript(f *testing.F) {
	f.Add("error 529 times=2 retry-after-ms=50\nlatency 100ms..300ms p=0.1 # note")
	f.Add("seed 3\nlimit rps=20 burst=20\nstream-error after=2 message=\"a \\\"b\\\"\"")
	f.Add("quota contains=\"x y\" during=1s.. req=2..4")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := fakellm.ParseScript(text)
		lines := strings.Count(text, "\n") + 1
		if err != nil {
			var se *fakellm.ScriptError
			if !errors.As(err, &se) || se.Line < 1 || se.Line > lines || se.Reason == "" {
				t.Fatalf("error %v (%T) for %q", err, err, text)
			}
			return
		}
		for _, r := range s.Rules {
			if r.Line < 1 || r.Line > lines || r.Name == "" {
				t.Fatalf("rule %+v", r)
			}
			if r.Req.Hi != 0 && r.Req.Hi < r.Req.Lo || r.HasWindow && r.To != 0 && r.To <= r.From || r.P < 0 || r.P > 1 {
				t.Fatalf("rule %+v", r)
			}
		}
		// Parsing is a function of the text.
		again, err := fakellm.ParseScript(text)
		if err != nil || len(again.Rules) != len(s.Rules) || again.Limit != s.Limit || again.Seed != s.Seed {
			t.Fatalf("second parse differs: %v", err)
		}
	})
}

// FuzzAppendSSE: two events framed by AppendSSE come back intact through the SDK's SSE decoder.
func FuzzAppendSSE(f *testing.F) {
	f.Add("message_start", []byte(`{"type":"message_start"}`), "", []byte("[DONE]"))
	f.Add("a\nb", []byte("line1\r\nline2\rline3\n"), "ping", []byte(""))
	f.Add("", []byte(":comment\n\ndata: x"), "error", []byte(" leading space"))
	f.Fuzz(func(t *testing.T, name1 string, data1 []byte, name2 string, data2 []byte) {
		if len(data1)+len(data2)+len(name1)+len(name2) > 1<<16 {
			return
		}
		var b []byte
		b = fakellm.AppendSSE(b, name1, data1)
		b = fakellm.AppendSSE(b, name2, data2)
		res := &http.Response{Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: io.NopCloser(bytes.NewReader(b))}
		dec := ssestream.NewDecoder(res)
		for i, want := range []struct {
			name string
			data []byte
		}{{name1, data1}, {name2, data2}} {
			if !dec.Next() {
				t.Fatalf("event %d missing (err %v) in %q", i, dec.Err(), b)
			}
			ev := dec.Event()
			wantName := strings.NewReplacer("\r", "", "\n", "").Replace(want.name)
			wantData := bytes.ReplaceAll(bytes.ReplaceAll(want.data, []byte("\r\n"), []byte("\n")), []byte("\r"), []byte("\n"))
			wantData = append(wantData, '\n')
			if ev.Type != wantName || !bytes.Equal(ev.Data, wantData) {
				t.Fatalf("event %d: got %q %q, want %q %q (wire %q)", i, ev.Type, ev.Data, wantName, wantData, b)
			}
		}
		if dec.Next() {
			t.Fatalf("extra event %q", dec.Event().Data)
		}
	})
}
