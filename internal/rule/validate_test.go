package rule

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/problem"
)

func metricRule() Rule {
	return Rule{Name: "HighCPU", Kind: KindMetric, Expr: "avg_over_time(cpu[5m]) > 90", Interval: Duration(time.Minute), Enabled: true}
}

func eventRule() Rule {
	return Rule{Name: "ECS stopped", Kind: KindEvent, Severity: alert.Warning, Interval: Duration(time.Minute), Enabled: true,
		Match: &EventMatch{
			When:        []FieldMatch{{Field: "type", Op: "=", Value: "Instance:StateChange"}, {Field: "content.currentState", Op: "=", Value: "Stopped"}},
			ResolveWhen: []FieldMatch{{Field: "content.currentState", Op: "in", Values: []string{"Running"}}},
			Key:         []string{"source", "resource"},
		}}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		rule func() Rule
		want []string // fields at fault; none for a valid rule
	}{
		{"valid metric rule", metricRule, nil},
		{"valid event rule", eventRule, nil},
		{"names in any script", func() Rule { r := metricRule(); r.Name = "订单服务 Full GC 过多 (>100%)"; return r }, nil},
		{"name missing", func() Rule { r := metricRule(); r.Name = ""; return r }, []string{"name"}},
		{"name with a line break", func() Rule { r := metricRule(); r.Name = "High\nCPU"; return r }, []string{"name"}},
		{"name with spaces around", func() Rule { r := metricRule(); r.Name = " HighCPU"; return r }, []string{"name"}},
		{"name too long", func() Rule { r := metricRule(); r.Name = strings.Repeat("名", MaxNameLen+1); return r }, []string{"name"}},
		{"kind", func() Rule { r := metricRule(); r.Kind = "log"; return r }, []string{"kind"}},
		{"neither expr nor builder", func() Rule { r := metricRule(); r.Expr = " "; return r }, []string{"expr"}},
		{"expr does not parse", func() Rule { r := metricRule(); r.Expr = "avg_over_time(cpu[5m] > 90"; return r }, []string{"expr"}},
		{"expr gives a range vector", func() Rule { r := metricRule(); r.Expr = "cpu[5m]"; return r }, []string{"expr"}},
		{"scalar expr is fine", func() Rule { r := metricRule(); r.Expr = "1 > bool 0"; return r }, nil},
		{"match on a metric rule", func() Rule { r := metricRule(); r.Match = eventRule().Match; return r }, []string{"match"}},
		{"builder problems are the builder's", func() Rule {
			r := metricRule()
			r.Builder = &Builder{Conditions: []Condition{{Metric: "m", Aggregation: "avg"}}}
			return r
		}, []string{"builder.conditions[0].window", "builder.conditions[0]"}},
		{"durations", func() Rule {
			r := metricRule()
			r.For, r.KeepFiringFor, r.Interval = -1, -1, Duration(500*time.Millisecond)
			return r
		}, []string{"for", "keep_firing_for", "interval"}},
		{"severity", func() Rule { r := metricRule(); r.Severity = "page"; return r }, []string{"severity"}},
		{"labels", func() Rule {
			r := metricRule()
			r.Severity = alert.Critical
			r.Labels = map[string]string{"alertname": "x", "__name__": "x", "severity": "warning", "": "x", "team": "\xff", "service.name": "ok"}
			return r
		}, []string{"labels.", "labels.__name__", "labels.alertname", "labels.severity", "labels.team"}},
		{"templates", func() Rule {
			r := metricRule()
			r.Labels = map[string]string{"instance": "{{ $labels.instance "}
			r.Annotations = map[string]string{"summary": "{{ $value | humanize }} on {{ $labels.instance }}", "description": "{{ nosuch }}", "a b": "spaces are fine"}
			return r
		}, []string{"labels.instance", "annotations.description"}},
		{"targets: policy and direct", func() Rule {
			r := metricRule()
			r.Targets = Targets{Policy: "sre", Channels: []string{"ops", "ops"}, ContactGroups: []string{""}}
			return r
		}, []string{"targets", "targets.channels[1]", "targets.contact_groups[0]"}},
		{"datasource", func() Rule { r := metricRule(); r.Datasource = " vm"; return r }, []string{"datasource"}},
		{"named datasource is fine", func() Rule { r := metricRule(); r.Datasource = "victoria"; return r }, nil},
		{"event rule with metric parts", func() Rule {
			r := eventRule()
			r.Expr, r.Builder, r.For, r.KeepFiringFor, r.Datasource = "up", &Builder{}, Duration(time.Minute), Duration(time.Minute), "vm"
			return r
		}, []string{"builder", "expr", "for", "keep_firing_for", "datasource"}},
		{"event rule without match", func() Rule { r := eventRule(); r.Match = nil; return r }, []string{"match"}},
		{"event rule resolved by a paired event needs a severity", func() Rule { r := eventRule(); r.Severity = ""; return r }, []string{"severity"}},
		{"event rule resolved after a time may leave severity to the level", func() Rule {
			r := eventRule()
			r.Severity, r.Match.ResolveWhen, r.Match.ResolveAfter = "", nil, Duration(time.Hour)
			return r
		}, nil},
		{"event rule labels", func() Rule {
			r := eventRule()
			r.Labels = map[string]string{"resource": "x", "summary": "{{ $event.Type }}", "team": "sre"}
			return r
		}, []string{"labels.resource", "labels.summary"}},
		{"event rule annotations", func() Rule {
			r := eventRule()
			r.Annotations = map[string]string{"summary": `{{ $event.Resource }} is {{ $event.Field "content.currentState" }}`, "value": "{{ $value }}"}
			return r
		}, []string{"annotations.value"}},
		{"event conditions", func() Rule {
			r := eventRule()
			r.Match.When = []FieldMatch{
				{Field: "status", Op: "=", Value: "x"},
				{Field: "content.", Op: "=", Value: "x"},
				{Field: "labels.env", Op: "like", Value: "x"},
				{Field: "type", Op: "=~", Value: "Stop(ped"},
				{Field: "type", Op: "in"},
				{Field: "type", Op: "in", Value: "x", Values: []string{"x"}},
				{Field: "type", Op: "=", Values: []string{"x"}},
				{Field: "level", Op: "=", Value: "CRITICAL"},
				{Field: "level", Op: "in", Values: []string{"warning", "P1"}},
				{Field: "level", Op: "=~", Value: "crit.*|warning"},
			}
			return r
		}, []string{"match.when[0].field", "match.when[1].field", "match.when[2].op", "match.when[3].value", "match.when[4].values",
			"match.when[5].value", "match.when[6].values", "match.when[7].value", "match.when[8].values[1]"}},
		{"no when", func() Rule { r := eventRule(); r.Match.When = nil; return r }, []string{"match.when"}},
		{"keys", func() Rule {
			r := eventRule()
			r.Match.Key = []string{"resource", "resource", "content.id", "labels.severity", "level", "zone"}
			r.Match.ResolveAfter = -1
			return r
		}, []string{"match.resolve_after", "match.key[1]", "match.key[2]", "match.key[3]", "match.key[4]", "match.key[5]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.rule()
			err := r.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate took it, want problems at %v", tt.want)
			}
			if diff := cmp.Diff(tt.want, problemFields(t, err)); diff != "" {
				t.Errorf("problem fields (-want +got):\n%s\n%v", diff, err)
			}
		})
	}
}

