package intake

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/alert"
)

func TestDecodeWebhook(t *testing.T) {
	const gen = "http://prometheus:9090/graph?g0.expr=mysql_slave_status_seconds_behind_master+%3E+60&g0.tab=1"
	lag := func(instance string) map[string]string {
		return map[string]string{"alertname": "MySQLReplicationLag", "cluster": "prod-sh", "instance": instance, "severity": "critical"}
	}
	// A minimal notification around one alert.
	one := func(alertJSON string) []byte {
		return []byte(`{"version":"4","status":"firing","receiver":"r","groupKey":"{}:{}","alerts":[` + alertJSON + `]}`)
	}
	tests := []struct {
		name string
		body []byte
		want *Notification
	}{
		{
			name: "firing and resolved",
			body: fixture(t, "alertmanager-webhook-v4.json"),
			want: &Notification{
				Version:      "4",
				GroupKey:     `{}/{severity=~"critical|warning"}:{alertname="MySQLReplicationLag", cluster="prod-sh"}`,
				Status:       alert.Firing,
				Receiver:     "sre-dingtalk",
				GroupLabels:  alert.FromMap(map[string]string{"alertname": "MySQLReplicationLag", "cluster": "prod-sh"}),
				CommonLabels: alert.FromMap(map[string]string{"alertname": "MySQLReplicationLag", "cluster": "prod-sh", "severity": "critical"}),
				ExternalURL:  "http://alertmanager.prod.internal:9093",
				Alerts: []alert.Alert{
					mk(lag("mysql-2:9104"), map[string]string{"summary": "Replica mysql-2 is 312s behind its primary."},
						ts("2026-11-21T08:50:12.345Z"), time.Time{}, gen, SourceWebhook),
					mk(lag("mysql-3:9104"), map[string]string{"summary": "Replica mysql-3 is 95s behind its primary."},
						ts("2026-11-21T08:31:00Z"), ts("2026-11-21T08:58:00Z"), gen, SourceWebhook),
				},
			},
		},
		{
			name: "newer Alertmanager fields",
			body: []byte(`{"version":"4","status":"resolved","truncatedAlerts":3,"notification_reason":"resolved","routeLabels":{"team":"db"},` +
				`"alerts":[{"status":"resolved","labels":{"alertname":"A"},"startsAt":"2026-11-21T08:00:00Z","endsAt":"2026-11-21T08:10:00Z"}]}`),
			want: &Notification{
				Version: "4", Status: alert.Resolved, TruncatedAlerts: 3, Reason: "resolved",
				RouteLabels: alert.FromMap(map[string]string{"team": "db"}),
				Alerts:      []alert.Alert{mk(map[string]string{"alertname": "A"}, nil, ts("2026-11-21T08:00:00Z"), ts("2026-11-21T08:10:00Z"), "", SourceWebhook)},
			},
		},
		{
			name: "statuses derived when missing",
			body: []byte(`{"version":"4","alerts":[` +
				`{"labels":{"alertname":"A"},"startsAt":"2026-11-21T08:00:00Z","endsAt":"0001-01-01T00:00:00Z"},` +
				`{"labels":{"alertname":"B"},"startsAt":"2026-11-21T08:00:00Z","endsAt":"2026-11-21T08:30:00Z"}]}`),
			want: &Notification{
				Version: "4", Status: alert.Firing,
				Alerts: []alert.Alert{
					mk(map[string]string{"alertname": "A"}, nil, ts("2026-11-21T08:00:00Z"), time.Time{}, "", SourceWebhook),
					mk(map[string]string{"alertname": "B"}, nil, ts("2026-11-21T08:00:00Z"), ts("2026-11-21T08:30:00Z"), "", SourceWebhook),
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeWebhook(tt.body, now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, equateEmpty); diff != "" {
				t.Errorf("notification differs (-want +got):\n%s", diff)
			}
			checkAlerts(t, got.Alerts)
		})
	}

	// The sender's status wins over its times.
	statusTests := []struct {
		name       string
		alert      string
		starts     time.Time
		ends       time.Time
		wantStatus alert.Status
	}{
		{"firing with a past end stays open", `{"status":"firing","labels":{"a":"b"},"startsAt":"2026-11-21T08:00:00Z","endsAt":"2026-11-21T08:30:00Z"}`,
			ts("2026-11-21T08:00:00Z"), time.Time{}, alert.Firing},
		{"resolved without an end ends now", `{"status":"resolved","labels":{"a":"b"},"startsAt":"2026-11-21T08:00:00Z"}`,
			ts("2026-11-21T08:00:00Z"), now, alert.Resolved},
		{"resolved ahead of our clock ends now", `{"status":"resolved","labels":{"a":"b"},"startsAt":"2026-11-21T09:00:01Z","endsAt":"2026-11-21T09:00:02Z"}`,
			now, now, alert.Resolved},
		{"no start", `{"status":"firing","labels":{"a":"b"}}`, now, time.Time{}, alert.Firing},
		{"bad generator URL dropped", `{"status":"firing","labels":{"a":"b"},"startsAt":"2026-11-21T08:00:00Z","generatorURL":"::not a url"}`,
			ts("2026-11-21T08:00:00Z"), time.Time{}, alert.Firing},
	}
	for _, tt := range statusTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeWebhook(one(tt.alert), now)
			if err != nil {
				t.Fatal(err)
			}
			a := got.Alerts[0]
			if !a.StartsAt.Equal(tt.starts) || !a.EndsAt.Equal(tt.ends) || a.StatusAt(now) != tt.wantStatus || a.GeneratorURL != "" {
				t.Errorf("got starts %v, ends %v, status %s, generatorURL %q; want %v, %v, %s", a.StartsAt, a.EndsAt, a.StatusAt(now), a.GeneratorURL, tt.starts, tt.ends, tt.wantStatus)
			}
		})
	}
}

