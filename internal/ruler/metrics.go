package ruler

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts what the ruler does.
type Metrics struct {
	// Evaluations counts evaluations by rule kind (an event rule's is one
	// event checked against it).
	Evaluations *prometheus.CounterVec
	// Failures counts failed evaluations by rule name.
	Failures *prometheus.CounterVec
	// Duration is how long metric rule evaluations take.
	Duration prometheus.Histogram
	// Missed counts evaluations skipped because the rule's previous one
	// still ran, or the ruler fell behind.
	Missed prometheus.Counter
	// Events counts events checked against the event rules.
	Events prometheus.Counter

	ruler *Ruler
}

// NewMetrics returns the ruler's metrics, registered with reg when it is
// not nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Evaluations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tocsin_rule_evaluations_total",
			Help: "Rule evaluations, by rule kind."}, []string{"kind"}),
		Failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tocsin_rule_evaluation_failures_total",
			Help: "Failed rule evaluations, by rule; the rule's last_error says why."}, []string{"rule"}),
		Duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tocsin_rule_evaluation_duration_seconds",
			Help: "How long metric rule evaluations take.", Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10)}),
		Missed: prometheus.NewCounter(prometheus.CounterOpts{Name: "tocsin_rule_evaluations_missed_total",
			Help: "Evaluations skipped because the rule's previous one was still running or the ruler fell behind."}),
		Events: prometheus.NewCounter(prometheus.CounterOpts{Name: "tocsin_rule_events_checked_total",
			Help: "Events checked against the event rules."}),
	}
	if reg != nil {
		reg.MustRegister(m.Evaluations, m.Failures, m.Duration, m.Missed, m.Events,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tocsin_rule_alerts_pending",
				Help: "Alerts of metric rules waiting out their rule's for."}, func() float64 { return m.count(false) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tocsin_rule_alerts_firing",
				Help: "Alerts of metric rules firing."}, func() float64 { return m.count(true) }))
	}
	return m
}

// count returns how many metric rule alerts are firing (or pending).
func (m *Metrics) count(firing bool) float64 {
	r := m.ruler
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ru := range r.runs {
		if ru.running {
			continue
		}
		p, f := ru.alerts.counts()
		if firing {
			n += f
		} else {
			n += p
		}
	}
	return float64(n)
}
