package store

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/rule"
)

// StoredRule is a rule as stored, with the ids of the policy it notifies
// through and the data source it queries ("" for none and for the
// embedded store).
type StoredRule struct {
	rule.Rule
	PolicyID     string
	DatasourceID string
}

// RuleState is what the evaluator keeps of a rule between evaluations and
// across restarts.
type RuleState struct {
	RuleID string
	// EvaluatedAt is kept as StoredTime; Duration exactly.
	EvaluatedAt time.Time
	Duration    time.Duration
	// Health is "ok" or "error" (LastError says what).
	Health    string
	LastError string
	// Active is the evaluator's active alerts as JSON (package ruler's
	// form); the store keeps it as given, byte for byte. Nil (or empty)
	// is none, and reads back nil.
	Active []byte
}

// RuleFilter selects rules for ListRules.
type RuleFilter struct {
	// Query matches names containing it, case-insensitively; "" matches all.
	Query string
	// Kind keeps one kind; "" keeps all.
	Kind rule.Kind
	// Limit and Cursor page as in ChannelFilter.
	Limit  int
	Cursor string
}

// DatasourceFilter selects data sources for ListDatasources.
type DatasourceFilter struct {
	// Query matches names containing it, case-insensitively; "" matches all.
	Query string
	// Limit and Cursor page as in ChannelFilter.
	Limit  int
	Cursor string
}

// RuleRecord is a rule as every backend stores it: in columns, what lists
// select by and keys enforce (name, kind, enabled, the ids of the policy
// and the data source, times); the rest of the rule as JSON in Spec. A
// backend binds and scans these fields in its own column types.
type RuleRecord struct {
	ID, Name, Kind string
	Enabled        bool
	Spec           []byte // JSON, ruleSpec
	// PolicyID and DatasourceID are "" for none, NULL in the table.
	PolicyID, DatasourceID string
	CreatedAt, UpdatedAt   time.Time
	// PolicyName and DatasourceName are the names, as of the read, of
	// the policy and the data source the ids name ("" for none): a read
	// joins them, a write ignores them. Decode gives them to the rule, so
	// a rule names a renamed policy or data source by its new name.
	PolicyName, DatasourceName string
}

// ruleSpec is the part of a rule.Rule kept as JSON: every field but those
// RuleRecord has a column for. Its fields carry the rule's JSON names, so
// the spec reads as the rule's JSON does. TestRuleSpecCoversRule fails
// when rule.Rule gains a field this lacks.
type ruleSpec struct {
	Group         string            `json:"group,omitempty"`
	Expr          string            `json:"expr,omitempty"`
	Builder       *rule.Builder     `json:"builder,omitempty"`
	Match         *rule.EventMatch  `json:"match,omitempty"`
	For           rule.Duration     `json:"for"`
	KeepFiringFor rule.Duration     `json:"keep_firing_for"`
	Interval      rule.Duration     `json:"interval"`
	Severity      alert.Severity    `json:"severity"`
	Labels        map[string]string `json:"labels"`
	Annotations   map[string]string `json:"annotations"`
	Datasource    string            `json:"datasource"`
	Targets       rule.Targets      `json:"targets"`
}

