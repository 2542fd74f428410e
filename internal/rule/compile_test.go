package rule

import (
	"bytes"
	"context"
	"flag"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/tocsinhq/tocsin/internal/problem"
)

var update = flag.Bool("update", false, "rewrite testdata/builder/*.promql with the current output")

// TestCompileGolden compiles each form in testdata/builder/*.json, as a
// rule's builder decoded from JSON, and compares the PromQL with the
// .promql file next to it.
func TestCompileGolden(t *testing.T) {
	forms, err := filepath.Glob("testdata/builder/*.json")
	if err != nil || len(forms) == 0 {
		t.Fatalf("no forms in testdata/builder: %v", err)
	}
	for _, path := range forms {
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(name, func(t *testing.T) {
			form, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Decode([]byte(`{"name": "golden", "builder": ` + string(form) + `}`))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			direct, err := Compile(r.Builder)
			if err != nil || direct != r.Expr {
				t.Fatalf("Compile = %q, %v; decoding put %q in Expr", direct, err, r.Expr)
			}
			got := []byte(r.Expr + "\n")
			golden := strings.TrimSuffix(path, ".json") + ".promql"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("compiled PromQL differs from %s (-want +got):\n%s", golden, cmp.Diff(string(want), string(got)))
			}
		})
	}
}

func TestCompileProblems(t *testing.T) {
	cond := func(edit func(c *Condition)) Condition {
		c := Condition{Metric: "m", Aggregation: AggAvg, Window: Duration(5 * time.Minute), Threshold: &Threshold{Op: ">", Value: 1}}
		edit(&c)
		return c
	}
	rise := &Change{Direction: Rise, Percent: 100, Offset: Duration(time.Hour)}
	tests := []struct {
		name string
		b    Builder
		want []string // fields at fault
	}{
		{"no conditions", Builder{}, []string{"builder.conditions"}},
		{"unknown settings", Builder{Join: "both", Mode: "each", Missing: "nan", Conditions: []Condition{cond(func(*Condition) {})}},
			[]string{"builder.join", "builder.mode", "builder.missing"}},
		{"by without aggregation", Builder{By: []string{"instance"}, Conditions: []Condition{cond(func(*Condition) {})}}, []string{"builder.by"}},
		{"bad by labels", Builder{Mode: ModeAggregated, By: []string{"a", "", "a", "__name__"}, Conditions: []Condition{cond(func(*Condition) {})}},
			[]string{"builder.by[1]", "builder.by[2]", "builder.by[3]"}},
		{"selector in metric", Builder{Conditions: []Condition{cond(func(c *Condition) { c.Metric = `up{job="x"}` })}}, []string{"builder.conditions[0].metric"}},
		{"no metric", Builder{Conditions: []Condition{cond(func(c *Condition) { c.Metric = "" })}}, []string{"builder.conditions[0].metric"}},
		{"bad filters", Builder{Conditions: []Condition{cond(func(c *Condition) {
			c.Filters = []Filter{{Label: "", Op: "=", Value: "x"}, {Label: "a", Op: "==", Value: "x"}, {Label: "b", Op: "=~", Value: "(unclosed"}, {Label: "__name__", Value: "m"}}
		})}}, []string{"builder.conditions[0].filters[0].label", "builder.conditions[0].filters[1].op", "builder.conditions[0].filters[2].value", "builder.conditions[0].filters[3].label"}},
		{"aggregation", Builder{Conditions: []Condition{cond(func(c *Condition) { c.Aggregation = "median" })}}, []string{"builder.conditions[0].aggregation"}},
		{"window", Builder{Conditions: []Condition{
			cond(func(c *Condition) { c.Window = 0 }),
			cond(func(c *Condition) { c.Window = Duration(time.Millisecond * 500) }),
			cond(func(c *Condition) { c.Window = Duration(time.Second + time.Microsecond) }),
		}}, []string{"builder.conditions[0].window", "builder.conditions[1].window", "builder.conditions[2].window"}},
		{"neither threshold nor change", Builder{Conditions: []Condition{cond(func(c *Condition) { c.Threshold = nil })}}, []string{"builder.conditions[0]"}},
		{"both threshold and change", Builder{Conditions: []Condition{cond(func(c *Condition) { c.Change = rise })}}, []string{"builder.conditions[0]"}},
		{"threshold op", Builder{Conditions: []Condition{cond(func(c *Condition) { c.Threshold.Op = "=>" })}}, []string{"builder.conditions[0].threshold.op"}},
		{"change settings", Builder{Conditions: []Condition{cond(func(c *Condition) {
			c.Threshold, c.Change = nil, &Change{Direction: "up", Percent: 0, Offset: 0}
		})}}, []string{"builder.conditions[0].change.direction", "builder.conditions[0].change.percent", "builder.conditions[0].change.offset"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expr, err := Compile(&tt.b)
			if err == nil {
				t.Fatalf("Compile = %q, want problems at %v", expr, tt.want)
			}
			if diff := cmp.Diff(tt.want, problemFields(t, err)); diff != "" {
				t.Errorf("problem fields (-want +got):\n%s\n%v", diff, err)
			}
		})
	}
}

