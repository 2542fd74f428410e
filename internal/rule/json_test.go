package rule

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/problem"
)

func TestDecodeDefaults(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Rule
	}{
		{
			name: "metric rule with only a name and expr",
			body: `{"name": "HighCPU", "expr": "avg_over_time(cpu[5m]) > 90"}`,
			want: Rule{Name: "HighCPU", Kind: KindMetric, Expr: "avg_over_time(cpu[5m]) > 90", Interval: Duration(time.Minute), Enabled: true},
		},
		{
			name: "given values are kept, settings normalised",
			body: `{"id": "r1", "name": " HighCPU ", "kind": " Metric", "group": "node", "expr": " up == 0 ", "for": "5m", "keep_firing_for": "10m",
				"interval": "30s", "severity": "Critical", "labels": {"team": "sre"}, "annotations": {"summary": "{{ $labels.instance }} is down"},
				"datasource": " vm ", "targets": {"policy": " sre "}, "enabled": false}`,
			want: Rule{ID: "r1", Name: "HighCPU", Kind: KindMetric, Group: "node", Expr: "up == 0",
				For: Duration(5 * time.Minute), KeepFiringFor: Duration(10 * time.Minute), Interval: Duration(30 * time.Second),
				Severity: alert.Critical, Labels: map[string]string{"team": "sre"},
				Annotations: map[string]string{"summary": "{{ $labels.instance }} is down"},
				Datasource:  "vm", Targets: Targets{Policy: "sre"}},
		},
		{
			name: "empty strings read as absent",
			body: `{"name": "x", "kind": "", "expr": "up", "for": "", "interval": "", "enabled": null}`,
			want: Rule{Name: "x", Kind: KindMetric, Expr: "up", Interval: Duration(time.Minute), Enabled: true},
		},
		{
			name: "builder defaults, compiled into expr over what was sent",
			body: `{"name": "GC", "expr": "stale", "builder": {"conditions": [{"metric": "jvm_gc_full_count", "filters": [{"label": "job", "value": "order"}],
				"aggregation": "AVG", "window": "5m", "change": {"direction": "Rise", "percent": 100, "offset": "1h"}}]}}`,
			want: Rule{Name: "GC", Kind: KindMetric, Interval: Duration(time.Minute), Enabled: true,
				Expr: `(avg_over_time(jvm_gc_full_count{job="order"}[5m]) - avg_over_time(jvm_gc_full_count{job="order"}[5m] offset 1h)) / (abs(avg_over_time(jvm_gc_full_count{job="order"}[5m] offset 1h)) > 0) * 100 >= 100`,
				Builder: &Builder{Join: JoinAll, Mode: ModePerSeries, Missing: MissingNoData, Conditions: []Condition{{
					Metric: "jvm_gc_full_count", Filters: []Filter{{Label: "job", Op: "=", Value: "order"}},
					Aggregation: AggAvg, Window: Duration(5 * time.Minute),
					Change: &Change{Direction: Rise, Percent: 100, Offset: Duration(time.Hour)},
				}}}},
		},
		{
			name: "event rule defaults: key, op, resolve_after",
			body: `{"name": "ECS stopped", "kind": "event", "match": {"when": [{"field": "type", "value": "Instance:StateChange"}]}}`,
			want: Rule{Name: "ECS stopped", Kind: KindEvent, Interval: Duration(time.Minute), Enabled: true,
				Match: &EventMatch{When: []FieldMatch{{Field: "type", Op: "=", Value: "Instance:StateChange"}},
					Key: []string{"source", "resource"}, ResolveAfter: Duration(DefaultResolveAfter)}},
		},
		{
			name: "event rule resolved by a paired event: no resolve_after",
			body: `{"name": "ECS stopped", "kind": "event", "severity": "warning", "match": {"when": [{"field": "content.currentState", "op": "=", "value": "Stopped"}],
				"resolve_when": [{"field": "content.currentState", "op": "IN", "values": ["Running", "Starting"]}], "key": ["resource"]}}`,
			want: Rule{Name: "ECS stopped", Kind: KindEvent, Severity: alert.Warning, Interval: Duration(time.Minute), Enabled: true,
				Match: &EventMatch{When: []FieldMatch{{Field: "content.currentState", Op: "=", Value: "Stopped"}},
					ResolveWhen: []FieldMatch{{Field: "content.currentState", Op: "in", Values: []string{"Running", "Starting"}}},
					Key:         []string{"resource"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.body))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Decode (-want +got):\n%s", diff)
			}
			var un Rule
			if err := json.Unmarshal([]byte(tt.body), &un); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if diff := cmp.Diff(tt.want, un); diff != "" {
				t.Errorf("Unmarshal differs from Decode (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeProblems(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string // fields at fault
	}{
		{"unknown field", `{"name": "x", "expr": "up", "exprs": "up"}`, []string{"exprs"}},
		// encoding/json names an unknown field without its path.
		{"unknown nested field", `{"name": "x", "builder": {"conditions": [{"metric": "m", "agg": "avg"}]}}`, []string{"agg"}},
		{"wrong type", `{"name": "x", "expr": "up", "labels": []}`, []string{"labels"}},
		{
			"bad durations named by path, and validation goes on",
			`{"name": "", "expr": "up", "for": "soon", "interval": "1x", "builder": {"conditions": [{"metric": "m", "aggregation": "avg", "window": "five",
				"change": {"direction": "rise", "offset": "-"}}]}}`,
			[]string{"for", "interval", "builder.conditions[0].window", "builder.conditions[0].change.offset", "builder.conditions[0].change.percent", "name"},
		},
		{"threshold without value", `{"name": "x", "builder": {"conditions": [{"metric": "m", "aggregation": "avg", "window": "5m", "threshold": {"op": ">"}}]}}`,
			[]string{"builder.conditions[0].threshold.value"}},
		{"event resolve_after", `{"name": "x", "kind": "event", "match": {"when": [{"field": "type", "value": "x"}], "resolve_after": "later"}}`,
			[]string{"match.resolve_after"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Decode([]byte(tt.body))
			if err == nil {
				t.Fatalf("Decode = %+v, want problems at %v", r, tt.want)
			}
			if diff := cmp.Diff(tt.want, problemFields(t, err)); diff != "" {
				t.Errorf("problem fields (-want +got):\n%s\n%v", diff, err)
			}
		})
	}
}

// TestUnmarshalDoesNotValidate: a stored rule reads back even when it no
// longer validates; only Decode refuses it.
func TestUnmarshalDoesNotValidate(t *testing.T) {
	body := []byte(`{"name": "", "expr": "sum(", "severity": "urgent"}`)
	var r Rule
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if r.Expr != "sum(" || r.Severity != "urgent" {
		t.Errorf("Unmarshal = %+v", r)
	}
	if _, err := Decode(body); err == nil {
		t.Error("Decode took an invalid rule")
	}
}

func TestMarshalJSONWritesEveryField(t *testing.T) {
	r := Rule{Name: "x", Kind: KindMetric, Expr: "up == 0", Interval: Duration(90 * time.Second), For: Duration(24 * time.Hour)}
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"id": "", "name": "x", "kind": "metric", "group": "", "expr": "up == 0", "builder": nil, "match": nil,
		"for": "1d", "keep_firing_for": "0s", "interval": "1m30s", "severity": "",
		"labels": map[string]any{}, "annotations": map[string]any{}, "datasource": "", "targets": map[string]any{},
		"enabled": false, "created_at": "0001-01-01T00:00:00Z", "updated_at": "0001-01-01T00:00:00Z",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("MarshalJSON (-want +got):\n%s", diff)
	}
}

// TestJSONRoundTrip: what MarshalJSON writes, Decode reads back the same,
// so a client can GET a rule, change a field and PUT it.
func TestJSONRoundTrip(t *testing.T) {
	bodies := []string{
		`{"name": "GC", "severity": "critical", "for": "2m", "labels": {"team": "jvm"}, "annotations": {"summary": "GC {{ $value }}%"},
			"targets": {"channels": ["ops"], "contact_groups": ["sre"]},
			"builder": {"join": "any", "mode": "aggregated", "by": ["instance"], "missing": "zero", "conditions": [
				{"metric": "jvm_gc_full_count", "aggregation": "avg", "window": "5m", "change": {"direction": "rise", "percent": 100, "offset": "1h"}},
				{"metric": "heap", "filters": [{"label": "area", "op": "!~", "value": "non.*"}], "aggregation": "max", "window": "10m", "threshold": {"op": ">", "value": 0.9}}]}}`,
		`{"name": "ECS", "kind": "event", "severity": "warning", "annotations": {"summary": "{{ $event.Resource }} stopped"}, "match": {
			"when": [{"field": "type", "value": "Instance:StateChange"}, {"field": "content.currentState", "op": "=~", "value": "Stop.*"}],
			"resolve_when": [{"field": "content.currentState", "op": "in", "values": ["Running"]}], "resolve_after": "1d", "key": ["resource", "labels.env"]}}`,
	}
	for _, body := range bodies {
		first, err := Decode([]byte(body))
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		data, err := json.Marshal(first)
		if err != nil {
			t.Fatal(err)
		}
		second, err := Decode(data)
		if err != nil {
			t.Fatalf("Decode of %s: %v", data, err)
		}
		if diff := cmp.Diff(first, second); diff != "" {
			t.Errorf("round trip through %s (-first +second):\n%s", data, diff)
		}
	}
}

// FuzzDecode: no body makes Decode panic or compile a form to PromQL
// that does not parse; what it takes validates, and reads back the same
// after MarshalJSON.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"name": "HighCPU", "expr": "avg_over_time(cpu[5m]) > 90", "labels": {"a": "{{ $value }}"}}`))
	f.Add([]byte(`{"name": "GC", "builder": {"mode": "aggregated", "by": ["instance"], "missing": "one", "conditions": [
		{"metric": "jvm_gc_full_count", "filters": [{"label": "job", "op": "=~", "value": "a|b"}], "aggregation": "avg", "window": "5m",
		 "change": {"direction": "rise", "percent": 100, "offset": "1h"}}]}}`))
	f.Add([]byte(`{"name": "x", "builder": {"conditions": [{"metric": "a.b", "filters": [{"label": "\u0001", "value": "\"\\"}], "aggregation": "count", "window": "1s", "threshold": {"op": "!=", "value": -1e300}}]}}`))
	f.Add([]byte(`{"name": "ECS", "kind": "event", "severity": "info", "match": {"when": [{"field": "content.s", "op": "in", "values": ["a"]}], "resolve_when": [{"field": "type", "value": "b"}]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := Decode(body)
		if err != nil {
			var list *problem.List
			if !errors.As(err, &list) {
				t.Fatalf("Decode error %T: %v", err, err)
			}
			for _, p := range list.Items {
				if p.Code == codeCompileFailed {
					t.Fatalf("%s: %s", p.Field, p.Message)
				}
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("Decode took a rule Validate refuses: %v", err)
		}
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Decode(data)
		if err != nil {
			t.Fatalf("Decode of its own output %s: %v", data, err)
		}
		if diff := cmp.Diff(r, again); diff != "" {
			t.Errorf("round trip through %s (-first +second):\n%s", data, diff)
		}
	})
}
