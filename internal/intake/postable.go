package intake

import (
	"net/url"
	"time"

	"github.com/tocsinhq/tocsin/internal/alert"
)

// Sources: the intake an alert came through, kept in alert.Alert.Source.
// Native alerts may name their own source instead.
const (
	SourceAlertmanager = "alertmanager" // POST /api/v2/alerts
	SourceWebhook      = "webhook"      // Alertmanager webhook notifications
	SourceGrafana      = "grafana"
	SourceNative       = "native"
	SourceRule         = "rule" // raised by Tocsin's own rules
)

// postableAlert is one element of Alertmanager's postableAlerts
// (api/v2/openapi.yaml, definitions postableAlert and alert). Times stay
// strings so that a bad one is reported with its field rather than failing
// the whole decode.
type postableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
}

var postableFields = []field{
	{"labels", labelsShape},
	{"annotations", labelsShape},
	{"startsAt", timeShape},
	{"endsAt", timeShape},
	{"generatorURL", stringShape},
}

var postableShape = &shape{
	kind: kindArray,
	want: `a JSON array of alerts, like [{"labels": {"alertname": "DiskFull"}}]`,
	elem: &shape{kind: kindObject, want: "an alert object", noun: "an alert", fields: postableFields},
}

// DecodePostableAlerts decodes the body of Alertmanager's
// POST /api/v2/alerts: a JSON array of alerts as Prometheus, vmalert, Loki
// and Thanos ruler send them. It follows Alertmanager (api/v2/api.go
// postAlertsHandler, alert/alert.go Validate):
//
//   - labels are required; labels with empty values are dropped first (so
//     are empty annotations);
//   - label names must be non-empty, names and values UTF-8 (Alertmanager's
//     default, UTF-8 label names, not only [a-zA-Z_][a-zA-Z0-9_]*);
//   - a missing startsAt becomes now, or endsAt when the alert arrives
//     already resolved (Alertmanager always takes endsAt there; Tocsin does
//     not let a future endsAt make an alert start in the future);
//   - a missing endsAt stays zero: the caller applies the resolve timeout,
//     as Alertmanager does when it sets EndsAt = now + resolve_timeout;
//   - endsAt before startsAt is a problem, and so is a generatorURL that is
//     not a URL (Alertmanager's OpenAPI format "uri");
//   - unknown fields are ignored, as Alertmanager ignores them.
//
// Times must be RFC 3339, as Prometheus writes them; Alertmanager's parser
// (go-openapi strfmt) also takes some non-standard forms, which are refused
// here with the field named. Field names match in any case, as in
// Alertmanager ("Labels"). An empty array is accepted and yields no alerts;
// null is refused. Severity comes from the severity label; Source is
// SourceAlertmanager.
func DecodePostableAlerts(data []byte, now time.Time) ([]alert.Alert, error) {
	var p problems
	in, ok := scanPostable(data)
	if !ok {
		if in, ok = decodePostableJSON(&p, data); !ok {
			return nil, p.err()
		}
	}
	out := make([]alert.Alert, len(in))
	for i := range in {
		out[i] = p.postable(&in[i], at{index: i}, now, SourceAlertmanager)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return out, nil
}

// parsedAlert is a postable alert as read from the JSON, before checks and
// defaults: what both decoding paths produce.
type parsedAlert struct {
	labels, annotations            alert.Labels
	startsAt, endsAt, generatorURL string
}

// decodePostableJSON is the slow path of DecodePostableAlerts: encoding/json,
// then a token walk that names every field of the wrong type. It returns
// false when the body is not JSON at all.
func decodePostableJSON(p *problems, data []byte) ([]parsedAlert, bool) {
	var in []postableAlert
	if !decodeJSON(p, data, &in, postableShape, false) {
		return nil, false
	}
	if in == nil && len(p.list) == 0 {
		p.add("", "the body is null: send %s", postableShape.want)
	}
	out := make([]parsedAlert, len(in))
	for i := range in {
		out[i] = in[i].parsed()
	}
	return out, true
}

func (a *postableAlert) parsed() parsedAlert {
	return parsedAlert{
		labels:       alert.FromMap(a.Labels),
		annotations:  alert.FromMap(a.Annotations),
		startsAt:     a.StartsAt,
		endsAt:       a.EndsAt,
		generatorURL: a.GeneratorURL,
	}
}

// at is where an alert sits in the body. Its JSON path is built only when a
// problem needs it: an accepted batch must not pay for path strings.
type at struct {
	base  string // the path of the array holding the alert: "", "alerts"
	index int
	whole bool // the alert is the whole body, not an array element
}

func (w at) String() string {
	if w.whole {
		return w.base
	}
	return indexPath(w.base, w.index)
}

func (w at) field(name string) string { return fieldPath(w.String(), name) }

// taintedAt is tainted for a field of the alert at w, without building its
// path when no field had a wrong type.
func (p *problems) taintedAt(w at, name string) bool {
	return (len(p.typed) > 0 || p.full()) && p.tainted(w.field(name))
}

// postable checks one parsed alert and turns it into an alert.Alert.
func (p *problems) postable(in *parsedAlert, w at, now time.Time, source string) alert.Alert {
	a := alert.Alert{
		Labels:      in.labels,
		Annotations: in.annotations,
		Source:      source,
	}
	starts, startsOK := p.time(in.startsAt, w, "startsAt")
	ends, endsOK := p.time(in.endsAt, w, "endsAt")
	if startsOK && endsOK {
		a.StartsAt, a.EndsAt = defaultTimes(starts, ends, now)
	}
	if in.generatorURL != "" && in.generatorURL != p.validURL {
		if _, err := url.ParseRequestURI(in.generatorURL); err != nil {
			if !p.taintedAt(w, "generatorURL") {
				p.add(w.field("generatorURL"), "%q is not a URL: send an absolute URL, like http://prometheus:9090/graph?g0.expr=up", in.generatorURL)
			}
		} else {
			p.validURL = in.generatorURL
		}
	}
	a.GeneratorURL = in.generatorURL
	a.Severity = alert.ParseSeverity(a.Labels.Get("severity"))
	a.Fingerprint = a.Labels.Fingerprint()
	p.validate(&a, w)
	return a
}

// defaultTimes fills in a missing startsAt as Alertmanager does, with one
// difference: an alert whose end is still to come starts now, not at its end.
func defaultTimes(starts, ends, now time.Time) (time.Time, time.Time) {
	if starts.IsZero() {
		if !ends.IsZero() && !ends.After(now) {
			starts = ends
		} else {
			starts = now.UTC()
		}
	}
	return starts, ends
}

// time parses the RFC 3339 time in field name of the alert at w. An empty
// string (or Go's zero time, which some senders write for "no end") is the
// zero time; ok is false when the field is of the wrong type or does not
// parse, and the problem is recorded.
func (p *problems) time(s string, w at, name string) (t time.Time, ok bool) {
	if p.taintedAt(w, name) {
		return time.Time{}, false
	}
	if s == "" {
		return time.Time{}, true
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		p.add(w.field(name), "%q is not an RFC 3339 time: write it like 2026-11-21T09:00:00Z or 2026-11-21T17:00:00+08:00", s)
		return time.Time{}, false
	}
	if t.IsZero() {
		return time.Time{}, true
	}
	return t.UTC(), true
}