// EncodeRule returns the record of r under id, notifying through the
// policy policyID and querying the data source datasourceID ("" for
// none), with CreatedAt and UpdatedAt set to now as StoredTime (an update
// writes UpdatedAt only).
//
// It refuses, with a plain error, a rule whose names and ids disagree: a
// policy named in r.Targets.Policy without policyID, an external data
// source named in r.Datasource without datasourceID, or a datasourceID
// for a rule on the embedded store. The caller was to look the names up
// (the API does); storing the rule anyway would quietly route its alerts
// elsewhere or query another store than it says.
func EncodeRule(id string, r *rule.Rule, policyID, datasourceID string, now time.Time) (RuleRecord, error) {
	external := r.Datasource != "" && r.Datasource != rule.Embedded
	switch {
	case r.Targets.Policy != "" && policyID == "":
		return RuleRecord{}, fmt.Errorf("rule %q notifies through policy %q, but no policy id was given", r.Name, r.Targets.Policy)
	case external && datasourceID == "":
		return RuleRecord{}, fmt.Errorf("rule %q queries data source %q, but no data source id was given", r.Name, r.Datasource)
	case !external && datasourceID != "":
		return RuleRecord{}, fmt.Errorf("rule %q queries the embedded store, but data source %s was given", r.Name, datasourceID)
	}
	spec, err := json.Marshal(ruleSpec{
		Group: r.Group, Expr: r.Expr, Builder: r.Builder, Match: r.Match,
		For: r.For, KeepFiringFor: r.KeepFiringFor, Interval: r.Interval,
		Severity: r.Severity, Labels: r.Labels, Annotations: r.Annotations,
		Datasource: r.Datasource, Targets: r.Targets,
	})
	if err != nil {
		return RuleRecord{}, fmt.Errorf("rule %q: encode: %w", r.Name, err)
	}
	return RuleRecord{
		ID: id, Name: r.Name, Kind: string(r.Kind), Enabled: r.Enabled, Spec: spec,
		PolicyID: policyID, DatasourceID: datasourceID,
		CreatedAt: StoredTime(now), UpdatedAt: StoredTime(now),
	}, nil
}

// Decode returns the rule rec stores. Lists the rule's JSON omits when
// empty (filters, targets' channels, …) read back nil, as decoding the
// rule's JSON makes them. With a policy id, a named policy target reads
// as the policy's current name; with a data source id, the data source
// does.
func (rec RuleRecord) Decode() (*StoredRule, error) {
	var sp ruleSpec
	if err := json.Unmarshal(rec.Spec, &sp); err != nil {
		return nil, fmt.Errorf("rule %s: decode: %w", rec.ID, err)
	}
	r := rule.Rule{
		ID: rec.ID, Name: rec.Name, Kind: rule.Kind(rec.Kind),
		Group: sp.Group, Expr: sp.Expr, Builder: sp.Builder, Match: sp.Match,
		For: sp.For, KeepFiringFor: sp.KeepFiringFor, Interval: sp.Interval,
		Severity: sp.Severity, Labels: sp.Labels, Annotations: sp.Annotations,
		Datasource: sp.Datasource, Targets: sp.Targets, Enabled: rec.Enabled,
		CreatedAt: rec.CreatedAt.UTC(), UpdatedAt: rec.UpdatedAt.UTC(),
	}
	if rec.PolicyID != "" && r.Targets.Policy != "" {
		r.Targets.Policy = rec.PolicyName
	}
	if rec.DatasourceID != "" {
		r.Datasource = rec.DatasourceName
	}
	return &StoredRule{Rule: r, PolicyID: rec.PolicyID, DatasourceID: rec.DatasourceID}, nil
}

// DecodeRules decodes records in their order.
func DecodeRules(rs []RuleRecord) ([]*StoredRule, error) {
	return decodeAll(rs, RuleRecord.Decode)
}

// RuleID returns r's id: the cursor of a page of rules ending with r.
func RuleID(r *StoredRule) string { return r.ID }

// MissingRuleKeys is the error for rec when its policy or data source was
// not found (policyFound, datasourceFound; an empty id is always found):
// ErrNotFound, naming the ids; nil when both were found.
func MissingRuleKeys(rec RuleRecord, policyFound, datasourceFound bool) error {
	var policies, datasources []string
	if !policyFound && rec.PolicyID != "" {
		policies = []string{rec.PolicyID}
	}
	if !datasourceFound && rec.DatasourceID != "" {
		datasources = []string{rec.DatasourceID}
	}
	return missing(fmt.Sprintf("rule %q", rec.Name), refs{"policy", policies}, refs{"data source", datasources})
}

// ErrRuleKeyGone is why a rule could not be written although its policy
// and data source existed when checked: one was deleted meanwhile (the
// foreign key caught it).
var ErrRuleKeyGone = fmt.Errorf("the policy or data source of the rule was deleted meanwhile: %w", ErrNotFound)

// StoredRuleState returns the state a store keeps for st: st with
// EvaluatedAt as StoredTime and an empty Active as nil.
func StoredRuleState(st *RuleState) RuleState {
	n := *st
	n.EvaluatedAt = StoredTime(st.EvaluatedAt)
	if len(n.Active) == 0 {
		n.Active = nil
	}
	return n
}
