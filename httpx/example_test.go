package httpx_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"

	"github.com/rebound-go/rebound/httpx"
)

func Example() {
	// A tool whose first answer is a 503.
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("retry-after-ms", "10")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "results")
	}))
	defer srv.Close()

	t, err := httpx.New(httpx.Config{})
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: t}
	resp, err := client.Get(srv.URL + "/search?q=go")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body), "after", calls.Load(), "calls")
	// Output: 200 results after 2 calls
}
