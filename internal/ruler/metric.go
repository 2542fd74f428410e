package ruler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/prometheus/promql"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/intake"
	"github.com/tocsinhq/tocsin/internal/rule"
	"github.com/tocsinhq/tocsin/internal/store"
)

// ingestTimeout bounds handing a rule's alerts to the pipeline.
const ingestTimeout = 30 * time.Second

// evaluate evaluates a metric rule at ts, hands the alerts due to the
// pipeline, and stores the rule's state. A failing query leaves the
// alerts as they were, but those due are still sent: a data source that
// is down does not resolve what was firing.
func (r *Ruler) evaluate(ctx context.Context, id string, ru *run, ts time.Time) {
	r.mu.Lock()
	sr, q, err, set := ru.rule, ru.querier, ru.setupErr, ru.alerts
	r.mu.Unlock()
	if sr == nil {
		r.finish(ru, nil)
		return
	}
	start := time.Now()
	interval := max(sr.Interval.Std(), time.Second)
	timeout := min(r.opts.Timeout, interval)
	if err == nil {
		err = r.query(ctx, sr, q, set, ts, timeout)
	}
	if due := set.due(ts, interval); len(due) > 0 {
		for i := range due {
			r.label(sr, &due[i])
		}
		ictx, cancel := context.WithTimeout(ctx, ingestTimeout)
		_, ierr := r.opts.Sink.Ingest(ictx, due)
		cancel()
		if ierr != nil {
			err = errors.Join(err, fmt.Errorf("hand %d alerts to the pipeline (they are sent again at the next evaluation): %w", len(due), ierr))
		} else {
			set.sent(due, ts, interval)
		}
	}
	took := time.Since(start)
	health, lastErr := HealthOK, ""
	if err != nil {
		health, lastErr = HealthError, err.Error()
		r.opts.Metrics.Failures.WithLabelValues(sr.Name).Inc()
		r.log.Warn("rule evaluation failed", "rule", sr.Name, "err", err)
	}
	r.opts.Metrics.Evaluations.WithLabelValues(string(rule.KindMetric)).Inc()
	r.opts.Metrics.Duration.Observe(took.Seconds())
	r.save(ctx, id, set, ts, took, health, lastErr)
	r.finish(ru, func() {
		ru.evaluated, ru.duration, ru.health, ru.lastError = ts, took, health, lastErr
	})
}

// query runs the rule's expression at ts and steps its alerts.
func (r *Ruler) query(ctx context.Context, sr *store.StoredRule, q Querier, set alertSet, ts time.Time, timeout time.Duration) error {
	if q == nil {
		return errors.New("no metric store to query: start Tocsin with the embedded store or give the rule a data source")
	}
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	vec, err := q.Query(qctx, sr.Expr, ts)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(qctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("the query took longer than %s (the rule's interval bounds it): %w", timeout, err)
		}
		return fmt.Errorf("query: %w", err)
	}
	results, err := r.results(ctx, sr, q, vec, ts)
	if err != nil {
		return err
	}
	set.step(results, ts, sr.For.Std(), sr.KeepFiringFor.Std())
	return nil
}

// results turns the expression's samples into alert label sets, templates
// expanded. Two samples that make the same labels are an error, as in
// Prometheus: the rule could not tell their alerts apart.
func (r *Ruler) results(ctx context.Context, sr *store.StoredRule, q Querier, vec promql.Vector, ts time.Time) ([]result, error) {
	env := r.templateEnv(q)
	out := make([]result, 0, len(vec))
	seen := make(map[alert.Fingerprint]bool, len(vec))
	for _, s := range vec {
		v := s.F
		if s.H != nil {
			v = s.H.Sum
		}
		ls, ann := sr.ExpandTemplates(ctx, s.Metric, v, ts, env)
		fp := ls.Fingerprint()
		if seen[fp] {
			return nil, fmt.Errorf("two series of the result make the same alert %s once the rule's labels are added: keep a label that tells them apart (by (…)) or drop the clashing rule label", ls)
		}
		seen[fp] = true
		out = append(out, result{Labels: ls, Annotations: ann, Value: v})
	}
	return out, nil
}

// templateEnv is what a rule's templates see: Tocsin's public URL, and
// {{ query }} on the rule's data source.
func (r *Ruler) templateEnv(q Querier) rule.TemplateEnv {
	return rule.TemplateEnv{ExternalURL: r.externalURL, Query: q.Query}
}

// label fills in what every alert of a rule carries beyond its labels.
func (r *Ruler) label(sr *store.StoredRule, a *alert.Alert) {
	a.Source = intake.SourceRule
	a.Severity = alert.ParseSeverity(a.Labels.Get("severity"))
	if r.opts.ExternalURL != "" {
		a.GeneratorURL = r.opts.ExternalURL + "/api/v1/rules/" + sr.ID
	}
}

// save stores a rule's state. A rule deleted meanwhile has none to keep.
func (r *Ruler) save(ctx context.Context, id string, set alertSet, ts time.Time, took time.Duration, health, lastErr string) {
	raw, err := set.encode()
	if err == nil {
		err = r.opts.Store.SaveRuleState(ctx, &store.RuleState{RuleID: id, EvaluatedAt: ts, Duration: took,
			Health: health, LastError: lastErr, Active: raw})
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
		r.log.Error("store a rule's state", "rule", id, "err", err)
	}
}
