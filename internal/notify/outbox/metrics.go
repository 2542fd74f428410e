package outbox

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tocsinhq/tocsin/internal/store"
)

// Metrics counts what the outbox does. A nil *Metrics counts nothing.
type Metrics struct {
	results  *prometheus.CounterVec
	waits    *prometheus.CounterVec
	digests  *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	sendable *prometheus.GaugeVec
}

// NewMetrics registers the outbox's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tocsin_delivery_attempts_total",
			Help: "Delivery attempts by channel, result (sent, retry, paused, budget, failed, dead), Tocsin code and platform code.",
		}, []string{"channel", "result", "code", "platform_code"}),
		waits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tocsin_budget_waits_total",
			Help: "Times a channel's worker waited for its send budget to free.",
		}, []string{"channel"}),
		digests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tocsin_digested_deliveries_total",
			Help: "Queued deliveries merged into digests because more waited than the budget allowed.",
		}, []string{"channel"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tocsin_delivery_latency_seconds",
			Help:    "From a delivery being enqueued to the platform accepting it, by kind (group, relay, digest).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600},
		}, []string{"kind"}),
		sendable: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tocsin_outbox_due_deliveries",
			Help: "Deliveries due now that a channel's worker saw at its last look.",
		}, []string{"channel"}),
	}
	reg.MustRegister(m.results, m.waits, m.digests, m.latency, m.sendable)
	return m
}

func (m *Metrics) result(channel, result, code string, platformCode int) {
	if m == nil {
		return
	}
	pc := ""
	if platformCode != 0 {
		pc = strconv.Itoa(platformCode)
	}
	m.results.WithLabelValues(channel, result, code, pc).Inc()
}

func (m *Metrics) budgetWait(channel string) {
	if m != nil {
		m.waits.WithLabelValues(channel).Inc()
	}
}

func (m *Metrics) digested(channel string, n int) {
	if m != nil {
		m.digests.WithLabelValues(channel).Add(float64(n))
	}
}

func (m *Metrics) sent(channel string, d *store.Delivery, now time.Time) {
	if m != nil {
		m.latency.WithLabelValues(d.Kind).Observe(now.Sub(d.CreatedAt).Seconds())
	}
}

func (m *Metrics) queued(channel string, due []*store.Delivery, now time.Time) {
	if m != nil {
		m.sendable.WithLabelValues(channel).Set(float64(len(due)))
	}
}
