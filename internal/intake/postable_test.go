package intake

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/alert"
)

func TestDecodePostableAlerts(t *testing.T) {
	const gen = "http://prometheus:9090/graph?g0.expr=up&g0.tab=1"
	am := SourceAlertmanager
	tests := []struct {
		name string
		body []byte
		want []alert.Alert
	}{
		{
			name: "prometheus batch",
			body: fixture(t, "prometheus-batch.json"),
			want: []alert.Alert{
				mk(map[string]string{
					"alertname": "NodeFilesystemAlmostOutOfSpace", "device": "/dev/nvme0n1p1", "fstype": "ext4",
					"instance": "db-1.prod.internal:9100", "job": "node", "mountpoint": "/var/lib/postgresql",
					"prometheus": "monitoring/k8s", "severity": "critical",
				}, map[string]string{
					"description": "Filesystem on /dev/nvme0n1p1 at db-1.prod.internal:9100 has only 3.12% available space left.",
					"runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/node/nodefilesystemalmostoutofspace",
					"summary":     "Filesystem has less than 5% space left.",
				}, ts("2026-11-21T08:41:30.123456789Z"), ts("2026-11-21T09:04:30.123456789Z"),
					"http://prometheus-k8s-0:9090/graph?g0.expr=%28node_filesystem_avail_bytes%7Bfstype%21%3D%22%22%2Cjob%3D%22node%22%7D+%2F+node_filesystem_size_bytes%7Bfstype%21%3D%22%22%2Cjob%3D%22node%22%7D+%2A+100+%3C+5%29&g0.tab=1", am),
				// The empty reason label is dropped; +08:00 times come back in UTC.
				mk(map[string]string{
					"alertname": "KubePodCrashLooping", "container": "api", "namespace": "payments",
					"pod": "api-7d9f8b6c5-x2x9q", "prometheus": "monitoring/k8s", "severity": "warning",
				}, map[string]string{
					"description": `Pod payments/api-7d9f8b6c5-x2x9q (api) is in waiting state (reason: "CrashLoopBackOff").`,
					"summary":     "Pod is crash looping.",
				}, ts("2026-11-21T08:45:00Z"), ts("2026-11-21T09:04:00Z"),
					"http://prometheus-k8s-0:9090/graph?g0.expr=max_over_time%28kube_pod_container_status_waiting_reason%7Breason%3D%22CrashLoopBackOff%22%7D%5B5m%5D%29+%3E%3D+1&g0.tab=1", am),
				// Resolved before now.
				mk(map[string]string{
					"alertname": "HostHighCpuLoad", "instance": "web-3:9100", "job": "node",
					"prometheus": "monitoring/k8s", "severity": "warning", "team": "网站",
				}, map[string]string{"summary": "web-3 的 CPU 使用率超过 90%"},
					ts("2026-11-21T08:10:00Z"), ts("2026-11-21T08:55:00Z"), "http://prometheus-k8s-0:9090/graph?g0.expr=cpu&g0.tab=1", am),
				// severity "none" reads as Unknown; the unknown field is ignored.
				mk(map[string]string{"alertname": "Watchdog", "prometheus": "monitoring/k8s", "severity": "none"},
					map[string]string{"description": "This is an alert meant to ensure that the entire alerting pipeline is functional."},
					ts("2026-11-20T00:00:00Z"), ts("2026-11-21T09:04:30Z"), "http://prometheus-k8s-0:9090/graph?g0.expr=vector%281%29&g0.tab=1", am),
			},
		},
		{
			name: "no times: starts now, no end",
			body: []byte(`[{"labels":{"alertname":"A"}}]`),
			want: []alert.Alert{mk(map[string]string{"alertname": "A"}, nil, now, time.Time{}, "", am)},
		},
		{
			name: "resolved without a start starts at its end",
			body: []byte(`[{"labels":{"alertname":"A"},"endsAt":"2026-11-21T08:30:00Z"}]`),
			want: []alert.Alert{mk(map[string]string{"alertname": "A"}, nil, ts("2026-11-21T08:30:00Z"), ts("2026-11-21T08:30:00Z"), "", am)},
		},
		{
			name: "future end without a start starts now",
			body: []byte(`[{"labels":{"alertname":"A"},"endsAt":"2026-11-21T09:05:00Z"}]`),
			want: []alert.Alert{mk(map[string]string{"alertname": "A"}, nil, now, ts("2026-11-21T09:05:00Z"), "", am)},
		},
		{
			name: "Go's zero time is no time",
			body: []byte(`[{"labels":{"alertname":"A"},"startsAt":"2026-11-21T08:00:00Z","endsAt":"0001-01-01T00:00:00Z"}]`),
			want: []alert.Alert{mk(map[string]string{"alertname": "A"}, nil, ts("2026-11-21T08:00:00Z"), time.Time{}, "", am)},
		},
		{
			name: "null fields read as absent",
			body: []byte(`[{"labels":{"alertname":"A","x":null},"annotations":null,"startsAt":null,"generatorURL":null}]`),
			want: []alert.Alert{mk(map[string]string{"alertname": "A"}, nil, now, time.Time{}, "", am)},
		},
		{
			name: "field names match regardless of case, as in Alertmanager",
			body: []byte(`[{"Labels":{"alertname":"A"},"GENERATORURL":"` + gen + `"}]`),
			want: []alert.Alert{mk(map[string]string{"alertname": "A"}, nil, now, time.Time{}, gen, am)},
		},
		{
			name: "UTF-8 label names, as Alertmanager takes them",
			body: []byte(`[{"labels":{"告警":"磁盘满","service.name":"api"}}]`),
			want: []alert.Alert{mk(map[string]string{"告警": "磁盘满", "service.name": "api"}, nil, now, time.Time{}, "", am)},
		},
		{
			name: "empty batch",
			body: []byte(" [ ] \n"),
			want: []alert.Alert{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodePostableAlerts(tt.body, now)
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

func TestDecodePostableAlertsRefuses(t *testing.T) {
	tests := []refusal{
		{"empty body", " \n", []prob{{"", "the body is empty: send a JSON array of alerts"}}},
		{"null", "null", []prob{{"", "the body is null: send a JSON array of alerts"}}},
		{"one object", `{"labels":{"alertname":"A"}}`, []prob{{"", "must be a JSON array of alerts"}}},
		{"a string", `"alerts"`, []prob{{"", "must be a JSON array of alerts"}}},
		{"element not an object", `[{"labels":{"alertname":"A"}}, 7]`, []prob{{"[1]", "must be an alert object"}}},
		{
			name: "trailing comma",
			body: "[{\"labels\":{\"alertname\":\"A\"}},\n {\"labels\":{\"alertname\":\"B\",}}]",
			want: []prob{{"[1].labels", "malformed JSON at line 2, column 29 (byte offset 59): invalid character '}' looking for beginning of object key string"}},
		},
		{
			name: "cut off",
			body: `[{"labels":{"alertname":"A"}},{"labels":{"alertname":"B"`,
			want: []prob{{"[1].labels", "malformed JSON at line 1, column 57 (byte offset 56): the JSON ends early"}},
		},
		{"trailing data", `[] []`, []prob{{"", "invalid character '[' after top-level value"}}},
		{
			name: "not UTF-8",
			body: "[{\"labels\":{\"alertname\":\"A\",\"team\":\"caf\xe9\"}}]",
			want: []prob{{"[0].labels.team", "not valid UTF-8 at byte offset 39"}},
		},
		{
			name: "wrong types, each named, in the order sent",
			body: `[{"labels":{"alertname":"A"}},{"labels":{"alertname":"B"}},` +
				`{"labels":{"alertname":"C","severity":1},"startsAt":5,"annotations":{"summary":"s","n":true}},` +
				`{"labels":["alertname","D"],"generatorURL":{"u":1},"endsAt":"2026-11-21T08:00:00Z","startsAt":"2026-11-21T08:30:00Z"}]`,
			want: []prob{
				{"[2].labels.severity", "must be a string"},
				{"[2].startsAt", `must be an RFC 3339 time string, like "2026-11-21T09:00:00Z"`},
				{"[2].annotations.n", "must be a string"},
				{"[3].labels", `must be an object of string values, like {"alertname": "DiskFull"}`},
				{"[3].generatorURL", "must be a string"},
				// Times decoded cleanly, so their order is still checked.
				{"[3].endsAt", "endsAt (2026-11-21T08:00:00Z) is before startsAt (2026-11-21T08:30:00Z)"},
			},
		},
		{
			name: "awkward label names are quoted in paths",
			body: `[{"labels":{"alertname":"A","kubernetes.io/name":false}}]`,
			want: []prob{{`[0].labels["kubernetes.io/name"]`, "must be a string"}},
		},
		{
			name: "no labels",
			body: `[{"labels":{"alertname":"A"}},{"annotations":{"summary":"s"}},{"labels":{}},{"labels":{"alertname":""}},{"labels":null}]`,
			want: []prob{
				{"[1].labels", "an alert needs at least one label"},
				{"[2].labels", "an alert needs at least one label"},
				{"[3].labels", "an alert needs at least one label"},
				{"[4].labels", "an alert needs at least one label"},
			},
		},
		{"empty label name", `[{"labels":{"":"x","alertname":"A"}}]`, []prob{{"[0].labels", "a label name is empty"}}},
		{"empty annotation name", `[{"labels":{"alertname":"A"},"annotations":{"":"x"}}]`, []prob{{"[0].annotations", "a label name is empty"}}},
		{
			name: "times that are not RFC 3339",
			body: `[{"labels":{"alertname":"A"},"startsAt":"2026-11-21 09:00:00","endsAt":"1795251000"},{"labels":{"alertname":"B"},"startsAt":"2026-11-21T09:00:00+0800"}]`,
			want: []prob{
				{"[0].startsAt", `"2026-11-21 09:00:00" is not an RFC 3339 time`},
				{"[0].endsAt", `"1795251000" is not an RFC 3339 time`},
				{"[1].startsAt", "is not an RFC 3339 time"},
			},
		},
		{
			name: "ends before it starts",
			body: `[{"labels":{"alertname":"A"},"startsAt":"2026-11-21T08:00:00Z","endsAt":"2026-11-21T07:59:59Z"}]`,
			want: []prob{{"[0].endsAt", "is before startsAt"}},
		},
		{"generatorURL not a URL", `[{"labels":{"alertname":"A"},"generatorURL":"prometheus graph"}]`, []prob{{"[0].generatorURL", "is not a URL"}}},
		{
			name: "every bad alert of a batch",
			body: `[{"labels":{"alertname":"A"}},{"labels":{}},{"labels":{"alertname":"C"}},{"labels":{"alertname":"D"},"endsAt":"soon"}]`,
			want: []prob{
				{"[1].labels", "at least one label"},
				{"[3].endsAt", "not an RFC 3339 time"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alerts, err := DecodePostableAlerts([]byte(tt.body), now)
			if alerts != nil {
				t.Errorf("a refused batch returned %d alerts", len(alerts))
			}
			checkRefusal(t, err, tt.want)
		})
	}
}

func FuzzDecodePostableAlerts(f *testing.F) {
	f.Add(fixture(f, "prometheus-batch.json"))
	f.Add(fixture(f, "native.json"))
	for _, s := range []string{
		`[]`, `null`, `[{"labels":{"alertname":"A"}}]`, `[{"labels":{"a":1}}]`, `[{"labels":{"":"x"}}]`,
		`[{"labels":{"a":"b"},"startsAt":"2026-11-21T09:00:00Z","endsAt":"2026-11-21T08:00:00Z"}]`,
		`[{"labels":{"a":"b"},"endsAt":"2026-11-21T08:00:00Z"}]`, "[{\"labels\":{\"a\":\"\xff\"}}]", `[{"LABELS":{"a":"b"},"labels":5}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		alerts, err := checkDeterministic(t, DecodePostableAlerts, data)
		if err == nil {
			checkAlerts(t, alerts)
		}
		checkScanAgrees(t, data)
	})
}

// checkScanAgrees holds the fast path to encoding/json's reading whenever
// the fast path takes a body.
func checkScanAgrees(t *testing.T, data []byte) {
	t.Helper()
	fast, ok := scanPostable(data)
	if !ok {
		return
	}
	var p problems
	slow, ok := decodePostableJSON(&p, data)
	if !ok || len(p.list) > 0 {
		t.Fatalf("the fast path took a body encoding/json refuses: %v", p.err())
	}
	if diff := cmp.Diff(slow, fast, cmp.AllowUnexported(parsedAlert{}), equateEmpty); diff != "" {
		t.Fatalf("the fast path reads differently from encoding/json (-slow +fast):\n%s", diff)
	}
}

func TestScanPostable(t *testing.T) {
	tests := []struct {
		name string
		body string
		fast bool // the fast path takes it
	}{
		{"prometheus batch", string(fixture(t, "prometheus-batch.json")), true},
		{"escaped label names", `[{"labels":{"a\u0026":"x\u0026y\n\"q\"\\\/\b\f\r\t\u00e9\ud83d\udd25"}}]`, true},
		{"escaped values", `[{"labels":{"a":"x\u0026y\n\"q\"\\\/\b\f\r\t\u00e9\ud83d\udd25"},"generatorURL":"http://p/graph?a=1\u0026b=2"}]`, true},
		{"unpaired surrogates", `[{"labels":{"a":"\ud800","b":"\udc00x","c":"\ud800\u0041","d":"\ud83d\ud83d\udd25"}}]`, true},
		{"unknown fields of every kind", `[{"x":{"y":[1,-2.5e+3,0,true,false,null,"s\u0041",{}],"z":[]},"labels":{"a":"b"},"w":-0.0E1}]`, true},
		{"empty values dropped", `[{"labels":{"a":"b","c":""},"annotations":{"d":""}}]`, true},
		{"unsorted labels", `[{"labels":{"z":"1","a":"2","m":"3"}}]`, true},
		{"empty", ` [ ] `, true},
		{"no labels", `[{}]`, true},
		{"labels in another case", `[{"Labels":{"a":"b"}}]`, false},
		{"escaped key", `[{"l\u0061bels":{"a":"b"}}]`, false},
		{"duplicate field", `[{"labels":{"a":"b"},"labels":{"c":"d"}}]`, false},
		{"duplicate label", `[{"labels":{"a":"b","a":"c"}}]`, false},
		{"duplicate label, one empty", `[{"labels":{"a":"b","a":""}}]`, false},
		{"null labels", `[{"labels":null}]`, false},
		{"null value", `[{"labels":{"a":null}}]`, false},
		{"number label", `[{"labels":{"a":1}}]`, false},
		{"bad number", `[{"x":01,"labels":{"a":"b"}}]`, false},
		{"bad escape", `[{"x":"\x","labels":{"a":"b"}}]`, false},
		{"bad literal", `[{"x":nul,"labels":{"a":"b"}}]`, false},
		{"trailing data", `[{"labels":{"a":"b"}}] x`, false},
		{"trailing comma", `[{"labels":{"a":"b"},}]`, false},
		{"control character", "[{\"labels\":{\"a\":\"b\tc\"}}]", false},
		{"not UTF-8", "[{\"labels\":{\"a\":\"\xff\"}}]", false},
		{"deep", `[{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `,"labels":{"a":"b"}}]`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := scanPostable([]byte(tt.body)); ok != tt.fast {
				t.Errorf("fast path took it: %v, want %v", ok, tt.fast)
			}
			checkScanAgrees(t, []byte(tt.body))
		})
	}
}

// postableBatch is n alerts shaped like Prometheus's: 8 labels and 3
// annotations each.
func postableBatch(n int) []byte {
	type pa struct {
		Labels       map[string]string `json:"labels"`
		Annotations  map[string]string `json:"annotations"`
		StartsAt     time.Time         `json:"startsAt"`
		EndsAt       time.Time         `json:"endsAt"`
		GeneratorURL string            `json:"generatorURL"`
	}
	batch := make([]pa, n)
	for i := range batch {
		batch[i] = pa{
			Labels: map[string]string{
				"alertname": "NodeFilesystemAlmostOutOfSpace", "device": "/dev/nvme0n1p1", "fstype": "ext4",
				"instance": fmt.Sprintf("node-%03d.prod.internal:9100", i), "job": "node",
				"mountpoint": "/var/lib/data", "prometheus": "monitoring/k8s", "severity": "warning",
			},
			Annotations: map[string]string{
				"description": fmt.Sprintf("Filesystem on /dev/nvme0n1p1 at node-%03d has only 4.2%% available space left.", i),
				"runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/node/nodefilesystemalmostoutofspace",
				"summary":     "Filesystem has less than 5% space left.",
			},
			StartsAt:     now.Add(-time.Duration(i) * time.Minute),
			EndsAt:       now.Add(4 * time.Minute),
			GeneratorURL: "http://prometheus-k8s-0:9090/graph?g0.expr=node_filesystem_avail_bytes+%3C+5&g0.tab=1",
		}
	}
	b, err := json.Marshal(batch)
	if err != nil {
		panic(err)
	}
	return b
}

func BenchmarkDecodePostableAlerts(b *testing.B) {
	benchBatches(b, false, decodeBatch)
}

// BenchmarkDecodePostableAlertsParallel decodes batches on every core, as
// concurrent senders do.
func BenchmarkDecodePostableAlertsParallel(b *testing.B) {
	benchBatches(b, true, decodeBatch)
}

// BenchmarkDecodePostableAlertsSlowPath is the encoding/json path alone,
// which bodies the fast path declines (null values, odd field case) take.
func BenchmarkDecodePostableAlertsSlowPath(b *testing.B) {
	benchBatches(b, false, func(body []byte) error {
		var p problems
		in, ok := decodePostableJSON(&p, body)
		if !ok || len(in) != benchBatchSize {
			return fmt.Errorf("%d alerts, %v", len(in), p.err())
		}
		for i := range in {
			p.postable(&in[i], at{index: i}, now, SourceAlertmanager)
		}
		return p.err()
	})
}

const benchBatchSize = 100

func decodeBatch(body []byte) error {
	alerts, err := DecodePostableAlerts(body, now)
	if err == nil && len(alerts) != benchBatchSize {
		err = fmt.Errorf("%d alerts", len(alerts))
	}
	return err
}

// benchBatches decodes a Prometheus-like batch of benchBatchSize alerts
// per operation and reports alerts per second.
func benchBatches(b *testing.B, parallel bool, decode func(body []byte) error) {
	body := postableBatch(benchBatchSize)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	if parallel {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := decode(body); err != nil {
					b.Error(err)
					return
				}
			}
		})
	} else {
		for b.Loop() {
			if err := decode(body); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(benchBatchSize*b.N)/b.Elapsed().Seconds(), "alerts/s")
}
