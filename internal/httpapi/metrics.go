package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type metrics struct {
	requests  *prometheus.CounterVec
	durations *prometheus.HistogramVec
	testSends *prometheus.CounterVec
	alerts    *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tocsin_http_requests_total",
			Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tocsin_http_request_duration_seconds",
			Help:    "HTTP request durations by route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"route"}),
		testSends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tocsin_channel_test_sends_total",
			Help: "Test sends by channel kind, result (ok, retry, shrink, permanent) and error code.",
		}, []string{"kind", "result", "code"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tocsin_alerts_received_total",
			Help: "Alerts received, by intake source (alertmanager, native, grafana, alertmanager-webhook).",
		}, []string{"source"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.durations, m.testSends, m.alerts)
	}
	return m
}

func (m *metrics) received(source string, n int) {
	m.alerts.WithLabelValues(source).Add(float64(n))
}

func (m *metrics) observe(route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.durations.WithLabelValues(route).Observe(d.Seconds())
}

func (s *Server) metricsHandler() http.Handler {
	if s.opts.Registry == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(s.opts.Registry, promhttp.HandlerOpts{Registry: s.opts.Registry})
}
