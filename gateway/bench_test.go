package gateway_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkForward is one non-streamed Anthropic request through the gateway to a fake
// upstream answering at once, over loopback HTTP both ways (the client, the gateway and the fake
// share the machine: the figure is the whole round trip, not the gateway's share; bench/gateway
// measures that against direct calls).
func BenchmarkForward(b *testing.B) {
	benchForward(b, false)
}

// BenchmarkForwardStream is the same, streamed.
func BenchmarkForwardStream(b *testing.B) {
	benchForward(b, true)
}

// BenchmarkDirect is BenchmarkForward's request sent to the fake directly: the difference is
// the gateway's cost, hop included.
func BenchmarkDirect(b *testing.B) {
	r := newRig(b, "", baseConfig)
	benchLoop(b, r.fake.URL, upstreamKey, false)
}

func benchForward(b *testing.B, stream bool) {
	r := newRig(b, "", baseConfig)
	benchLoop(b, r.srv.URL, clientKey, stream)
}

func benchLoop(b *testing.B, base, key string, stream bool) {
	body := `{"model":"claude-a","max_tokens":64,"messages":[{"role":"user","content":"benchmark this request please"}]}`
	if stream {
		body = `{"model":"claude-a","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"benchmark this request please"}]}`
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req, _ := http.NewRequest("POST", base+"/v1/messages", strings.NewReader(body))
		req.Header.Set("x-api-key", key)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
