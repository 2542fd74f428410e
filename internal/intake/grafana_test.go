package intake

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/alert"
)

func TestDecodeGrafana(t *testing.T) {
	const gen = "https://grafana.example.com/alerting/grafana/ddlx1f7z7eolc/view?orgId=1"
	latency := func(service string) map[string]string {
		return map[string]string{"alertname": "High request latency", "grafana_folder": "Checkout", "service": service, "team": "payments"}
	}
	tests := []struct {
		name string
		body []byte
		want []alert.Alert
	}{
		{
			name: "firing and resolved",
			body: fixture(t, "grafana-webhook.json"),
			want: []alert.Alert{
				mk(latency("checkout-api"), map[string]string{
					"summary":                     "p99 latency of checkout-api is 2.4s",
					AnnotationGrafanaDashboardURL: "https://grafana.example.com/d/checkout-slo?orgId=1",
					AnnotationGrafanaPanelURL:     "https://grafana.example.com/d/checkout-slo?orgId=1&viewPanel=4",
					AnnotationGrafanaSilenceURL:   "https://grafana.example.com/alerting/silence/new?alertmanager=grafana&matcher=__alert_rule_uid__%3Dddlx1f7z7eolc&matcher=service%3Dcheckout-api&orgId=1",
					AnnotationGrafanaValues:       "B=2.4, C=1",
					AnnotationGrafanaValueString:  "[ var='B' labels={service=checkout-api} value=2.4 ], [ var='C' labels={service=checkout-api} value=1 ]",
				}, ts("2026-11-21T08:55:10Z"), time.Time{}, gen, SourceGrafana),
				mk(latency("cart-api"), map[string]string{
					"summary":                   "p99 latency of cart-api is 0.3s",
					AnnotationGrafanaSilenceURL: "https://grafana.example.com/alerting/silence/new?alertmanager=grafana&matcher=__alert_rule_uid__%3Dddlx1f7z7eolc&matcher=service%3Dcart-api&orgId=1",
				}, ts("2026-11-21T08:20:00Z"), ts("2026-11-21T08:57:40Z"), gen, SourceGrafana),
			},
		},
		{
			name: "the rule's own annotations win",
			body: []byte(`{"version":"1","alerts":[{"status":"firing","labels":{"alertname":"A"},"annotations":{"grafana_panel_url":"mine"},` +
				`"startsAt":"2026-11-21T08:00:00Z","panelURL":"https://g/d/x?viewPanel=1","ruleUID":"abc","imageURL":"https://g/i.png","values":{"A":1e21}}]}`),
			want: []alert.Alert{mk(map[string]string{"alertname": "A"}, map[string]string{
				AnnotationGrafanaPanelURL: "mine",
				AnnotationGrafanaRuleUID:  "abc",
				AnnotationGrafanaImageURL: "https://g/i.png",
				AnnotationGrafanaValues:   "A=1e+21",
			}, ts("2026-11-21T08:00:00Z"), time.Time{}, "", SourceGrafana)},
		},
		{
			name: "no alerts",
			body: []byte(`{"version":"1","status":"firing","alerts":[]}`),
			want: []alert.Alert{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeGrafana(tt.body, now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, equateEmpty); diff != "" {
				t.Errorf("alerts differ (-want +got):\n%s", diff)
			}
			checkAlerts(t, got)
		})
	}
}

func TestDecodeGrafanaRefuses(t *testing.T) {
	tests := []refusal{
		{"empty", "\t", []prob{{"", "the body is empty: send a JSON object: a Grafana webhook notification"}}},
		{"legacy alerting", `{"ruleName":"CPU","state":"alerting","evalMatches":[]}`, []prob{{"version", `missing: Tocsin takes a Grafana webhook notification, version "1" (Grafana Alerting's; the legacy alerting of Grafana 10 and before is not supported)`}}},
		{"alertmanager's", `{"version":"4","alerts":[]}`, []prob{{"version", `"4" is an Alertmanager webhook notification, not a Grafana webhook notification (version "1")`}}},
		{"version 2", `{"version":"2","alerts":[]}`, []prob{{"version", `version "2" is not supported`}}},
		{
			name: "bad alerts, each named",
			body: `{"version":"1","alerts":[{"status":"firing","labels":{"alertname":"A"},"values":{"B":"2.4","C":1}},` +
				`{"status":"resolved","labels":{"alertname":"B"},"endsAt":"2026-11-21T08:00:00"},{"status":"firing"}]}`,
			want: []prob{
				{"alerts[0].values.B", "must be a number"},
				{"alerts[1].endsAt", "is not an RFC 3339 time"},
				{"alerts[2].labels", "at least one label"},
			},
		},
		{"values not an object", `{"version":"1","alerts":[{"labels":{"a":"b"},"values":[1]}]}`, []prob{{"alerts[0].values", `must be an object of numbers, like {"B": 22.5}`}}},
		{"value too large", `{"version":"1","alerts":[{"labels":{"a":"b"},"values":{"A":1e999}}]}`, []prob{{"alerts[0].values.A", "must be a number"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alerts, err := DecodeGrafana([]byte(tt.body), now)
			if alerts != nil {
				t.Error("alerts returned with a refusal")
			}
			checkRefusal(t, err, tt.want)
		})
	}
}

func FuzzDecodeGrafana(f *testing.F) {
	f.Add(fixture(f, "grafana-webhook.json"))
	f.Add(fixture(f, "alertmanager-webhook-v4.json"))
	for _, s := range []string{
		`{"version":"1","alerts":[{"labels":{"a":"b"},"values":{"A":1,"B":-0.5}}]}`,
		`{"version":"1","alerts":[{"status":"resolved","labels":{"a":"b"},"annotations":{"grafana_values":"x"}}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		alerts, err := checkDeterministic(t, DecodeGrafana, data)
		if err != nil {
			return
		}
		checkAlerts(t, alerts)
		for _, a := range alerts {
			if a.Source != SourceGrafana {
				t.Fatalf("source %q", a.Source)
			}
		}
	})
}
