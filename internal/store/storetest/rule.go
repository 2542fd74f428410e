package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/datasource"
	"github.com/tocsinhq/tocsin/internal/route"
	"github.com/tocsinhq/tocsin/internal/rule"
	"github.com/tocsinhq/tocsin/internal/store"
)

// NewMetricRule returns a metric rule named name with every field set away
// from its zero value: a form of two conditions (one against a threshold,
// one against an earlier window) and its PromQL, timing, labels and
// annotations. It queries the embedded store and names no targets; give
// it a policy or a data source by setting Targets.Policy or Datasource
// and passing their ids to the store.
func NewMetricRule(name string) *rule.Rule {
	return &rule.Rule{
		Name:  name,
		Kind:  rule.KindMetric,
		Group: "jvm",
		Expr:  `avg by (instance) (avg_over_time(jvm_gc_full_count{env="prod"}[5m])) >= 2 * avg by (instance) (avg_over_time(jvm_gc_full_count{env="prod"}[5m] offset 1h))`,
		Builder: &rule.Builder{
			Conditions: []rule.Condition{
				{
					Metric: "jvm_gc_full_count",
					Filters: []rule.Filter{
						{Label: "env", Op: "=", Value: "prod"},
						{Label: "instance", Op: "=~", Value: `app-\d+`},
					},
					Aggregation: "avg",
					Window:      rule.Duration(5 * time.Minute),
					Change:      &rule.Change{Direction: rule.Rise, Percent: 100, Offset: rule.Duration(time.Hour)},
				},
				{
					Metric:      "process_cpu_seconds_total",
					Aggregation: "max",
					Window:      rule.Duration(90 * time.Second),
					Threshold:   &rule.Threshold{Op: ">=", Value: 0.1},
				},
			},
			Join:    rule.JoinAny,
			Mode:    rule.ModeAggregated,
			By:      []string{"instance", "job"},
			Missing: rule.MissingZero,
		},
		For: rule.Duration(time.Minute),
		// Below the millisecond: durations are kept exactly.
		KeepFiringFor: rule.Duration(1500 * time.Microsecond),
		Interval:      rule.Duration(30 * time.Second),
		Severity:      alert.Critical,
		Labels:        map[string]string{"team": "sre", "服务": "订单"},
		Annotations: map[string]string{
			"summary":     "full GCs on {{ $labels.instance }} doubled",
			"description": "now {{ $value | humanize }} per 5m, \"quoted\" and <b>marked up</b>",
		},
		Datasource: rule.Embedded,
		Enabled:    true,
	}
}

// NewEventRule returns an event rule named name with every field of its
// match set, notifying channels and contact groups directly: give the ids
// of those, and to the store the id of the policy kept for the rule.
func NewEventRule(name string, channels, groups []string) *rule.Rule {
	return &rule.Rule{
		Name: name,
		Kind: rule.KindEvent,
		Match: &rule.EventMatch{
			When: []rule.FieldMatch{
				{Field: "type", Op: "=", Value: "Instance:StateChange"},
				{Field: "content.state", Op: "in", Values: []string{"Stopped", "Stopping"}},
				{Field: "labels.env", Op: "!~", Value: "dev|test"},
			},
			ResolveWhen:  []rule.FieldMatch{{Field: "content.state", Op: "=", Value: "Running"}},
			ResolveAfter: rule.Duration(24 * time.Hour),
			Key:          []string{"source", "resource", "labels.region"},
		},
		Severity:    alert.Warning,
		Labels:      map[string]string{"kind": "ecs"},
		Annotations: map[string]string{},
		Targets:     rule.Targets{Channels: channels, ContactGroups: groups},
		Enabled:     true,
	}
}

func testRuleCreateAndGet(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	ch := NewChannel(t, "robot")
	mustCreate(t, s, ch, at(0))
	g := newGroup("sre", nil, nil)
	mustCreateGroup(t, s, g, at(1))
	named := NewPolicy(t, "sre critical", nil)
	mustCreatePolicy(t, s, named, at(2))
	kept := NewPolicy(t, "kept for a rule", map[string]any{"channels": []string{ch.ID}, "contact_groups": []string{g.ID}})
	mustCreatePolicy(t, s, kept, at(3))
	ds := NewDatasource("prom-eu")
	mustCreateDatasource(t, s, ds, at(4))

	metric := NewMetricRule("jvm full gc doubled")
	metric.Targets.Policy, metric.Datasource = named.Name, ds.Name
	metric.ID = "chosen-by-the-caller" // the store assigns ids
	event := NewEventRule("instance stopped", []string{ch.ID}, []string{g.ID})
	// Nothing set but what a rule cannot do without: nil maps and lists,
	// zero durations, disabled.
	bare := &rule.Rule{Name: "bare", Kind: rule.KindMetric, Expr: "up == 0"}

	var want []*store.StoredRule
	for i, c := range []struct {
		r                    *rule.Rule
		policyID, datasource string
	}{{metric, named.ID, ds.ID}, {event, kept.ID, ""}, {bare, "", ""}} {
		orig := *c.r
		mustCreateRule(t, s, c.r, c.policyID, c.datasource, at(10+i))
		if len(c.r.ID) != 26 || c.r.ID == "chosen-by-the-caller" {
			t.Errorf("created rule %q got ID %q, want a new 26-character id", c.r.Name, c.r.ID)
		}
		wantTime := store.StoredTime(at(10 + i))
		if !c.r.CreatedAt.Equal(wantTime) || !c.r.UpdatedAt.Equal(wantTime) || c.r.CreatedAt.Location() != time.UTC {
			t.Errorf("created rule %q got CreatedAt %v, UpdatedAt %v, want both %v (UTC, whole milliseconds)", c.r.Name, c.r.CreatedAt, c.r.UpdatedAt, wantTime)
		}
		orig.ID, orig.CreatedAt, orig.UpdatedAt = c.r.ID, c.r.CreatedAt, c.r.UpdatedAt
		if diff := cmp.Diff(&orig, c.r); diff != "" {
			t.Errorf("CreateRule changed rule %q beyond its id and times (-want +got):\n%s", c.r.Name, diff)
		}
		w := &store.StoredRule{Rule: orig, PolicyID: c.policyID, DatasourceID: c.datasource}
		want = append(want, w)
		if diff := cmp.Diff(w, mustGetRule(t, s, c.r.ID)); diff != "" {
			t.Errorf("GetRule of %q differs from what was created (-want +got):\n%s", c.r.Name, diff)
		}
		got, err := s.GetRuleByName(t.Context(), c.r.Name)
		if err != nil {
			t.Fatalf("GetRuleByName(%q): %v", c.r.Name, err)
		}
		if diff := cmp.Diff(w, got); diff != "" {
			t.Errorf("GetRuleByName(%q) differs from what was created (-want +got):\n%s", c.r.Name, diff)
		}
	}
	items, next, err := s.ListRules(t.Context(), store.RuleFilter{})
	if err != nil {
		t.Fatalf("ListRules: %v", err)
	}
	if diff := cmp.Diff(want, items); diff != "" || next != "" {
		t.Errorf("ListRules got next %q and items (-want +got):\n%s", next, diff)
	}
	all, err := s.AllRules(t.Context())
	if err != nil {
		t.Fatalf("AllRules: %v", err)
	}
	if diff := cmp.Diff(want, all); diff != "" {
		t.Errorf("AllRules (-want +got):\n%s", diff)
	}

	// Lists the rule's JSON leaves out when empty read back nil, as the
	// JSON decoding of a rule makes them.
	empty := NewMetricRule("empty lists")
	empty.Builder.By, empty.Builder.Conditions[0].Filters = []string{}, []rule.Filter{}
	empty.Targets.Channels = []string{}
	mustCreateRule(t, s, empty, "", "", at(20))
	got := mustGetRule(t, s, empty.ID)
	if got.Builder.By != nil || got.Builder.Conditions[0].Filters != nil || got.Targets.Channels != nil {
		t.Errorf("empty lists read back as by %#v, filters %#v, channels %#v; want nil", got.Builder.By, got.Builder.Conditions[0].Filters, got.Targets.Channels)
	}
}

