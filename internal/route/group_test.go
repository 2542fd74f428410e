package route

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/alert"
)

// step is one moment of a group's life: alerts arrive or resolve, and/or
// the dispatcher checks the group.
type step struct {
	at      time.Duration // after t0
	arrive  []string
	resolve []string
	check   bool
	want    outcome // when check
}

type outcome struct {
	Notify   bool
	Reason   Reason
	Firing   []string
	Resolved []string
	Drop     bool
	Next     time.Duration // NextCheck after t0; 0 with Drop
}

var t0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

// runTimeline plays steps against one group the way the dispatcher would,
// storing the state as JSON between steps as a restart would.
func runTimeline(t *testing.T, p *Policy, steps []step) {
	t.Helper()
	var state GroupState
	var group []alert.Alert
	names := map[alert.Fingerprint]string{}
	for _, s := range steps {
		now := t0.Add(s.at)
		for _, name := range s.arrive {
			a := alert.Alert{Labels: labels("alertname", "DiskFull", "instance", name), StartsAt: now}
			a.Fingerprint = a.Labels.Fingerprint()
			names[a.Fingerprint] = name
			if len(group) == 0 && state.NextCheck.IsZero() {
				state = StartGroup(p, now)
			}
			group = append(group, a)
		}
		for _, name := range s.resolve {
			for i := range group {
				if group[i].Labels.Get("instance") == name {
					group[i].EndsAt = now
				}
			}
		}
		if !s.check {
			continue
		}
		d := state.Decide(p, group, now)
		got := outcome{Notify: d.Notify, Reason: d.Reason, Drop: d.Drop}
		for _, a := range d.Firing {
			got.Firing = append(got.Firing, names[a.Fingerprint])
		}
		for _, a := range d.Resolved {
			got.Resolved = append(got.Resolved, names[a.Fingerprint])
		}
		if !d.Drop {
			got.Next = d.Next.NextCheck.Sub(t0)
		}
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Fatalf("check at %v (-want +got):\n%s", s.at, diff)
		}
		state = d.Next
		if d.Drop {
			state, group = GroupState{}, nil
		}
		b, err := json.Marshal(state)
		if err != nil {
			t.Fatal(err)
		}
		var back GroupState
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(state, back); diff != "" {
			t.Fatalf("state does not survive JSON (-before +after):\n%s", diff)
		}
		state = back
	}
}

func defaults() *Policy {
	return &Policy{ID: "p", GroupWait: DefaultGroupWait, GroupInterval: DefaultGroupInterval, RepeatInterval: DefaultRepeatInterval, SendResolved: true}
}

func TestGroupTimeline(t *testing.T) {
	const s, m, h = time.Second, time.Minute, time.Hour
	runTimeline(t, defaults(), []step{
		{at: 0, arrive: []string{"a"}},
		{at: 10 * s, arrive: []string{"b"}},
		{at: 29 * s, check: true, want: outcome{Reason: ReasonNotDue, Next: 30 * s}},
		{at: 30 * s, check: true, want: outcome{Notify: true, Reason: ReasonFirst, Firing: []string{"a", "b"}, Next: 5*m + 30*s}},
		// A newcomer waits for the next check, not for group_wait.
		{at: 40 * s, arrive: []string{"c"}},
		{at: 70 * s, check: true, want: outcome{Reason: ReasonNotDue, Next: 5*m + 30*s}},
		{at: 3 * m, resolve: []string{"b"}},
		{at: 5*m + 30*s, check: true, want: outcome{Notify: true, Reason: ReasonNewFiring, Firing: []string{"a", "c"}, Resolved: []string{"b"}, Next: 10*m + 30*s}},
		{at: 10*m + 30*s, check: true, want: outcome{Reason: ReasonUnchanged, Next: 15*m + 30*s}},
		// A late check (say after downtime) runs once; the next is
		// group_interval after it.
		{at: 4*h + 30*s, check: true, want: outcome{Reason: ReasonUnchanged, Next: 4*h + 5*m + 30*s}},
		// repeat_interval after the last notification, to the second.
		{at: 4*h + 5*m + 30*s, check: true, want: outcome{Notify: true, Reason: ReasonRepeat, Firing: []string{"a", "c"}, Next: 4*h + 10*m + 30*s}},
		{at: 4*h + 7*m, resolve: []string{"a", "c"}},
		{at: 4*h + 10*m + 30*s, check: true, want: outcome{Notify: true, Reason: ReasonAllResolved, Resolved: []string{"a", "c"}, Drop: true}},
		// The same alert firing again starts a new group, with group_wait.
		{at: 4*h + 11*m, arrive: []string{"a"}},
		{at: 4*h + 11*m + 30*s, check: true, want: outcome{Notify: true, Reason: ReasonFirst, Firing: []string{"a"}, Next: 4*h + 16*m + 30*s}},
	})
}

