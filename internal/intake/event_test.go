package intake

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/alert"
)

func TestDecodeEvents(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		want []Event
	}{
		{
			name: "batch",
			body: fixture(t, "events.json"),
			want: []Event{
				{
					ID:       "5f1c3a2e-93b1-4b8e-9d0c-7a61e2b0c9de",
					Source:   "aliyun.ecs",
					Type:     "Instance:StateChange",
					Level:    alert.Warning,
					Resource: "acs:ecs:cn-hangzhou:1234567890:instance/i-bp67acfmxazb4p",
					Region:   "cn-hangzhou",
					Time:     ts("2026-11-21T08:52:03Z"),
					Content:  json.RawMessage(`{"instanceId":"i-bp67acfmxazb4p","previousState":"Running","currentState":"Stopping","reason":"SystemMaintenance.Reboot"}`),
					Labels:   alert.FromMap(map[string]string{"env": "prod", "team": "sre"}),
				},
				{
					Source:   "tencentcloud.cvm",
					Type:     "DiskReplaced",
					Level:    alert.Info,
					Resource: "disk-8x1kq2mz",
					Region:   "ap-shanghai",
					Time:     ts("2026-11-21T08:50:00.123Z"), // milliseconds
					Content:  json.RawMessage(`"The cloud disk disk-8x1kq2mz was replaced after a hardware fault; no data was lost."`),
				},
				{
					Source:   "self-hosted.ups",
					Type:     "PowerLoss",
					Level:    alert.Critical,
					Resource: "ups-rack-3",
					Time:     ts("2026-11-21T08:55:00Z"), // seconds
				},
			},
		},
		{
			name: "one object, defaults",
			body: []byte(`{"source":" cron ","type":"JobSkipped","resource":"backup","content":[1, 2]}`),
			want: []Event{{Source: "cron", Type: "JobSkipped", Resource: "backup", Level: alert.Info, Time: now, Content: json.RawMessage(`[1,2]`)}},
		},
		{
			name: "fractional seconds",
			body: []byte(`[{"source":"s","type":"t","resource":"r","time":1795251000.25,"content":null}]`),
			want: []Event{{Source: "s", Type: "t", Resource: "r", Level: alert.Info, Time: ts("2026-11-21T08:50:00.25Z")}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeEvents(tt.body, now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, equateEmpty); diff != "" {
				t.Errorf("events differ (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEventContentText(t *testing.T) {
	for content, want := range map[string]string{
		`"disk \"a\" replaced"`: `disk "a" replaced`,
		`{"a":1}`:               `{"a":1}`,
		``:                      ``,
	} {
		e := Event{Content: json.RawMessage(content)}
		if got := e.ContentText(); got != want {
			t.Errorf("ContentText(%s) = %q, want %q", content, got, want)
		}
	}
}

func TestDecodeEventsRefuses(t *testing.T) {
	tests := []refusal{
		{"empty", " ", []prob{{"", "the body is empty: send an event object or a JSON array of events"}}},
		{"null", "null", []prob{{"", "the body is null: send an event object or a JSON array of events"}}},
		{"a string", `"disk replaced"`, []prob{{"", "must be an event object or a JSON array of events"}}},
		{
			name: "required fields",
			body: `{"source":" ","level":"info"}`,
			want: []prob{
				{"source", `required: name the system that sent the event, like "aliyun.ecs"`},
				{"type", "required: say what happened"},
				{"resource", "required: name what it happened to"},
			},
		},
		{
			name: "every bad event of a batch",
			body: `[{"source":"s","type":"t","resource":"r"},` +
				`{"source":"s","type":"t","resource":"r","level":"loud","time":"yesterday","content":42},` +
				`{"source":"s","type":"t","resource":"r","time":true,"labels":{"":"x"}},` +
				`{"source":"s","type":"t","resource":"r","time":-5},` +
				`{"source":"s","type":"t","resource":"r","time":1e300}]`,
			want: []prob{
				{"[1].level", `"loud" is not a level: use critical, warning or info`},
				{"[1].time", `"yesterday" is not an RFC 3339 time`},
				{"[1].content", "must be a string or a JSON object, got 42"},
				{"[2].time", "must be an RFC 3339 time string"},
				{"[2].labels", "a label name is empty"},
				{"[3].time", "-5 is not a Unix time after 1970"},
				{"[4].time", "1e300 is not a Unix time after 1970"},
			},
		},
		{
			name: "unknown and mistyped fields",
			body: `{"source":"s","type":"t","resource":1,"severity":"critical","labels":{"a":2}}`,
			want: []prob{
				{"resource", "must be a string"},
				{"severity", "unknown field: an event has id, source, type, level, resource, region, time, content and labels"},
				{"labels.a", "must be a string"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events, err := DecodeEvents([]byte(tt.body), now)
			if events != nil {
				t.Error("events returned with a refusal")
			}
			checkRefusal(t, err, tt.want)
		})
	}
}

func FuzzDecodeEvents(f *testing.F) {
	f.Add(fixture(f, "events.json"))
	for _, s := range []string{
		`{"source":"s","type":"t","resource":"r","time":1795251000123,"content":{"a":[1,"b"]}}`,
		`{"source":"s","type":"t","resource":"r","time":"2026-11-21T09:00:00+08:00","level":"P1"}`,
		`[{"source":"s","type":"t","resource":"r","time":0.5e3}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		events, err := checkDeterministic(t, DecodeEvents, data)
		if err != nil {
			return
		}
		for i, e := range events {
			if e.Source == "" || e.Type == "" || e.Resource == "" || e.Time.IsZero() {
				t.Fatalf("event %d accepted without a source, type, resource or time: %+v", i, e)
			}
			switch e.Level {
			case alert.Critical, alert.Warning, alert.Info:
			default:
				t.Fatalf("event %d: level %q", i, e.Level)
			}
			if len(e.Content) > 0 && !json.Valid(e.Content) {
				t.Fatalf("event %d: content %q is not JSON", i, e.Content)
			}
			if e.Time.After(time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)) {
				t.Fatalf("event %d: time %v", i, e.Time)
			}
		}
	})
}
