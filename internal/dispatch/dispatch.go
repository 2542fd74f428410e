// Package dispatch is the alert pipeline between intake and the outbox:
// it routes received alerts to their policies' groups and commits them (many
// concurrent requests in one transaction), checks groups when their timers
// fall due, and turns a group's decision into deliveries committed with the
// group's new state. What it decides comes from package route; what it keeps
// is in the store; sending is the outbox's.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/contact"
	"github.com/tocsinhq/tocsin/internal/intake"
	"github.com/tocsinhq/tocsin/internal/route"
	"github.com/tocsinhq/tocsin/internal/store"
)

// Store is what the dispatcher keeps and reads.
type Store interface {
	store.Pipeline
	GetContactGroup(ctx context.Context, id string) (*contact.Group, error)
	GetContact(ctx context.Context, id string) (*contact.Contact, error)
	GetContactByName(ctx context.Context, name string) (*contact.Contact, error)
}

// Options are the dispatcher's dependencies.
type Options struct {
	Store Store
	// Policies loads every notification policy, sorted by position.
	Policies func(ctx context.Context) ([]route.Policy, error)
	// Silences loads the silences not yet expired at now.
	Silences func(ctx context.Context, now time.Time) ([]route.Silence, error)
	// InhibitRules are the inhibition rules.
	InhibitRules []route.InhibitRule
	// ResolveTimeout ends alerts sent without an end this long after they
	// were last received (Alertmanager's resolve_timeout); 5m when zero.
	ResolveTimeout time.Duration
	// Enqueued is told which channels got new deliveries (the outbox wakes
	// their workers).
	Enqueued func(channelIDs []string)
	Logger   *slog.Logger
	Now      func() time.Time
	// Metrics, when set, counts what the dispatcher does.
	Metrics *Metrics
}

// DefaultResolveTimeout is Alertmanager's resolve_timeout default.
const DefaultResolveTimeout = 5 * time.Minute

// NotificationTimeout ends a firing alert received from a sender of
// notifications (Grafana's contact point), which says when an alert
// resolves and does not re-send it meanwhile, should the resolved notice
// never come: a week.
const NotificationTimeout = 7 * 24 * time.Hour

// maxBatch bounds how many alerts one intake transaction carries.
const maxBatch = 20000

// Dispatcher routes, groups and enqueues. Start it with Run.
type Dispatcher struct {
	opts    Options
	log     *slog.Logger
	ingests chan *ingestReq
	// wake tells the group loop a group was created that may be due
	// before the time it sleeps until.
	wake chan time.Time

	mu       sync.RWMutex // guards the caches below
	policies []route.Policy
	byID     map[string]*route.Policy
	silences []route.Silence
	// ruleRoutes maps rule names to the policies they notify through.
	ruleRoutes map[string]string
	// sources are the alerts that may inhibit others (they match an
	// inhibition rule's source matchers), kept as received; sourceList is
	// the same as a slice, rebuilt when sources change.
	sources    map[alert.Fingerprint]alert.Alert
	sourceList []alert.Alert
}

type ingestReq struct {
	batch []store.IncomingAlert
	done  chan ingestDone
}

type ingestDone struct {
	res store.IngestResult
	err error
}

// New returns a dispatcher; Load must succeed before Ingest is called.
func New(opts Options) *Dispatcher {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ResolveTimeout <= 0 {
		opts.ResolveTimeout = DefaultResolveTimeout
	}
	if opts.Enqueued == nil {
		opts.Enqueued = func([]string) {}
	}
	return &Dispatcher{
		opts:    opts,
		log:     opts.Logger.With("component", "dispatch"),
		ingests: make(chan *ingestReq, 256),
		wake:    make(chan time.Time, 1),
	}
}

// Load reads the policies and silences into the dispatcher's caches. Call
// it once before Run, and again (ReloadPolicies, ReloadSilences) whenever
// they change.
func (d *Dispatcher) Load(ctx context.Context) error {
	return errors.Join(d.ReloadPolicies(ctx), d.ReloadSilences(ctx), d.loadSources(ctx))
}

