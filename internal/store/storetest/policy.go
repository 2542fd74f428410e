package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the policies name zones; do not depend on the machine's zoneinfo

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/problem"
	"github.com/tocsinhq/tocsin/internal/route"
	"github.com/tocsinhq/tocsin/internal/store"
)

// NewPolicy returns a policy decoded from the JSON form the API takes
// (defaults applied, validated), with name and fields merged in, and
// targets left as ids: give them in fields as "channels" and
// "contact_groups".
func NewPolicy(tb testing.TB, name string, fields map[string]any) *route.Policy {
	tb.Helper()
	body := map[string]any{"name": name}
	targets := map[string]any{}
	for k, v := range fields {
		switch k {
		case "channels", "contact_groups":
			targets[k] = v
		default:
			body[k] = v
		}
	}
	body["targets"] = targets
	in, err := json.Marshal(body)
	if err != nil {
		tb.Fatal(err)
	}
	var p route.Policy
	if err := json.Unmarshal(in, &p); err != nil {
		tb.Fatalf("decode policy %s: %v", in, err)
	}
	return &p
}

// policyOpts compare policies as a store must keep them: zones by name
// (*time.Location has fields go-cmp cannot see), matchers by their Equal.
var policyOpts = cmp.Options{
	cmp.Comparer(func(a, b *time.Location) bool { return a.String() == b.String() }),
}

// everyField is a policy body that sets every field away from its default.
var everyField = map[string]any{
	"position": 7,
	"matchers": []string{`severity=~"critical|warning"`, `team="sre"`, `env!="dev"`, `{instance!~"test-.*", job="node"}`},
	"group_by": []string{"alertname", "cluster"},
	// Durations of each shape: seconds, minutes, days and a mix.
	"group_wait":      "0s",
	"group_interval":  "90s",
	"repeat_interval": "1d12h",
	"send_resolved":   false,
	"continue":        true,
	"mention":         "critical",
	"mute_time_windows": []map[string]any{
		{"weekdays": []string{"saturday", "sunday"}, "times": []map[string]string{{"start": "00:00", "end": "24:00"}}, "timezone": "Asia/Shanghai"},
		{"weekdays": []string{"monday:friday"}, "times": []map[string]string{{"start": "22:00", "end": "24:00"}, {"start": "00:00", "end": "06:30"}}, "timezone": "America/New_York"},
		{"times": []map[string]string{{"start": "12:00", "end": "13:00"}}},
	},
}

