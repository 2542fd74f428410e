package dispatch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/contact"
	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/notify/outbox"
	"github.com/tocsinhq/tocsin/internal/route"
	"github.com/tocsinhq/tocsin/internal/store"
)

// OwnerLabel names contacts (comma separated) an alert mentions whatever
// its policy's mention setting.
const OwnerLabel = "owner"

// targets returns the channels a policy's notification goes to — its own
// and its contact groups' — each once, and the people it mentions: the
// contact groups' contacts when the policy's mention setting says so for
// the firing alerts the notification announces, plus the contacts named by
// their owner labels.
func (d *Dispatcher) targets(ctx context.Context, p *route.Policy, firing []alert.Alert) ([]string, []notify.Person, error) {
	channels := slices.Clone(p.Targets.Channels)
	var (
		people []notify.Person
		seen   = map[string]bool{}
	)
	addPerson := func(c *contact.Contact) {
		if seen[c.ID] {
			return
		}
		seen[c.ID] = true
		people = append(people, notify.Person{Name: c.Name, Mobile: c.Mobile, DingTalkUserID: c.DingTalkUserID,
			LarkOpenID: c.LarkOpenID, WeComUserID: c.WeComUserID, Email: c.Email})
	}
	mention := p.Mention == route.MentionAlways
	if p.Mention == route.MentionCritical {
		for _, a := range firing {
			if alert.ParseSeverity(a.Labels.Get("severity")) == alert.Critical || a.Severity == alert.Critical {
				mention = true
				break
			}
		}
	}
	for _, gid := range p.Targets.ContactGroups {
		g, err := d.opts.Store.GetContactGroup(ctx, gid)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile; the policy lost a target
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read contact group: %w", err)
		}
		channels = append(channels, g.ChannelIDs...)
		if !mention {
			continue
		}
		for _, cid := range g.ContactIDs {
			c, err := d.opts.Store.GetContact(ctx, cid)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, nil, fmt.Errorf("read contact: %w", err)
			}
			addPerson(c)
		}
	}
	for _, a := range firing {
		for name := range strings.SplitSeq(a.Labels.Get(OwnerLabel), ",") {
			if name = strings.TrimSpace(name); name == "" {
				continue
			}
			c, err := d.opts.Store.GetContactByName(ctx, name)
			if errors.Is(err, store.ErrNotFound) {
				// An owner with no contact is left to the text: the
				// label shows in the message.
				continue
			}
			if err != nil {
				return nil, nil, fmt.Errorf("read contact: %w", err)
			}
			addPerson(c)
		}
	}
	slices.Sort(channels)
	return slices.Compact(channels), people, nil
}

// announcing returns the firing alerts a group's notification announces,
// those its mentions go by: every one on a reminder (repeat_interval), else
// those the group's last notification did not carry as firing (last,
// sorted), as chat messages list them. A warning joining a group whose
// critical alert was announced before does not call everyone again.
func announcing(dec route.Decision, last []alert.Fingerprint) []alert.Alert {
	if dec.Reason == route.ReasonRepeat {
		return dec.Firing
	}
	var fresh []alert.Alert
	for _, a := range dec.Firing {
		if _, ok := slices.BinarySearch(last, a.Fingerprint); !ok {
			fresh = append(fresh, a)
		}
	}
	return fresh
}

// newGroupDelivery is the delivery of a group's decision to one channel.
// Unless the decision is a reminder (repeat_interval), the alerts the
// group's last notification announced as firing are marked, so chat
// messages list only what is new.
func newGroupDelivery(channelID string, g *store.StoredGroup, p *route.Policy, dec route.Decision, people []notify.Person) (*store.Delivery, error) {
	c := outbox.Content{Policy: p.Name, GroupLabels: g.Labels, Firing: dec.Firing, Resolved: dec.Resolved, Mentions: people}
	if dec.Reason != route.ReasonRepeat {
		c.Announced = g.State.Firing
	}
	raw, err := c.Encode()
	if err != nil {
		return nil, err
	}
	return &store.Delivery{ChannelID: channelID, Kind: store.KindGroup, GroupKey: g.Key, PolicyID: p.ID,
		Content: raw, Alerts: c.Fingerprints()}, nil
}