// loadSources reads the firing alerts that may inhibit others.
func (d *Dispatcher) loadSources(ctx context.Context) error {
	if len(d.opts.InhibitRules) == 0 {
		return nil
	}
	var found []alert.Alert
	err := d.opts.Store.EachActiveAlert(ctx, d.opts.Now(), func(a *store.StoredAlert) error {
		if d.isSource(a.Labels) {
			found = append(found, a.Alert)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("load inhibiting alerts: %w", err)
	}
	d.noteSources(found)
	return nil
}

func (d *Dispatcher) isSource(ls alert.Labels) bool {
	for i := range d.opts.InhibitRules {
		if d.opts.InhibitRules[i].SourceMatchers.Matches(ls) {
			return true
		}
	}
	return false
}

// noteSources records received alerts that may inhibit others, with the
// end the store gave them.
func (d *Dispatcher) noteSources(as []alert.Alert) {
	if len(as) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sources == nil {
		d.sources = map[alert.Fingerprint]alert.Alert{}
	}
	for _, a := range as {
		d.sources[a.Fingerprint] = a
	}
	d.sourceList = d.sourceList[:0]
	for _, a := range d.sources {
		d.sourceList = append(d.sourceList, a)
	}
}

// ReloadPolicies re-reads the policies.
func (d *Dispatcher) ReloadPolicies(ctx context.Context) error {
	ps, err := d.opts.Policies(ctx)
	if err != nil {
		return fmt.Errorf("load policies: %w", err)
	}
	byID := make(map[string]*route.Policy, len(ps))
	for i := range ps {
		byID[ps[i].ID] = &ps[i]
	}
	d.mu.Lock()
	d.policies, d.byID = ps, byID
	d.mu.Unlock()
	return nil
}

// SetRuleRoutes sets the policies rules notify through: rule name →
// policy id. An alert a rule raised (source rule, alertname the rule's
// name) goes to its rule's policy alone instead of the policies its labels
// select.
func (d *Dispatcher) SetRuleRoutes(routes map[string]string) {
	d.mu.Lock()
	d.ruleRoutes = routes
	d.mu.Unlock()
}

// routes returns the policies an alert goes to: its rule's, when a rule
// raised it and names one that exists, else those its labels select.
// Call it with d.mu held.
func (d *Dispatcher) routes(a *alert.Alert) []*route.Policy {
	if a.Source == intake.SourceRule {
		if p := d.byID[d.ruleRoutes[a.Name()]]; p != nil {
			return []*route.Policy{p}
		}
	}
	return route.Route(d.policies, a.Labels)
}

// ReloadSilences re-reads the silences.
func (d *Dispatcher) ReloadSilences(ctx context.Context) error {
	ss, err := d.opts.Silences(ctx, d.opts.Now())
	if err != nil {
		return fmt.Errorf("load silences: %w", err)
	}
	d.mu.Lock()
	d.silences = ss
	d.mu.Unlock()
	return nil
}

// Run commits ingested batches and checks groups until ctx ends. It returns
// once both loops have stopped; batches waiting when ctx ends are refused
// with an error, never half-written.
func (d *Dispatcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { d.writeLoop(ctx) })
	wg.Go(func() { d.groupLoop(ctx) })
	wg.Go(func() { d.silenceLoop(ctx) })
	wg.Wait()
	return nil
}

// silenceLoop re-reads silences now and then, so silences other replicas
// made, and silences that started, take effect.
func (d *Dispatcher) silenceLoop(ctx context.Context) {
	t := time.NewTicker(15 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := d.ReloadSilences(ctx); err != nil && ctx.Err() == nil {
				d.log.Warn("reloading silences failed", "err", err)
			}
		}
	}
}

// Ingest routes alerts (each with its Fingerprint set or not) and commits
// them. When it returns nil, the alerts are durably stored and every group
// they start is scheduled: a crash from then on loses nothing.
func (d *Dispatcher) Ingest(ctx context.Context, alerts []alert.Alert) (store.IngestResult, error) {
	if len(alerts) == 0 {
		return store.IngestResult{}, nil
	}
	now := d.opts.Now()
	batch := make([]store.IncomingAlert, len(alerts))
	d.mu.RLock()
	for i, a := range alerts {
		if a.Fingerprint == 0 {
			a.Fingerprint = a.Labels.Fingerprint()
		}
		if a.EndsAt.IsZero() && a.Source == intake.SourceGrafana {
			// Grafana re-sends a firing alert only at its repeat
			// interval (4h by default) and says when it resolves: the
			// resolve timeout would end it early.
			a.EndsAt = now.Add(NotificationTimeout)
		}
		batch[i].Alert = a
		for _, p := range d.routes(&a) {
			gl, key := p.Group(a.Labels)
			batch[i].Groups = append(batch[i].Groups, store.GroupRef{
				Key: key, PolicyID: p.ID, Labels: gl, Start: route.StartGroup(p, now),
			})
		}
	}
	d.mu.RUnlock()
	req := &ingestReq{batch: batch, done: make(chan ingestDone, 1)}
	select {
	case d.ingests <- req:
	case <-ctx.Done():
		return store.IngestResult{}, ctx.Err()
	}
	select {
	case r := <-req.done:
		return r.res, r.err
	case <-ctx.Done():
		// The batch may still commit; the sender will retry and a resend
		// only refreshes.
		return store.IngestResult{}, ctx.Err()
	}
}

