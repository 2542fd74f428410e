// Package ruler evaluates alert rules: metric rules on a schedule against
// the embedded metric store or an external data source, with Prometheus's
// pending/firing/resolved semantics, and event rules as events arrive. The
// alerts it raises go into the alert pipeline like any other (source
// rule); what it knows of each rule (last evaluation, error, active
// alerts) is kept in the store, so a restart keeps for-timers and firing
// alerts. What a rule is, is package rule's.
package ruler

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/rule"
	"github.com/tocsinhq/tocsin/internal/store"
)

// Store is what the ruler reads and keeps.
type Store interface {
	AllRules(ctx context.Context) ([]*store.StoredRule, error)
	AllRuleStates(ctx context.Context) ([]*store.RuleState, error)
	SaveRuleState(ctx context.Context, st *store.RuleState) error
	GetEvent(ctx context.Context, id string) (*store.Event, error)
	ListEvents(ctx context.Context, f store.EventFilter) ([]*store.Event, string, error)
	GetAlert(ctx context.Context, fp alert.Fingerprint) (*store.StoredAlert, error)
	Meta(ctx context.Context, key string) (string, error)
	SetMeta(ctx context.Context, key, value string) error
}

// Sink takes the alerts rules raise: the dispatcher.
type Sink interface {
	Ingest(ctx context.Context, alerts []alert.Alert) (store.IngestResult, error)
}

// Options are the ruler's dependencies.
type Options struct {
	Store Store
	Sink  Sink
	// Embedded answers rules on the embedded metric store.
	Embedded Querier
	// Datasource returns the Querier of an external data source by id.
	Datasource func(ctx context.Context, id string) (Querier, error)
	// Routes, when set, is told which policy each rule notifies through
	// (rule name → policy id) whenever the rules are loaded.
	Routes func(map[string]string)
	// Concurrency bounds the evaluations running at once; 4 when zero.
	Concurrency int
	// Timeout bounds one evaluation (never more than the rule's
	// interval); 1m when zero.
	Timeout time.Duration
	// ExternalURL is Tocsin's public URL, for $externalURL and the
	// alerts' generator URLs.
	ExternalURL string
	Logger      *slog.Logger
	Now         func() time.Time
	Metrics     *Metrics
}

// Ruler evaluates rules. Load it, then Run it.
type Ruler struct {
	opts        Options
	log         *slog.Logger
	externalURL *url.URL // opts.ExternalURL parsed; nil when unset
	sem         chan struct{}
	wake        chan struct{}

	mu   sync.Mutex // guards runs and each run's fields but its lock-free ones
	runs map[string]*run

	events eventQueue
}

// run is one rule as the ruler keeps it.
type run struct {
	rule    *store.StoredRule
	querier Querier
	// setupErr is why the rule cannot be evaluated (its data source
	// is missing); evaluations report it.
	setupErr error

	next    time.Time // when it is due
	running bool      // an evaluation is under way

	// Its state; the evaluation that is running owns alerts.
	alerts    alertSet
	evaluated time.Time
	duration  time.Duration
	health    string
	lastError string
}

// Status is what the API shows of a rule's evaluation.
type Status struct {
	Health      string        `json:"health"`
	LastError   string        `json:"last_error"`
	EvaluatedAt time.Time     `json:"evaluated_at,omitzero"`
	Duration    time.Duration `json:"-"`
	Pending     int           `json:"pending"`
	Firing      int           `json:"firing"`
}

// Health values.
const (
	HealthUnknown = "unknown"
	HealthOK      = "ok"
	HealthError   = "error"
)

// New returns a ruler.
func New(opts Options) *Ruler {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.Timeout <= 0 {
		opts.Timeout = time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(nil)
	}
	r := &Ruler{opts: opts, log: opts.Logger, sem: make(chan struct{}, opts.Concurrency),
		wake: make(chan struct{}, 1), runs: map[string]*run{}}
	r.events.wake = make(chan struct{}, 1)
	opts.Metrics.ruler = r
	if u, err := url.Parse(opts.ExternalURL); err == nil && opts.ExternalURL != "" {
		r.externalURL = u
	}
	return r
}

// Load reads the rules and their stored states. Call it once before Run;
// Reload after rules or data sources change.
func (r *Ruler) Load(ctx context.Context) error {
	states, err := r.opts.Store.AllRuleStates(ctx)
	if err != nil {
		return fmt.Errorf("load rule states: %w", err)
	}
	r.mu.Lock()
	for _, st := range states {
		set, err := decodeAlertSet(st.Active)
		if err != nil {
			r.log.Warn("a rule's stored alerts do not read; it starts afresh", "rule", st.RuleID, "err", err)
			set = alertSet{}
		}
		r.runs[st.RuleID] = &run{alerts: set, evaluated: st.EvaluatedAt, duration: st.Duration, health: st.Health, lastError: st.LastError}
	}
	r.mu.Unlock()
	return r.Reload(ctx)
}