func testRuleMissing(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	mustCreateRule(t, s, NewMetricRule("present"), "", "", at(0))
	unknown := new(store.IDs).New(t0)
	_, err := s.GetRule(t.Context(), unknown)
	wantErr(t, "GetRule of an unknown id", err, store.ErrNotFound)
	_, err = s.GetRuleByName(t.Context(), "absent")
	wantErr(t, "GetRuleByName of an unknown name", err, store.ErrNotFound)
	_, err = s.GetRuleByName(t.Context(), "PRESENT")
	wantErr(t, "GetRuleByName with other letter case", err, store.ErrNotFound)
	ghost := NewMetricRule("ghost")
	ghost.ID = unknown
	wantErr(t, "UpdateRule of an unknown id", s.UpdateRule(t.Context(), ghost, "", "", at(1)), store.ErrNotFound)
	wantErr(t, "DeleteRule of an unknown id", s.DeleteRule(t.Context(), unknown), store.ErrNotFound)
	if got := ruleNames(listAllRules(t, s, store.RuleFilter{})); !slices.Equal(got, []string{"present"}) {
		t.Errorf("after refused calls the store holds rules %q", got)
	}
}

func testRuleDuplicateName(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	first, other := NewMetricRule("dup"), NewEventRule("other", nil, nil)
	mustCreateRule(t, s, first, "", "", at(0))
	mustCreateRule(t, s, other, "", "", at(1))

	err := s.CreateRule(t.Context(), NewEventRule("dup", nil, nil), "", "", at(2))
	wantErr(t, "CreateRule with a taken name", err, store.ErrConflict)
	if err != nil && !strings.Contains(err.Error(), `"dup"`) {
		t.Errorf("CreateRule with a taken name: error %q does not name it", err)
	}
	upd := NewMetricRule("dup")
	upd.ID = other.ID
	err = s.UpdateRule(t.Context(), upd, "", "", at(3))
	wantErr(t, "UpdateRule to a taken name", err, store.ErrConflict)
	if err != nil && !strings.Contains(err.Error(), `"dup"`) {
		t.Errorf("UpdateRule to a taken name: error %q does not name it", err)
	}
	want := []*store.StoredRule{{Rule: *first}, {Rule: *other}}
	if diff := cmp.Diff(want, listAllRules(t, s, store.RuleFilter{})); diff != "" {
		t.Errorf("after refused duplicates the store holds (-want +got):\n%s", diff)
	}
	// Names compare exactly; a policy may share a rule's name.
	mustCreateRule(t, s, NewMetricRule("DUP"), "", "", at(4))
	mustCreatePolicy(t, s, NewPolicy(t, "dup", nil), at(5))
}

// testRuleMissingKeys: a policy or data source id that names nothing is
// refused with ErrNotFound naming it, and nothing is written.
func testRuleMissingKeys(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	p, ds := mustCreatePolicyAndSource(t, s, "real policy", "real source", at(0))
	noPolicy, noSource := new(store.IDs).New(at(2)), new(store.IDs).New(at(3))

	for _, tt := range []struct {
		name                 string
		policyID, datasource string
		wantNamed            []string
	}{
		{"policy", noPolicy, ds.ID, []string{"policy " + noPolicy}},
		{"data source", p.ID, noSource, []string{"data source " + noSource}},
		{"both", noPolicy, noSource, []string{"policy " + noPolicy, "data source " + noSource}},
		// A data source's id is no policy's, and the other way round.
		{"swapped", ds.ID, p.ID, []string{"policy " + ds.ID, "data source " + p.ID}},
	} {
		r := NewMetricRule("r-" + tt.name)
		r.Targets.Policy, r.Datasource = "some policy", "some source"
		err := s.CreateRule(t.Context(), r, tt.policyID, tt.datasource, at(4))
		wantErr(t, "CreateRule with a missing "+tt.name, err, store.ErrNotFound)
		for _, named := range tt.wantNamed {
			if err != nil && !strings.Contains(err.Error(), named) {
				t.Errorf("CreateRule with a missing %s: error %q does not name %s", tt.name, err, named)
			}
		}
		if r.ID != "" {
			t.Errorf("a refused CreateRule set the rule's ID to %q", r.ID)
		}
	}
	if got := listAllRules(t, s, store.RuleFilter{}); len(got) != 0 {
		t.Errorf("refused creates left rules behind: %q", ruleNames(got))
	}

	r := NewMetricRule("kept")
	r.Targets.Policy, r.Datasource = p.Name, ds.Name
	mustCreateRule(t, s, r, p.ID, ds.ID, at(5))
	want := mustGetRule(t, s, r.ID)
	upd := NewMetricRule("renamed")
	upd.ID, upd.Targets.Policy = r.ID, p.Name
	wantErr(t, "UpdateRule with a missing policy", s.UpdateRule(t.Context(), upd, noPolicy, "", at(6)), store.ErrNotFound)
	if diff := cmp.Diff(want, mustGetRule(t, s, r.ID)); diff != "" {
		t.Errorf("a refused update changed the rule (-want +got):\n%s", diff)
	}
}