// problemFields returns the fields err's problems name, in order.
func problemFields(t *testing.T, err error) []string {
	t.Helper()
	list, ok := err.(*problem.List)
	if !ok {
		t.Fatalf("error %T (%v), want *problem.List", err, err)
	}
	var fields []string
	for _, p := range list.Items {
		fields = append(fields, p.Field)
	}
	return fields
}

// The synthetic data of the semantic tests, one sample a minute from 0m to
// 180m. jvm_gc_full_count: instance a stays at 10; b doubles from 10 to 20
// at 100m and returns to 10 at 130m; c rises by half; d rises from 0; e
// stops reporting at 110m; f reports only up to 30m.
const gcData = `
load 1m
	jvm_gc_full_count{instance="a", job="order"} 10x180
	jvm_gc_full_count{instance="b", job="order"} 10x99 20x29 10x51
	jvm_gc_full_count{instance="c", job="order"} 10x99 15x80
	jvm_gc_full_count{instance="d", job="order"} 0x99 5x80
	jvm_gc_full_count{instance="e", job="order"} 10x110
	jvm_gc_full_count{instance="f", job="order"} 10x30
	heap_used_percent{instance="a", job="order"} 95x180
	heap_used_percent{instance="b", job="order"} 50x180
`

// evaluate runs expr at minute m of the synthetic data and returns the
// result's series as label strings with their values.
func evaluate(t *testing.T, storage *teststorage.TestStorage, expr string, m int) map[string]float64 {
	t.Helper()
	engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
	q, err := engine.NewInstantQuery(context.Background(), storage, nil, expr, time.Unix(0, 0).UTC().Add(time.Duration(m)*time.Minute))
	if err != nil {
		t.Fatalf("query %s: %v", expr, err)
	}
	defer q.Close()
	res := q.Exec(context.Background())
	if res.Err != nil {
		t.Fatalf("query %s: %v", expr, res.Err)
	}
	out := map[string]float64{}
	switch v := res.Value.(type) {
	case promql.Vector:
		for _, s := range v {
			out[s.Metric.String()] = s.F
		}
	case promql.Scalar:
		out["scalar"] = v.V
	default:
		t.Fatalf("query %s gave a %s", expr, res.Value.Type())
	}
	return out
}

// percent is the change from prev to cur in percent, computed as the
// compiled PromQL does.
func percent(cur, prev float64) float64 { return (cur - prev) / math.Abs(prev) * 100 }

