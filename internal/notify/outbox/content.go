package outbox

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/notify"
)

// Content is what a delivery says, as the dispatcher stores it in the
// outbox row: enough to render the message at send time in the channel's
// own style and time zone, and to merge it into a digest.
type Content struct {
	// Policy names the policy that notified; "" for a relayed webhook.
	Policy      string        `json:"policy,omitempty"`
	GroupLabels alert.Labels  `json:"group_labels,omitempty"`
	Firing      []alert.Alert `json:"firing,omitempty"`
	// Announced are the fingerprints of the firing alerts an earlier
	// notification of the group already announced: chat messages list
	// only the others and count these, so a growing group does not repeat
	// itself. Empty on a repeat notification, which lists everything.
	Announced []alert.Fingerprint `json:"announced,omitempty"`
	Resolved  []alert.Alert       `json:"resolved,omitempty"`
	// ExternalURL is Alertmanager's, when relaying its webhook.
	ExternalURL string `json:"external_url,omitempty"`
	// Mentions are the people to @, resolved when the group notified.
	Mentions []notify.Person `json:"mentions,omitempty"`
	// Digest marks a digest: Firing and Resolved are the merged
	// deliveries' alerts.
	Digest bool `json:"digest,omitempty"`
	// DigestMessages is how many messages the digest may take. Kept so a
	// retry renders the same parts.
	DigestMessages int `json:"digest_messages,omitempty"`
	// Reached are the recipients message number ReachedMessage (counted
	// from 0 among the delivery's rendered messages) reached before an
	// attempt failed for the others, as the sender named them
	// (notify.Error.Reached): the retry sends that message to the others
	// only. Set by the outbox, never by the dispatcher.
	Reached        []string `json:"reached,omitempty"`
	ReachedMessage int      `json:"reached_message,omitempty"`
}

// Encode returns c as stored.
func (c *Content) Encode() (json.RawMessage, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode delivery content: %w", err)
	}
	return b, nil
}

// DecodeContent reads a stored Content.
func DecodeContent(raw json.RawMessage) (*Content, error) {
	var c Content
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("decode delivery content: %w", err)
	}
	return &c, nil
}

// Fingerprints returns the fingerprints of every alert c carries.
func (c *Content) Fingerprints() []alert.Fingerprint {
	fps := make([]alert.Fingerprint, 0, len(c.Firing)+len(c.Resolved))
	for _, a := range c.Firing {
		fps = append(fps, a.Fingerprint)
	}
	for _, a := range c.Resolved {
		fps = append(fps, a.Fingerprint)
	}
	slices.Sort(fps)
	return slices.Compact(fps)
}

// Fresh returns the firing alerts not announced before, and how many
// firing alerts were.
func (c *Content) Fresh() (fresh []alert.Alert, announced int) {
	for _, a := range c.Firing {
		if _, ok := slices.BinarySearch(c.Announced, a.Fingerprint); ok {
			announced++
			continue
		}
		fresh = append(fresh, a)
	}
	return fresh, announced
}

// merge folds several contents into one digest content: each alert once,
// in its latest announced status (a later resolved notice wins over an
// earlier firing one), and everyone mentioned once.
func merge(cs []*Content) *Content {
	out := &Content{Digest: true}
	type entry struct {
		a        alert.Alert
		resolved bool
	}
	var (
		order  []alert.Fingerprint
		latest = map[alert.Fingerprint]entry{}
		people = map[notify.Person]bool{}
	)
	add := func(a alert.Alert, resolved bool) {
		if _, ok := latest[a.Fingerprint]; !ok {
			order = append(order, a.Fingerprint)
		}
		latest[a.Fingerprint] = entry{a, resolved}
	}
	for _, c := range cs {
		fresh, _ := c.Fresh()
		for _, a := range fresh {
			add(a, false)
		}
		for _, a := range c.Resolved {
			add(a, true)
		}
		for _, p := range c.Mentions {
			if !people[p] {
				people[p] = true
				out.Mentions = append(out.Mentions, p)
			}
		}
	}
	for _, fp := range order {
		e := latest[fp]
		if e.resolved {
			out.Resolved = append(out.Resolved, e.a)
		} else {
			out.Firing = append(out.Firing, e.a)
		}
	}
	return out
}
