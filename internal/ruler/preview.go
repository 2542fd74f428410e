package ruler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/rule"
	"github.com/tocsinhq/tocsin/internal/store"
)

// PreviewWindow is how far back a preview looks.
const PreviewWindow = time.Hour

// Preview is what a rule would do: the alerts it gives now and, over the
// last hour, when each would have been active and fired.
type Preview struct {
	// Expr is the PromQL evaluated (a builder's compiled form); empty for
	// event rules.
	Expr  string    `json:"expr,omitempty"`
	At    time.Time `json:"at"`
	Start time.Time `json:"start"`
	// Step is the spacing of the hour's evaluations (the rule's interval,
	// at least 15s); empty for event rules, which replay the hour's events.
	Step string `json:"step,omitempty"`
	// Now lists the alerts the rule gives at At: firing, or pending when
	// they have not yet held for the rule's for.
	Now []PreviewAlert `json:"now"`
	// History lists, per alert, the periods of the last hour it was
	// active and when in each it fired (none when it did not last for
	// the rule's for).
	History []PreviewSeries `json:"history"`
	// Events is how many events of the hour an event rule's conditions
	// were checked against.
	Events int `json:"events,omitempty"`
}

// PreviewAlert is one alert a rule gives now.
type PreviewAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	Value       float64           `json:"value"`
	State       string            `json:"state"`
}

// PreviewSeries is one alert's history over the preview window.
type PreviewSeries struct {
	Labels  map[string]string `json:"labels"`
	Periods []Period          `json:"periods"`
}

// Period is a stretch of time an alert was active.
type Period struct {
	Start time.Time `json:"start"`
	// End is when it stopped; zero when it still is.
	End time.Time `json:"end,omitzero"`
	// FiresAt is when it fired (Start + for); zero when it ended first.
	FiresAt time.Time `json:"fires_at,omitzero"`
}

// Preview evaluates r, which need not be stored, at now and over the hour
// before: a metric rule on the data source datasourceID (the embedded
// store when ""), an event rule on the hour's stored events.
func (rl *Ruler) Preview(ctx context.Context, r *rule.Rule, datasourceID string, now time.Time) (*Preview, error) {
	if r.Kind == rule.KindEvent {
		return rl.previewEvents(ctx, r, now)
	}
	q := rl.opts.Embedded
	if datasourceID != "" {
		var err error
		if q, err = rl.opts.Datasource(ctx, datasourceID); err != nil {
			return nil, fmt.Errorf("data source %q: %w", r.Datasource, err)
		}
	}
	if q == nil {
		return nil, errors.New("no metric store to query")
	}
	step := max(r.Interval.Std(), 15*time.Second)
	start := now.Add(-PreviewWindow)
	p := &Preview{Expr: r.Expr, At: now, Start: start, Step: step.String(), Now: []PreviewAlert{}, History: []PreviewSeries{}}
	timeout := rl.opts.Timeout
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	m, err := q.QueryRange(qctx, r.Expr, start, now, step)
	if err != nil {
		return nil, fmt.Errorf("query the last hour: %w", err)
	}
	sr := &store.StoredRule{Rule: *r}
	firingNow := map[alert.Fingerprint]bool{}
	for _, s := range m {
		var pts []time.Time
		var last float64
		for _, f := range s.Floats {
			pts = append(pts, time.UnixMilli(f.T).UTC())
			last = f.F
		}
		for _, h := range s.Histograms {
			pts = append(pts, time.UnixMilli(h.T).UTC())
			last = h.H.Sum
		}
		if len(pts) == 0 {
			continue
		}
		slices.SortFunc(pts, time.Time.Compare)
		ls, _ := r.ExpandTemplates(ctx, s.Metric, last, now, rl.templateEnv(q))
		periods := periodsOf(pts, step, r.For.Std(), now)
		if lastP := periods[len(periods)-1]; lastP.End.IsZero() && !lastP.FiresAt.IsZero() {
			firingNow[ls.Fingerprint()] = true
		}
		p.History = append(p.History, PreviewSeries{Labels: ls.Map(), Periods: periods})
	}
	vec, err := q.Query(qctx, r.Expr, now)
	if err != nil {
		return nil, fmt.Errorf("query now: %w", err)
	}
	results, err := rl.results(ctx, sr, q, vec, now)
	if err != nil {
		return nil, err
	}
	for _, res := range results {
		state := statePending
		if r.For.Std() == 0 || firingNow[res.Labels.Fingerprint()] {
			state = stateFiring
		}
		p.Now = append(p.Now, PreviewAlert{Labels: res.Labels.Map(), Annotations: res.Annotations.Map(), Value: res.Value, State: state})
	}
	slices.SortFunc(p.Now, func(a, b PreviewAlert) int { return strings.Compare(fmtMap(a.Labels), fmtMap(b.Labels)) })
	slices.SortFunc(p.History, func(a, b PreviewSeries) int { return strings.Compare(fmtMap(a.Labels), fmtMap(b.Labels)) })
	return p, nil
}

