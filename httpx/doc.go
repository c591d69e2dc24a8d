// Package httpx brings Rebound's recovery to any HTTP client, for the tools an agent calls:
// Transport is an http.RoundTripper that classifies every response and failure, retries what
// a retry can mend (with backoff, jitter, the server's retry-after, and request bodies rewound
// through GetBody), keeps a circuit breaker per host and paces each host under the rate limit
// its headers announce.
//
//	t, err := httpx.New(httpx.Config{Hook: hook})
//	if err != nil {
//		return err
//	}
//	client := &http.Client{Transport: t}
//	resp, err := client.Get("https://api.example.com/search?q=go")
//
// Only requests that may be sent twice are retried: idempotent methods, or POST and PATCH with
// an Idempotency-Key header (or Config.RetryNonIdempotent). Failing statuses that a retry
// cannot mend (400, 401, 404, x-should-retry: false) come back as they are.
package httpx
