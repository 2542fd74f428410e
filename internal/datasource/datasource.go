// Package datasource is what an external data source is: a
// Prometheus-compatible query API (Prometheus, VictoriaMetrics, Thanos,
// Mimir) metric rules may query instead of the embedded store, with its
// URL, authentication and timeout, and the client that queries it.
//
// The package validates a Source as a person types it (Validate, then
// KeepSecrets on update), writes it as the API shows it (secrets masked,
// the timeout as "30s"), and queries it (NewClient). It stores nothing:
// the store seals the secrets and keeps the rest as this JSON.
package datasource

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tocsinhq/tocsin/internal/problem"
	"github.com/tocsinhq/tocsin/internal/route"
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
	// Their values are not secrets: credentials go in BearerToken or
	// Username and Password, which are masked and sealed.
	Headers map[string]string `json:"headers"`
	// Timeout bounds one query; 0 means DefaultTimeout. In JSON it is
	// "timeout": "30s".
	Timeout time.Duration `json:"-"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// DefaultTimeout bounds a query when a source sets no timeout.
const DefaultTimeout = 30 * time.Second

// MinTimeout and MaxTimeout bound what a source may set: below a second
// a busy Prometheus fails rules at random, and a rule evaluation waiting
// longer than five minutes is late for every interval worth having.
const (
	MinTimeout = time.Second
	MaxTimeout = 5 * time.Minute
)

// MaxNameLen bounds a data source name, in characters.
const MaxNameLen = 100

// Reserved is the name no data source may take: rules use it for the
// embedded store (rule.Embedded, which this package cannot import).
const Reserved = "embedded"

// wire is a Source's JSON shape. It repeats Source's fields rather than
// embedding them: encoding/json would name an embedded struct in its
// type errors ("plain.headers"), and the timeout is a string here.
type wire struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	URL         string            `json:"url"`
	BearerToken secret.String     `json:"bearer_token"`
	Username    string            `json:"username"`
	Password    secret.String     `json:"password"`
	Headers     map[string]string `json:"headers"`
	Timeout     *string           `json:"timeout"`
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
}

// MarshalJSON writes the API shape: secrets masked, headers as an object
// even when there are none, and the timeout in effect as "30s".
func (s Source) MarshalJSON() ([]byte, error) {
	headers := s.Headers
	if headers == nil {
		headers = map[string]string{}
	}
	timeout := route.FormatDuration(s.timeout())
	return json.Marshal(wire{
		ID: s.ID, Name: s.Name, URL: s.URL,
		BearerToken: s.BearerToken, Username: s.Username, Password: s.Password,
		Headers: headers, Timeout: &timeout,
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt,
	})
}

// UnmarshalJSON reads a source as a client sends it, strictly: an unknown
// field is refused by name, and every error is a *problem.List. Secrets
// are read in clear; a masked one stays masked until KeepSecrets. A
// missing timeout leaves Timeout 0 (DefaultTimeout); "0s" is refused,
// since it could not be told from a missing one.
func (s *Source) UnmarshalJSON(data []byte) error {
	var w wire
	if err := problem.DecodeStrict(data, &w, ""); err != nil {
		return err
	}
	var timeout time.Duration
	if w.Timeout != nil && strings.TrimSpace(*w.Timeout) != "" {
		d, err := route.ParseDuration(*w.Timeout)
		if err != nil {
			return problem.One("timeout", "invalid-duration", err.Error())
		}
		if d == 0 {
			var p problem.List
			checkTimeout(&p, d)
			return p.Err()
		}
		timeout = d
	}
	*s = Source{
		ID: w.ID, Name: w.Name, URL: w.URL,
		BearerToken: w.BearerToken, Username: w.Username, Password: w.Password,
		Headers: w.Headers, Timeout: timeout,
		CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt,
	}
	return nil
}

func (s *Source) timeout() time.Duration {
	if s.Timeout == 0 {
		return DefaultTimeout
	}
	return s.Timeout
}

// Validate checks s and normalises it in place: the name, URL and
// username trimmed, the URL's trailing slashes dropped, a zero Timeout
// set to DefaultTimeout. Every problem is reported at once, as a
// *problem.List naming the JSON field. Masked secrets count as set; call
// KeepSecrets to restore them.
func (s *Source) Validate() error {
	var p problem.List
	s.Name = strings.TrimSpace(s.Name)
	switch n := utf8.RuneCountInString(s.Name); {
	case n == 0:
		p.Add("name", "required", "a data source needs a name, like \"prometheus-prod\"")
	case n > MaxNameLen:
		p.Add("name", "too-long", "a name must be at most %d characters, got %d", MaxNameLen, n)
	case strings.EqualFold(s.Name, Reserved):
		p.Add("name", "reserved-name", "%q is the name rules use for Tocsin's own metric store: pick another name", Reserved)
	case strings.ContainsFunc(s.Name, func(r rune) bool { return r < ' ' || r == 0x7f || r == '/' || r == '\\' }):
		p.Add("name", "invalid-name", "a name must not contain slashes, tabs or line breaks")
	}
	s.URL = checkURL(&p, s.URL)
	s.Username = strings.TrimSpace(s.Username)
	basic := s.Username != "" || !s.Password.IsZero()
	switch {
	case !s.BearerToken.IsZero() && basic:
		p.Add("bearer_token", "conflicting-auth", "use either a bearer token or a username and password, not both: empty one of them")
	case s.Username != "" && s.Password.IsZero():
		p.Add("password", "required", "basic auth needs a password with the username %q", s.Username)
	case s.Username == "" && !s.Password.IsZero():
		p.Add("username", "required", "basic auth needs a username with the password")
	}
	checkHeaders(&p, s.Headers)
	if s.Timeout == 0 {
		s.Timeout = DefaultTimeout
	}
	checkTimeout(&p, s.Timeout)
	return p.Err()
}

// checkURL checks raw as an API base and returns it normalised.
func checkURL(p *problem.List, raw string) string {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		p.Add("url", "required", "a data source needs the URL of its query API, like http://prometheus:9090")
		return raw
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		p.Add("url", "invalid-url", "%q is not an absolute http or https URL with a host, like http://prometheus:9090", secret.MaskURL(raw))
		return raw
	case u.User != nil:
		p.Add("url", "invalid-url", "the URL must not carry credentials: put them in username and password, or bearer_token")
		return secret.MaskURL(raw)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		p.Add("url", "invalid-url", "the URL must have no query (?…) or fragment (#…): it is the base the API's paths are added to")
		return secret.MaskURL(raw)
	}
	u.Host = strings.ToLower(u.Host)
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	if i := strings.Index(u.Path+"/", "/api/v1/"); i >= 0 {
		p.Add("url", "invalid-url", "give the base the API lives under, without /api/v1/…: %s", (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path[:i]}).String())
	}
	return u.String()
}

// ownHeaders are set by Tocsin itself, so a source may not set them:
// the body is a form, and Accept-Encoding set by hand would stop Go's
// transparent gzip decoding.
var ownHeaders = []string{"Content-Type", "Content-Length", "Host", "Connection", "Transfer-Encoding", "Accept-Encoding"}

func checkHeaders(p *problem.List, headers map[string]string) {
	seen := map[string]string{} // canonical name -> name as given
	for _, name := range slices.Sorted(maps.Keys(headers)) {
		field := headerField(name)
		canon := strings.ToLower(name)
		switch {
		case !validHeaderName(name):
			p.Add(field, "invalid-header", "%q is not a valid header name: use letters, digits and - only, like X-Scope-OrgID", name)
			continue
		case canon == "authorization":
			p.Add(field, "reserved-header", "set credentials in bearer_token, or in username and password, not as a header: they are kept secret there")
			continue
		case slices.ContainsFunc(ownHeaders, func(h string) bool { return strings.EqualFold(h, name) }):
			p.Add(field, "reserved-header", "Tocsin sets %s itself: remove it", name)
			continue
		}
		if first, ok := seen[canon]; ok {
			p.Add(field, "duplicate-header", "%s repeats %s: header names ignore case, keep one", name, first)
			continue
		}
		seen[canon] = name
		if strings.ContainsFunc(headers[name], func(r rune) bool { return (r < ' ' && r != '\t') || r == 0x7f }) {
			p.Add(field, "invalid-header-value", "a header value must not contain line breaks or control characters")
		}
	}
}

// headerField is the JSON path of a header: headers.X-Scope-OrgID, or
// headers["x y"] when the name would make the path ambiguous.
func headerField(name string) string {
	if name == "" || strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || strings.ContainsRune(`.[]"\`, r) }) {
		return "headers[" + strconv.Quote(name) + "]"
	}
	return "headers." + name
}