func fmtMap(m map[string]string) string { return alert.FromMap(m).String() }

// periodsOf turns the evaluation times a series was present at (sorted,
// step apart when consecutive) into periods, each firing hold after its
// start if it lasted that long. A period whose last point is the final
// evaluation (within a step of now) is still open.
func periodsOf(pts []time.Time, step, hold time.Duration, now time.Time) []Period {
	var out []Period
	start, prev := pts[0], pts[0]
	closeAt := func(last time.Time, end time.Time) {
		p := Period{Start: start, End: end}
		if last.Sub(start) >= hold {
			p.FiresAt = start.Add(hold)
		}
		out = append(out, p)
	}
	for _, t := range pts[1:] {
		if t.Sub(prev) > step {
			closeAt(prev, prev.Add(step))
			start = t
		}
		prev = t
	}
	end := prev.Add(step)
	if now.Sub(prev) < step {
		end = time.Time{}
	}
	closeAt(prev, end)
	return out
}

// previewEvents replays the last hour's events through an event rule.
func (rl *Ruler) previewEvents(ctx context.Context, r *rule.Rule, now time.Time) (*Preview, error) {
	start := now.Add(-PreviewWindow)
	p := &Preview{At: now, Start: start, Now: []PreviewAlert{}, History: []PreviewSeries{}}
	var evs []*store.Event
	cursor := ""
	for {
		page, next, err := rl.opts.Store.ListEvents(ctx, store.EventFilter{Since: start, Until: now.Add(time.Millisecond), Limit: 500, Cursor: cursor})
		if err != nil {
			return nil, fmt.Errorf("read the hour's events: %w", err)
		}
		evs = append(evs, page...)
		if next == "" || len(evs) >= 100_000 {
			break
		}
		cursor = next
	}
	slices.Reverse(evs) // oldest first
	p.Events = len(evs)
	type open struct {
		a       alert.Alert
		periods []Period
	}
	byFP := map[alert.Fingerprint]*open{}
	var order []alert.Fingerprint
	for _, ev := range evs {
		ie := asIntake(ev)
		raise, resolve := r.Match.Matches(&ie)
		if !raise && !resolve {
			continue
		}
		a, _ := r.EventAlert(&ie, ev.ID)
		fp := a.Labels.Fingerprint()
		o := byFP[fp]
		if raise {
			if o == nil {
				o = &open{}
				byFP[fp] = o
				order = append(order, fp)
			}
			if n := len(o.periods); n == 0 || ended(o.periods[n-1], ev.Time) {
				o.periods = append(o.periods, Period{Start: ev.Time, FiresAt: ev.Time})
			}
			// A raise again moves the end on (or leaves it open).
			o.periods[len(o.periods)-1].End = a.EndsAt
			o.a = a
		} else if o != nil {
			if last := &o.periods[len(o.periods)-1]; !ended(*last, ev.Time) {
				last.End = ev.Time
			}
		}
	}
	for _, fp := range order {
		o := byFP[fp]
		p.History = append(p.History, PreviewSeries{Labels: o.a.Labels.Map(), Periods: o.periods})
		if last := o.periods[len(o.periods)-1]; last.End.IsZero() || last.End.After(now) {
			p.Now = append(p.Now, PreviewAlert{Labels: o.a.Labels.Map(), Annotations: o.a.Annotations.Map(), State: stateFiring})
		}
	}
	return p, nil
}

// ended reports whether p had ended by t.
func ended(p Period, t time.Time) bool { return !p.End.IsZero() && !p.End.After(t) }
