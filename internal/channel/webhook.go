package channel

import (
	"net/url"
	"strings"

	"github.com/tocsinhq/tocsin/internal/problem"
	"github.com/tocsinhq/tocsin/internal/secret"
)

// Webhook are the settings of a generic webhook: Tocsin POSTs an
// Alertmanager-like JSON body to URL, signed with Secret when set.
type Webhook struct {
	// URL may carry credentials in its query, so it is a secret.
	URL secret.URL `json:"url"`
	// Secret keys the HMAC-SHA256 signature header; empty: unsigned.
	Secret secret.String `json:"secret"`
	Budget *Budget       `json:"budget,omitempty"`
}

// Kind implements Settings.
func (*Webhook) Kind() Kind { return KindWebhook }

// Secrets implements Settings.
func (s *Webhook) Secrets() []SecretField {
	return []SecretField{
		{Name: "url", Get: s.URL.Reveal, Set: func(v string) { s.URL = secret.NewURL(v) }},
		{Name: "secret", Get: s.Secret.Reveal, Set: func(v string) { s.Secret = secret.New(v) }},
	}
}

func (s *Webhook) validate(p *problem.List, env Env) {
	raw := strings.TrimSpace(s.URL.Reveal())
	switch {
	case raw == "":
		p.Add("settings.url", "required", "the URL to POST to is required")
	case isMaskedValue(raw):
	default:
		u, err := url.Parse(raw)
		if err != nil {
			p.Add("settings.url", "invalid-url", "not a URL: give an absolute https URL")
			break
		}
		if msg := checkURL(u, env.rule(KindWebhook), env.Allow); msg != "" {
			p.Add("settings.url", "url-not-allowed", "%s", msg)
			break
		}
		u.Fragment = ""
		s.URL = secret.NewURL(u.String())
	}
	if v := s.Secret.Reveal(); v != "" && !isMaskedValue(v) && len(v) < 16 {
		p.Add("settings.secret", "weak-secret", "a signing secret must be at least 16 characters, or empty for unsigned requests")
	}
	validateBudget(p, s.Budget, KindWebhook, false)
}
