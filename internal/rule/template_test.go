package rule

import (
	"context"
	"log/slog"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"

	"github.com/tocsinhq/tocsin/internal/alert"
)

// TestExpandTemplatesAsPrometheus expands a rule's templates with
// ExpandTemplates and with Prometheus's own alerting rule, over the same
// result, and wants the same labels and annotations.
func TestExpandTemplatesAsPrometheus(t *testing.T) {
	ctx := context.Background()
	r := Rule{
		Name: "HighCPU", Kind: KindMetric, Expr: "cpu > 90",
		Labels: map[string]string{
			"severity": "{{ if gt $value 95.0 }}critical{{ else }}warning{{ end }}",
			"instance": "{{ $labels.instance }}:9100", // overrides the series' label
			"job":      "{{ if false }}dropped{{ end }}",
			"team":     "sre",
			"broken":   "{{ $labels.instance | nosuch }}",
		},
		Annotations: map[string]string{
			"summary":     "CPU of {{ $labels.instance }} at {{ $value | humanizePercentage }} ({{ $labels.__name__ }})",
			"cluster":     "{{ $externalLabels.cluster }}",
			"link":        "{{ $externalURL }}/alerts?name={{ .Labels.instance | urlquery }} {{ pathPrefix }}",
			"load":        `{{ with query "node_load1" }}{{ . | first | value | printf "%.1f" }}{{ end }}`,
			"failing":     `{{ query "nothing" | first | value }}`,
			"empty":       "{{ if false }}x{{ end }}",
			"description": "{{ $value }} {{ 3600 | humanizeDuration }}",
		},
	}
	series := labels.FromStrings("__name__", "cpu", "instance", "web-1", "job", "node")
	value := 0.935
	ts := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	u, err := url.Parse("https://tocsin.example/console")
	if err != nil {
		t.Fatal(err)
	}
	external := map[string]string{"cluster": "prod-hz"}
	templateQuery := func(_ context.Context, q string, at time.Time) (promql.Vector, error) {
		if q == "node_load1" && at.Equal(ts) {
			return promql.Vector{{Metric: labels.FromStrings("instance", "web-1"), F: 3.14159}}, nil
		}
		return promql.Vector{}, nil
	}
	gotLabels, gotAnnotations := r.ExpandTemplates(ctx, series, value, ts, TemplateEnv{ExternalURL: u, ExternalLabels: external, Query: templateQuery})

	expr, err := ParseExpr(r.Expr)
	if err != nil {
		t.Fatal(err)
	}
	prom := rules.NewAlertingRule(r.Name, expr, 0, 0, labels.FromMap(r.Labels), labels.FromMap(r.Annotations),
		labels.FromMap(external), u.String(), true, slog.New(slog.DiscardHandler))
	evalQuery := func(ctx context.Context, q string, at time.Time) (promql.Vector, error) {
		if q == expr.String() {
			return promql.Vector{{Metric: series, F: value, T: at.UnixMilli()}}, nil
		}
		return templateQuery(ctx, q, at)
	}
	if _, err := prom.Eval(ctx, 0, ts, evalQuery, u, 0); err != nil {
		t.Fatalf("Prometheus Eval: %v", err)
	}
	active := prom.ActiveAlerts()
	if len(active) != 1 {
		t.Fatalf("Prometheus made %d alerts, want 1", len(active))
	}
	if diff := cmp.Diff(active[0].Labels.Map(), gotLabels.Map()); diff != "" {
		t.Errorf("labels (-prometheus +ours):\n%s", diff)
	}
	if diff := cmp.Diff(active[0].Annotations.Map(), gotAnnotations.Map()); diff != "" {
		t.Errorf("annotations (-prometheus +ours):\n%s", diff)
	}
	// Spot checks, so the test fails if both went wrong the same way.
	if got := gotAnnotations.Get("load"); got != "3.1" {
		t.Errorf("load annotation = %q, want 3.1", got)
	}
	if got := gotLabels.Get("severity"); got != "warning" {
		t.Errorf("severity label = %q, want warning", got)
	}
	if gotLabels.Has("job") || gotLabels.Has("__name__") {
		t.Errorf("labels %s keep job or __name__", gotLabels)
	}
}

func TestExpandTemplatesTocsinAdditions(t *testing.T) {
	r := Rule{Name: "HighCPU", Kind: KindMetric, Severity: alert.Critical,
		Labels:      map[string]string{"team": "sre"},
		Annotations: map[string]string{"q": `{{ query "up" }}`, "url": "{{ $externalURL }}"},
	}
	ls, ann := r.ExpandTemplates(context.Background(), labels.FromStrings("instance", "a"), 1, time.Unix(0, 0), TemplateEnv{})
	want := alert.Labels{{Name: "alertname", Value: "HighCPU"}, {Name: "instance", Value: "a"}, {Name: "severity", Value: "critical"}, {Name: "team", Value: "sre"}}
	if diff := cmp.Diff(want, ls); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	wantAnn := alert.Labels{{Name: "q", Value: "<error expanding template: error executing template __alert_HighCPU: template: __alert_HighCPU:1:115: executing \"__alert_HighCPU\" at <query \"up\">: error calling query: " + errNoQuery.Error() + ">"}, {Name: "url", Value: ""}}
	if diff := cmp.Diff(wantAnn, ann); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
}