// Reload re-reads the rules: new ones are scheduled, changed ones take
// effect at their next evaluation with their alerts kept, deleted ones
// stop (their firing alerts end when their last end passes, as when
// Prometheus drops a rule).
func (r *Ruler) Reload(ctx context.Context) error {
	rules, err := r.opts.Store.AllRules(ctx)
	if err != nil {
		return fmt.Errorf("load rules: %w", err)
	}
	queriers := make(map[string]Querier)
	setupErrs := make(map[string]error)
	for _, sr := range rules {
		id := sr.DatasourceID
		if id == "" || queriers[id] != nil || setupErrs[id] != nil {
			continue
		}
		q, err := r.opts.Datasource(ctx, id)
		if err != nil {
			setupErrs[id] = fmt.Errorf("data source %q: %w", sr.Datasource, err)
			continue
		}
		queriers[id] = q
	}
	now := r.opts.Now()
	routes := make(map[string]string)
	r.mu.Lock()
	keep := make(map[string]bool, len(rules))
	for _, sr := range rules {
		keep[sr.ID] = true
		if sr.PolicyID != "" {
			routes[sr.Name] = sr.PolicyID
		}
		ru := r.runs[sr.ID]
		if ru == nil {
			ru = &run{alerts: alertSet{}, health: HealthUnknown}
			r.runs[sr.ID] = ru
		}
		interval := sr.Interval.Std()
		if ru.rule == nil || ru.rule.Interval != sr.Interval {
			ru.next = now.Add(spread(sr.ID, interval))
		}
		ru.rule = sr
		ru.querier, ru.setupErr = r.opts.Embedded, nil
		if sr.DatasourceID != "" {
			ru.querier, ru.setupErr = queriers[sr.DatasourceID], setupErrs[sr.DatasourceID]
		}
	}
	for id, ru := range r.runs {
		if !keep[id] && !ru.running {
			delete(r.runs, id)
		} else if !keep[id] {
			ru.rule = nil // the running evaluation finds it gone
		}
	}
	r.mu.Unlock()
	if r.opts.Routes != nil {
		r.opts.Routes(routes)
	}
	r.poke()
	return nil
}

// spread staggers rules over their interval, so a thousand rules with the
// same interval do not all run at once: the offset is a hash of the id.
func spread(id string, interval time.Duration) time.Duration {
	if interval <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(id))
	return time.Duration(h.Sum64() % uint64(interval))
}

func (r *Ruler) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Status returns the evaluation status of a rule.
func (r *Ruler) Status(id string) Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	ru := r.runs[id]
	if ru == nil {
		return Status{Health: HealthUnknown}
	}
	st := Status{Health: ru.health, LastError: ru.lastError, EvaluatedAt: ru.evaluated, Duration: ru.duration}
	if ru.running {
		// alerts belongs to the evaluation; report what was stored.
		return st
	}
	st.Pending, st.Firing = ru.alerts.counts()
	return st
}

// Run evaluates metric rules as they fall due and event rules as events
// arrive, until ctx ends; it waits for running evaluations before it
// returns.
func (r *Ruler) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { r.eventLoop(ctx) })
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := r.startDue(ctx, &wg)
		timer.Reset(max(next.Sub(r.opts.Now()), 10*time.Millisecond))
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-timer.C:
		case <-r.wake:
		}
	}
}

// startDue starts the evaluations due now (each in its own goroutine,
// waiting for a slot) and returns when the next one falls due. A rule whose
// previous evaluation still runs misses this one (counted), as Prometheus
// skips an iteration.
func (r *Ruler) startDue(ctx context.Context, wg *sync.WaitGroup) time.Time {
	now := r.opts.Now()
	next := now.Add(time.Minute)
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, ru := range r.runs {
		if ru.rule == nil || !ru.rule.Enabled || ru.rule.Kind != rule.KindMetric {
			continue
		}
		interval := max(ru.rule.Interval.Std(), time.Second)
		if ru.next.After(now) {
			next = minTime(next, ru.next)
			continue
		}
		missed := int(now.Sub(ru.next) / interval)
		ru.next = ru.next.Add(time.Duration(missed+1) * interval)
		next = minTime(next, ru.next)
		if ru.running {
			r.opts.Metrics.Missed.Inc()
			continue
		}
		if missed > 0 {
			r.opts.Metrics.Missed.Add(float64(missed))
		}
		ru.running = true
		wg.Go(func() {
			select {
			case r.sem <- struct{}{}:
			case <-ctx.Done():
				r.finish(ru, nil)
				return
			}
			defer func() { <-r.sem }()
			r.evaluate(ctx, id, ru, r.opts.Now())
		})
	}
	return next
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// EvaluateNow evaluates one metric rule at ts and waits for it: for tests
// and benchmarks, which drive time themselves. It reports the evaluation's
// error, as the rule's status does.
func (r *Ruler) EvaluateNow(ctx context.Context, id string, ts time.Time) error {
	r.mu.Lock()
	ru := r.runs[id]
	if ru == nil || ru.rule == nil {
		r.mu.Unlock()
		return fmt.Errorf("rule %s is not loaded", id)
	}
	if ru.running {
		r.mu.Unlock()
		return fmt.Errorf("rule %s is being evaluated", id)
	}
	ru.running = true
	r.mu.Unlock()
	r.evaluate(ctx, id, ru, ts)
	if st := r.Status(id); st.Health == HealthError {
		return errors.New(st.LastError)
	}
	return nil
}

// finish ends an evaluation of ru, recording its outcome when there is
// one.
func (r *Ruler) finish(ru *run, rec func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ru.running = false
	if rec != nil {
		rec()
	}
}