func testPolicyCreateAndGet(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	ch1, ch2 := NewChannel(t, "ch1"), NewChannel(t, "ch2")
	mustCreate(t, s, ch1, at(0))
	mustCreate(t, s, ch2, at(1))
	g1, g2 := newGroup("g1", nil, nil), newGroup("g2", nil, []string{ch1.ID})
	mustCreateGroup(t, s, g1, at(2))
	mustCreateGroup(t, s, g2, at(3))

	fields := map[string]any{
		// Targets keep the order given, not the order of their ids.
		"channels":       []string{ch2.ID, ch1.ID},
		"contact_groups": []string{g2.ID, g1.ID},
	}
	for k, v := range everyField {
		fields[k] = v
	}
	p := NewPolicy(t, "sre critical", fields)
	if len(p.Matchers) != 5 || len(p.MuteTimeWindows) != 3 || p.SendResolved || !p.Continue {
		t.Fatalf("the test policy did not decode as meant: %+v", p)
	}
	want := *p
	p.ID = "chosen-by-the-caller" // the store assigns ids
	mustCreatePolicy(t, s, p, at(4))
	if len(p.ID) != 26 || p.ID == "chosen-by-the-caller" {
		t.Errorf("created policy got ID %q, want a new 26-character id", p.ID)
	}
	want.ID = p.ID
	if diff := cmp.Diff(&want, p, policyOpts); diff != "" {
		t.Errorf("CreatePolicy changed the policy beyond its id (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&want, mustGetPolicy(t, s, p.ID), policyOpts); diff != "" {
		t.Errorf("GetPolicy differs from what was created (-want +got):\n%s", diff)
	}
	got, err := s.GetPolicyByName(t.Context(), "sre critical")
	if err != nil {
		t.Fatalf("GetPolicyByName: %v", err)
	}
	if diff := cmp.Diff(&want, got, policyOpts); diff != "" {
		t.Errorf("GetPolicyByName differs from what was created (-want +got):\n%s", diff)
	}
	// Times of day in the windows' own zones survive, not only the names.
	saturdayNoonShanghai := time.Date(2026, 11, 21, 4, 0, 0, 0, time.UTC)
	mondayNightNewYork := time.Date(2026, 11, 24, 4, 0, 0, 0, time.UTC) // 23:00 EST Monday
	tuesdayNoonUTC := time.Date(2026, 11, 24, 12, 30, 0, 0, time.UTC)
	tuesdayMorningUTC := time.Date(2026, 11, 24, 11, 45, 0, 0, time.UTC) // 06:45 in New York: after the window
	for _, tt := range []struct {
		now  time.Time
		want bool
	}{{saturdayNoonShanghai, true}, {mondayNightNewYork, true}, {tuesdayNoonUTC, true}, {tuesdayMorningUTC, false}} {
		if m := got.Muted(tt.now); m != tt.want {
			t.Errorf("the stored policy's Muted(%v) = %v, want %v", tt.now, m, tt.want)
		}
	}

	// The defaults, with nothing listed, read back as the API decodes them:
	// nil lists.
	bare := NewPolicy(t, "catch-all", nil)
	wantBare := *bare
	mustCreatePolicy(t, s, bare, at(5))
	wantBare.ID = bare.ID
	if diff := cmp.Diff(&wantBare, mustGetPolicy(t, s, bare.ID), policyOpts); diff != "" {
		t.Errorf("GetPolicy of a policy with defaults only (-want +got):\n%s", diff)
	}
	// One kind of target only.
	solo := NewPolicy(t, "groups only", map[string]any{"contact_groups": []string{g1.ID}})
	mustCreatePolicy(t, s, solo, at(6))
	if got := mustGetPolicy(t, s, solo.ID); got.Targets.Channels != nil || !slices.Equal(got.Targets.ContactGroups, []string{g1.ID}) {
		t.Errorf("a policy targeting one group reads back with targets %+v", got.Targets)
	}

	// A policy with the same position as another comes after it: ids break
	// ties, and ids sort in creation order.
	items, next, err := s.ListPolicies(t.Context(), store.PolicyFilter{})
	if err != nil {
		t.Fatalf("ListPolicies: %v", err)
	}
	wantAll := []*route.Policy{&wantBare, solo, &want}
	if diff := cmp.Diff(wantAll, items, policyOpts); diff != "" || next != "" {
		t.Errorf("ListPolicies got next %q and items (-want +got):\n%s", next, diff)
	}
	all, err := s.AllPolicies(t.Context())
	if err != nil {
		t.Fatalf("AllPolicies: %v", err)
	}
	if diff := cmp.Diff([]route.Policy{wantBare, *solo, want}, all, policyOpts); diff != "" {
		t.Errorf("AllPolicies (-want +got):\n%s", diff)
	}
	// What AllPolicies returns routes as the policies say.
	routed := route.Route(all, alert.FromMap(map[string]string{"severity": "critical", "team": "sre", "env": "prod", "job": "node", "instance": "db-1"}))
	if names := policyNames(routed); !slices.Equal(names, []string{"catch-all"}) {
		t.Errorf("routing through the stored policies reached %q, want the catch-all first (position 0)", names)
	}
}

func testPolicyMissing(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	mustCreatePolicy(t, s, NewPolicy(t, "present", nil), at(0))
	unknown := new(store.IDs).New(t0)
	_, err := s.GetPolicy(t.Context(), unknown)
	wantErr(t, "GetPolicy of an unknown id", err, store.ErrNotFound)
	_, err = s.GetPolicyByName(t.Context(), "PRESENT")
	wantErr(t, "GetPolicyByName with other letter case", err, store.ErrNotFound)
	ghost := NewPolicy(t, "ghost", nil)
	ghost.ID = unknown
	wantErr(t, "UpdatePolicy of an unknown id", s.UpdatePolicy(t.Context(), ghost, at(1)), store.ErrNotFound)
	wantErr(t, "DeletePolicy of an unknown id", s.DeletePolicy(t.Context(), unknown), store.ErrNotFound)
	all, err := s.AllPolicies(t.Context())
	if err != nil || len(all) != 1 {
		t.Errorf("AllPolicies after refused calls: %d policies, %v; want the one", len(all), err)
	}
}

func testPolicyDuplicateName(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	first, other := NewPolicy(t, "dup", nil), NewPolicy(t, "other", nil)
	mustCreatePolicy(t, s, first, at(0))
	mustCreatePolicy(t, s, other, at(1))
	err := s.CreatePolicy(t.Context(), NewPolicy(t, "dup", nil), at(2))
	wantErr(t, "CreatePolicy with a taken name", err, store.ErrConflict)
	upd := NewPolicy(t, "dup", map[string]any{"position": 3})
	upd.ID = other.ID
	err = s.UpdatePolicy(t.Context(), upd, at(3))
	wantErr(t, "UpdatePolicy to a taken name", err, store.ErrConflict)
	if diff := cmp.Diff([]*route.Policy{first, other}, listAllPolicies(t, s, store.PolicyFilter{}), policyOpts); diff != "" {
		t.Errorf("after refused duplicates the store holds (-want +got):\n%s", diff)
	}
	// A policy and a contact group may share a name.
	mustCreateGroup(t, s, newGroup("dup", nil, nil), at(4))
}

// testPolicyMissingTargets: a target id that names nothing is refused with
// ErrNotFound naming it, and nothing is written.
func testPolicyMissingTargets(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	ch := NewChannel(t, "real-channel")
	mustCreate(t, s, ch, at(0))
	g := newGroup("real-group", nil, nil)
	mustCreateGroup(t, s, g, at(1))
	noChannel, noGroup := new(store.IDs).New(at(2)), new(store.IDs).New(at(3))

	for _, tt := range []struct {
		name      string
		channels  []string
		groups    []string
		wantNamed []string
	}{
		{"channel", []string{ch.ID, noChannel}, []string{g.ID}, []string{noChannel}},
		{"group", []string{ch.ID}, []string{noGroup, g.ID}, []string{noGroup}},
		{"both", []string{noChannel}, []string{noGroup}, []string{noChannel, noGroup}},
		// A group's id is no channel's, and the other way round.
		{"swapped", []string{g.ID}, []string{ch.ID}, []string{g.ID, ch.ID}},
	} {
		p := NewPolicy(t, "p-"+tt.name, map[string]any{"channels": tt.channels, "contact_groups": tt.groups})
		err := s.CreatePolicy(t.Context(), p, at(4))
		wantErr(t, "CreatePolicy with a missing "+tt.name, err, store.ErrNotFound)
		for _, id := range tt.wantNamed {
			if err != nil && !strings.Contains(err.Error(), id) {
				t.Errorf("CreatePolicy with a missing %s: error %q does not name %s", tt.name, err, id)
			}
		}
		if p.ID != "" {
			t.Errorf("a refused CreatePolicy set the policy's ID to %q", p.ID)
		}
	}
	if got := listAllPolicies(t, s, store.PolicyFilter{}); len(got) != 0 {
		t.Errorf("refused creates left policies behind: %q", policyNames(got))
	}

	p := NewPolicy(t, "kept", map[string]any{"channels": []string{ch.ID}, "contact_groups": []string{g.ID}})
	mustCreatePolicy(t, s, p, at(5))
	upd := NewPolicy(t, "renamed", map[string]any{"channels": []string{ch.ID}, "contact_groups": []string{noGroup}})
	upd.ID = p.ID
	wantErr(t, "UpdatePolicy with a missing group", s.UpdatePolicy(t.Context(), upd, at(6)), store.ErrNotFound)
	if diff := cmp.Diff(p, mustGetPolicy(t, s, p.ID), policyOpts); diff != "" {
		t.Errorf("a refused update changed the policy (-want +got):\n%s", diff)
	}
}

func testPolicyUpdate(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	ch1, ch2 := NewChannel(t, "ch1"), NewChannel(t, "ch2")
	mustCreate(t, s, ch1, at(0))
	mustCreate(t, s, ch2, at(1))
	g := newGroup("g", nil, nil)
	mustCreateGroup(t, s, g, at(2))
	fields := map[string]any{"channels": []string{ch1.ID}, "contact_groups": []string{g.ID}}
	for k, v := range everyField {
		fields[k] = v
	}
	p := NewPolicy(t, "before", fields)
	mustCreatePolicy(t, s, p, at(3))
	bystander := NewPolicy(t, "bystander", map[string]any{"channels": []string{ch1.ID}})
	mustCreatePolicy(t, s, bystander, at(4))

	// Everything changes, back to the defaults but for the targets.
	upd := NewPolicy(t, "after", map[string]any{"channels": []string{ch2.ID, ch1.ID}, "position": -2})
	upd.ID = p.ID
	want := *upd
	if err := s.UpdatePolicy(t.Context(), upd, at(60_000)); err != nil {
		t.Fatalf("UpdatePolicy: %v", err)
	}
	if diff := cmp.Diff(&want, upd, policyOpts); diff != "" {
		t.Errorf("UpdatePolicy changed the policy it was given (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&want, mustGetPolicy(t, s, p.ID), policyOpts); diff != "" {
		t.Errorf("after UpdatePolicy, GetPolicy differs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(bystander, mustGetPolicy(t, s, bystander.ID), policyOpts); diff != "" {
		t.Errorf("updating one policy changed another (-want +got):\n%s", diff)
	}
	_, err := s.GetPolicyByName(t.Context(), "before")
	wantErr(t, "GetPolicyByName of the old name", err, store.ErrNotFound)
	// The group is no target any more: it may go.
	if err := s.DeleteContactGroup(t.Context(), g.ID); err != nil {
		t.Errorf("DeleteContactGroup of a group the policy no longer targets: %v", err)
	}
	// Moving to position -2 put it first.
	if got := policyNames(listAllPolicies(t, s, store.PolicyFilter{})); !slices.Equal(got, []string{"after", "bystander"}) {
		t.Errorf("after moving a policy to position -2 the list is %q", got)
	}
	// Emptying the targets.
	upd.Targets = route.Targets{}
	if err := s.UpdatePolicy(t.Context(), upd, at(60_001)); err != nil {
		t.Fatalf("UpdatePolicy to no targets: %v", err)
	}
	if got := mustGetPolicy(t, s, p.ID); got.Targets.Channels != nil || got.Targets.ContactGroups != nil {
		t.Errorf("after emptying the targets the policy has %+v", got.Targets)
	}
}

// testPolicyRefusesInvalid: the router loads whatever is stored, so a
// store refuses a policy that does not validate, with its problems, and
// keeps durations to the millisecond without letting one drop to zero.
func testPolicyRefusesInvalid(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	bad := &route.Policy{Name: "built in Go"} // zero intervals
	err := s.CreatePolicy(t.Context(), bad, at(0))
	var probs *problem.List
	if !errors.As(err, &probs) {
		t.Errorf("CreatePolicy of a policy without intervals: error %v, want its problems", err)
	}
	p := NewPolicy(t, "fine", map[string]any{"group_wait": "1500us", "group_interval": "500us", "repeat_interval": "2ms"})
	mustCreatePolicy(t, s, p, at(1))
	want := []time.Duration{2 * time.Millisecond, time.Millisecond, 2 * time.Millisecond}
	for what, got := range map[string]*route.Policy{"created": p, "read back": mustGetPolicy(t, s, p.ID)} {
		if d := []time.Duration{got.GroupWait, got.GroupInterval, got.RepeatInterval}; !slices.Equal(d, want) {
			t.Errorf("%s policy has durations %v, want %v (rounded up to whole milliseconds)", what, d, want)
		}
	}
	bad = NewPolicy(t, "fine", nil)
	bad.ID, bad.RepeatInterval = p.ID, 0
	if err := s.UpdatePolicy(t.Context(), bad, at(2)); !errors.As(err, &probs) {
		t.Errorf("UpdatePolicy to no repeat interval: error %v, want its problems", err)
	}
}

// testPolicyOrderAndPages: lists and AllPolicies follow (position, id)
// whatever order policies were created in, and pages neither skip nor
// repeat one.
func testPolicyOrderAndPages(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	positions := []int{5, -3, 0, 5, 100, 0, -3, 5, 1, 0, 2_000_000_000, -2_000_000_000}
	var want []*route.Policy
	for i, pos := range positions {
		name := "policy-" + ordinal(i)
		if i%4 == 0 {
			name = "Other_" + ordinal(i)
		}
		p := NewPolicy(t, name, map[string]any{"position": pos})
		mustCreatePolicy(t, s, p, at(i))
		want = append(want, p)
	}
	// Created in id order, so a stable sort by position is (position, id).
	slices.SortStableFunc(want, func(a, b *route.Policy) int {
		switch {
		case a.Position < b.Position:
			return -1
		case a.Position > b.Position:
			return 1
		}
		return 0
	})

	for _, limit := range []int{1, 2, 5, 11, 12, 0} {
		got := listAllPolicies(t, s, store.PolicyFilter{Limit: limit})
		if diff := cmp.Diff(policyNames(want), policyNames(got)); diff != "" {
			t.Errorf("limit %d: names over all pages, want every policy once by (position, id) (-want +got):\n%s", limit, diff)
		}
	}

	all, err := s.AllPolicies(t.Context())
	if err != nil {
		t.Fatalf("AllPolicies: %v", err)
	}
	var wantAll []route.Policy
	for _, p := range want {
		wantAll = append(wantAll, *p)
	}
	if diff := cmp.Diff(wantAll, all, policyOpts); diff != "" {
		t.Errorf("AllPolicies (-want +got):\n%s", diff)
	}

	// A query pages too, case-insensitively, with _ matching itself.
	var wantOther []string
	for _, p := range want {
		if strings.HasPrefix(p.Name, "Other_") {
			wantOther = append(wantOther, p.Name)
		}
	}
	f := store.PolicyFilter{Query: "r_", Limit: 2}
	got := policyNames(listAllPolicies(t, s, f))
	if diff := cmp.Diff(wantOther, got); diff != "" {
		t.Errorf("ListPolicies %+v over all pages (-want +got):\n%s", f, diff)
	}
	if got := policyNames(listAllPolicies(t, s, store.PolicyFilter{Query: "POLICY-0"})); len(got) != 7 {
		t.Errorf(`ListPolicies with query "POLICY-0" got %q, want the seven policy-0x`, got)
	}

	if _, _, err := s.ListPolicies(t.Context(), store.PolicyFilter{Cursor: "not a cursor"}); err == nil {
		t.Error("ListPolicies with a cursor no list returned succeeded")
	}
}

// testDeleteTargeted: a channel or contact group that policies target is
// not deleted; the refusal names every policy targeting it (and the groups
// holding a channel).
func testDeleteTargeted(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	ch := NewChannel(t, "on-call robot")
	mustCreate(t, s, ch, at(0))
	g := newGroup("sre", nil, nil)
	mustCreateGroup(t, s, g, at(1))
	alpha := NewPolicy(t, "alpha", map[string]any{"channels": []string{ch.ID}, "contact_groups": []string{g.ID}})
	mustCreatePolicy(t, s, alpha, at(2))
	beta := NewPolicy(t, "beta", map[string]any{"channels": []string{ch.ID}})
	mustCreatePolicy(t, s, beta, at(3))
	mustCreatePolicy(t, s, NewPolicy(t, "unrelated", nil), at(4))

	err := s.DeleteChannel(t.Context(), ch.ID)
	wantErr(t, "deleting a channel two policies target", err, store.ErrConflict)
	if err != nil && (!strings.Contains(err.Error(), `policies "alpha", "beta"`) || strings.Contains(err.Error(), "unrelated")) {
		t.Errorf("deleting a channel two policies target: error %q does not name both policies (and only them)", err)
	}
	err = s.DeleteContactGroup(t.Context(), g.ID)
	wantErr(t, "deleting a contact group a policy targets", err, store.ErrConflict)
	if err != nil && (!strings.Contains(err.Error(), `policy "alpha"`) || strings.Contains(err.Error(), "beta")) {
		t.Errorf("deleting a contact group a policy targets: error %q does not name that policy alone", err)
	}
	mustGet(t, s, ch.ID)
	mustGetGroup(t, s, g.ID)

	// A group holding the channel as well: both are named.
	holder := newGroup("holder", nil, []string{ch.ID})
	mustCreateGroup(t, s, holder, at(5))
	err = s.DeleteChannel(t.Context(), ch.ID)
	wantErr(t, "deleting a channel a group holds and policies target", err, store.ErrConflict)
	if err != nil && (!strings.Contains(err.Error(), `"holder"`) || !strings.Contains(err.Error(), `"alpha", "beta"`)) {
		t.Errorf("deleting a channel a group holds and policies target: error %q does not name the group and the policies", err)
	}
	if err := s.DeleteContactGroup(t.Context(), holder.ID); err != nil {
		t.Fatalf("DeleteContactGroup of a group no policy targets: %v", err)
	}

	// Deleting the policies frees both, and leaves them in place.
	for _, p := range []*route.Policy{alpha, beta} {
		if err := s.DeletePolicy(t.Context(), p.ID); err != nil {
			t.Fatalf("DeletePolicy %q: %v", p.Name, err)
		}
	}
	_, err = s.GetPolicy(t.Context(), alpha.ID)
	wantErr(t, "GetPolicy after DeletePolicy", err, store.ErrNotFound)
	wantErr(t, "DeletePolicy twice", s.DeletePolicy(t.Context(), alpha.ID), store.ErrNotFound)
	mustGet(t, s, ch.ID)
	mustGetGroup(t, s, g.ID)
	if err := s.DeleteChannel(t.Context(), ch.ID); err != nil {
		t.Errorf("DeleteChannel once no policy targets it: %v", err)
	}
	if err := s.DeleteContactGroup(t.Context(), g.ID); err != nil {
		t.Errorf("DeleteContactGroup once no policy targets it: %v", err)
	}
	if got := policyNames(listAllPolicies(t, s, store.PolicyFilter{})); !slices.Equal(got, []string{"unrelated"}) {
		t.Errorf("after the deletes the store holds policies %q", got)
	}
	mustCreatePolicy(t, s, NewPolicy(t, "alpha", nil), at(6)) // the name is free again
}

func mustCreatePolicy(t *testing.T, s store.Store, p *route.Policy, now time.Time) {
	t.Helper()
	if err := s.CreatePolicy(t.Context(), p, now); err != nil {
		t.Fatalf("create policy %q: %v", p.Name, err)
	}
}

func mustGetPolicy(t *testing.T, s store.Store, id string) *route.Policy {
	t.Helper()
	p, err := s.GetPolicy(t.Context(), id)
	if err != nil {
		t.Fatalf("get policy %s: %v", id, err)
	}
	return p
}

func listAllPolicies(t *testing.T, s store.Store, f store.PolicyFilter) []*route.Policy {
	t.Helper()
	return collectPages(t, fmt.Sprintf("list policies %+v", f), f.Limit, func(cursor string) ([]*route.Policy, string, error) {
		f.Cursor = cursor
		return s.ListPolicies(t.Context(), f)
	})
}

func policyNames(ps []*route.Policy) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}
