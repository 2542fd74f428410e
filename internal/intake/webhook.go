package intake

import (
	"net/url"
	"time"

	"github.com/tocsinhq/tocsin/internal/alert"
)

// WebhookVersion is the Alertmanager webhook payload version Tocsin takes.
const WebhookVersion = "4"

// Notification is one Alertmanager webhook notification: a group of alerts
// that Alertmanager decided to notify about together, with the group's
// information. Tocsin delivers it to a channel as it is, without routing it
// again.
type Notification struct {
	Version  string
	GroupKey string
	// TruncatedAlerts counts alerts Alertmanager left out of Alerts because
	// of the receiver's max_alerts.
	TruncatedAlerts uint64
	Status          alert.Status // firing when any alert fires
	Receiver        string
	// GroupLabels, CommonLabels and CommonAnnotations drop empty values, as
	// alert labels do.
	GroupLabels       alert.Labels
	CommonLabels      alert.Labels
	CommonAnnotations alert.Labels
	// Reason ("notification_reason", Alertmanager 0.32 on) and RouteLabels
	// (0.34 on) are empty from older releases.
	RouteLabels alert.Labels
	Reason      string
	ExternalURL string
	// Alerts hold each alert's status in EndsAt: zero while it fires (it
	// stays open until a resolved notification says otherwise; no resolve
	// timeout applies), its end once resolved. Source is SourceWebhook.
	Alerts []alert.Alert
}

