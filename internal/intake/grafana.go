package intake

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tocsinhq/tocsin/internal/alert"
)

// GrafanaVersion is the Grafana webhook payload version Tocsin takes.
const GrafanaVersion = "1"

// Annotations DecodeGrafana adds from Grafana's own alert fields, unless the
// alert already has an annotation of that name. Prefixed so they never
// collide with a rule's own annotations, and so templates can tell where
// they came from.
const (
	AnnotationGrafanaDashboardURL = "grafana_dashboard_url"
	AnnotationGrafanaPanelURL     = "grafana_panel_url"
	AnnotationGrafanaSilenceURL   = "grafana_silence_url"
	AnnotationGrafanaImageURL     = "grafana_image_url"
	AnnotationGrafanaRuleUID      = "grafana_rule_uid"
	AnnotationGrafanaValues       = "grafana_values"       // "B=22.5, C=1", by name
	AnnotationGrafanaValueString  = "grafana_value_string" // Grafana's "[ var='B' labels={…} value=22.5 ]"
)

// grafanaBody is the part of Grafana Alerting's webhook payload Tocsin
// reads: receivers/webhook/v1/webhook.go webhookMessage around
// templates/template_data.go ExtendedData, in grafana/alerting. Its group
// fields (receiver, groupKey, groupLabels, title, message, state, orgId…)
// are not read: Tocsin routes Grafana's alerts itself.
type grafanaBody struct {
	Version string         `json:"version"`
	Alerts  []grafanaAlert `json:"alerts"`
}

// grafanaAlert is ExtendedAlert: Alertmanager's alert plus Grafana's links
// and the values the rule evaluated.
type grafanaAlert struct {
	hookAlert
	SilenceURL   string             `json:"silenceURL"`
	DashboardURL string             `json:"dashboardURL"`
	PanelURL     string             `json:"panelURL"`
	ImageURL     string             `json:"imageURL"`
	RuleUID      string             `json:"ruleUID"`
	Values       map[string]float64 `json:"values"`
	ValueString  string             `json:"valueString"`
}

var grafanaShape = &shape{
	kind: kindObject,
	want: "a JSON object: a Grafana webhook notification",
	fields: []field{
		{"version", stringShape},
		{"alerts", &shape{kind: kindArray, want: "an array of alerts", elem: &shape{
			kind: kindObject,
			want: "an alert object",
			fields: append(slices.Clip(hookAlertFields),
				field{"silenceURL", stringShape},
				field{"dashboardURL", stringShape},
				field{"panelURL", stringShape},
				field{"imageURL", stringShape},
				field{"ruleUID", stringShape},
				field{"values", &shape{kind: kindMap, want: `an object of numbers, like {"B": 22.5}`, elem: &shape{kind: kindFloat, want: "a number"}}},
				field{"valueString", stringShape},
			),
		}}},
	},
}

// DecodeGrafana decodes a Grafana Alerting webhook contact point
// notification (version 1) into its alerts, with Source SourceGrafana. Each
// alert's status decides as in DecodeWebhook: a firing alert has no end
// (Grafana re-sends only at its repeat interval, so no resolve timeout may
// apply), a resolved one has its endsAt. Grafana's links, rule UID and
// evaluated values become annotations (AnnotationGrafanaDashboardURL…), so
// templates can show them. Fingerprints are computed from the labels
// Grafana sends; Grafana's own also covers labels it hides (__alert_rule_uid__
// and the like), so they differ. An empty alerts list yields no alerts;
// other versions are refused; unknown fields are ignored.
func DecodeGrafana(data []byte, now time.Time) ([]alert.Alert, error) {
	var (
		in grafanaBody
		p  problems
	)
	if !decodeJSON(&p, data, &in, grafanaShape, false) {
		return nil, p.err()
	}
	if !p.checkVersion(in.Version, GrafanaVersion, " (Grafana Alerting's; the legacy alerting of Grafana 10 and before is not supported)") {
		return nil, p.err()
	}
	out := make([]alert.Alert, len(in.Alerts))
	for i := range in.Alerts {
		g := &in.Alerts[i]
		if g.Annotations == nil {
			g.Annotations = make(map[string]string)
		}
		addAnnotation(g.Annotations, AnnotationGrafanaDashboardURL, g.DashboardURL)
		addAnnotation(g.Annotations, AnnotationGrafanaPanelURL, g.PanelURL)
		addAnnotation(g.Annotations, AnnotationGrafanaSilenceURL, g.SilenceURL)
		addAnnotation(g.Annotations, AnnotationGrafanaImageURL, g.ImageURL)
		addAnnotation(g.Annotations, AnnotationGrafanaRuleUID, g.RuleUID)
		addAnnotation(g.Annotations, AnnotationGrafanaValues, formatValues(g.Values))
		addAnnotation(g.Annotations, AnnotationGrafanaValueString, g.ValueString)
		out[i] = p.hookAlert(&g.hookAlert, at{base: "alerts", index: i}, now, SourceGrafana)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return out, nil
}

func addAnnotation(m map[string]string, name, value string) {
	if _, ok := m[name]; !ok && value != "" {
		m[name] = value
	}
}

// formatValues writes Grafana's evaluated values as "B=22.5, C=1".
func formatValues(values map[string]float64) string {
	if len(values) == 0 {
		return ""
	}
	var b strings.Builder
	for i, name := range slices.Sorted(maps.Keys(values)) {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(strconv.FormatFloat(values[name], 'g', -1, 64))
	}
	return b.String()
}
