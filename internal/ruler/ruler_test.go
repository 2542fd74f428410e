package ruler

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/metricstore"
	"github.com/tocsinhq/tocsin/internal/rule"
	"github.com/tocsinhq/tocsin/internal/store"
	"github.com/tocsinhq/tocsin/internal/store/sqlite"
	"github.com/tocsinhq/tocsin/internal/store/storetest"
)

// sink records what the ruler hands the pipeline.
type sink struct {
	mu  sync.Mutex
	got []alert.Alert
}

func (s *sink) Ingest(_ context.Context, as []alert.Alert) (store.IngestResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, as...)
	return store.IngestResult{}, nil
}

// take returns what was handed over since the last take.
func (s *sink) take() []alert.Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.got
	s.got = nil
	return out
}

// rig is a ruler over a fresh SQLite store and embedded metric store.
type rig struct {
	t    testing.TB
	st   *sqlite.DB
	ms   *metricstore.Store
	sink *sink
	r    *Ruler
}

func newRig(t testing.TB) *rig {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "tocsin.db"), storetest.NewBox(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ms, err := metricstore.Open(filepath.Join(dir, "metrics"), metricstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ms.Close() })
	rg := &rig{t: t, st: st, ms: ms, sink: &sink{}}
	rg.r = rg.ruler()
	return rg
}

// ruler returns a new ruler on the rig's stores, as after a restart.
func (rg *rig) ruler() *Ruler {
	return New(Options{Store: rg.st, Sink: rg.sink, Embedded: Engine{Engine: rg.ms.Engine(), Queryable: rg.ms},
		Now: func() time.Time { return t0 }})
}

// addRule decodes, stores and loads a rule.
func (rg *rig) addRule(js string) *rule.Rule {
	rg.t.Helper()
	r, err := rule.Decode([]byte(js))
	if err != nil {
		rg.t.Fatalf("decode rule: %v", err)
	}
	if err := rg.st.CreateRule(context.Background(), &r, "", "", t0); err != nil {
		rg.t.Fatal(err)
	}
	if err := rg.r.Load(context.Background()); err != nil {
		rg.t.Fatal(err)
	}
	return &r
}

