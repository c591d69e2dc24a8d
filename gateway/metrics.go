package gateway

import (
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rebound-go/rebound/breaker"
)

// metrics are the gateway's own collectors (docs/gateway.md lists them). Every label value
// comes from the configuration or a fixed set: never from what a client sent, never a key.
type metrics struct {
	requests    *prometheus.CounterVec
	streams     *prometheus.CounterVec
	added       prometheus.Observer
	addedStream prometheus.Observer
	redisUp     prometheus.Gauge
	redisErrors *prometheus.CounterVec
	// streamSeries are streams' series, by API and streamOutcomes.
	streamSeries [3][len(streamOutcomes)]series
}

func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// addedBuckets resolve the gateway's own share of a request's time, from 25 µs to 250 ms.
var addedBuckets = []float64{.000025, .00005, .0001, .00025, .0005, .00075, .001, .0025, .005, .01, .025, .05, .1, .25}

func newMetrics(reg prometheus.Registerer) *metrics {
	added := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "rebound_gateway_added_latency_seconds",
		Help:    "The gateway's own share of the time of a request answered on its first attempt: the whole minus the wait for the upstream (a stream: until its first content went out).",
		Buckets: addedBuckets,
	}, []string{"stream"})
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rebound_gateway_requests_total",
			Help: "Client requests, by API, the upstream and model that answered (or failed last), outcome (ok or the failure class, unauthorized, not_found) and whether a fallback answered.",
		}, []string{"api", "upstream", "model", "outcome", "fallback"}),
		streams: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rebound_gateway_streams_total",
			Help: "Streams that went out to a client, by how they ended: complete, upstream_error, cut, idle_timeout, malformed (each of these four with an in-band error), client_gone.",
		}, []string{"api", "outcome"}),
		added:       added.WithLabelValues("false"),
		addedStream: added.WithLabelValues("true"),
		redisUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rebound_gateway_redis_up",
			Help: "1 while the shared Redis answers (replicas share limiter, retry budget and breaker evidence); 0 while each replica goes on with its local state. Absent without Redis.",
		}),
		redisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rebound_gateway_redis_errors_total",
			Help: "Redis failures, by the part that met them (limiter, budget, evidence, ping): each one went on with local state.",
		}, []string{"part"}),
	}
	reg.MustRegister(m.requests, m.streams, added, m.redisErrors)
	return m
}

func (g *Gateway) serveMetrics(w http.ResponseWriter, r *http.Request) {
	promhttp.HandlerFor(g.registry, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

// Health is what /healthz answers.
type Health struct {
	// Status is "ok", or "degraded" while Redis does not answer (the replica still serves,
	// on local state).
	Status string `json:"status"`
	// Redis is "off" (none configured), "up" or "down"; State "local" or "shared".
	Redis string `json:"redis"`
	State string `json:"state"`
	// Open lists the upstream models whose breaker is open or half-open here.
	Open []string `json:"open_breakers"`
}

// Health returns the gateway's health.
func (g *Gateway) Health() Health {
	h := Health{Status: "ok", Redis: "off", State: "local", Open: []string{}}
	if g.rdb != nil {
		if g.redisUp.Load() {
			h.Redis, h.State = "up", "shared"
		} else {
			h.Redis, h.Status = "down", "degraded"
		}
	}
	g.breakers.Range(func(key string, b *breaker.Breaker) bool {
		if b.State() != breaker.Closed {
			h.Open = append(h.Open, key)
		}
		return true
	})
	return h
}

func (g *Gateway) serveHealth(w http.ResponseWriter, _ *http.Request) {
	b, _ := json.Marshal(g.Health())
	w.Header()["Content-Type"] = jsonContentType
	w.Write(append(b, '\n'))
}
