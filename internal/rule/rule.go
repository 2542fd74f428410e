// Package rule is what an alert rule is: a metric rule (PromQL, written
// directly or built from a form and compiled to PromQL) or an event rule
// (conditions on stored events), with its timing, labels, annotations,
// data source and targets. It validates rules field by field, compiles
// the form, reads and writes Prometheus rule files, and matches events.
// Evaluating rules on a schedule is package ruler's.
package rule

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/route"
)

// Kind tells a metric rule from an event rule.
type Kind string

// Kinds.
const (
	KindMetric Kind = "metric"
	KindEvent  Kind = "event"
)

// Embedded names the data source in Tocsin itself: the embedded metric
// store. A rule with no data source uses it.
const Embedded = "embedded"

// Limits and defaults. Decoding JSON fills in the defaults; a Rule built in
// Go gets none (its zero Interval fails Validate).
const (
	// MaxNameLen bounds a rule name, in characters.
	MaxNameLen = 200
	// DefaultInterval is how often a metric rule is evaluated when its
	// JSON names no interval, as Prometheus's evaluation_interval default;
	// MinInterval is the shortest interval Validate takes.
	DefaultInterval = time.Minute
	MinInterval     = time.Second
	// DefaultGroup is the Prometheus rule group a rule with no Group is
	// exported to.
	DefaultGroup = "tocsin"
)