// testRuleRefusesDisagreement: a rule naming a policy or data source with
// no id for it (or an id for the embedded store) is a caller's mistake the
// store refuses, as it refuses an invalid policy.
func testRuleRefusesDisagreement(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	p, ds := mustCreatePolicyAndSource(t, s, "p", "ds", at(0))
	for _, tt := range []struct {
		name                 string
		edit                 func(r *rule.Rule)
		policyID, datasource string
	}{
		{"policy named, no id", func(r *rule.Rule) { r.Targets.Policy = "p" }, "", ""},
		{"data source named, no id", func(r *rule.Rule) { r.Datasource = "ds" }, "", ""},
		{"embedded, with an id", func(r *rule.Rule) { r.Datasource = rule.Embedded }, "", ds.ID},
		{"no data source, with an id", func(r *rule.Rule) { r.Datasource = "" }, "", ds.ID},
	} {
		r := NewMetricRule(tt.name)
		tt.edit(r)
		if err := s.CreateRule(t.Context(), r, tt.policyID, tt.datasource, at(2)); err == nil {
			t.Errorf("CreateRule of a rule with %s succeeded", tt.name)
		}
	}
	if got := listAllRules(t, s, store.RuleFilter{}); len(got) != 0 {
		t.Errorf("refused creates left rules behind: %q", ruleNames(got))
	}
	// Direct targets go through a policy the rule does not name: fine.
	r := NewEventRule("direct", nil, nil)
	mustCreateRule(t, s, r, p.ID, "", at(3))
	r.Datasource = "ds"
	if err := s.UpdateRule(t.Context(), r, p.ID, "", at(4)); err == nil {
		t.Error("UpdateRule of a rule naming a data source with no id succeeded")
	}
}

