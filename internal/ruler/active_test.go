package ruler

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/alert"
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func res(instance string, v float64) result {
	return result{Labels: alert.FromMap(map[string]string{"alertname": "HighGC", "instance": instance}), Value: v}
}

// states returns each alert's state by instance.
func states(s alertSet) map[string]string {
	out := map[string]string{}
	for _, a := range s {
		out[a.Labels.Get("instance")] = a.State
	}
	return out
}

// dueNames returns the instances due and whether each is a resolution.
func dueNames(as []alert.Alert, ts time.Time) map[string]bool {
	out := map[string]bool{}
	for _, a := range as {
		out[a.Labels.Get("instance")] = a.StatusAt(ts) == alert.Resolved
	}
	return out
}

func TestAlertStatesFollowPrometheus(t *testing.T) {
	const interval = time.Minute
	hold := 2 * time.Minute
	s := alertSet{}
	type step struct {
		at      time.Duration
		results []result
		states  map[string]string
		due     map[string]bool // instance → resolved
	}
	steps := []step{
		{0, []result{res("a", 1), res("b", 1)}, map[string]string{"a": "pending", "b": "pending"}, map[string]bool{}},
		// b goes away while pending: forgotten, never sent.
		{1 * time.Minute, []result{res("a", 2)}, map[string]string{"a": "pending"}, map[string]bool{}},
		{2 * time.Minute, []result{res("a", 3)}, map[string]string{"a": "firing"}, map[string]bool{"a": false}},
		// Sent a minute ago: due again (the resend delay is a minute).
		{2*time.Minute + 30*time.Second, []result{res("a", 3)}, map[string]string{"a": "firing"}, map[string]bool{}},
		{3 * time.Minute, []result{res("a", 3)}, map[string]string{"a": "firing"}, map[string]bool{"a": false}},
		{4 * time.Minute, nil, map[string]string{"a": "inactive"}, map[string]bool{"a": true}},
		// Its resolution was sent: nothing more, but it is remembered.
		{5 * time.Minute, nil, map[string]string{"a": "inactive"}, map[string]bool{}},
		// Back: pending anew, from scratch.
		{6 * time.Minute, []result{res("a", 1)}, map[string]string{"a": "pending"}, map[string]bool{}},
		{7 * time.Minute, nil, map[string]string{}, map[string]bool{}},
	}
	for _, st := range steps {
		ts := t0.Add(st.at)
		s.step(st.results, ts, hold, 0)
		if diff := cmp.Diff(st.states, states(s)); diff != "" {
			t.Fatalf("at +%s states (-want +got):\n%s", st.at, diff)
		}
		due := s.due(ts, interval)
		if diff := cmp.Diff(st.due, dueNames(due, ts)); diff != "" {
			t.Fatalf("at +%s due (-want +got):\n%s", st.at, diff)
		}
		s.sent(due, ts, interval)
	}
}

func TestFiringAlertCarriesItsStartAndAMovingEnd(t *testing.T) {
	s := alertSet{}
	s.step([]result{res("a", 5)}, t0, 0, 0)
	due := s.due(t0, 30*time.Second)
	if len(due) != 1 {
		t.Fatalf("due %v, want the alert firing at once (for 0)", due)
	}
	a := due[0]
	if !a.StartsAt.Equal(t0) || !a.EndsAt.Equal(t0.Add(4*time.Minute)) {
		t.Errorf("starts %v ends %v, want the firing time and 4 resend delays on", a.StartsAt, a.EndsAt)
	}
	if a.Fingerprint != a.Labels.Fingerprint() {
		t.Errorf("fingerprint %v, want that of the labels", a.Fingerprint)
	}
}

func TestKeepFiringFor(t *testing.T) {
	s := alertSet{}
	keep := 3 * time.Minute
	s.step([]result{res("a", 1)}, t0, 0, keep)
	for _, at := range []time.Duration{time.Minute, 3 * time.Minute} {
		s.step(nil, t0.Add(at), 0, keep)
		if got := states(s)["a"]; got != stateFiring {
			t.Fatalf("at +%s the alert is %s, want it kept firing", at, got)
		}
	}
	s.step(nil, t0.Add(4*time.Minute), 0, keep)
	if got := states(s)["a"]; got != stateInactive {
		t.Fatalf("after keep_firing_for the alert is %s, want resolved", got)
	}
}

func TestUnsentResolutionIsKept(t *testing.T) {
	s := alertSet{}
	s.step([]result{res("a", 1)}, t0, 0, 0)
	s.sent(s.due(t0, time.Minute), t0, time.Minute)
	s.step(nil, t0.Add(time.Minute), 0, 0)
	// The pipeline refuses for a long while: the resolution stays due.
	for at := 2 * time.Minute; at < time.Hour; at += 10 * time.Minute {
		s.step(nil, t0.Add(at), 0, 0)
		if due := s.due(t0.Add(at), time.Minute); len(due) != 1 {
			t.Fatalf("at +%s %d alerts due, want the unsent resolution", at, len(due))
		}
	}
}

func TestAlertSetSurvivesEncoding(t *testing.T) {
	s := alertSet{}
	s.step([]result{res("a", 1.5), res("b", 2)}, t0, time.Minute, 0)
	s.step([]result{res("a", 1.5)}, t0.Add(time.Minute), time.Minute, 0)
	for _, a := range s {
		a.Annotations = alert.FromMap(map[string]string{"summary": "GC on " + a.Labels.Get("instance")})
	}
	raw, err := s.encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := decodeAlertSet(raw)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}
