package dispatch

import (
	"context"
	"regexp"
	"strings"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/intake"
	"github.com/tocsinhq/tocsin/internal/notify/outbox"
	"github.com/tocsinhq/tocsin/internal/route"
	"github.com/tocsinhq/tocsin/internal/store"
)

// AlertQuery selects alerts as Alertmanager's GET /api/v2/alerts does.
type AlertQuery struct {
	Active, Silenced, Inhibited, Unprocessed bool
	Filter                                   route.Matchers
	// Receiver, when set, keeps alerts with a receiver (policy name) it
	// matches in full.
	Receiver *regexp.Regexp
}

// Alerts returns the firing alerts q selects, in Alertmanager's API form.
// Receivers are the names of the policies the alert routes to.
func (d *Dispatcher) Alerts(ctx context.Context, q AlertQuery) ([]intake.GettableAlert, error) {
	now := d.opts.Now()
	out := []intake.GettableAlert{}
	d.mu.RLock()
	defer d.mu.RUnlock()
	err := d.opts.Store.EachActiveAlert(ctx, now, func(a *store.StoredAlert) error {
		if !q.Filter.Matches(a.Labels) {
			return nil
		}
		info := intake.GettableInfo{UpdatedAt: a.UpdatedAt}
		if a.EndsSet {
			info.EndsAt = a.EndsAt
		}
		for _, p := range d.routes(&a.Alert) {
			info.Receivers = append(info.Receivers, p.Name)
		}
		if q.Receiver != nil {
			ok := false
			for _, r := range info.Receivers {
				ok = ok || q.Receiver.MatchString(r)
			}
			if !ok {
				return nil
			}
		}
		for i := range d.silences {
			s := &d.silences[i]
			if s.State(now) == route.SilenceActive && s.Matches(a.Labels) {
				info.SilencedBy = append(info.SilencedBy, s.ID)
			}
		}
		if len(d.sourceList) > 0 {
			if by, ok := route.Inhibited(d.opts.InhibitRules, d.sourceList, a.Labels, now); ok {
				info.InhibitedBy = []string{by.String()}
			}
		}
		if len(info.Receivers) == 0 {
			info.State = intake.StateUnprocessed
		}
		switch {
		case len(info.SilencedBy) > 0 && !q.Silenced,
			len(info.InhibitedBy) > 0 && !q.Inhibited,
			info.State == intake.StateUnprocessed && !q.Unprocessed,
			len(info.SilencedBy) == 0 && len(info.InhibitedBy) == 0 && info.State == "" && !q.Active:
			return nil
		}
		ga := a.Alert
		if !a.EndsSet {
			ga.EndsAt = a.EndsAt
		}
		out = append(out, intake.NewGettableAlert(&ga, info))
		return nil
	})
	return out, err
}

// Relay enqueues an Alertmanager webhook notification for one channel, as
// one delivery: the drop-in for the usual DingTalk relays, with the
// outbox's guarantees. It returns the delivery's id once it is committed.
func (d *Dispatcher) Relay(ctx context.Context, channelID string, n *intake.Notification) (string, error) {
	c := outbox.Content{GroupLabels: n.GroupLabels, ExternalURL: n.ExternalURL}
	for _, a := range n.Alerts {
		if a.Fingerprint == 0 {
			a.Fingerprint = a.Labels.Fingerprint()
		}
		if a.EndsAt.IsZero() {
			c.Firing = append(c.Firing, a)
		} else {
			c.Resolved = append(c.Resolved, a)
		}
	}
	raw, err := c.Encode()
	if err != nil {
		return "", err
	}
	del := &store.Delivery{ChannelID: channelID, Kind: store.KindRelay, GroupKey: n.GroupKey, Content: raw, Alerts: c.Fingerprints()}
	if err := d.opts.Store.EnqueueDeliveries(ctx, []*store.Delivery{del}, d.opts.Now()); err != nil {
		return "", err
	}
	d.opts.Enqueued([]string{channelID})
	return del.ID, nil
}

// SetState records what a person did with an alert: claimed, cleared or
// silenced (the silence itself is the caller's to create).
func (d *Dispatcher) SetState(ctx context.Context, fp alert.Fingerprint, state alert.State, actor, detail string) (*store.StoredAlert, error) {
	return d.opts.Store.SetAlertState(ctx, fp, state, strings.TrimSpace(actor), detail, d.opts.Now())
}
