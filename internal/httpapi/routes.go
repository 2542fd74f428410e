package httpapi

import (
	"fmt"

	"net/http"
	"strings"

	"github.com/tocsinhq/tocsin/internal/alert"
)

// routes lists every route the server answers.
func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", s.handleHealthz)
	s.mux.HandleFunc("GET /readyz", s.handleReadyz)
	s.mux.Handle("GET /metrics", s.metricsHandler())

	s.handle("GET /api/v1/channels", s.listChannels)
	s.handle("POST /api/v1/channels", s.createChannel)
	s.handle("GET /api/v1/channels/{id}", s.getChannel)
	s.handle("PUT /api/v1/channels/{id}", s.updateChannel)
	s.handle("DELETE /api/v1/channels/{id}", s.deleteChannel)
	s.handle("POST /api/v1/channels/{id}/test", s.testChannel)

	s.handle("GET /api/v1/contacts", s.listContacts)
	s.handle("POST /api/v1/contacts", s.createContact)
	s.handle("GET /api/v1/contacts/{id}", s.getContact)
	s.handle("PUT /api/v1/contacts/{id}", s.updateContact)
	s.handle("DELETE /api/v1/contacts/{id}", s.deleteContact)

	s.handle("GET /api/v1/contact-groups", s.listContactGroups)
	s.handle("POST /api/v1/contact-groups", s.createContactGroup)
	s.handle("GET /api/v1/contact-groups/{id}", s.getContactGroup)
	s.handle("PUT /api/v1/contact-groups/{id}", s.updateContactGroup)
	s.handle("DELETE /api/v1/contact-groups/{id}", s.deleteContactGroup)

	s.handleIntake("POST /api/v2/alerts", s.postAlertsV2)
	s.handle("GET /api/v2/alerts", s.getAlertsV2)
	s.handleIntake("POST /api/v1/alerts", s.postAlertsV1)
	s.handle("GET /api/v1/alerts", s.listAlerts)
	s.handle("GET /api/v1/alerts/{id}", s.getAlert)
	s.handle("POST /api/v1/alerts/{id}/claim", s.alertAction(alert.Claimed))
	s.handle("POST /api/v1/alerts/{id}/clear", s.alertAction(alert.Cleared))
	s.handle("POST /api/v1/alerts/{id}/silence", s.alertAction(alert.Silenced))
	s.handleIntake("POST /hooks/grafana", s.postGrafana)
	s.handleIntake("POST /hooks/alertmanager/{id}", s.postAlertmanagerHook)

	s.handle("GET /api/v1/deliveries", s.listDeliveries)
	s.handle("GET /api/v1/deliveries/{id}", s.getDelivery)

	s.handle("GET /api/v1/policies", s.listPolicies)
	s.handle("POST /api/v1/policies", s.createPolicy)
	s.handle("GET /api/v1/policies/{id}", s.getPolicy)
	s.handle("PUT /api/v1/policies/{id}", s.updatePolicy)
	s.handle("DELETE /api/v1/policies/{id}", s.deletePolicy)
	// Alertmanager's API v2 (silences.go, status.go).
	s.handle("GET /api/v2/status", s.getStatus)
	s.handle("GET /api/v2/silences", s.listSilences)
	s.handle("POST /api/v2/silences", s.postSilence)
	s.handle("GET /api/v2/silence/{silenceID}", s.getSilence)
	s.handle("DELETE /api/v2/silence/{silenceID}", s.deleteSilence)
	s.handle("GET /api/v1/ingest-tokens", s.listIngestTokens)
	s.handle("POST /api/v1/ingest-tokens", s.createIngestToken)
	s.handle("DELETE /api/v1/ingest-tokens/{id}", s.deleteIngestToken)

	s.handleIntake("POST /api/v1/events", s.postEvents)
	s.handle("GET /api/v1/events", s.listEvents)
	s.handle("GET /api/v1/events/{id}", s.getEvent)

	// Everything else under /api/ and /hooks/ answers JSON, after auth, so
	// a typo reads as "no such route" rather than an HTML page.
	s.handle("GET /api/v1/rules", s.listRules)
	s.handle("POST /api/v1/rules", s.createRule)
	s.handle("POST /api/v1/rules/preview", s.previewRule)
	s.handle("POST /api/v1/rules/import", s.importRules)
	s.handle("GET /api/v1/rules/export", s.exportRules)
	s.handle("GET /api/v1/rules/{id}", s.getRule)
	s.handle("PUT /api/v1/rules/{id}", s.updateRule)
	s.handle("DELETE /api/v1/rules/{id}", s.deleteRule)
	s.handle("GET /api/v1/datasources", s.listDatasources)
	s.handle("POST /api/v1/datasources", s.createDatasource)
	s.handle("GET /api/v1/datasources/{id}", s.getDatasource)
	s.handle("PUT /api/v1/datasources/{id}", s.updateDatasource)
	s.handle("DELETE /api/v1/datasources/{id}", s.deleteDatasource)
	s.handle("POST /api/v1/datasources/{id}/test", s.testDatasource)
	// Metrics: intake and the Prometheus query API (for Grafana and
	// people), behind the intake tokens; the handlers cap and read their
	// own bodies, which are compressed.
	write, otlp, prom := s.metricsHandlers()
	s.mux.Handle("POST /api/v1/write", write)
	s.mux.Handle("POST /v1/metrics", otlp)
	s.mux.Handle("GET /prometheus/api/v1/query", prom)
	s.mux.Handle("POST /prometheus/api/v1/query", prom)
	s.mux.Handle("GET /prometheus/api/v1/query_range", prom)
	s.mux.Handle("POST /prometheus/api/v1/query_range", prom)
	s.mux.Handle("GET /prometheus/api/v1/series", prom)
	s.mux.Handle("POST /prometheus/api/v1/series", prom)
	s.mux.Handle("GET /prometheus/api/v1/labels", prom)
	s.mux.Handle("POST /prometheus/api/v1/labels", prom)
	s.mux.Handle("GET /prometheus/api/v1/label/{name}/values", prom)
	s.mux.Handle("GET /prometheus/api/v1/metadata", prom)

	s.handle("/api/", s.notFound)
	s.handle("/hooks/", s.notFound)
}

