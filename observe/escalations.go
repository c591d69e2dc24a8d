package observe

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// EscalationStat is the open part of an escalation queue for one reason.
type EscalationStat struct {
	Reason string
	// Open is how many items are open or claimed (not yet resolved or dismissed).
	Open int
	// Oldest is when the oldest of them was created (zero when Open is 0).
	Oldest time.Time
}

// EscalationStatsFunc reads the queue's depth and oldest item per reason. The command adapts an
// escalate.Queue to it; any source of the same numbers will do.
type EscalationStatsFunc func(ctx context.Context) ([]EscalationStat, error)

// EscalationCollector is a prometheus.Collector that reads the escalation queue at each scrape:
// rebound_escalations_open{reason} and rebound_escalation_oldest_age_seconds{reason}.
type EscalationCollector struct {
	stats   EscalationStatsFunc
	timeout time.Duration
	logger  *slog.Logger
	open    *prometheus.Desc
	oldest  *prometheus.Desc
}

var _ prometheus.Collector = (*EscalationCollector)(nil)

// EscalationConfig configures an EscalationCollector. The zero value works.
type EscalationConfig struct {
	// Timeout bounds one read of the queue at scrape time. Default 5 s.
	Timeout time.Duration
	// Logger receives a read that failed (the scrape then omits the queue's metrics).
	// Default: slog.Default().
	Logger *slog.Logger
}

// NewEscalationCollector returns a collector that calls stats at each scrape.
func NewEscalationCollector(stats EscalationStatsFunc, cfg EscalationConfig) *EscalationCollector {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &EscalationCollector{
		stats:   stats,
		timeout: cfg.Timeout,
		logger:  cfg.Logger,
		open: prometheus.NewDesc("rebound_escalations_open",
			"Escalation items waiting for a person (open or claimed), by reason.", []string{"reason"}, nil),
		oldest: prometheus.NewDesc("rebound_escalation_oldest_age_seconds",
			"Age of the oldest escalation item waiting for a person, by reason.", []string{"reason"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *EscalationCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.open
	ch <- c.oldest
}

// Collect implements prometheus.Collector: it reads the queue once.
func (c *EscalationCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	stats, err := c.stats(ctx)
	if err != nil {
		c.logger.Warn("read escalation queue for metrics", "err", err)
		return
	}
	now := time.Now()
	for _, s := range stats {
		ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(s.Open), s.Reason)
		age := 0.0
		if s.Open > 0 && !s.Oldest.IsZero() {
			age = max(now.Sub(s.Oldest).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age, s.Reason)
	}
}
