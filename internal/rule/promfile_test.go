package rule

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/problem"
)

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestImportPrometheus(t *testing.T) {
	rules, skipped, err := ImportPrometheus(readFile(t, "testdata/promfile/node.rules.yml"))
	if err != nil {
		t.Fatalf("ImportPrometheus: %v", err)
	}
	want := []Rule{
		{
			Name: "HighCPU", Kind: KindMetric, Group: "node", Expr: "instance:node_cpu:rate5m > 0.9",
			For: Duration(10 * time.Minute), Interval: Duration(30 * time.Second), Severity: alert.Critical,
			Labels:      map[string]string{"team": "infra"},
			Annotations: map[string]string{"summary": "CPU of {{ $labels.instance }} at {{ $value | humanizePercentage }}"},
			Enabled:     true,
		},
		{
			Name: "DiskFillingUp", Kind: KindMetric, Group: "node", Expr: "predict_linear(node_filesystem_avail_bytes[6h], 24 * 3600) < 0",
			For: Duration(time.Hour), KeepFiringFor: Duration(15 * time.Minute), Interval: Duration(30 * time.Second),
			// Not one of Tocsin's severities: it stays a label.
			Labels:  map[string]string{"team": "storage", "severity": "page"},
			Enabled: true,
		},
		{
			Name: "FullGCDoubled", Kind: KindMetric, Group: "jvm",
			Expr:     "avg_over_time(jvm_gc_full_count[5m]) > 2 * avg_over_time(jvm_gc_full_count[5m] offset 1h)",
			Interval: Duration(DefaultInterval), Severity: alert.Warning, Enabled: true,
		},
	}
	if diff := cmp.Diff(want, rules); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
	wantSkipped := []string{
		`group "node": recording rule "instance:node_cpu:rate5m" (Tocsin keeps alerting rules only)`,
		`group "jvm": query_offset 1m (Tocsin queries at the evaluation time)`,
	}
	if diff := cmp.Diff(wantSkipped, skipped); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
}

