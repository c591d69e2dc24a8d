package main

import (
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/rebound-go/rebound/fakellm"
)

// drivers returns the drivers this machine can run: Go always, Node when node and npm are
// there (under CI=true their absence is not a reason to skip: the CI image has them).
func drivers(t *testing.T) []Driver {
	ds := []Driver{newGoDriver()}
	if nodeAvailable() {
		if err := installNode("node", testWriter{t}); err != nil {
			t.Fatal(err)
		}
		d, err := startNodeDriver("node")
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	} else if os.Getenv("CI") == "true" {
		t.Fatal("CI=true: node and npm are needed for the Node SDK driver")
	} else {
		t.Log("node or npm missing: Go SDKs only")
	}
	t.Cleanup(func() {
		for _, d := range ds {
			d.Close()
		}
	})
	return ds
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// TestDriversAgainstFakellm checks what each driver reports for faults straight from fakellm
// (no gateway): a complete answer is recognised as complete, a cut stream is an error, and a
// stream that ends cleanly without its terminal event is what the SDKs pass off as complete
// — the scorecard's truncation count must see it.
func TestDriversAgainstFakellm(t *testing.T) {
	h, err := fakellm.New("", fakellm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { h.Close(); srv.Close() })
	f := &fake{name: "A", h: h, url: srv.URL}
	e := &env{gw: &gatewayProc{url: srv.URL}, a: f, b: f, c: f}
	for _, d := range drivers(t) {
		for _, provider := range []string{"anthropic", "openai"} {
			for _, stream := range []bool{false, true} {
				name := d.Name() + "/" + provider
				if stream {
					name += "/stream"
				}
				t.Run(name, func(t *testing.T) {
					model := "claude-x"
					if provider == "openai" {
						model = "gpt-x"
					}
					h.SetScript("")
					r := e.call(d, provider, model, stream)
					if why := e.complete(r, f, model); why != "" {
						t.Fatalf("healthy: %s", why)
					}
					if r.header("request-id") == "" && r.header("x-request-id") == "" {
						t.Errorf("no request id header: %v", r.Headers)
					}
					h.SetScript("error 529")
					r = e.call(d, provider, model, stream)
					if r.Err == nil || r.Err.Kind != "api" || r.Err.Status != 529 {
						t.Fatalf("529: %s", describe(r))
					}
					if !stream {
						return
					}
					h.SetScript("cut after=3")
					if r = e.call(d, provider, model, stream); r.OK || r.Err == nil || r.Err.Kind != "transport" {
						t.Fatalf("cut: %s", describe(r))
					}
					// After content: Anthropic's text starts at event 3, OpenAI's at 1.
					if provider == "anthropic" {
						h.SetScript("stream-error after=5")
					} else {
						h.SetScript("stream-error after=3")
					}
					if r = e.call(d, provider, model, stream); r.OK || r.Err == nil || r.Err.Kind != "stream" || r.Text == "" {
						t.Fatalf("stream-error: %s", describe(r))
					}
					before := e.truncated
					h.SetScript("truncate after=3")
					r = e.call(d, provider, model, stream)
					if !r.OK || e.truncated != before+1 {
						t.Fatalf("truncate: %s, truncated %d -> %d", describe(r), before, e.truncated)
					}
					h.SetScript("tool-use name=get_weather")
					r = e.call(d, provider, model, stream, func(c *Call) { c.Tools = []Tool{weatherTool} })
					if !r.OK || len(r.ToolCalls) != 1 || r.ToolCalls[0].ID == "" {
						t.Fatalf("tool-use: %s %+v", describe(r), r.ToolCalls)
					}
				})
			}
		}
	}
}
