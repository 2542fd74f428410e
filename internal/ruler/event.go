package ruler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/intake"
	"github.com/tocsinhq/tocsin/internal/rule"
	"github.com/tocsinhq/tocsin/internal/store"
)

// eventsMarkKey is the meta key of the id of the last event the event
// rules checked: a start checks the events stored after it (received, but
// not checked before a crash).
const eventsMarkKey = "rule_events_mark"

// eventQueue holds the ids of events waiting to be checked.
type eventQueue struct {
	mu   sync.Mutex
	ids  []string
	wake chan struct{}
}

// EventsReceived queues newly stored events for the event rules; it never
// blocks. (httpapi.Options.EventsReceived.)
func (r *Ruler) EventsReceived(ids []string) {
	r.events.mu.Lock()
	r.events.ids = append(r.events.ids, ids...)
	r.events.mu.Unlock()
	select {
	case r.events.wake <- struct{}{}:
	default:
	}
}

func (r *Ruler) takeEvents() []string {
	r.events.mu.Lock()
	defer r.events.mu.Unlock()
	ids := r.events.ids
	r.events.ids = nil
	return ids
}

// eventLoop checks events against the event rules as they arrive, after
// catching up with those stored since the mark. A failure (the pipeline
// refusing, the store down) is retried with backoff; events are never
// dropped.
func (r *Ruler) eventLoop(ctx context.Context) {
	backoff := time.Second
	pending, caughtUp := []string(nil), false
	for {
		var err error
		if !caughtUp {
			var missed []string
			if missed, err = r.missedEvents(ctx); err == nil {
				pending, caughtUp = append(missed, pending...), true
			}
		}
		if err == nil {
			pending = append(pending, r.takeEvents()...)
			if len(pending) > 0 {
				err = r.CheckEvents(ctx, pending)
			}
		}
		wait := time.Duration(0)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.log.Error("check events against the event rules; retrying", "events", len(pending), "err", err, "in", backoff)
			wait, backoff = backoff, min(2*backoff, time.Minute)
		} else {
			pending, backoff = nil, time.Second
		}
		if wait == 0 {
			select {
			case <-ctx.Done():
				return
			case <-r.events.wake:
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// missedEvents returns, oldest first, the ids of events stored after the
// mark. On the very first start there is no mark: events from before are
// not checked, and the mark starts at the newest.
func (r *Ruler) missedEvents(ctx context.Context) ([]string, error) {
	mark, err := r.opts.Store.Meta(ctx, eventsMarkKey)
	if errors.Is(err, store.ErrNotFound) {
		evs, _, err := r.opts.Store.ListEvents(ctx, store.EventFilter{Limit: 1})
		if err != nil {
			return nil, err
		}
		// "0" sorts before every id: with no events yet, every event
		// from now on is after the mark.
		mark := "0"
		if len(evs) > 0 {
			mark = evs[0].ID
		}
		return nil, r.opts.Store.SetMeta(ctx, eventsMarkKey, mark)
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	cursor := ""
	for {
		evs, next, err := r.opts.Store.ListEvents(ctx, store.EventFilter{Limit: 500, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		for _, ev := range evs {
			if ev.ID <= mark {
				slices.Reverse(ids)
				return ids, nil
			}
			ids = append(ids, ev.ID)
		}
		if next == "" {
			slices.Reverse(ids)
			return ids, nil
		}
		cursor = next
	}
}

// CheckEvents checks the events with these ids, in order, against the
// enabled event rules, hands the alerts they raise or resolve to the
// pipeline, and moves the mark past them.
func (r *Ruler) CheckEvents(ctx context.Context, ids []string) error {
	var rules []*store.StoredRule
	r.mu.Lock()
	for _, ru := range r.runs {
		if ru.rule != nil && ru.rule.Enabled && ru.rule.Kind == rule.KindEvent && ru.rule.Match != nil {
			rules = append(rules, ru.rule)
		}
	}
	r.mu.Unlock()
	slices.SortFunc(rules, func(a, b *store.StoredRule) int { return strings.Compare(a.ID, b.ID) })

	var (
		out    []alert.Alert
		raised = map[alert.Fingerprint]int{} // index in out
		mark   string
	)
	for _, id := range ids {
		mark = max(mark, id)
		if len(rules) == 0 {
			continue
		}
		ev, err := r.opts.Store.GetEvent(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read event %s: %w", id, err)
		}
		r.opts.Metrics.Events.Inc()
		ie := asIntake(ev)
		for _, sr := range rules {
			r.opts.Metrics.Evaluations.WithLabelValues(string(rule.KindEvent)).Inc()
			raise, resolve := sr.Match.Matches(&ie)
			if !raise && !resolve {
				continue
			}
			a, _ := sr.EventAlert(&ie, ev.ID)
			a.Fingerprint = a.Labels.Fingerprint()
			r.label(sr, &a)
			if raise {
				raised[a.Fingerprint] = len(out)
				out = append(out, a)
				continue
			}
			// A resolving event ends the alert its key raised, if one is
			// open; otherwise there is nothing to end.
			if i, ok := raised[a.Fingerprint]; ok {
				out[i].EndsAt = ev.Time
				continue
			}
			open, err := r.opts.Store.GetAlert(ctx, a.Fingerprint)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("read the alert event %s resolves: %w", id, err)
			}
			if open.StatusAt(r.opts.Now()) != alert.Firing {
				continue
			}
			a.StartsAt, a.EndsAt = open.StartsAt, ev.Time
			raised[a.Fingerprint] = len(out)
			out = append(out, a)
		}
	}
	for batch := range slices.Chunk(out, 1000) {
		ictx, cancel := context.WithTimeout(ctx, ingestTimeout)
		_, err := r.opts.Sink.Ingest(ictx, batch)
		cancel()
		if err != nil {
			return fmt.Errorf("hand event alerts to the pipeline: %w", err)
		}
	}
	if mark == "" {
		return nil
	}
	return r.opts.Store.SetMeta(ctx, eventsMarkKey, mark)
}

// asIntake is a stored event as rules read it.
func asIntake(ev *store.Event) intake.Event {
	return intake.Event{ID: ev.ExternalID, Source: ev.Source, Type: ev.Type, Level: ev.Level, Resource: ev.Resource,
		Region: ev.Region, Time: ev.Time, Content: ev.Content, Labels: ev.Labels}
}
