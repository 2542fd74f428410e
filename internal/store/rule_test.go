package store

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/rule"
)

// TestRuleSpecCoversRule fails when rule.Rule gains a field that neither
// has a column nor is in the spec: the store would drop it without a word.
func TestRuleSpecCoversRule(t *testing.T) {
	columns := map[string]bool{"ID": true, "Name": true, "Kind": true, "Enabled": true, "CreatedAt": true, "UpdatedAt": true}
	spec := reflect.TypeFor[ruleSpec]()
	for f := range reflect.TypeFor[rule.Rule]().Fields() {
		if columns[f.Name] {
			if _, ok := spec.FieldByName(f.Name); ok {
				t.Errorf("rule field %s has a column and is in the spec as well", f.Name)
			}
			continue
		}
		sf, ok := spec.FieldByName(f.Name)
		switch {
		case !ok:
			t.Errorf("rule field %s is neither a column nor in the spec: add it to ruleSpec, EncodeRule and Decode", f.Name)
		case sf.Type != f.Type || sf.Tag.Get("json") != f.Tag.Get("json"):
			t.Errorf("spec field %s is %v `json:%q`, the rule's is %v `json:%q`", f.Name, sf.Type, sf.Tag.Get("json"), f.Type, f.Tag.Get("json"))
		}
	}
}

func TestRuleRecordRoundTrip(t *testing.T) {
	now := time.Date(2026, 5, 20, 9, 30, 0, 123_456_789, time.FixedZone("CST", 8*60*60))
	r := &rule.Rule{
		ID: "ignored: EncodeRule takes the id", Name: "gc doubled", Kind: rule.KindMetric, Group: "jvm",
		Expr: "rate(x[5m]) > 1",
		Builder: &rule.Builder{Conditions: []rule.Condition{{
			Metric: "x", Filters: []rule.Filter{{Label: "env", Op: "=", Value: "prod"}},
			Aggregation: "avg", Window: rule.Duration(5 * time.Minute),
			Change: &rule.Change{Direction: rule.Fall, Percent: 33.3, Offset: rule.Duration(24 * time.Hour)},
		}}, Join: rule.JoinAll, Mode: rule.ModePerSeries, Missing: rule.MissingOne},
		For: rule.Duration(time.Minute), KeepFiringFor: rule.Duration(-time.Nanosecond), Interval: rule.Duration(time.Microsecond),
		Severity: alert.Info, Labels: map[string]string{"a": "1"}, Annotations: map[string]string{"summary": "{{ $value }}"},
		Datasource: "mimir", Targets: rule.Targets{Policy: "sre"}, Enabled: true,
		CreatedAt: now.Add(-time.Hour), UpdatedAt: now.Add(-time.Minute),
	}
	rec, err := EncodeRule("01id", r, "p1", "d1", now)
	if err != nil {
		t.Fatal(err)
	}
	wantTime := time.Date(2026, 5, 20, 1, 30, 0, 123_000_000, time.UTC)
	if rec.ID != "01id" || !rec.CreatedAt.Equal(wantTime) || rec.CreatedAt.Location() != time.UTC || rec.UpdatedAt != rec.CreatedAt {
		t.Errorf("record id %q, times %v, %v: want 01id and both %v (UTC, whole milliseconds)", rec.ID, rec.CreatedAt, rec.UpdatedAt, wantTime)
	}
	// The spec holds what has no column, in the rule's JSON names.
	var spec map[string]json.RawMessage
	if err := json.Unmarshal(rec.Spec, &spec); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "name", "kind", "enabled", "created_at", "updated_at"} {
		if _, ok := spec[k]; ok {
			t.Errorf("the spec %s holds %q, which has a column", rec.Spec, k)
		}
	}
	for _, k := range []string{"builder", "keep_firing_for", "datasource", "targets"} {
		if _, ok := spec[k]; !ok {
			t.Errorf("the spec %s lacks %q", rec.Spec, k)
		}
	}

	// A read joins the names the ids have now.
	rec.PolicyName, rec.DatasourceName = "sre", "mimir"
	got, err := rec.Decode()
	if err != nil {
		t.Fatal(err)
	}
	want := *r
	want.ID, want.CreatedAt, want.UpdatedAt = "01id", wantTime, wantTime
	if diff := cmp.Diff(&StoredRule{Rule: want, PolicyID: "p1", DatasourceID: "d1"}, got); diff != "" {
		t.Errorf("Decode(EncodeRule(r)) (-want +got):\n%s", diff)
	}
	rec.PolicyName, rec.DatasourceName = "sre-renamed", "mimir-eu"
	got, err = rec.Decode()
	if err != nil {
		t.Fatal(err)
	}
	if got.Targets.Policy != "sre-renamed" || got.Datasource != "mimir-eu" {
		t.Errorf("decoding after renames gave policy %q, data source %q; want the new names", got.Targets.Policy, got.Datasource)
	}
}

