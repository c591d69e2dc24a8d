package gateway

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// What every request reads of its upstream and target, made once (prepareHot, from New) rather
// than at every request: the upstreams' parsed URLs, the marking headers' values, and the
// metric series of a success.

type upstreamHot struct {
	url, countURL *url.URL // url and countURL parsed; nil: parsed at each request instead
}

type targetHot struct {
	upstreamValue, modelValue []string     // X-Rebound-Upstream's and X-Rebound-Model's value
	served                    [3][2]series // requests_total{outcome="ok"}, by API and fallback
}

// prepareHot fills the upstreams' and the routes' targets' hot fields.
func (g *Gateway) prepareHot() {
	for _, up := range g.upstreams {
		up.hot.url = parseURL(up.url)
		up.hot.countURL = parseURL(up.countURL)
	}
	for _, r := range g.routes {
		for _, t := range r.targets {
			t.hot.upstreamValue = []string{t.up.name}
			t.hot.modelValue = []string{t.model}
		}
	}
}

// parseURL parses an upstream's endpoint as http.NewRequest would (nil: none, or not valid,
// and then each request parses it and fails as it did).
func parseURL(raw string) *url.URL {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	u.Host = strings.TrimSuffix(u.Host, ":") // an empty port, as http.NewRequest drops it
	return u
}

// upstreamRequest is http.NewRequestWithContext(ctx, "POST", raw, bytes.NewReader(body)) for
// u, raw parsed once: it does not parse the URL again, and its Header is made for the headers
// the gateway sets. The transport does not change a request's URL, so requests share u.
func upstreamRequest(ctx context.Context, u *url.URL, raw string, body []byte) (*http.Request, error) {
	if u == nil {
		return http.NewRequestWithContext(ctx, http.MethodPost, raw, bytes.NewReader(body))
	}
	req := &http.Request{Method: http.MethodPost, URL: u, Host: u.Host, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: make(http.Header, 8), ContentLength: int64(len(body)), Body: http.NoBody,
		GetBody: func() (io.ReadCloser, error) { return http.NoBody, nil }}
	if len(body) > 0 {
		req.Body = &bodyReader{*bytes.NewReader(body)}
		req.GetBody = func() (io.ReadCloser, error) { return &bodyReader{*bytes.NewReader(body)}, nil }
	}
	return req.WithContext(ctx), nil
}

// bodyReader is a request body read from memory (io.NopCloser of a bytes.Reader in one value).
type bodyReader struct{ bytes.Reader }

func (*bodyReader) Close() error { return nil }

// attemptsValues are X-Rebound-Attempts' values of 0 to 15 attempts.
var attemptsValues = func() (v [16][]string) {
	for i := range v {
		v[i] = []string{strconv.Itoa(i)}
	}
	return v
}()

func attemptsValue(n int) []string {
	if n >= 0 && n < len(attemptsValues) {
		return attemptsValues[n]
	}
	return []string{strconv.Itoa(n)}
}

// series is one series of a CounterVec, resolved at its first use and kept: WithLabelValues
// hashes its labels and allocates their slice at every call. Resolved at first use, not
// before, so that /metrics shows a series once it counted something, as before.
type series struct {
	p atomic.Pointer[prometheus.Counter]
}

func (s *series) get(resolve func() prometheus.Counter) prometheus.Counter {
	if c := s.p.Load(); c != nil {
		return *c
	}
	c := resolve()
	s.p.Store(&c)
	return c
}

// served is the series of requests answered by t on API a.
func (t *target) served(m *metrics, a api, degraded bool) prometheus.Counter {
	i, fb := 0, "false"
	if degraded {
		i, fb = 1, "true"
	}
	return t.hot.served[a][i].get(func() prometheus.Counter {
		return m.requests.WithLabelValues(a.String(), t.up.name, t.model, "ok", fb)
	})
}

// streamOutcomes are the outcomes of a stream, in the order of metrics.streamSeries.
var streamOutcomes = [...]string{streamComplete, streamUpstreamError, streamCut, streamIdle, streamMalformed, streamClientGone}

// stream is the series of streams of API a that ended so.
func (m *metrics) stream(a api, outcome string) prometheus.Counter {
	for i, o := range streamOutcomes {
		if o == outcome {
			return m.streamSeries[a][i].get(func() prometheus.Counter { return m.streams.WithLabelValues(a.String(), outcome) })
		}
	}
	return m.streams.WithLabelValues(a.String(), outcome)
}
