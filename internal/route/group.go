package route

import (
	"slices"
	"time"

	"github.com/tocsinhq/tocsin/internal/alert"
)

// GroupState is what Tocsin remembers of one aggregation group — one
// policy, one group key — between checks. It is plain data the caller
// stores (it encodes to JSON as is), so a group's timers and what it last
// said survive restarts. The zero value is "no group yet": StartGroup
// makes one.
type GroupState struct {
	// FirstSeen is when the group's first alert arrived.
	FirstSeen time.Time `json:"first_seen"`
	// NextCheck is when Decide should next run; zero means never.
	NextCheck time.Time `json:"next_check"`
	// LastNotified is when the group last notified; zero means never.
	LastNotified time.Time `json:"last_notified"`
	// Firing and Resolved are the fingerprints, sorted, of the alerts that
	// were firing and resolved at the last notification.
	Firing   []alert.Fingerprint `json:"firing"`
	Resolved []alert.Fingerprint `json:"resolved"`
}

// StartGroup is the state of a group whose first alert arrives at now: its
// first check is group_wait later, so alerts arriving meanwhile go out
// together. Alerts joining a group that already exists change nothing:
// they wait for its next check.
func StartGroup(p *Policy, now time.Time) GroupState {
	return GroupState{FirstSeen: now, NextCheck: now.Add(p.GroupWait)}
}

// Due reports whether the group's check has come.
func (s GroupState) Due(now time.Time) bool {
	return !s.NextCheck.IsZero() && !now.Before(s.NextCheck)
}

// Reason says why Decide decided as it did, for the alert timeline and
// logs.
type Reason string

// Reasons.
const (
	ReasonNotDue      Reason = "not due"
	ReasonMuted       Reason = "muted by a time window"
	ReasonFirst       Reason = "first notification"
	ReasonNewFiring   Reason = "new firing alerts"
	ReasonNewResolved Reason = "newly resolved alerts"
	ReasonAllResolved Reason = "all alerts resolved"
	ReasonRepeat      Reason = "repeat interval elapsed"
	ReasonUnchanged   Reason = "nothing changed"
	ReasonNoneFiring  Reason = "nothing firing to announce"
)

// Decision is the outcome of one check of a group.
type Decision struct {
	// Notify is whether to send a message carrying Firing and Resolved.
	Notify bool
	Reason Reason
	// Firing is every firing alert of the group, in the order given.
	Firing []alert.Alert
	// Resolved is the alerts resolved since the last notification, when
	// the policy sends resolved notices; else empty.
	Resolved []alert.Alert
	// Drop says the group is over: nothing fires and the end has been
	// dealt with. Send the message if Notify, then forget the group's state
	// and its alerts; a new alert with the same key starts a new group.
	Drop bool
	// Next is the state to store in place of the old one.
	Next GroupState
}

// Decide checks the group at now. alerts are the group's alerts minus the
// silenced and inhibited ones (filtering them is the caller's job, done
// just before, as Alertmanager does); an alert is firing or resolved as of
// now (alert.StatusAt). The rules, those of Alertmanager's notification
// log:
//
//   - Not due yet: nothing happens, the state is returned as is.
//   - Otherwise the next check is group_interval after now, whatever the
//     outcome.
//   - Muted by a time window: nothing is sent or recorded; the group waits,
//     and the next check after the window sends what is then new.
//   - Never notified: notify if anything fires; if nothing does (alerts
//     that fired and resolved within group_wait), drop the group unheard.
//   - An alert fires that the last notification did not carry as firing:
//     notify.
//   - Nothing fires any more: if the last notification carried firing
//     alerts, notify the resolved ones (send_resolved) or only record that
//     all is resolved (no send_resolved); either way drop the group.
//   - send_resolved and an alert resolved that the last notification did
//     not carry as resolved: notify.
//   - Otherwise notify again only when repeat_interval has passed since
//     the last notification (at or after it: checks fall every
//     group_interval, so a repeat_interval that is a multiple of it repeats
//     on time).
//
// A firing alert merely disappearing, or resolving without send_resolved,
// does not by itself cause a message.
func (s GroupState) Decide(p *Policy, alerts []alert.Alert, now time.Time) Decision {
	if !s.Due(now) {
		return Decision{Reason: ReasonNotDue, Next: s}
	}
	interval := p.GroupInterval
	if interval <= 0 { // an unvalidated policy must not make a group spin
		interval = DefaultGroupInterval
	}
	d := Decision{Next: s}
	d.Next.NextCheck = now.Add(interval)
	if p.Muted(now) {
		d.Reason = ReasonMuted
		return d
	}
	var firing, resolved []alert.Alert
	for _, a := range alerts {
		if a.StatusAt(now) == alert.Firing {
			firing = append(firing, a)
		} else {
			resolved = append(resolved, a)
		}
	}
	firingFPs, resolvedFPs := fingerprints(firing), fingerprints(resolved)
	switch {
	case s.LastNotified.IsZero() && len(firing) == 0:
		d.Reason, d.Drop = ReasonNoneFiring, true
		return d
	case s.LastNotified.IsZero():
		d.Reason = ReasonFirst
	case !subset(firingFPs, s.Firing):
		d.Reason = ReasonNewFiring
	case len(firing) == 0 && len(s.Firing) == 0:
		d.Reason, d.Drop = ReasonNoneFiring, true
		return d
	case len(firing) == 0:
		d.Reason, d.Drop = ReasonAllResolved, true
	case p.SendResolved && !subset(resolvedFPs, s.Resolved):
		d.Reason = ReasonNewResolved
	case now.Sub(s.LastNotified) >= p.RepeatInterval:
		d.Reason = ReasonRepeat
	default:
		d.Reason = ReasonUnchanged
		return d
	}
	d.Firing = firing
	if p.SendResolved {
		for _, a := range resolved {
			if _, known := slices.BinarySearch(s.Resolved, fingerprint(a)); !known {
				d.Resolved = append(d.Resolved, a)
			}
		}
	}
	d.Notify = len(d.Firing) > 0 || len(d.Resolved) > 0
	d.Next.LastNotified = now
	d.Next.Firing, d.Next.Resolved = firingFPs, resolvedFPs
	return d
}

// fingerprint trusts the alert's own fingerprint and computes it when the
// caller left it unset.
func fingerprint(a alert.Alert) alert.Fingerprint {
	if a.Fingerprint != 0 {
		return a.Fingerprint
	}
	return a.Labels.Fingerprint()
}

// fingerprints returns the sorted, distinct fingerprints of alerts.
func fingerprints(alerts []alert.Alert) []alert.Fingerprint {
	if len(alerts) == 0 {
		return nil
	}
	fps := make([]alert.Fingerprint, len(alerts))
	for i, a := range alerts {
		fps[i] = fingerprint(a)
	}
	slices.Sort(fps)
	return slices.Compact(fps)
}

// subset reports whether every element of sub (sorted) is in set (sorted).
func subset(sub, set []alert.Fingerprint) bool {
	for _, f := range sub {
		if _, ok := slices.BinarySearch(set, f); !ok {
			return false
		}
	}
	return true
}