// writeLoop is the group commit: it takes every batch waiting and commits
// them in one transaction, so concurrent senders share the cost of a
// durable commit.
func (d *Dispatcher) writeLoop(ctx context.Context) {
	for {
		var reqs []*ingestReq
		select {
		case <-ctx.Done():
			d.refuseWaiting()
			return
		case r := <-d.ingests:
			reqs = append(reqs, r)
		}
		n := len(reqs[0].batch)
	more:
		for n < maxBatch {
			select {
			case r := <-d.ingests:
				reqs = append(reqs, r)
				n += len(r.batch)
			default:
				break more
			}
		}
		batch := reqs[0].batch
		if len(reqs) > 1 {
			batch = make([]store.IncomingAlert, 0, n)
			for _, r := range reqs {
				batch = append(batch, r.batch...)
			}
		}
		// The commit runs to completion even when ctx ends meanwhile:
		// senders waiting on it get a true answer.
		res, err := d.opts.Store.IngestAlerts(context.WithoutCancel(ctx), batch, d.opts.Now(), d.opts.ResolveTimeout)
		if err != nil {
			d.log.Error("storing received alerts failed", "alerts", len(batch), "err", err)
			err = fmt.Errorf("store alerts: %w", err)
		}
		d.opts.Metrics.ingested(res, len(reqs))
		if err == nil && len(d.opts.InhibitRules) > 0 {
			var src []alert.Alert
			for _, in := range batch {
				if d.isSource(in.Alert.Labels) {
					a := in.Alert
					if a.EndsAt.IsZero() {
						a.EndsAt = d.opts.Now().Add(d.opts.ResolveTimeout)
					}
					src = append(src, a)
				}
			}
			d.noteSources(src)
		}
		from := 0
		for _, r := range reqs {
			r.done <- ingestDone{res: share(res, from, r.batch), err: err}
			from += len(r.batch)
		}
		if err == nil && len(res.NewGroups) > 0 {
			earliest := res.NewGroups[0].At
			for _, g := range res.NewGroups[1:] {
				if g.At.Before(earliest) {
					earliest = g.At
				}
			}
			d.wakeAt(earliest)
		}
	}
}

// share returns what res, the result of a commit of several requests'
// batches one after another, says of one of them: batch, which starts at
// from. Each caller hears of its own alerts, and of the new groups its
// alerts are in.
func share(res store.IngestResult, from int, batch []store.IncomingAlert) store.IngestResult {
	var out store.IngestResult
	for _, c := range res.Changes {
		if c.Index < from || c.Index >= from+len(batch) {
			continue
		}
		c.Index -= from
		out.Changes = append(out.Changes, c)
		switch c.Kind {
		case store.EventFired:
			out.New++
		case store.EventRefired:
			out.Refired++
		case store.EventResolved:
			out.Resolved++
		}
	}
	out.Refreshed = len(batch) - len(out.Changes)
	keys := map[string]bool{}
	for _, in := range batch {
		for _, g := range in.Groups {
			keys[g.Key] = true
		}
	}
	for _, g := range res.NewGroups {
		if keys[g.Key] {
			out.NewGroups = append(out.NewGroups, g)
		}
	}
	return out
}

func (d *Dispatcher) refuseWaiting() {
	for {
		select {
		case r := <-d.ingests:
			r.done <- ingestDone{err: errors.New("tocsin is shutting down: send again")}
		default:
			return
		}
	}
}