// handle registers an authenticated JSON API route.
func (s *Server) handle(pattern string, h handlerFunc) {
	s.mux.Handle(pattern, s.requireAdmin(s.limitBody(s.serveJSON(h))))
}

// handleIntake registers an intake route: as handle, but an ingest token
// is accepted too, and a token may come as ?token= (requireIntake).
func (s *Server) handleIntake(pattern string, h handlerFunc) {
	s.mux.Handle(pattern, s.requireIntake(s.limitBody(s.serveJSON(h))))
}

// notFound answers what no route matched: 405 with Allow when the path
// exists under another method, else 404.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) error {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "/api/" && pattern != "/hooks/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		return &Error{Status: http.StatusMethodNotAllowed, Code: "method-not-allowed",
			Message: fmt.Sprintf("%s is not allowed on %s: use %s", r.Method, r.URL.Path, strings.Join(allow, " or "))}
	}
	return &Error{Status: http.StatusNotFound, Code: "no-such-route", Message: "no such API route: " + r.Method + " " + r.URL.Path}
}

// metricsHandlers returns the metrics intake and query handlers behind the
// intake tokens; a server without a metric store answers them 404.
func (s *Server) metricsHandlers() (write, otlp, prom http.Handler) {
	missing := s.requireIntake(s.serveJSON(func(http.ResponseWriter, *http.Request) error {
		return &Error{Status: http.StatusNotFound, Code: "not-found", Message: "this server keeps no metrics"}
	}))
	or := func(h http.Handler) http.Handler {
		if h == nil {
			return missing
		}
		return s.requireIntake(h)
	}
	prom = s.opts.PromAPI
	if prom != nil {
		prom = http.StripPrefix("/prometheus", prom)
	}
	return or(s.opts.MetricsWrite), or(s.opts.MetricsOTLP), or(prom)
}