func TestDecodeWebhookRefuses(t *testing.T) {
	tests := []refusal{
		{"empty", "", []prob{{"", "the body is empty: send a JSON object: an Alertmanager webhook notification"}}},
		{"array", `[{"version":"4"}]`, []prob{{"", "must be a JSON object: an Alertmanager webhook notification"}}},
		{"no version", `{"alerts":[{"labels":{"a":"b"}}]}`, []prob{{"version", `missing: Tocsin takes an Alertmanager webhook notification, version "4"`}}},
		{"version 3", `{"version":"3","alerts":[]}`, []prob{{"version", `version "3" is not supported`}}},
		{"grafana's", `{"version":"1","orgId":1,"alerts":[]}`, []prob{{"version", `"1" is a Grafana webhook notification`}}},
		{"version as a number", `{"version":4,"alerts":[{"labels":{"a":"b"}}]}`, []prob{{"version", "must be a string"}}},
		{"no alerts", `{"version":"4","status":"firing","alerts":[]}`, []prob{{"alerts", "a notification needs at least one alert"}}},
		{"alerts not an array", `{"version":"4","alerts":{"labels":{"a":"b"}}}`, []prob{{"alerts", "must be an array of alerts"}}},
		{
			name: "bad alerts, each named",
			body: `{"version":"4","status":"bogus","truncatedAlerts":-1,"alerts":[` +
				`{"status":"firing","labels":{"a":"b"}},` +
				`{"status":"pending","labels":{"a":"b"},"startsAt":"yesterday"},` +
				`{"status":"resolved","labels":{},"startsAt":"2026-11-21T08:00:00Z","endsAt":"2026-11-21T07:00:00Z"},` +
				`{"status":"firing","labels":{"a":"b"},"annotations":{"x":["y"]}}]}`,
			want: []prob{
				{"truncatedAlerts", "must be a whole number, 0 or more"},
				{"alerts[3].annotations.x", "must be a string"},
				{"alerts[1].status", `"pending" is not a status: use firing or resolved`},
				{"alerts[1].startsAt", `"yesterday" is not an RFC 3339 time`},
				{"alerts[2].labels", "at least one label"},
				{"alerts[2].endsAt", "is before startsAt"},
				{"status", `"bogus" is not a status`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := DecodeWebhook([]byte(tt.body), now)
			if n != nil {
				t.Error("a refused notification was returned")
			}
			checkRefusal(t, err, tt.want)
		})
	}
}

func FuzzDecodeWebhook(f *testing.F) {
	f.Add(fixture(f, "alertmanager-webhook-v4.json"))
	f.Add(fixture(f, "grafana-webhook.json"))
	for _, s := range []string{
		`{"version":"4","alerts":[{"labels":{"a":"b"}}]}`,
		`{"version":"4","alerts":[{"status":"resolved","labels":{"a":"b"},"startsAt":"2026-11-21T09:00:01Z"}]}`,
		`{"version":"4","truncatedAlerts":1e3,"alerts":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := checkDeterministic(t, DecodeWebhook, data)
		if err != nil {
			return
		}
		if n.Version != WebhookVersion || len(n.Alerts) == 0 || n.Status != alert.Firing && n.Status != alert.Resolved {
			t.Fatalf("accepted %+v", n)
		}
		checkAlerts(t, n.Alerts)
	})
}