func testRuleUpdate(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	p1, p2 := NewPolicy(t, "p1", nil), NewPolicy(t, "p2", nil)
	mustCreatePolicy(t, s, p1, at(0))
	mustCreatePolicy(t, s, p2, at(1))
	ds := NewDatasource("ds")
	mustCreateDatasource(t, s, ds, at(2))
	r := NewMetricRule("before")
	r.Targets.Policy, r.Datasource = p1.Name, ds.Name
	mustCreateRule(t, s, r, p1.ID, ds.ID, at(3))
	bystander := NewMetricRule("bystander")
	mustCreateRule(t, s, bystander, "", "", at(4))
	state := &store.RuleState{RuleID: r.ID, EvaluatedAt: at(5), Health: "ok", Active: []byte(`[]`)}
	mustSaveRuleState(t, s, state)

	// Everything changes: kind, every field, the policy, and the data
	// source back to the embedded store.
	upd := NewEventRule("after", nil, nil)
	upd.ID = r.ID
	upd.Targets.Policy = p2.Name
	upd.Enabled = false
	upd.CreatedAt = at(5000) // not the caller's to change
	if err := s.UpdateRule(t.Context(), upd, p2.ID, "", at(60_000)); err != nil {
		t.Fatalf("UpdateRule: %v", err)
	}
	if !upd.CreatedAt.Equal(r.CreatedAt) || !upd.UpdatedAt.Equal(store.StoredTime(at(60_000))) {
		t.Errorf("UpdateRule set CreatedAt %v, UpdatedAt %v; want %v (as created), %v", upd.CreatedAt, upd.UpdatedAt, r.CreatedAt, store.StoredTime(at(60_000)))
	}
	want := &store.StoredRule{Rule: *upd, PolicyID: p2.ID}
	if diff := cmp.Diff(want, mustGetRule(t, s, r.ID)); diff != "" {
		t.Errorf("after UpdateRule, GetRule differs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&store.StoredRule{Rule: *bystander}, mustGetRule(t, s, bystander.ID)); diff != "" {
		t.Errorf("updating one rule changed another (-want +got):\n%s", diff)
	}
	_, err := s.GetRuleByName(t.Context(), "before")
	wantErr(t, "GetRuleByName of the old name", err, store.ErrNotFound)
	if got := mustRuleState(t, s, r.ID); !got.EvaluatedAt.Equal(store.StoredTime(at(5))) {
		t.Errorf("after UpdateRule the rule's state is %+v, want it kept", got)
	}
	// Neither the first policy nor the data source is used any more.
	if err := s.DeletePolicy(t.Context(), p1.ID); err != nil {
		t.Errorf("DeletePolicy of a policy no rule uses any more: %v", err)
	}
	if err := s.DeleteDatasource(t.Context(), ds.ID); err != nil {
		t.Errorf("DeleteDatasource of a data source no rule uses any more: %v", err)
	}
	// The old name is free again.
	mustCreateRule(t, s, NewMetricRule("before"), "", "", at(60_001))
}

// testRuleNamesFollowRenames: a rule names its policy and data source by
// their names as they are now, not as they were when it was written.
func testRuleNamesFollowRenames(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	p, ds := mustCreatePolicyAndSource(t, s, "old policy", "old source", at(0))
	r := NewMetricRule("r")
	r.Targets.Policy, r.Datasource = p.Name, ds.Name
	mustCreateRule(t, s, r, p.ID, ds.ID, at(2))
	// A rule whose alerts go to channels through a policy it does not
	// name keeps naming none.
	direct := NewEventRule("direct", nil, nil)
	mustCreateRule(t, s, direct, p.ID, "", at(3))

	renamed := NewPolicy(t, "new policy", nil)
	renamed.ID = p.ID
	if err := s.UpdatePolicy(t.Context(), renamed, at(4)); err != nil {
		t.Fatalf("UpdatePolicy: %v", err)
	}
	ds.Name = "new source"
	if err := s.UpdateDatasource(t.Context(), ds, at(5)); err != nil {
		t.Fatalf("UpdateDatasource: %v", err)
	}
	got := mustGetRule(t, s, r.ID)
	if got.Targets.Policy != "new policy" || got.Datasource != "new source" {
		t.Errorf("after renaming, the rule names policy %q and data source %q; want the new names", got.Targets.Policy, got.Datasource)
	}
	all, err := s.AllRules(t.Context())
	if err != nil {
		t.Fatalf("AllRules: %v", err)
	}
	if len(all) != 2 || all[0].Targets.Policy != "new policy" || all[0].Datasource != "new source" {
		t.Errorf("after renaming, AllRules gives %+v", all)
	}
	if got := mustGetRule(t, s, direct.ID); got.Targets.Policy != "" || got.PolicyID != p.ID {
		t.Errorf("the rule with direct targets reads back with policy %q (id %s), want none named (id %s)", got.Targets.Policy, got.PolicyID, p.ID)
	}
}

// testRuleListQueryKindPages: lists follow id order, filter by name
// (case-insensitively, LIKE's wildcards matching themselves) and kind,
// and pages neither skip nor repeat a rule.
func testRuleListQueryKindPages(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	var all []*rule.Rule
	for i := range 12 {
		name := fmt.Sprintf("cpu-%02d", i)
		if i%3 == 0 {
			name = fmt.Sprintf("Disk_%02d", i)
		}
		r := NewMetricRule(name)
		if i%2 == 1 {
			r = NewEventRule(name, nil, nil)
		}
		// Id order is not name order: upper case sorts first.
		mustCreateRule(t, s, r, "", "", at(i))
		all = append(all, r)
	}
	slices.SortFunc(all, func(a, b *rule.Rule) int { return strings.Compare(a.ID, b.ID) })
	namesWhere := func(keep func(r *rule.Rule) bool) []string {
		var out []string
		for _, r := range all {
			if keep(r) {
				out = append(out, r.Name)
			}
		}
		return out
	}

	for _, tt := range []struct {
		f    store.RuleFilter
		want []string
	}{
		{store.RuleFilter{}, namesWhere(func(*rule.Rule) bool { return true })},
		// Unescaped, "_0" would match "-0" as well.
		{store.RuleFilter{Query: "_0"}, namesWhere(func(r *rule.Rule) bool { return strings.HasPrefix(r.Name, "Disk_") })},
		{store.RuleFilter{Query: "K%"}, nil},
		{store.RuleFilter{Query: "CPU-0"}, namesWhere(func(r *rule.Rule) bool { return strings.HasPrefix(r.Name, "cpu-0") })},
		{store.RuleFilter{Kind: rule.KindEvent}, namesWhere(func(r *rule.Rule) bool { return r.Kind == rule.KindEvent })},
		{store.RuleFilter{Kind: rule.KindMetric, Query: "disk"}, namesWhere(func(r *rule.Rule) bool {
			return r.Kind == rule.KindMetric && strings.HasPrefix(r.Name, "Disk")
		})},
	} {
		for _, limit := range []int{1, 2, 5, 0} {
			f := tt.f
			f.Limit = limit
			if diff := cmp.Diff(tt.want, ruleNames(listAllRules(t, s, f))); diff != "" {
				t.Errorf("ListRules %+v over all pages, want every rule it selects once in id order (-want +got):\n%s", f, diff)
			}
		}
	}
	every, err := s.AllRules(t.Context())
	if err != nil {
		t.Fatalf("AllRules: %v", err)
	}
	if diff := cmp.Diff(namesWhere(func(*rule.Rule) bool { return true }), ruleNames(every)); diff != "" {
		t.Errorf("AllRules, want every rule in id order (-want +got):\n%s", diff)
	}
}

func testRuleStates(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	a, b, c := NewMetricRule("a"), NewMetricRule("b"), NewEventRule("c", nil, nil)
	mustCreateRule(t, s, a, "", "", at(0))
	mustCreateRule(t, s, b, "", "", at(1))
	mustCreateRule(t, s, c, "", "", at(2))

	_, err := s.RuleState(t.Context(), a.ID)
	wantErr(t, "RuleState before the first evaluation", err, store.ErrNotFound)
	if sts, err := s.AllRuleStates(t.Context()); err != nil || len(sts) != 0 {
		t.Errorf("AllRuleStates before any evaluation: %d states, %v", len(sts), err)
	}

	// Active is kept byte for byte: white space, key order, numbers.
	first := &store.RuleState{
		RuleID: b.ID, EvaluatedAt: at(10), Duration: 1234567 * time.Nanosecond, Health: "ok",
		Active: []byte(`[ {"labels": {"z": "1", "a": "2"}, "value": 1.50, "active_at": "2026-05-20T01:30:00Z"} ]`),
	}
	mustSaveRuleState(t, s, first)
	want := *first
	want.EvaluatedAt = store.StoredTime(at(10))
	if diff := cmp.Diff(&want, mustRuleState(t, s, b.ID)); diff != "" {
		t.Errorf("RuleState after SaveRuleState (-want +got):\n%s", diff)
	}

	// A later save replaces the state; nil and empty Active are none.
	failed := &store.RuleState{RuleID: b.ID, EvaluatedAt: at(40), Duration: 3 * time.Second, Health: "error", LastError: "query timed out after 3s"}
	mustSaveRuleState(t, s, failed)
	other := &store.RuleState{RuleID: a.ID, EvaluatedAt: at(41), Health: "ok", Active: []byte{}}
	mustSaveRuleState(t, s, other)
	wantB, wantA := *failed, *other
	wantB.EvaluatedAt, wantA.EvaluatedAt, wantA.Active = store.StoredTime(at(40)), store.StoredTime(at(41)), nil
	sts, err := s.AllRuleStates(t.Context())
	if err != nil {
		t.Fatalf("AllRuleStates: %v", err)
	}
	if diff := cmp.Diff([]*store.RuleState{&wantA, &wantB}, sts); diff != "" {
		t.Errorf("AllRuleStates, want a's and b's in rule id order (-want +got):\n%s", diff)
	}

	// A state for a rule that is not there is refused, and deleting a
	// rule deletes its state.
	ghost := &store.RuleState{RuleID: new(store.IDs).New(at(50)), EvaluatedAt: at(50), Health: "ok"}
	wantErr(t, "SaveRuleState of an unknown rule", s.SaveRuleState(t.Context(), ghost), store.ErrNotFound)
	if err := s.DeleteRule(t.Context(), b.ID); err != nil {
		t.Fatalf("DeleteRule: %v", err)
	}
	_, err = s.RuleState(t.Context(), b.ID)
	wantErr(t, "RuleState of a deleted rule", err, store.ErrNotFound)
	failed.EvaluatedAt = at(60)
	wantErr(t, "SaveRuleState of a deleted rule", s.SaveRuleState(t.Context(), failed), store.ErrNotFound)
	sts, err = s.AllRuleStates(t.Context())
	if err != nil {
		t.Fatalf("AllRuleStates: %v", err)
	}
	if diff := cmp.Diff([]*store.RuleState{&wantA}, sts); diff != "" {
		t.Errorf("AllRuleStates after deleting b, want a's alone (-want +got):\n%s", diff)
	}
	// Invalid JSON is refused, and the earlier state kept.
	bad := &store.RuleState{RuleID: a.ID, EvaluatedAt: at(70), Health: "ok", Active: []byte(`{"unfinished":`)}
	if err := s.SaveRuleState(t.Context(), bad); err == nil {
		t.Error("SaveRuleState with invalid JSON in Active succeeded")
	}
	if diff := cmp.Diff(&wantA, mustRuleState(t, s, a.ID)); diff != "" {
		t.Errorf("a refused SaveRuleState changed the state (-want +got):\n%s", diff)
	}
}

// testDeleteUsedByRules: a policy a rule notifies through, or a data
// source a rule queries, is not deleted; the refusal names every rule
// using it, and only those.
func testDeleteUsedByRules(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	p, ds := mustCreatePolicyAndSource(t, s, "sre", "mimir", at(0))
	beta := NewMetricRule("beta")
	beta.Targets.Policy, beta.Datasource = p.Name, ds.Name
	mustCreateRule(t, s, beta, p.ID, ds.ID, at(2))
	alpha := NewEventRule("alpha", nil, nil)
	mustCreateRule(t, s, alpha, p.ID, "", at(3))
	gamma := NewMetricRule("gamma")
	gamma.Datasource = ds.Name
	mustCreateRule(t, s, gamma, "", ds.ID, at(4))
	mustCreateRule(t, s, NewMetricRule("unrelated"), "", "", at(5))

	err := s.DeletePolicy(t.Context(), p.ID)
	wantErr(t, "deleting a policy two rules notify through", err, store.ErrConflict)
	if err != nil && (!strings.Contains(err.Error(), `rules "alpha", "beta"`) || strings.Contains(err.Error(), "gamma") || strings.Contains(err.Error(), "unrelated")) {
		t.Errorf("deleting a policy two rules notify through: error %q does not name both rules (and only them)", err)
	}
	err = s.DeleteDatasource(t.Context(), ds.ID)
	wantErr(t, "deleting a data source two rules query", err, store.ErrConflict)
	if err != nil && (!strings.Contains(err.Error(), `rules "beta", "gamma"`) || strings.Contains(err.Error(), "alpha")) {
		t.Errorf("deleting a data source two rules query: error %q does not name both rules (and only them)", err)
	}
	mustGetPolicy(t, s, p.ID)
	mustGetDatasource(t, s, ds.ID)

	// Deleting the rules frees both.
	for _, r := range []*rule.Rule{alpha, beta} {
		if err := s.DeleteRule(t.Context(), r.ID); err != nil {
			t.Fatalf("DeleteRule %q: %v", r.Name, err)
		}
	}
	_, err = s.GetRule(t.Context(), alpha.ID)
	wantErr(t, "GetRule after DeleteRule", err, store.ErrNotFound)
	wantErr(t, "DeleteRule twice", s.DeleteRule(t.Context(), alpha.ID), store.ErrNotFound)
	if err := s.DeletePolicy(t.Context(), p.ID); err != nil {
		t.Errorf("DeletePolicy once no rule uses it: %v", err)
	}
	err = s.DeleteDatasource(t.Context(), ds.ID)
	wantErr(t, "deleting a data source one rule queries", err, store.ErrConflict)
	if err != nil && !strings.Contains(err.Error(), `rule "gamma"`) {
		t.Errorf("deleting a data source one rule queries: error %q does not name it", err)
	}
	if err := s.DeleteRule(t.Context(), gamma.ID); err != nil {
		t.Fatalf("DeleteRule: %v", err)
	}
	if err := s.DeleteDatasource(t.Context(), ds.ID); err != nil {
		t.Errorf("DeleteDatasource once no rule uses it: %v", err)
	}
	if got := ruleNames(listAllRules(t, s, store.RuleFilter{})); !slices.Equal(got, []string{"unrelated"}) {
		t.Errorf("after the deletes the store holds rules %q", got)
	}
	mustCreateRule(t, s, NewMetricRule("alpha"), "", "", at(6)) // the name is free again
}

// testConcurrentDeleteAndUse races rules taking a policy and a data source
// against their deletion: either a rule is written and the policy or
// data source stays, or it is gone and no rule points at it.
func testConcurrentDeleteAndUse(t *testing.T, h Harness) {
	const users, rounds = 4, 5
	s := open(t, h, NewBox(t))
	for round := range rounds {
		p, ds := mustCreatePolicyAndSource(t, s, fmt.Sprintf("contested policy %d", round), fmt.Sprintf("contested source %d", round), at(round))
		var wg sync.WaitGroup
		errs := make([]error, users+2)
		for u := range users {
			wg.Go(func() {
				r := NewMetricRule(fmt.Sprintf("race-%d-%d", round, u))
				r.Targets.Policy, r.Datasource = p.Name, ds.Name
				errs[u] = s.CreateRule(t.Context(), r, p.ID, ds.ID, at(round))
			})
		}
		wg.Go(func() { errs[users] = s.DeletePolicy(t.Context(), p.ID) })
		wg.Go(func() { errs[users+1] = s.DeleteDatasource(t.Context(), ds.ID) })
		wg.Wait()
		for i, err := range errs {
			if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict) {
				t.Errorf("round %d, call %d: error %v is neither not found nor conflict", round, i, err)
			}
		}
		for u := range users {
			if errs[u] == nil && (errs[users] == nil || errs[users+1] == nil) {
				t.Errorf("round %d: a rule was written and its policy (%v) and data source (%v) deleted as well", round, errs[users], errs[users+1])
			}
		}
	}
	for _, r := range listAllRules(t, s, store.RuleFilter{}) {
		if _, err := s.GetPolicy(t.Context(), r.PolicyID); err != nil {
			t.Errorf("rule %q notifies through policy %s, which is gone: %v", r.Name, r.PolicyID, err)
		}
		if _, err := s.GetDatasource(t.Context(), r.DatasourceID); err != nil {
			t.Errorf("rule %q queries data source %s, which is gone: %v", r.Name, r.DatasourceID, err)
		}
	}
}