// validHeaderName reports whether name is an HTTP token (RFC 9110 5.6.2).
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

func checkTimeout(p *problem.List, d time.Duration) {
	if d < MinTimeout || d > MaxTimeout {
		p.Add("timeout", "out-of-range", "a timeout must be between %s and %s, got %s; leave it out for %s",
			route.FormatDuration(MinTimeout), route.FormatDuration(MaxTimeout), route.FormatDuration(d), route.FormatDuration(DefaultTimeout))
	}
}

// KeepSecrets restores every secret of s that a client sent back masked
// (as the API showed it) from old, the source as stored; call it after
// Validate on update, and with old nil on create. A masked secret is a
// problem when there is nothing to restore (the client never knew the
// value), and when s's URL points to another host than old's: a stored
// credential goes only where it went before, so changing the URL to a
// server one controls cannot reveal it. The client then sends the secret
// itself.
func (s *Source) KeepSecrets(old *Source) error {
	var stored Source
	if old != nil {
		stored = *old
	}
	var p problem.List
	keep := func(field string, v *secret.String, was secret.String) {
		switch {
		case !secret.IsMasked(v.Reveal()):
		case was.IsZero():
			p.Add(field, "masked-secret", "this is a masked value, not the secret: send the secret itself")
		case !sameHost(s.URL, stored.URL):
			p.Add(field, "masked-secret", "the URL now points to another host than %s: send the secret itself, so a stored secret never goes to a new host", hostOf(stored.URL))
		default:
			*v = was
		}
	}
	keep("bearer_token", &s.BearerToken, stored.BearerToken)
	keep("password", &s.Password, stored.Password)
	return p.Err()
}

// sameHost reports whether two URLs have the same scheme, host and port.
func sameHost(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Scheme == ub.Scheme && strings.EqualFold(ua.Host, ub.Host)
}

func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Host
	}
	return fmt.Sprintf("%q", secret.MaskURL(raw))
}
