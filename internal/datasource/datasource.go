// Package datasource is what an external data source is: a
// Prometheus-compatible query API (Prometheus, VictoriaMetrics, Thanos,
// Mimir) metric rules may query instead of the embedded store, with its
// URL, authentication and timeout, and the client that queries it.
package datasource

import (
	"time"

	"github.com/tocsinhq/tocsin/internal/secret"
)

// Source is an external Prometheus-compatible query API.
type Source struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// URL is the API's base: queries go to URL + "/api/v1/query". For
	// Tocsin's own store that is <tocsin>/prometheus; for Mimir
	// <mimir>/prometheus.
	URL string `json:"url"`
	// BearerToken, or Username and Password (basic auth), authenticate;
	// all empty sends no credentials.
	BearerToken secret.String `json:"bearer_token"`
	Username    string        `json:"username"`
	Password    secret.String `json:"password"`
	// Headers are sent with every query (X-Scope-OrgID for Mimir, …).
	Headers map[string]string `json:"headers"`
	// Timeout bounds one query; 0 means DefaultTimeout.
	Timeout time.Duration `json:"-"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// DefaultTimeout bounds a query when a source sets no timeout.
const DefaultTimeout = 30 * time.Second
