package ruler

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/rule"
	"github.com/tocsinhq/tocsin/internal/store"
)

// discard is a pipeline that takes everything at once.
type discard struct{}

func (discard) Ingest(context.Context, []alert.Alert) (store.IngestResult, error) {
	return store.IngestResult{}, nil
}

// BenchmarkEvaluate1000RulesOver100kSeries evaluates 1,000 rules, each
// averaging its own 100 of 100,000 series over 5 minutes (4.1 million
// samples in the embedded store), 4 at a time, state stored in SQLite
// after each evaluation as in production. About half of each rule's
// series are above the threshold, so the first round raises 50,000
// alerts. One op is one round of all 1,000 rules.
func BenchmarkEvaluate1000RulesOver100kSeries(b *testing.B) {
	const (
		services  = 1000
		instances = 100
	)
	rg := newRig(b)
	rg.r = New(Options{Store: rg.st, Sink: discard{}, Embedded: Engine{Engine: rg.ms.Engine(), Queryable: rg.ms},
		Concurrency: 4, Now: func() time.Time { return t0 }})

	app := rg.ms.Appender(context.Background())
	series := make([]labels.Labels, 0, services*instances)
	for s := range services {
		for i := range instances {
			series = append(series, labels.FromStrings("__name__", "bench_requests", "service", fmt.Sprintf("s%d", s), "instance", fmt.Sprintf("i%d", i)))
		}
	}
	for at := t0.Add(-10 * time.Minute); !at.After(t0); at = at.Add(15 * time.Second) {
		for k, ls := range series {
			if _, err := app.Append(0, ls, at.UnixMilli(), float64((k*7)%100)); err != nil {
				b.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
		app = rg.ms.Appender(context.Background())
	}
	ids := make([]string, services)
	for s := range services {
		r, err := rule.Decode(fmt.Appendf(nil, `{"name": "Busy%d", "expr": "avg_over_time(bench_requests{service=\"s%d\"}[5m]) > 50", "interval": "1m"}`, s, s))
		if err != nil {
			b.Fatal(err)
		}
		if err := rg.st.CreateRule(context.Background(), &r, "", "", t0); err != nil {
			b.Fatal(err)
		}
		ids[s] = r.ID
	}
	if err := rg.r.Load(context.Background()); err != nil {
		b.Fatal(err)
	}
	round := func() {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 4)
		for _, id := range ids {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if err := rg.r.EvaluateNow(context.Background(), id, t0); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
	}
	b.ResetTimer()
	for b.Loop() {
		round()
	}
	b.ReportMetric(float64(services*b.N)/b.Elapsed().Seconds(), "rules/s")
	if pending, firing := rg.r.opts.Metrics.count(false), rg.r.opts.Metrics.count(true); pending != 0 || firing == 0 {
		b.Fatalf("%v pending, %v firing; want alerts firing", pending, firing)
	}
}
