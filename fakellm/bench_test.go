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
func BenchmarkThroughput(b *testing.B) {
	h, err := fakellm.New("", fakellm.Options{LogSize: 1000})
	if err != nil {
		b.Fatal(err)
	}
	srv := fakellm.Serve(h)
	defer srv.Close()
	tr := &http.Transport{MaxIdleConns: 128, MaxIdleConnsPerHost: 128}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	url := srv.URL + "/v1/messages"
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
	if c := h.Counters(); c.Requests != int64(b.N) || len(h.Requests()) > 1000 {
		b.Errorf("counted %d of %d requests, log %d", c.Requests, b.N, len(h.Requests()))
	}
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
