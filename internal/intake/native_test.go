package intake

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/alert"
)

func TestDecodeNative(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		want []alert.Alert
	}{
		{
			name: "batch",
			body: fixture(t, "native.json"),
			want: []alert.Alert{
				// P1 reads as critical and becomes the severity label.
				mk(map[string]string{"alertname": "BackupFailed", "host": "nas-01", "job": "restic", "severity": "critical"},
					map[string]string{"summary": "Nightly backup of nas-01 failed: repository locked"},
					ts("2026-11-20T18:00:07Z"), time.Time{}, "", "restic-cron"),
				// warn agrees with the label; the label stays as sent.
				mk(map[string]string{"alertname": "CertificateExpiring", "domain": "shop.example.cn", "severity": "warning"},
					map[string]string{"summary": "TLS certificate of shop.example.cn expires in 6 days"},
					now, time.Time{}, "", SourceNative),
				// Resolved on arrival: it starts at its end.
				mk(map[string]string{"alertname": "BackupFailed", "host": "nas-02", "job": "restic"}, nil,
					ts("2026-11-21T08:30:00Z"), ts("2026-11-21T08:30:00Z"), "", SourceNative),
			},
		},
		{
			name: "one object",
			body: []byte(`{"labels":{"alertname":"DiskFull","severity":"page"},"severity":"critical","source":" cron "}`),
			want: []alert.Alert{func() alert.Alert {
				// An unknown severity label does not stop the field's.
				a := mk(map[string]string{"alertname": "DiskFull", "severity": "page"}, nil, now, time.Time{}, "", "cron")
				a.Severity = alert.Critical
				return a
			}()},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeNative(tt.body, now)
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

func TestDecodeNativeRefuses(t *testing.T) {
	tests := []refusal{
		{"empty", "", []prob{{"", "the body is empty: send an alert object or a JSON array of alerts"}}},
		{"null", "null", []prob{{"", "the body is null: send an alert object or a JSON array of alerts"}}},
		{"a number", "42", []prob{{"", "must be an alert object or a JSON array of alerts"}}},
		{
			name: "unknown fields, one object",
			body: `{"labels":{"alertname":"A"},"annotation":{"summary":"s"},"Severity":"warning","priority":1}`,
			want: []prob{
				{"annotation", "unknown field: an alert has labels, annotations, startsAt, endsAt, generatorURL, severity and source"},
				{"priority", "unknown field"},
			},
		},
		{"unknown field in a batch", `[{"labels":{"alertname":"A"}},{"labels":{"alertname":"B"},"team":"x"}]`, []prob{{"[1].team", "unknown field"}}},
		{"trailing data", `{"labels":{"alertname":"A"}} {}`, []prob{{"", "malformed JSON at line 1, column 30 (byte offset 29): unexpected data after the JSON value"}}},
		{"cut off", `{"labels":{"alertname":"A"}`, []prob{{"", "the JSON ends early"}}},
		{"unknown severity", `[{"labels":{"alertname":"A"},"severity":"urgent"}]`, []prob{{"[0].severity", `"urgent" is not a severity: use critical, warning or info`}}},
		{"severity against its label", `{"labels":{"alertname":"A","severity":"warning"},"severity":"P1"}`, []prob{{"severity", `"P1" disagrees with the severity label "warning"`}}},
		{"severity not a string", `{"labels":{"alertname":"A"},"severity":1}`, []prob{{"severity", "must be a string"}}},
		{"source too long", `{"labels":{"alertname":"A"},"source":"` + strings.Repeat("源", MaxSourceLen+1) + `"}`, []prob{{"source", "must be at most 100 characters, got 101"}}},
		{
			name: "the v2 checks too",
			body: `[{"labels":{}},{"labels":{"alertname":"B"},"startsAt":"2026-11-21T09:00:00Z","endsAt":"2026-11-21T08:00:00Z","generatorURL":"not a url"}]`,
			want: []prob{
				{"[0].labels", "at least one label"},
				{"[1].generatorURL", "is not a URL"},
				{"[1].endsAt", "is before startsAt"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alerts, err := DecodeNative([]byte(tt.body), now)
			if alerts != nil {
				t.Error("alerts returned with a refusal")
			}
			checkRefusal(t, err, tt.want)
		})
	}
}

func FuzzDecodeNative(f *testing.F) {
	f.Add(fixture(f, "native.json"))
	f.Add(fixture(f, "prometheus-batch.json"))
	for _, s := range []string{
		`{"labels":{"alertname":"A"},"severity":"P2","source":"x"}`,
		`{"labels":{"alertname":"A","severity":"critical"},"severity":"info"}`,
		`[{"labels":{"alertname":"A"},"bogus":1}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		alerts, err := checkDeterministic(t, DecodeNative, data)
		if err != nil {
			return
		}
		checkAlerts(t, alerts)
	})
}
