// Package httpapi serves Tocsin's HTTP interface: the JSON API under
// /api/v1, Alertmanager's API v2 under /api/v2, health and metrics. routes.go lists every route; encode.go holds
// the one place errors become statuses. It uses the store contract
// (internal/store) but no backend, and declares the small interfaces it
// consumes (Sender) instead of importing platform packages.
package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tocsinhq/tocsin/internal/channel"
	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/store"
)

// Sender sends a message to a channel now, bypassing any queue: what a test
// send needs. Implemented in internal/app, which knows every platform.
type Sender interface {
	SendNow(ctx context.Context, ch *channel.Channel, msg notify.Message) (SendReport, error)
}

// SendReport tells what a successful send did.
type SendReport struct {
	// Messages is how many platform messages carried it (a long message is
	// split).
	Messages int `json:"messages"`
	// Notes are things a person should know, e.g. mentions a message type
	// cannot carry.
	Notes []string `json:"notes,omitempty"`
}

// Options are the server's dependencies.
type Options struct {
	Store  store.Store
	Sender Sender
	// Pipeline takes received alerts.
	Pipeline Pipeline
	Logger   *slog.Logger
	// Registry receives the server's metrics and is served on /metrics.
	Registry *prometheus.Registry
	// AdminTokenHash is SHA-256 of the admin token.
	AdminTokenHash [32]byte
	// ChannelEnv is what channel validation needs (platform hosts, allow-list).
	ChannelEnv channel.Env
	// Location is the server's time zone, for channels that set none.
	Location *time.Location
	// MaxBodyBytes caps request bodies (413 beyond).
	MaxBodyBytes int64
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// PoliciesChanged, when set, is called after a policy was created,
	// updated or deleted, for the alert pipeline to reload the policies it
	// caches (store.AllPolicies). It runs in the request, after the store
	// committed, so it should only signal, not reload there and then.
	PoliciesChanged func()
	// Version is Tocsin's version, for Alertmanager's status API; the
	// module version in the build information when empty.
	Version string
	// SilencesChanged, when set, is called after every silence the API
	// creates, updates or expires, once the change is stored: the alert
	// pipeline reloads the silences it caches. It runs on request
	// goroutines, several at once, so it must be safe for concurrent use
	// and return quickly (signal, do not reload in the call).
	SilencesChanged func()
	// IngestTokenTTL bounds how long an ingest token created or deleted
	// through another replica takes to be honoured here (this server's own
	// changes count at once); DefaultIngestTokenTTL when zero.
	IngestTokenTTL time.Duration
	// EventsReceived, when set, is called after POST /api/v1/events has
	// stored new events, with their ids in the order received; events that
	// were stored already (the same source and sender's id) are left out.
	// It runs in the request: hand the ids on, do not work on them there.
	EventsReceived func(ids []string)
	// Rules, when set, evaluates rules: rule answers carry its status,
	// and POST /api/v1/rules/preview asks it.
	Rules Rules
	// RulesChanged, when set, is called after a rule or data source was
	// created, updated or deleted, for the evaluator to reload. It runs in
	// the request: signal, do not reload there.
	RulesChanged func()
	// DatasourceClient sends data source test queries; the data source
	// package's own client (with transport timeouts) when nil.
	DatasourceClient *http.Client
	// MetricsWrite and MetricsOTLP, when set, take Prometheus remote
	// write (POST /api/v1/write) and OTLP/HTTP metrics (POST /v1/metrics)
	// behind the intake tokens; PromAPI, when set, answers the Prometheus
	// query API under /prometheus (the prefix stripped).
	MetricsWrite, MetricsOTLP, PromAPI http.Handler
}

// Server is the HTTP handler.
type Server struct {
	opts    Options
	mux     *http.ServeMux
	handler http.Handler
	metrics *metrics
	// status is what GET /api/v2/status answers, fixed at New.
	status alertmanagerStatus
	tokens *tokenCache
}

// New builds the server and registers its metrics.
func New(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	if opts.IngestTokenTTL <= 0 {
		opts.IngestTokenTTL = DefaultIngestTokenTTL
	}
	s := &Server{
		opts: opts, mux: http.NewServeMux(), metrics: newMetrics(opts.Registry),
		status: newAlertmanagerStatus(opts.Version, opts.Now()),
	}
	s.tokens = &tokenCache{
		list:   func(ctx context.Context) ([]*store.IngestToken, error) { return s.opts.Store.ListIngestTokens(ctx) },
		ttl:    opts.IngestTokenTTL,
		now:    opts.Now,
		logger: opts.Logger,
	}
	s.routes()
	s.handler = s.recoverPanics(s.instrument(s.mux))
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// HashToken returns the hash the server compares tokens against.
func HashToken(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// checkAdmin reports whether token is the admin token. Tokens carry 256
// bits of entropy, so a fast hash compared in constant time is enough.
func (s *Server) checkAdmin(token string) bool {
	if token == "" {
		return false
	}
	h := HashToken(token)
	return subtle.ConstantTimeCompare(h[:], s.opts.AdminTokenHash[:]) == 1
}