// TestCompileSemantics evaluates compiled forms with Prometheus's engine
// over synthetic data and checks what fires, with which $value.
func TestCompileSemantics(t *testing.T) {
	storage := promqltest.LoadedStorage(t, gcData)
	t.Cleanup(func() { storage.Close() })

	doubled := Condition{Metric: "jvm_gc_full_count", Aggregation: AggAvg, Window: Duration(5 * time.Minute),
		Change: &Change{Direction: Rise, Percent: 100, Offset: Duration(time.Hour)}}
	lt5 := Condition{Metric: "jvm_gc_full_count", Aggregation: AggAvg, Window: Duration(5 * time.Minute),
		Threshold: &Threshold{Op: "<", Value: 5}}
	series := func(instance string) string { return `{instance="` + instance + `", job="order"}` }
	tests := []struct {
		name   string
		b      Builder
		minute int
		want   map[string]float64
	}{
		{
			name: "doubled per instance: only b, by 100%", minute: 120,
			b:    Builder{Conditions: []Condition{doubled}},
			want: map[string]float64{series("b"): 100},
		},
		{
			name: "doubled per instance resolves when b returns", minute: 170,
			b:    Builder{Conditions: []Condition{doubled}},
			want: map[string]float64{},
		},
		{
			name: "rose by half: b and c, not d whose earlier value is 0", minute: 120,
			b: Builder{Conditions: []Condition{{Metric: "jvm_gc_full_count", Aggregation: AggAvg, Window: Duration(5 * time.Minute),
				Change: &Change{Direction: Rise, Percent: 50, Offset: Duration(time.Hour)}}}},
			want: map[string]float64{series("b"): 100, series("c"): 50},
		},
		{
			name: "fell by half: b once it returns", minute: 170,
			b: Builder{Conditions: []Condition{{Metric: "jvm_gc_full_count", Aggregation: AggMax, Window: Duration(5 * time.Minute),
				Change: &Change{Direction: Fall, Percent: 50, Offset: Duration(time.Hour)}}}},
			want: map[string]float64{series("b"): 50},
		},
		{
			name: "aggregated by instance", minute: 120,
			b:    Builder{Mode: ModeAggregated, By: []string{"instance"}, Conditions: []Condition{doubled}},
			want: map[string]float64{`{instance="b"}`: 100},
		},
		{
			name: "aggregated total: the sum rose from 30 to 50", minute: 120,
			b: Builder{Mode: ModeAggregated, Conditions: []Condition{{Metric: "jvm_gc_full_count", Aggregation: AggSum, Window: Duration(time.Minute),
				Filters: []Filter{{Label: "instance", Op: "=~", Value: "a|b|c|d"}},
				Change:  &Change{Direction: Rise, Percent: 30, Offset: Duration(time.Hour)}}}},
			want: map[string]float64{`{}`: percent(50, 30)},
		},
		{
			name: "no_data: e's empty window does not count", minute: 120,
			b:    Builder{Missing: MissingNoData, Conditions: []Condition{lt5}},
			want: map[string]float64{},
		},
		{
			name: "zero: e counts as 0, f is long gone", minute: 120,
			b:    Builder{Missing: MissingZero, Conditions: []Condition{lt5}},
			want: map[string]float64{series("e"): 0},
		},
		{
			name: "one: e counts as 1", minute: 120,
			b:    Builder{Missing: MissingOne, Conditions: []Condition{lt5}},
			want: map[string]float64{series("e"): 1},
		},
		{
			name: "zero, aggregated with no by labels: a metric never seen counts as 0", minute: 120,
			b: Builder{Mode: ModeAggregated, Missing: MissingZero, Conditions: []Condition{{Metric: "never_reported", Aggregation: AggMax,
				Window: Duration(5 * time.Minute), Threshold: &Threshold{Op: "<", Value: 1}}}},
			want: map[string]float64{`{}`: 0},
		},
		{
			name: "zero, aggregated by instance: e's group counts as 0", minute: 120,
			b:    Builder{Mode: ModeAggregated, By: []string{"instance"}, Missing: MissingZero, Conditions: []Condition{lt5}},
			want: map[string]float64{`{instance="e"}`: 0},
		},
		{
			name: "zero, change: e fell by 100%", minute: 120,
			b: Builder{Missing: MissingZero, Conditions: []Condition{{Metric: "jvm_gc_full_count", Aggregation: AggAvg, Window: Duration(5 * time.Minute),
				Change: &Change{Direction: Fall, Percent: 90, Offset: Duration(time.Hour)}}}},
			want: map[string]float64{series("e"): 100},
		},
		{
			name: "all: doubled and heap above 90 on the same series", minute: 120,
			b: Builder{Conditions: []Condition{doubled, {Metric: "heap_used_percent", Aggregation: AggAvg, Window: Duration(5 * time.Minute),
				Threshold: &Threshold{Op: ">", Value: 90}}}},
			want: map[string]float64{},
		},
		{
			name: "any: doubled or heap above 90", minute: 120,
			b: Builder{Join: JoinAny, Conditions: []Condition{doubled, {Metric: "heap_used_percent", Aggregation: AggAvg, Window: Duration(5 * time.Minute),
				Threshold: &Threshold{Op: ">", Value: 90}}}},
			want: map[string]float64{series("b"): 100, series("a"): 95},
		},
		{
			name: "all, aggregated by instance: heap above 40 and gc count above 15", minute: 120,
			b: Builder{Mode: ModeAggregated, By: []string{"instance"}, Conditions: []Condition{
				{Metric: "heap_used_percent", Aggregation: AggAvg, Window: Duration(5 * time.Minute), Threshold: &Threshold{Op: ">", Value: 40}},
				{Metric: "jvm_gc_full_count", Aggregation: AggAvg, Window: Duration(5 * time.Minute), Threshold: &Threshold{Op: ">", Value: 15}},
			}},
			want: map[string]float64{`{instance="b"}`: 50},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expr, err := Compile(&tt.b)
			if err != nil {
				t.Fatal(err)
			}
			got := evaluate(t, storage, expr, tt.minute)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s at %dm (-want +got):\n%s", expr, tt.minute, diff)
			}
		})
	}
}