// TestValidateMessagesSayHowToFix spot-checks that messages tell people
// what to write.
func TestValidateMessagesSayHowToFix(t *testing.T) {
	r := metricRule()
	r.Kind, r.Severity = "log", "urgent"
	var list *problem.List
	if err := r.Validate(); !errors.As(err, &list) {
		t.Fatalf("Validate = %v, want a *problem.List", err)
	}
	want := []problem.Problem{
		{Field: "kind", Code: "invalid-value", Message: `kind "log" is not known: use metric or event`},
		{Field: "severity", Code: "invalid-value", Message: `severity "urgent" is not known: use critical, warning or info, or leave it empty`},
	}
	if diff := cmp.Diff(want, list.Items); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestValidateFillsExprFromBuilder(t *testing.T) {
	r := metricRule()
	r.Expr = "stale"
	r.Builder = &Builder{Conditions: []Condition{{Metric: "cpu", Aggregation: AggMax, Window: Duration(time.Minute), Threshold: &Threshold{Op: ">", Value: 90}}}}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if want := "max_over_time(cpu[1m]) > 90"; r.Expr != want {
		t.Errorf("Expr = %q, want %q", r.Expr, want)
	}
}

func TestParseExprPosition(t *testing.T) {
	tests := []struct {
		expr string
		want *ExprError
	}{
		{"up", nil},
		{"sum by (job) (rate(http_requests_total[5m])) > 0", nil},
		{"sum(rate(x[5m]) by", &ExprError{Line: 1, Column: 17, Message: `unexpected <by> in aggregation`}},
		// Columns count characters: the + is the 15th, the end the 16th.
		{`up{"区域"="华东"} +`, &ExprError{Line: 1, Column: 16, Message: "unexpected end of input"}},
		{`up{区域="华东"}`, &ExprError{Line: 1, Column: 4, Message: "unexpected character inside braces: '区'"}},
		{"sum(\n  rate(x[5m])\n) by (job) +\n  foo{", &ExprError{Line: 4, Column: 7, Message: "unexpected end of input inside braces"}},
		{"rate(x[5m])[10m]", &ExprError{Line: 1, Column: 12, Message: "ranges only allowed for vector selectors"}},
		{"x[5m]", &ExprError{Line: 1, Column: 1, Message: "the expression gives a range vector, which cannot fire an alert: reduce it to one value per series with a function such as avg_over_time(…[5m]) or rate(…[5m])"}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, err := ParseExpr(tt.expr)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("ParseExpr: %v", err)
				}
				return
			}
			var got *ExprError
			if !errors.As(err, &got) {
				t.Fatalf("ParseExpr = %v, want an *ExprError", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseExpr (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExternalDatasource(t *testing.T) {
	for ds, want := range map[string]string{"": "", Embedded: "", "victoria": "victoria"} {
		r := Rule{Datasource: ds}
		if got := r.ExternalDatasource(); got != want {
			t.Errorf("ExternalDatasource of %q = %q, want %q", ds, got, want)
		}
	}
}