// push stores, every 15s from start to end, each series' value at that
// time (timestamp-major, as a scraper would).
func (rg *rig) push(start, end time.Time, series map[string]func(time.Time) float64) {
	rg.t.Helper()
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range series {
			if !yield(k) {
				return
			}
		}
	})
	app := rg.ms.Appender(context.Background())
	for ts := start; !ts.After(end); ts = ts.Add(15 * time.Second) {
		for _, inst := range names {
			ls := labels.FromStrings("__name__", "jvm_gc_full_count", "instance", inst, "job", "jvm")
			if _, err := app.Append(0, ls, ts.UnixMilli(), series[inst](ts)); err != nil {
				rg.t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		rg.t.Fatal(err)
	}
}

// instances lists the instance labels of alerts, firing or resolved at ts.
func instances(as []alert.Alert, ts time.Time, status alert.Status) []string {
	var out []string
	for _, a := range as {
		if a.StatusAt(ts) == status {
			out = append(out, a.Labels.Get("instance"))
		}
	}
	slices.Sort(out)
	return out
}

// TestFormRuleFiresForExactlyTheInstancesThatDoubled is issue 5's
// acceptance case: "avg over 5m of jvm_gc_full_count rose by 100% versus
// 1h earlier, per instance", built with the form, fires for exactly the
// instances whose average doubled and resolves when they return.
func TestFormRuleFiresForExactlyTheInstancesThatDoubled(t *testing.T) {
	rg := newRig(t)
	surge := func(to float64) func(time.Time) float64 {
		return func(ts time.Time) float64 {
			if !ts.Before(t0.Add(-5*time.Minute)) && ts.Before(t0.Add(10*time.Minute)) {
				return to
			}
			return 10
		}
	}
	rg.push(t0.Add(-2*time.Hour), t0.Add(30*time.Minute), map[string]func(time.Time) float64{
		"a": surge(20),                             // doubled: +100%
		"b": surge(25),                             // +150%
		"c": surge(19),                             // +90%: not enough
		"d": func(time.Time) float64 { return 10 }, // steady
	})
	r := rg.addRule(`{
		"name": "JvmFullGcSurge", "severity": "warning",
		"builder": {"conditions": [{"metric": "jvm_gc_full_count", "aggregation": "avg", "window": "5m",
			"change": {"direction": "rise", "percent": 100, "offset": "1h"}}], "mode": "per_series"},
		"annotations": {"summary": "Full GC on {{ $labels.instance }} up {{ $value }}%"}
	}`)
	if r.Expr == "" {
		t.Fatal("the form compiled to no expression")
	}

	if err := rg.r.EvaluateNow(context.Background(), r.ID, t0); err != nil {
		t.Fatalf("evaluate: %v", err)
	}
	got := rg.sink.take()
	if fired := instances(got, t0, alert.Firing); !slices.Equal(fired, []string{"a", "b"}) {
		t.Fatalf("fired for %v, want a and b; expr %s", fired, r.Expr)
	}
	for _, a := range got {
		if a.Name() != "JvmFullGcSurge" || a.Source != "rule" || a.Labels.Get("severity") != "warning" {
			t.Errorf("alert %v from %q, want alertname JvmFullGcSurge, severity warning, source rule", a.Labels, a.Source)
		}
		if a.Labels.Get("instance") == "a" && a.Annotations.Get("summary") != "Full GC on a up 100%" {
			t.Errorf("summary %q, want the templated value", a.Annotations.Get("summary"))
		}
	}

	// A restart keeps the firing alerts: nothing is sent again within
	// the resend delay, and they resolve when the instances return.
	rg.r = rg.ruler()
	if err := rg.r.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := rg.r.EvaluateNow(context.Background(), r.ID, t0.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := rg.sink.take(); len(got) != 0 {
		t.Errorf("after a restart, 30s on, %d alerts sent again, want none (resend delay 1m)", len(got))
	}
	back := t0.Add(20 * time.Minute)
	if err := rg.r.EvaluateNow(context.Background(), r.ID, back); err != nil {
		t.Fatal(err)
	}
	got = rg.sink.take()
	if resolved := instances(got, back, alert.Resolved); !slices.Equal(resolved, []string{"a", "b"}) {
		t.Errorf("resolved %v, want a and b", resolved)
	}
	if fired := instances(got, back, alert.Firing); len(fired) != 0 {
		t.Errorf("still firing: %v", fired)
	}
	if st := rg.r.Status(r.ID); st.Health != HealthOK || st.Firing != 0 {
		t.Errorf("status %+v, want ok with nothing firing", st)
	}
}

// failing is a data source that is down.
type failing struct{}

func (failing) Query(context.Context, string, time.Time) (promql.Vector, error) {
	return nil, errors.New("connection refused")
}

func (failing) QueryRange(context.Context, string, time.Time, time.Time, time.Duration) (promql.Matrix, error) {
	return nil, errors.New("connection refused")
}

// TestFailingRuleIsMarkedAndOthersGoOn: a rule whose data source fails is
// marked with its error, stored and counted; another rule evaluates
// regardless, and the failing rule's firing alerts are kept alive.
func TestFailingRuleIsMarkedAndOthersGoOn(t *testing.T) {
	rg := newRig(t)
	rg.push(t0.Add(-10*time.Minute), t0.Add(10*time.Minute), map[string]func(time.Time) float64{"a": func(time.Time) float64 { return 1 }})
	down := false
	rg.r.opts.Datasource = func(context.Context, string) (Querier, error) {
		if down {
			return failing{}, nil
		}
		return rg.r.opts.Embedded, nil
	}
	ds := storetest.NewDatasource("remote")
	if err := rg.st.CreateDatasource(context.Background(), ds, t0); err != nil {
		t.Fatal(err)
	}
	remote, err := rule.Decode([]byte(`{"name": "Remote", "expr": "jvm_gc_full_count > 0", "datasource": "remote"}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := rg.st.CreateRule(context.Background(), &remote, "", ds.ID, t0); err != nil {
		t.Fatal(err)
	}
	local := rg.addRule(`{"name": "Local", "expr": "jvm_gc_full_count > 0"}`)
	if err := rg.r.EvaluateNow(context.Background(), remote.ID, t0); err != nil {
		t.Fatalf("evaluate while the source is up: %v", err)
	}
	rg.sink.take()

	down = true
	if err := rg.r.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	later := t0.Add(2 * time.Minute)
	if err := rg.r.EvaluateNow(context.Background(), remote.ID, later); err == nil {
		t.Fatal("the rule on a source that is down evaluated without an error")
	}
	if st := rg.r.Status(remote.ID); st.Health != HealthError || !strings.Contains(st.LastError, "connection refused") || st.Firing != 1 {
		t.Errorf("failing rule status %+v, want error naming the cause, its alert still firing", st)
	}
	stored, err := rg.st.RuleState(context.Background(), remote.ID)
	if err != nil || stored.Health != HealthError || !strings.Contains(stored.LastError, "connection refused") {
		t.Errorf("stored state %+v, %v; want the error kept", stored, err)
	}
	// Its firing alert is sent again (the resend delay passed), so a
	// source that is down does not resolve it.
	if got := instances(rg.sink.take(), later, alert.Firing); !slices.Equal(got, []string{"a"}) {
		t.Errorf("while the source is down, firing alerts sent %v, want a kept alive", got)
	}
	if n := testutil.ToFloat64(rg.r.opts.Metrics.Failures.WithLabelValues("Remote")); n != 1 {
		t.Errorf("failures counted %v, want 1", n)
	}
	if err := rg.r.EvaluateNow(context.Background(), local.ID, later); err != nil {
		t.Fatalf("the other rule: %v", err)
	}
	if got := instances(rg.sink.take(), later, alert.Firing); !slices.Equal(got, []string{"a"}) {
		t.Errorf("the other rule fired for %v, want a", got)
	}
}