// Rule is an alert rule. Its JSON is the API's (PRODUCT.md §4); see
// UnmarshalJSON for the defaults and Validate for what is checked.
type Rule struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// Group is the Prometheus rule group the rule came from or goes to
	// on export; "" exports to the group "tocsin".
	Group string `json:"group,omitempty"`
	// Expr is the PromQL of a metric rule. A rule with a Builder has the
	// builder's compiled expression here (decoding and Validate put it
	// there), for people to read; what the client sent in expr is then
	// ignored.
	Expr    string   `json:"expr,omitempty"`
	Builder *Builder `json:"builder,omitempty"`
	// Match is an event rule's conditions.
	Match *EventMatch `json:"match,omitempty"`
	// For is how long a metric rule's result must hold before its alert
	// fires; KeepFiringFor how long it keeps firing once the result is
	// gone. Interval is how often a metric rule is evaluated. Event rules
	// fire when their event arrives: For and KeepFiringFor must be 0, and
	// Interval is not used.
	For           Duration `json:"for"`
	KeepFiringFor Duration `json:"keep_firing_for"`
	Interval      Duration `json:"interval"`
	// Severity becomes the alerts' severity label (critical, warning or
	// info); "" leaves it to the rule's labels (or, for event rules, the
	// event's level).
	Severity alert.Severity `json:"severity"`
	// Labels are added to the rule's alerts. A metric rule's label and
	// annotation values are Prometheus templates ($labels, $value, …; see
	// ExpandTemplates); an event rule's annotations are templates over the
	// event (see EventAlert) and its labels are plain text.
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	// Datasource is Embedded, "" (the same) or the name of an external
	// data source.
	Datasource string  `json:"datasource"`
	Targets    Targets `json:"targets"`
	Enabled    bool    `json:"enabled"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ExternalDatasource returns the name of the external data source the
// rule queries, or "" when it queries the embedded store.
func (r *Rule) ExternalDatasource() string {
	if r.Datasource == Embedded {
		return ""
	}
	return r.Datasource
}

// Targets says whom a rule's alerts notify: a policy by name (or id), or
// channels and contact groups directly (ids or names; the API stores ids).
// Empty routes the alerts through the policies like any other alert.
type Targets struct {
	Policy        string   `json:"policy,omitempty"`
	Channels      []string `json:"channels,omitempty"`
	ContactGroups []string `json:"contact_groups,omitempty"`
}

// Direct reports whether the targets name channels or contact groups.
func (t Targets) Direct() bool { return len(t.Channels) > 0 || len(t.ContactGroups) > 0 }

// Builder is the form of a metric rule: conditions on metrics, joined by
// all or any, evaluated per series or aggregated.
type Builder struct {
	Conditions []Condition `json:"conditions"`
	// Join is JoinAll (every condition holds) or JoinAny; "" is all.
	Join string `json:"join,omitempty"`
	// Mode is ModePerSeries (each series on its own, "traverse") or
	// ModeAggregated (one value, or one per By label set); "" is per
	// series.
	Mode string `json:"mode,omitempty"`
	// By lists the labels an aggregated rule keeps (avg by (…)); none
	// makes one value of all series.
	By []string `json:"by,omitempty"`
	// Missing is how a series with no samples in the window counts:
	// MissingNoData (it does not; ""), MissingZero or MissingOne (see
	// Compile for which series count as missing).
	Missing string `json:"missing,omitempty"`
}

// Builder settings.
const (
	JoinAll = "all"
	JoinAny = "any"

	ModePerSeries  = "per_series"
	ModeAggregated = "aggregated"

	MissingNoData = "no_data"
	MissingZero   = "zero"
	MissingOne    = "one"
)

// Condition is one comparison of a form rule: an aggregation of a metric
// over the last Window, compared with a threshold or with the same
// window Change.Offset earlier.
type Condition struct {
	Metric  string   `json:"metric"`
	Filters []Filter `json:"filters,omitempty"`
	// Aggregation is avg, max, min, sum or count, over Window.
	Aggregation string   `json:"aggregation"`
	Window      Duration `json:"window"`
	// Exactly one of Threshold and Change is set.
	Threshold *Threshold `json:"threshold,omitempty"`
	Change    *Change    `json:"change,omitempty"`
}

// Filter is a label matcher: Op is =, !=, =~ or !~ ("" reads as =);
// regular expressions match the whole value, as in PromQL.
type Filter struct {
	Label string `json:"label"`
	Op    string `json:"op"`
	Value string `json:"value"`
}

// Threshold compares the value with Value: Op is >, >=, <, <=, == or !=.
type Threshold struct {
	Op    string  `json:"op"`
	Value float64 `json:"value"`
}

// Change compares the value with the same aggregation Offset earlier:
// Direction rise holds when it grew by at least Percent percent, fall when
// it shrank by at least Percent percent.
type Change struct {
	Direction string   `json:"direction"`
	Percent   float64  `json:"percent"`
	Offset    Duration `json:"offset"`
}

// Change directions.
const (
	Rise = "rise"
	Fall = "fall"
)

// EventMatch is an event rule: When selects the events that raise an
// alert (every condition holds); ResolveWhen, if set, the events that
// resolve the alert raised for the same Key; ResolveAfter ends an alert
// that long after its last raising event (0 with ResolveWhen set: only a
// resolving event ends it, or EventOpenFor passing). Decoding JSON with
// neither set gives ResolveAfter DefaultResolveAfter.
type EventMatch struct {
	When        []FieldMatch `json:"when"`
	ResolveWhen []FieldMatch `json:"resolve_when,omitempty"`
	// ResolveAfter ends an alert that long after the event that raised it.
	ResolveAfter Duration `json:"resolve_after"`
	// Key names the event fields whose values, with the rule's name and
	// labels, make an alert's identity: one alert per distinct key. ""
	// entries are not allowed; empty means ["source", "resource"]. A
	// field is source, type, level, resource, region, or labels.<name>.
	Key []string `json:"key,omitempty"`
}

// FieldMatch is one condition on an event field: Field is source, type,
// level, resource, region, content, content.<key> (a key of an object's
// content) or labels.<name>; Op is =, !=, =~, !~ (anchored regular
// expressions, as in PromQL) or in (Values); "" reads as =. A field an
// event lacks reads as "".
type FieldMatch struct {
	Field  string   `json:"field"`
	Op     string   `json:"op"`
	Value  string   `json:"value,omitempty"`
	Values []string `json:"values,omitempty"`
}

// Duration is a time.Duration written the way people write one in JSON:
// "30s", "5m", "1h", "1d".
type Duration time.Duration

// MarshalJSON writes d as "5m".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(route.FormatDuration(time.Duration(d)))
}

// UnmarshalJSON reads "5m", "1h30m", "1d".
func (d *Duration) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"5m\"")
	}
	v, err := route.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }
