package gateway_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/gateway"
)

// BenchmarkServe is the gateway's own work for one request, with no sockets: ServeHTTP called
// in the benchmark's goroutine, its upstream an in-process RoundTripper replaying the answer
// fakellm gave the same request (recorded once, then handed out one SSE event per Read, as a
// stream arrives frame by frame). Its allocations are the gateway's, plus the replayed
// response's own two (the Response and its body reader). cpu-ns/op is the process's CPU time
// per request (see processCPU), the figure to compare on a loaded machine.
func BenchmarkServe(b *testing.B) {
	cases := []struct {
		name, path, body string
	}{
		{"messages", "/v1/messages", `{"model":"claude-a","max_tokens":64,"messages":[{"role":"user","content":"benchmark this request please"}]}`},
		{"messages_stream", "/v1/messages", `{"model":"claude-a","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"benchmark this request please"}]}`},
		{"chat", "/v1/chat/completions", `{"model":"gpt-a","messages":[{"role":"user","content":"benchmark this request please"}]}`},
		{"chat_stream", "/v1/chat/completions", `{"model":"gpt-a","stream":true,"messages":[{"role":"user","content":"benchmark this request please"}]}`},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			gw := newBenchGateway(b)
			req := httptest.NewRequest(http.MethodPost, c.path, nil)
			req.Header.Set("X-Api-Key", clientKey)
			req.Header.Set("Authorization", "Bearer "+clientKey)
			req.Header.Set("Content-Type", "application/json")
			body := &rewindBody{}
			w := &discardWriter{h: http.Header{}}
			serve := func() {
				body.Reset(c.body)
				req.Body, req.ContentLength = body, int64(len(c.body))
				clear(w.h)
				w.status, w.n = 0, 0
				gw.ServeHTTP(w, req)
				if w.status != http.StatusOK || w.n == 0 {
					b.Fatalf("status %d, %d bytes", w.status, w.n)
				}
			}
			serve() // records the upstream's answer
			b.ReportAllocs()
			cpu := processCPU()
			for b.Loop() {
				serve()
			}
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// processCPU is the CPU time this process has used (user plus system, the garbage collector's
// included): unlike ns/op it does not grow when other processes take the machine's cores.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func newBenchGateway(b *testing.B) *gateway.Gateway {
	b.Helper()
	h, err := fakellm.New("", fakellm.Options{Key: upstreamKey, LogSize: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(h.Close)
	c, err := gateway.Parse("bench.yaml", []byte(strings.ReplaceAll(baseConfig, "FAKE", "http://fake.invalid")))
	if err != nil {
		b.Fatal(err)
	}
	env := map[string]string{"UP_KEY": upstreamKey, "GW_KEY": clientKey}
	gw, err := gateway.New(c, gateway.Options{
		Getenv:    func(k string) string { return env[k] },
		Transport: &replay{h: h, answers: map[string]*recorded{}},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { gw.Close() })
	return gw
}

// replay is a RoundTripper that asks fakellm once per path and kind (streamed or not), and
// replays that answer from then on.
type replay struct {
	h       http.Handler
	mu      sync.Mutex
	answers map[string]*recorded
}

type recorded struct {
	status int
	header http.Header
	body   []byte
}

func (rp *replay) RoundTrip(req *http.Request) (*http.Response, error) {
	key := req.URL.Path + " " + req.Header.Get("Accept")
	rp.mu.Lock()
	a := rp.answers[key]
	if a == nil {
		rec := httptest.NewRecorder()
		rp.h.ServeHTTP(rec, req)
		a = &recorded{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
		rp.answers[key] = a
	}
	rp.mu.Unlock()
	return &http.Response{StatusCode: a.status, Status: http.StatusText(a.status), Header: a.header,
		Body: &frameReader{b: a.body}, ContentLength: -1, Request: req}, nil
}

// frameReader hands out a body one SSE event (up to and including its blank line) per Read.
type frameReader struct{ b []byte }

func (f *frameReader) Read(p []byte) (int, error) {
	if len(f.b) == 0 {
		return 0, io.EOF
	}
	n := len(f.b)
	if i := bytes.Index(f.b, []byte("\n\n")); i >= 0 {
		n = i + 2
	}
	n = copy(p, f.b[:n])
	f.b = f.b[n:]
	return n, nil
}

func (f *frameReader) Close() error { return nil }

// rewindBody is a request body read again by every iteration.
type rewindBody struct{ strings.Reader }

func (r *rewindBody) Close() error { return nil }

// discardWriter is a ResponseWriter (and Flusher) that keeps only the status and the count of
// bytes.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(s int)   { w.status = s }
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}
func (w *discardWriter) Flush() {}