func TestImportPrometheusProblems(t *testing.T) {
	tests := []struct {
		name string
		file string
		want []problem.Problem
	}{
		{
			// Prometheus's messages, positions and all (it has none for
			// a field that is missing).
			name: "the parser's errors keep their positions",
			file: string(readFile(t, "testdata/promfile/bad.rules.yml")),
			want: []problem.Problem{
				{Code: "invalid-rule-file", Message: `5:15: group "node", rule 1, "HighCPU": could not parse expression: 1:19: parse error: unexpected <by> in aggregation`},
				{Code: "invalid-rule-file", Message: `0:0: group "node", rule 2, "NoExpr": field 'expr' must be set in rule`},
			},
		},
		{
			name: "unknown fields are refused",
			file: "groups:\n  - name: x\n    rules:\n      - alert: A\n        expr: up\n        severity: critical\n",
			want: []problem.Problem{{Code: "invalid-rule-file", Message: "yaml: unmarshal errors:\n  line 6: field severity not found in type rulefmt.Rule"}},
		},
		{
			name: "several documents",
			file: "groups: []\n---\ngroups: []\n",
			want: []problem.Problem{{Code: "invalid-rule-file", Message: "Multiple document yaml rules files are not supported, only the first document is processed: Tocsin reads one document, like Prometheus; import the others one by one"}},
		},
		{
			name: "what Tocsin refuses, by path in the file",
			file: `groups:
  - name: a
    interval: 500ms
    rules:
      - alert: A
        expr: up == 0
        labels: {alertname: B}
  - name: b
    rules:
      - alert: A
        expr: rate(x[5m])[10m:1m]
`,
			want: []problem.Problem{
				{Field: "groups[0].rules[0].labels.alertname", Code: "invalid-value", Message: "alertname is the rule's name: rename the rule instead, and remove this label"},
				{Field: "groups[0].interval", Code: "out-of-range", Message: "interval must be at least 1s, such as 1m"},
				{Field: "groups[1].rules[0].expr", Code: "invalid-expr", Message: "1:1: the expression gives a range vector, which cannot fire an alert: reduce it to one value per series with a function such as avg_over_time(…[5m]) or rate(…[5m])"},
				{Field: "groups[1].rules[0].alert", Code: "duplicate", Message: `the rule name "A" is also used by groups[0].rules[0]; Tocsin's rule names are unique: rename one (its alerts' alertname changes with it)`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, skipped, err := ImportPrometheus([]byte(tt.file))
			list, ok := err.(*problem.List)
			if !ok {
				t.Fatalf("ImportPrometheus = %v, %v, %v; want a *problem.List", rules, skipped, err)
			}
			if rules != nil || skipped != nil {
				t.Errorf("ImportPrometheus returned rules %v and skipped %v with its error", rules, skipped)
			}
			if diff := cmp.Diff(tt.want, list.Items); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExportPrometheus(t *testing.T) {
	gc := Rule{Name: "FullGCDoubled", Kind: KindMetric, Group: "jvm", Interval: Duration(time.Minute), Severity: alert.Warning, Enabled: true,
		Builder: &Builder{Conditions: []Condition{{Metric: "jvm_gc_full_count", Aggregation: AggAvg, Window: Duration(5 * time.Minute),
			Change: &Change{Direction: Rise, Percent: 100, Offset: Duration(time.Hour)}}}},
		Annotations: map[string]string{"summary": "Full GC of {{ $labels.instance }} rose by {{ $value }}%"}}
	if err := gc.Validate(); err != nil {
		t.Fatal(err)
	}
	rules := []Rule{
		{Name: "HighCPU", Kind: KindMetric, Expr: "avg_over_time(cpu[5m]) > 0.9", For: Duration(10 * time.Minute), Interval: Duration(time.Minute),
			Severity: alert.Critical, Labels: map[string]string{"team": "infra"}, Enabled: true},
		gc,
		{Name: "FastCheck", Kind: KindMetric, Expr: "up == 0", Interval: Duration(15 * time.Second), KeepFiringFor: Duration(5 * time.Minute), Enabled: true},
		{Name: "ECS stopped", Kind: KindEvent, Match: &EventMatch{When: []FieldMatch{{Field: "type", Value: "x"}}}, Enabled: true},
		{Name: "Retired", Kind: KindMetric, Expr: "up == 0", Interval: Duration(time.Minute)},
		{Name: "MemoryHigh", Kind: KindMetric, Group: "jvm", Expr: "jvm_memory_used_bytes / jvm_memory_max_bytes > 0.95", Interval: Duration(time.Minute), Enabled: true},
	}
	data, skipped, err := ExportPrometheus(rules)
	if err != nil {
		t.Fatal(err)
	}
	want := `groups:
  - name: tocsin
    interval: 1m
    rules:
      - alert: HighCPU
        expr: avg_over_time(cpu[5m]) > 0.9
        for: 10m
        labels:
          severity: critical
          team: infra
  - name: jvm
    interval: 1m
    rules:
      - alert: FullGCDoubled
        expr: (avg_over_time(jvm_gc_full_count[5m]) - avg_over_time(jvm_gc_full_count[5m] offset 1h)) / (abs(avg_over_time(jvm_gc_full_count[5m] offset 1h)) > 0) * 100 >= 100
        labels:
          severity: warning
        annotations:
          summary: Full GC of {{ $labels.instance }} rose by {{ $value }}%
      - alert: MemoryHigh
        expr: jvm_memory_used_bytes / jvm_memory_max_bytes > 0.95
  - name: tocsin (every 15s)
    interval: 15s
    rules:
      - alert: FastCheck
        expr: up == 0
        keep_firing_for: 5m
`
	if diff := cmp.Diff(want, string(data)); diff != "" {
		t.Errorf("rule file (-want +got):\n%s", diff)
	}
	wantSkipped := []string{
		`event rule "ECS stopped": Prometheus has no event rules`,
		`rule "Retired": it is disabled, and a Prometheus rule file has no off switch`,
	}
	if diff := cmp.Diff(wantSkipped, skipped); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
}

// TestPrometheusRoundTrip: a file imported, exported and imported again
// gives the same rules.
func TestPrometheusRoundTrip(t *testing.T) {
	first, _, err := ImportPrometheus(readFile(t, "testdata/promfile/node.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	data, skipped, err := ExportPrometheus(first)
	if err != nil || len(skipped) > 0 {
		t.Fatalf("ExportPrometheus: skipped %v, %v", skipped, err)
	}
	second, skipped, err := ImportPrometheus(data)
	if err != nil || len(skipped) > 0 {
		t.Fatalf("ImportPrometheus of\n%s: skipped %v, %v", data, skipped, err)
	}
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("round trip through\n%s(-first +second):\n%s", data, diff)
	}
}

// FuzzImportPrometheus: no file makes ImportPrometheus panic; every rule
// it returns validates, and survives an export and an import unchanged.
func FuzzImportPrometheus(f *testing.F) {
	f.Add(readFileF(f, "testdata/promfile/node.rules.yml"))
	f.Add(readFileF(f, "testdata/promfile/bad.rules.yml"))
	f.Add([]byte("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    labels: {severity: info, x: '{{ $value }}'}\n"))
	f.Add([]byte("groups: [{name: g, interval: 1d, labels: {a: b}, rules: [{alert: '告警', expr: 'vector(1)', for: 1w}]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, _, err := ImportPrometheus(data)
		if err != nil {
			return
		}
		for i := range rules {
			r := rules[i]
			if err := r.Validate(); err != nil {
				t.Fatalf("imported rule %q does not validate: %v", r.Name, err)
			}
		}
		out, skipped, err := ExportPrometheus(rules)
		if err != nil || len(skipped) > 0 {
			t.Fatalf("ExportPrometheus: skipped %v, %v", skipped, err)
		}
		again, _, err := ImportPrometheus(out)
		if err != nil {
			t.Fatalf("ImportPrometheus of the export\n%s: %v", out, err)
		}
		before, after := byName(rules), byName(again)
		for name, r := range after {
			// Export splits a group of several intervals, renaming it.
			if g := before[name].Group; strings.HasPrefix(r.Group, g+" (every ") {
				r.Group = g
				after[name] = r
			}
		}
		if diff := cmp.Diff(before, after); diff != "" {
			t.Errorf("export and import changed the rules (-before +after):\n%s\nexport:\n%s", diff, out)
		}
	})
}

func readFileF(f *testing.F, path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	return data
}

func byName(rs []Rule) map[string]Rule {
	m := make(map[string]Rule, len(rs))
	for _, r := range rs {
		m[r.Name] = r
	}
	return m
}