func TestGroupWithoutSendResolved(t *testing.T) {
	const s, m = time.Second, time.Minute
	p := defaults()
	p.SendResolved = false
	runTimeline(t, p, []step{
		{at: 0, arrive: []string{"a", "b"}},
		{at: 30 * s, check: true, want: outcome{Notify: true, Reason: ReasonFirst, Firing: []string{"a", "b"}, Next: 5*m + 30*s}},
		{at: 1 * m, resolve: []string{"b"}},
		// b resolving is no news without send_resolved.
		{at: 5*m + 30*s, check: true, want: outcome{Reason: ReasonUnchanged, Next: 10*m + 30*s}},
		{at: 6 * m, arrive: []string{"c"}},
		{at: 10*m + 30*s, check: true, want: outcome{Notify: true, Reason: ReasonNewFiring, Firing: []string{"a", "c"}, Next: 15*m + 30*s}},
		{at: 11 * m, resolve: []string{"a", "c"}},
		// All resolved: recorded, nothing sent, group over.
		{at: 15*m + 30*s, check: true, want: outcome{Reason: ReasonAllResolved, Drop: true}},
	})
}

func TestGroupEdges(t *testing.T) {
	const s, m = time.Second, time.Minute
	t.Run("fired and resolved within group_wait", func(t *testing.T) {
		runTimeline(t, defaults(), []step{
			{at: 0, arrive: []string{"a"}},
			{at: 20 * s, resolve: []string{"a"}},
			{at: 30 * s, check: true, want: outcome{Reason: ReasonNoneFiring, Drop: true}},
		})
	})
	t.Run("resolved between checks while others fire", func(t *testing.T) {
		// As in Alertmanager, an alert that fired and resolved between
		// checks is announced resolved with send_resolved.
		runTimeline(t, defaults(), []step{
			{at: 0, arrive: []string{"a"}},
			{at: 30 * s, check: true, want: outcome{Notify: true, Reason: ReasonFirst, Firing: []string{"a"}, Next: 5*m + 30*s}},
			{at: 1 * m, arrive: []string{"b"}},
			{at: 2 * m, resolve: []string{"b"}},
			{at: 5*m + 30*s, check: true, want: outcome{Notify: true, Reason: ReasonNewResolved, Firing: []string{"a"}, Resolved: []string{"b"}, Next: 10*m + 30*s}},
			{at: 10*m + 30*s, check: true, want: outcome{Reason: ReasonUnchanged, Next: 15*m + 30*s}},
		})
	})
	t.Run("group_wait 0", func(t *testing.T) {
		p := defaults()
		p.GroupWait = 0
		runTimeline(t, p, []step{
			{at: 0, arrive: []string{"a"}, check: true, want: outcome{Notify: true, Reason: ReasonFirst, Firing: []string{"a"}, Next: 5 * m}},
		})
	})
	t.Run("muted", func(t *testing.T) {
		// t0 is 09:00 UTC; the window mutes 09:00–10:00.
		p := defaults()
		p.MuteTimeWindows = []TimeWindow{{Times: []TimeRange{{9 * 60, 10 * 60}}}}
		runTimeline(t, p, []step{
			{at: 0, arrive: []string{"a", "b"}},
			{at: 30 * s, check: true, want: outcome{Reason: ReasonMuted, Next: 5*m + 30*s}},
			{at: 2 * m, resolve: []string{"b"}},
			{at: 55*m + 30*s, check: true, want: outcome{Reason: ReasonMuted, Next: 60*m + 30*s}},
			// After the window: the first notification, with b resolved
			// (never announced firing, as Alertmanager does too).
			{at: 60*m + 30*s, check: true, want: outcome{Notify: true, Reason: ReasonFirst, Firing: []string{"a"}, Resolved: []string{"b"}, Next: 65*m + 30*s}},
		})
	})
	t.Run("all alerts gone without resolving", func(t *testing.T) {
		p := defaults()
		var s0 GroupState = StartGroup(p, t0)
		a := alert.Alert{Labels: labels("alertname", "X")}
		d := s0.Decide(p, []alert.Alert{a}, t0.Add(time.Minute))
		d = d.Next.Decide(p, nil, d.Next.NextCheck)
		if d.Notify || !d.Drop || d.Reason != ReasonAllResolved {
			t.Errorf("empty group after a notification: %+v", d)
		}
	})
	t.Run("invalid interval does not spin", func(t *testing.T) {
		p := &Policy{}
		d := StartGroup(p, t0).Decide(p, []alert.Alert{{Labels: labels("a", "1")}}, t0)
		if got := d.Next.NextCheck.Sub(t0); got != DefaultGroupInterval {
			t.Errorf("next check after %v, want the default group interval", got)
		}
	})
}
