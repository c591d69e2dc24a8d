package httpx

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

type okTransport struct{}

func (okTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("ok")), Request: r}, nil
}

// An agent's tools may call any number of hosts: the limiters of hosts not called for a while
// are forgotten once there are many, and those of hosts in use are kept.
func TestLimitersStayBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr, err := New(Config{Base: okTransport{}})
		if err != nil {
			t.Fatal(err)
		}
		get := func(host string) {
			req, _ := http.NewRequest(http.MethodGet, "http://"+host+"/", nil)
			res, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
		}
		size := func() int {
			tr.mu.Lock()
			defer tr.mu.Unlock()
			return len(tr.limiters)
		}
		for i := range 3 * maxLimiters {
			get("h" + strconv.Itoa(i) + ".example")
		}
		if n := size(); n != 3*maxLimiters {
			t.Fatalf("%d limiters for %d hosts in use", n, 3*maxLimiters)
		}
		time.Sleep(limiterIdle)
		get("busy.example")
		swept := false
		for i := range 4 * maxLimiters {
			get("new" + strconv.Itoa(i) + ".example")
			if size() == i+2 { // busy and the new ones: every idle host forgotten
				swept = true
				break
			}
		}
		tr.mu.Lock()
		_, busy := tr.limiters["http/busy.example"]
		tr.mu.Unlock()
		if !swept || !busy {
			t.Errorf("idle limiters forgotten: %v (%d kept); busy host kept: %v", swept, size(), busy)
		}
	})
}