func TestEncodeRuleRefusesDisagreement(t *testing.T) {
	for _, tt := range []struct {
		name                   string
		policy, datasource     string
		policyID, datasourceID string
		ok                     bool
	}{
		{"none", "", "", "", "", true},
		{"embedded by name", "", rule.Embedded, "", "", true},
		{"named policy and data source", "sre", "mimir", "p1", "d1", true},
		{"a policy the rule does not name (direct targets)", "", "", "p1", "", true},
		{"policy without id", "sre", "", "", "", false},
		{"data source without id", "", "mimir", "", "", false},
		{"embedded with an id", "", rule.Embedded, "", "d1", false},
		{"no data source with an id", "", "", "", "d1", false},
	} {
		r := &rule.Rule{Name: "r", Kind: rule.KindMetric, Expr: "up", Datasource: tt.datasource, Targets: rule.Targets{Policy: tt.policy}}
		_, err := EncodeRule("01id", r, tt.policyID, tt.datasourceID, time.Now())
		if (err == nil) != tt.ok {
			t.Errorf("%s: EncodeRule error %v, want ok %v", tt.name, err, tt.ok)
		}
		if err != nil && (errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), `rule "r"`)) {
			t.Errorf("%s: error %q: want a plain error naming the rule (the caller's mistake, not the client's)", tt.name, err)
		}
	}
}

func TestUsedByRulesErrors(t *testing.T) {
	cpu := RuleRecord{Name: "cpu", PolicyID: "p1", DatasourceID: "d1"}
	for _, tt := range []struct {
		name string
		err  error
		kind error
		want string
	}{
		{"one rule", UsedByRules("policy p1", []string{"cpu"}), ErrConflict,
			`policy p1 is used by rule "cpu": change or delete that rule first: conflict`},
		{"two rules", UsedByRules("data source d1", []string{"cpu", "disk"}), ErrConflict,
			`data source d1 is used by rules "cpu", "disk": change or delete those rules first: conflict`},
		{"caught by the key", UsedByRules("policy p1", nil), ErrConflict,
			`policy p1 is used by a rule: change or delete the rule first: conflict`},
		{"missing policy", MissingRuleKeys(cpu, false, true), ErrNotFound,
			`rule "cpu": there is no policy p1: not found`},
		{"missing both", MissingRuleKeys(cpu, false, false), ErrNotFound,
			`rule "cpu": there is no policy p1, and no data source d1: not found`},
	} {
		if !errors.Is(tt.err, tt.kind) {
			t.Errorf("%s: %v is not %v", tt.name, tt.err, tt.kind)
		}
		if tt.err.Error() != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, tt.err, tt.want)
		}
	}
	if err := MissingRuleKeys(cpu, true, true); err != nil {
		t.Errorf("MissingRuleKeys with both found = %v", err)
	}
	if err := MissingRuleKeys(RuleRecord{Name: "embedded, unrouted"}, false, false); err != nil {
		t.Errorf("MissingRuleKeys with no ids = %v", err)
	}
}

func TestStoredRuleState(t *testing.T) {
	at := time.Date(2026, 5, 20, 9, 30, 0, 123_456_789, time.FixedZone("CST", 8*60*60))
	st := &RuleState{RuleID: "r", EvaluatedAt: at, Duration: 1234 * time.Nanosecond, Health: "ok", Active: []byte{}}
	got := StoredRuleState(st)
	want := RuleState{RuleID: "r", EvaluatedAt: StoredTime(at), Duration: 1234 * time.Nanosecond, Health: "ok"}
	if diff := cmp.Diff(want, got); diff != "" || got.EvaluatedAt.Location() != time.UTC {
		t.Errorf("StoredRuleState (-want +got):\n%s", diff)
	}
	if st.Active == nil || !st.EvaluatedAt.Equal(at) {
		t.Errorf("StoredRuleState changed its argument: %+v", st)
	}
}
