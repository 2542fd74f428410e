package dispatch

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tocsinhq/tocsin/internal/route"
	"github.com/tocsinhq/tocsin/internal/store"
)

// Metrics counts what the dispatcher does. A nil *Metrics counts nothing.
type Metrics struct {
	changes   *prometheus.CounterVec
	commits   prometheus.Counter
	requests  prometheus.Counter
	decisions *prometheus.CounterVec
}

// NewMetrics registers the dispatcher's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tocsin_alert_changes_total",
			Help: "Received alerts by what they changed: new, fired-again, resolved, refreshed.",
		}, []string{"change"}),
		commits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tocsin_intake_commits_total",
			Help: "Transactions that stored received alerts (several requests share one).",
		}),
		requests: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tocsin_intake_committed_requests_total",
			Help: "Intake requests whose alerts were stored.",
		}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tocsin_group_checks_total",
			Help: "Aggregation group checks by outcome.",
		}, []string{"reason"}),
	}
	reg.MustRegister(m.changes, m.commits, m.requests, m.decisions)
	return m
}

func (m *Metrics) ingested(res store.IngestResult, requests int) {
	if m == nil {
		return
	}
	m.commits.Inc()
	m.requests.Add(float64(requests))
	m.changes.WithLabelValues("new").Add(float64(res.New))
	m.changes.WithLabelValues("fired-again").Add(float64(res.Refired))
	m.changes.WithLabelValues("resolved").Add(float64(res.Resolved))
	m.changes.WithLabelValues("refreshed").Add(float64(res.Refreshed))
}

func (m *Metrics) decided(d route.Decision) {
	if m == nil {
		return
	}
	m.decisions.WithLabelValues(string(d.Reason)).Inc()
}