// TestCompileParses checks that every combination of settings compiles to
// PromQL the parser takes as an instant vector.
func TestCompileParses(t *testing.T) {
	conds := []Condition{
		{Metric: "m", Aggregation: AggCount, Window: Duration(time.Minute), Threshold: &Threshold{Op: "!=", Value: -1.5e-7}},
		{Metric: "a.b", Filters: []Filter{{Label: "x y", Op: "!~", Value: `\d+"`}}, Aggregation: AggMin, Window: Duration(90 * time.Second),
			Change: &Change{Direction: Fall, Percent: 0.5, Offset: Duration(36 * time.Hour)}},
	}
	var n int
	for _, join := range []string{"", JoinAll, JoinAny} {
		for _, mode := range []string{ModePerSeries, ModeAggregated} {
			for _, by := range [][]string{nil, {"instance", "service.name"}} {
				if by != nil && mode != ModeAggregated {
					continue
				}
				for _, missing := range []string{MissingNoData, MissingZero, MissingOne} {
					for k := 1; k <= len(conds); k++ {
						b := Builder{Join: join, Mode: mode, By: by, Missing: missing, Conditions: slices.Clone(conds[:k])}
						expr, err := Compile(&b)
						if err != nil {
							t.Fatalf("%+v: %v", b, err)
						}
						if _, err := ParseExpr(expr); err != nil {
							t.Errorf("%+v compiled to %s: %v", b, expr, err)
						}
						n++
					}
				}
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d combinations tried", n)
	}
}

// FuzzCompile: any form Compile takes, with any names and values, compiles
// to PromQL that parses as an instant vector.
func FuzzCompile(f *testing.F) {
	f.Add("jvm_gc_full_count", "job", "order", "instance", uint8(0), int64(300), 100.0, uint8(0))
	f.Add("http.server.duration", "service.name", `a"b\c`, "区域", uint8(2), int64(5400), -3.5, uint8(7))
	f.Add("m", "\x01", "\n", "x y", uint8(3), int64(1), 1e300, uint8(255))
	f.Fuzz(func(t *testing.T, metric, label, value, by string, op uint8, windowSeconds int64, number float64, settings uint8) {
		window := Duration(time.Duration(windowSeconds%(400*24*3600)) * time.Second)
		filterOps := []string{"=", "!=", "=~", "!~"}
		c := Condition{Metric: metric, Filters: []Filter{{Label: label, Op: filterOps[int(op)%len(filterOps)], Value: value}},
			Aggregation: []string{AggAvg, AggMax, AggMin, AggSum, AggCount}[int(settings)%5], Window: window}
		if settings&8 == 0 {
			c.Threshold = &Threshold{Op: []string{">", ">=", "<", "<=", "==", "!="}[int(op)%6], Value: number}
		} else {
			c.Change = &Change{Direction: []string{Rise, Fall}[int(op)%2], Percent: number, Offset: window}
		}
		b := Builder{Conditions: []Condition{c, c}, Join: []string{JoinAll, JoinAny}[int(settings>>4)%2],
			Missing: []string{MissingNoData, MissingZero, MissingOne}[int(settings>>5)%3]}
		if settings&128 != 0 {
			b.Mode, b.By = ModeAggregated, []string{by}
		}
		expr, err := Compile(&b)
		if err != nil {
			return
		}
		if _, err := ParseExpr(expr); err != nil {
			t.Fatalf("%+v compiled to %s: %v", b, expr, err)
		}
	})
}
