package store

import (
	"time"

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
	RuleID      string
	EvaluatedAt time.Time
	Duration    time.Duration
	// Health is "ok" or "error" (LastError says what).
	Health    string
	LastError string
	// Active is the evaluator's active alerts as JSON (package ruler's
	// form); the store keeps it as given.
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
	Query  string
	Limit  int
	Cursor string
}