// webhookBody is Alertmanager's notify/webhook Message: template.Data
// (template/template.go) plus version, groupKey and truncatedAlerts.
type webhookBody struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   uint64            `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	RouteLabels       map[string]string `json:"routeLabels"`
	ExternalURL       string            `json:"externalURL"`
	Reason            string            `json:"notification_reason"`
	Alerts            []hookAlert       `json:"alerts"`
}

// hookAlert is template.Alert, the alert of Alertmanager's webhook
// payload; Grafana's extends it.
type hookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

var hookAlertFields = []field{
	{"status", stringShape},
	{"labels", labelsShape},
	{"annotations", labelsShape},
	{"startsAt", timeShape},
	{"endsAt", timeShape},
	{"generatorURL", stringShape},
	{"fingerprint", stringShape},
}

var webhookShape = &shape{
	kind: kindObject,
	want: "a JSON object: an Alertmanager webhook notification",
	fields: []field{
		{"version", stringShape},
		{"groupKey", stringShape},
		{"truncatedAlerts", uintShape},
		{"status", stringShape},
		{"receiver", stringShape},
		{"groupLabels", labelsShape},
		{"commonLabels", labelsShape},
		{"commonAnnotations", labelsShape},
		{"routeLabels", labelsShape},
		{"externalURL", stringShape},
		{"notification_reason", stringShape},
		{"alerts", &shape{kind: kindArray, want: "an array of alerts", elem: &shape{kind: kindObject, want: "an alert object", fields: hookAlertFields}}},
	},
}

// hookNames names webhook notifications by version, so that a body sent to
// the wrong endpoint is told whose it is.
var hookNames = map[string]string{
	WebhookVersion: "an Alertmanager webhook notification",
	GrafanaVersion: "a Grafana webhook notification",
}

// checkVersion reports whether a notification has the version want, and
// records the problem when not. Another version has another shape, so its
// other problems would be noise: the caller stops there.
func (p *problems) checkVersion(got, want, hint string) bool {
	if p.tainted("version") {
		return false
	}
	if got == want {
		return true
	}
	name := hookNames[want]
	switch other, known := hookNames[got]; {
	case got == "":
		p.add("version", "missing: Tocsin takes %s, version %q%s", name, want, hint)
	case known:
		p.add("version", "%q is %s, not %s (version %q)", got, other, name, want)
	default:
		p.add("version", "version %q is not supported: Tocsin takes %s, version %q", got, name, want)
	}
	return false
}

// DecodeWebhook decodes an Alertmanager webhook notification (version 4,
// notify/webhook Message in prometheus/alertmanager). Other versions are
// refused, and so is a notification without alerts. Each alert's status
// decides: a firing alert's endsAt is cleared, a resolved one keeps its
// endsAt (now when missing or still to come, so the alert reads resolved).
// Fingerprints are computed from the labels, not taken from the payload;
// they are the same as Alertmanager's. Unknown fields are ignored.
func DecodeWebhook(data []byte, now time.Time) (*Notification, error) {
	var (
		in webhookBody
		p  problems
	)
	if !decodeJSON(&p, data, &in, webhookShape, false) {
		return nil, p.err()
	}
	if !p.checkVersion(in.Version, WebhookVersion, "") {
		return nil, p.err()
	}
	n := &Notification{
		Version:           in.Version,
		GroupKey:          in.GroupKey,
		TruncatedAlerts:   in.TruncatedAlerts,
		Status:            alert.Status(in.Status),
		Receiver:          in.Receiver,
		GroupLabels:       alert.FromMap(in.GroupLabels),
		CommonLabels:      alert.FromMap(in.CommonLabels),
		CommonAnnotations: alert.FromMap(in.CommonAnnotations),
		RouteLabels:       alert.FromMap(in.RouteLabels),
		Reason:            in.Reason,
		ExternalURL:       in.ExternalURL,
		Alerts:            make([]alert.Alert, len(in.Alerts)),
	}
	if len(in.Alerts) == 0 && !p.tainted("alerts") {
		p.add("alerts", "a notification needs at least one alert")
	}
	firing := false
	for i := range in.Alerts {
		n.Alerts[i] = p.hookAlert(&in.Alerts[i], at{base: "alerts", index: i}, now, SourceWebhook)
		firing = firing || n.Alerts[i].EndsAt.IsZero()
	}
	switch n.Status {
	case alert.Firing, alert.Resolved:
	case "":
		n.Status = alert.Resolved
		if firing {
			n.Status = alert.Firing
		}
	default:
		if !p.tainted("status") {
			p.add("status", "%q is not a status: use firing or resolved", in.Status)
		}
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return n, nil
}

// hookAlert turns an alert of a webhook notification (Alertmanager's or
// Grafana's) into an alert.Alert. The sender has already decided whether it
// fires, so its status wins over its times.
func (p *problems) hookAlert(in *hookAlert, w at, now time.Time, source string) alert.Alert {
	a := alert.Alert{
		Labels:      alert.FromMap(in.Labels),
		Annotations: alert.FromMap(in.Annotations),
		Source:      source,
	}
	status := alert.Status(in.Status)
	switch status {
	case "", alert.Firing, alert.Resolved:
	default:
		if !p.taintedAt(w, "status") {
			p.add(w.field("status"), "%q is not a status: use firing or resolved", in.Status)
		}
	}
	starts, startsOK := p.time(in.StartsAt, w, "startsAt")
	ends, endsOK := p.time(in.EndsAt, w, "endsAt")
	if status == "" {
		status = alert.Firing
		if !ends.IsZero() && !ends.After(now) {
			status = alert.Resolved
		}
	}
	if startsOK && endsOK {
		switch status {
		case alert.Firing:
			// Alertmanager writes Go's zero time here; a firing alert stays
			// open until its resolved notification arrives.
			ends = time.Time{}
		case alert.Resolved:
			if ends.IsZero() || ends.After(now) {
				// Missing, or ahead of our clock: resolved means resolved now.
				ends = now.UTC()
				if starts.After(ends) {
					starts = ends
				}
			}
		}
		a.StartsAt, a.EndsAt = defaultTimes(starts, ends, now)
	}
	// A link only: one that does not parse is dropped rather than costing
	// the notification.
	if _, err := url.ParseRequestURI(in.GeneratorURL); err == nil {
		a.GeneratorURL = in.GeneratorURL
	}
	a.Severity = alert.ParseSeverity(a.Labels.Get("severity"))
	a.Fingerprint = a.Labels.Fingerprint()
	p.validate(&a, w)
	return a
}