// wakeAt tells the group loop a group falls due at t.
func (d *Dispatcher) wakeAt(t time.Time) {
	for {
		select {
		case d.wake <- t:
			return
		default:
		}
		// A wake is pending: keep the earlier of the two.
		select {
		case old := <-d.wake:
			if old.Before(t) {
				t = old
			}
		default:
		}
	}
}

// groupLoop checks groups as they fall due.
func (d *Dispatcher) groupLoop(ctx context.Context) {
	const idle = time.Minute // re-read the schedule at least this often
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case t := <-d.wake:
			if wait := t.Sub(d.opts.Now()); wait > 0 {
				timer.Reset(wait)
				continue
			}
		}
		next, err := d.CheckGroups(ctx)
		wait := idle
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			d.log.Error("checking groups failed; trying again shortly", "err", err)
			wait = time.Second
		case !next.IsZero():
			wait = min(idle, max(0, next.Sub(d.opts.Now())))
		}
		timer.Reset(wait)
	}
}

// CheckGroups checks every group due now and returns when the next one
// falls due (zero when no group exists).
func (d *Dispatcher) CheckGroups(ctx context.Context) (time.Time, error) {
	for {
		now := d.opts.Now()
		due, next, err := d.opts.Store.NextGroupCheck(ctx, now, 100)
		if err != nil {
			return time.Time{}, err
		}
		if len(due) == 0 {
			return next, nil
		}
		for _, key := range due {
			if err := d.flush(ctx, key, now); err != nil {
				return time.Time{}, fmt.Errorf("check group %s: %w", key, err)
			}
		}
	}
}

// flush checks one group.
func (d *Dispatcher) flush(ctx context.Context, key string, now time.Time) error {
	var channels []string
	err := d.opts.Store.FlushGroup(ctx, key, now, func(g *store.StoredGroup, members []*store.StoredAlert) (store.GroupPlan, error) {
		channels = channels[:0]
		plan, err := d.plan(ctx, g, members, now)
		for _, del := range plan.Deliveries {
			channels = append(channels, del.ChannelID)
		}
		return plan, err
	})
	if err != nil {
		return err
	}
	if len(channels) > 0 {
		d.opts.Enqueued(channels)
	}
	return nil
}

// suppressed says why an alert notifies no one now, or "".
func (d *Dispatcher) suppressed(a *store.StoredAlert, now time.Time) string {
	switch a.State {
	case alert.Cleared:
		return "cleared by " + a.StateBy
	}
	for i := range d.silences {
		s := &d.silences[i]
		if s.State(now) == route.SilenceActive && s.Matches(a.Labels) {
			return "silenced by " + s.ID
		}
	}
	if len(d.sources) > 0 {
		if by, ok := route.Inhibited(d.opts.InhibitRules, d.sourceList, a.Labels, now); ok {
			return "inhibited by " + by.String()
		}
	}
	return ""
}

// plan decides what a group does at now: route.GroupState.Decide over its
// members minus the suppressed ones, then one delivery per target channel.
func (d *Dispatcher) plan(ctx context.Context, g *store.StoredGroup, members []*store.StoredAlert, now time.Time) (store.GroupPlan, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	p := d.byID[g.PolicyID]
	if p == nil {
		// The policy was deleted: its groups end unheard; the alerts
		// find their new policies when next received.
		return store.GroupPlan{Drop: true}, nil
	}
	var (
		plan   store.GroupPlan
		alerts []alert.Alert
	)
	for _, a := range members {
		if !slices.Contains(d.routes(&a.Alert), p) || p.GroupKey(a.Labels) != g.Key {
			plan.Forget = append(plan.Forget, a.Fingerprint)
			continue
		}
		if why := d.suppressed(a, now); why != "" {
			continue
		}
		alerts = append(alerts, a.Alert)
	}
	dec := g.State.Decide(p, alerts, now)
	plan.Drop, plan.State = dec.Drop, dec.Next
	d.opts.Metrics.decided(dec)
	if !dec.Notify {
		return plan, nil
	}
	targets, people, err := d.targets(ctx, p, announcing(dec, g.State.Firing))
	if err != nil {
		return store.GroupPlan{}, err
	}
	for _, ch := range targets {
		del, err := newGroupDelivery(ch, g, p, dec, people)
		if err != nil {
			return store.GroupPlan{}, err
		}
		plan.Deliveries = append(plan.Deliveries, del)
	}
	return plan, nil
}
