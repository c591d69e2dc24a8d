package fakellm_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/rebound-go/rebound/fakellm"
)

var benchBody = []byte(`{"model":"claude-sonnet-4-5","max_tokens":256,"messages":[{"role":"user","content":"Write section two of the report on tidal power, about costs"}]}`)

// BenchmarkThroughput drives the server over loopback HTTP with 64 concurrent clients doing
// non-streaming Anthropic requests. It reports requests per second and the heap in use after the
// run (server and clients, after a GC) with the request log bounded at 1000 entries. For the
// figure after 100,000 requests: go test -run XXX -bench Throughput -benchtime 100000x ./fakellm
//
// The baseline sub-benchmark serves a constant reply of the same size with a bare handler: the
// ceiling of net/http plus the clients on this machine, against which the fake's cost shows.
func BenchmarkThroughput(b *testing.B) {
	b.Run("fakellm", func(b *testing.B) {
		h, err := fakellm.New("", fakellm.Options{LogSize: 1000})
		if err != nil {
			b.Fatal(err)
		}
		srv := fakellm.Serve(h)
		defer srv.Close()
		throughput(b, srv.URL)
		if c := h.Counters(); c.Requests != int64(b.N) || len(h.Requests()) > 1000 {
			b.Errorf("counted %d of %d requests, log %d", c.Requests, b.N, len(h.Requests()))
		}
	})
	for _, withHeaders := range []bool{false, true} {
		name := "baseline"
		if withHeaders {
			name = "baseline-headers"
		}
		b.Run(name, func(b *testing.B) { baseline(b, withHeaders) })
	}
}

// baseline serves a constant reply of the fake's size from a bare handler, with or without the
// headers every fake Anthropic response carries.
func baseline(b *testing.B, withHeaders bool) {
	reply := []byte(`{"id":"msg_fake_0","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"[fakellm 000000000000] Write section two of the report on tidal"}],"stop_reason":"end_turn","stop_sequence":null,"stop_details":null,"usage":{"input_tokens":20,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":17}}`)
	names := []string{"Request-Id", "Anthropic-Organization-Id",
		"Anthropic-Ratelimit-Requests-Limit", "Anthropic-Ratelimit-Requests-Remaining", "Anthropic-Ratelimit-Requests-Reset",
		"Anthropic-Ratelimit-Tokens-Limit", "Anthropic-Ratelimit-Tokens-Remaining", "Anthropic-Ratelimit-Tokens-Reset",
		"Anthropic-Ratelimit-Input-Tokens-Limit", "Anthropic-Ratelimit-Input-Tokens-Remaining", "Anthropic-Ratelimit-Input-Tokens-Reset",
		"Anthropic-Ratelimit-Output-Tokens-Limit", "Anthropic-Ratelimit-Output-Tokens-Remaining", "Anthropic-Ratelimit-Output-Tokens-Reset"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		h := w.Header()
		if withHeaders {
			for _, n := range names {
				h.Set(n, "2026-11-29T00:40:59Z")
			}
		}
		h.Set("Content-Type", "application/json")
		w.Write(reply)
	}))
	defer srv.Close()
	throughput(b, srv.URL)
}

func throughput(b *testing.B, base string) {
	tr := &http.Transport{MaxIdleConns: 128, MaxIdleConnsPerHost: 128}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	url := base + "/v1/messages"
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((64 + procs - 1) / procs)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", url, bytes.NewReader(benchBody))
			req.Header.Set("X-Api-Key", "sk-bench")
			req.Header.Set("Anthropic-Version", "2023-06-01")
			req.Header.Set("Content-Type", "application/json")
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
}

// BenchmarkHandler measures the server's own cost per non-streaming request, without the network.
func BenchmarkHandler(b *testing.B) {
	h, err := fakellm.New("", fakellm.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest("POST", "/v1/messages", bytes.NewReader(benchBody))
			r.Header.Set("X-Api-Key", "sk-bench")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
}