// mustCreatePolicyAndSource creates a policy and a data source with those
// names, for rules to use.
func mustCreatePolicyAndSource(t *testing.T, s store.Store, policy, source string, now time.Time) (*route.Policy, *datasource.Source) {
	t.Helper()
	p, ds := NewPolicy(t, policy, nil), NewDatasource(source)
	mustCreatePolicy(t, s, p, now)
	mustCreateDatasource(t, s, ds, now)
	return p, ds
}

func mustCreateRule(t *testing.T, s store.Store, r *rule.Rule, policyID, datasourceID string, now time.Time) {
	t.Helper()
	if err := s.CreateRule(t.Context(), r, policyID, datasourceID, now); err != nil {
		t.Fatalf("create rule %q: %v", r.Name, err)
	}
}

func mustGetRule(t *testing.T, s store.Store, id string) *store.StoredRule {
	t.Helper()
	r, err := s.GetRule(t.Context(), id)
	if err != nil {
		t.Fatalf("get rule %s: %v", id, err)
	}
	return r
}

func mustSaveRuleState(t *testing.T, s store.Store, st *store.RuleState) {
	t.Helper()
	if err := s.SaveRuleState(t.Context(), st); err != nil {
		t.Fatalf("save state of rule %s: %v", st.RuleID, err)
	}
}

func mustRuleState(t *testing.T, s store.Store, ruleID string) *store.RuleState {
	t.Helper()
	st, err := s.RuleState(t.Context(), ruleID)
	if err != nil {
		t.Fatalf("state of rule %s: %v", ruleID, err)
	}
	return st
}

func listAllRules(t *testing.T, s store.Store, f store.RuleFilter) []*store.StoredRule {
	t.Helper()
	return collectPages(t, fmt.Sprintf("list rules %+v", f), f.Limit, func(cursor string) ([]*store.StoredRule, string, error) {
		f.Cursor = cursor
		return s.ListRules(t.Context(), f)
	})
}

func ruleNames(rs []*store.StoredRule) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}
