package rule

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/problem"
	"github.com/tocsinhq/tocsin/internal/route"
)

// ruleJSON is the wire form of a Rule. Pointers tell an absent field
// (which takes its default) from a given one; durations are strings, so a
// bad one is named by its own path.
type ruleJSON struct {
	ID            string            `json:"id"`
	Name          string            `json:"name"`
	Kind          Kind              `json:"kind"`
	Group         string            `json:"group"`
	Expr          string            `json:"expr"`
	Builder       *builderJSON      `json:"builder"`
	Match         *matchJSON        `json:"match"`
	For           *string           `json:"for"`
	KeepFiringFor *string           `json:"keep_firing_for"`
	Interval      *string           `json:"interval"`
	Severity      string            `json:"severity"`
	Labels        map[string]string `json:"labels"`
	Annotations   map[string]string `json:"annotations"`
	Datasource    string            `json:"datasource"`
	Targets       Targets           `json:"targets"`
	Enabled       *bool             `json:"enabled"`
	CreatedAt     time.Time         `json:"created_at"`
	UpdatedAt     time.Time         `json:"updated_at"`
	// Status is the evaluation status the API adds to its answers; a
	// client sending a rule back as received may carry it. Ignored.
	Status json.RawMessage `json:"status,omitempty"`
}

type builderJSON struct {
	Conditions []conditionJSON `json:"conditions"`
	Join       string          `json:"join"`
	Mode       string          `json:"mode"`
	By         []string        `json:"by"`
	Missing    string          `json:"missing"`
}

type conditionJSON struct {
	Metric      string         `json:"metric"`
	Filters     []Filter       `json:"filters"`
	Aggregation string         `json:"aggregation"`
	Window      *string        `json:"window"`
	Threshold   *thresholdJSON `json:"threshold,omitempty"`
	Change      *changeJSON    `json:"change,omitempty"`
}

type thresholdJSON struct {
	Op    string   `json:"op"`
	Value *float64 `json:"value"`
}

type changeJSON struct {
	Direction string   `json:"direction"`
	Percent   *float64 `json:"percent"`
	Offset    *string  `json:"offset"`
}

type matchJSON struct {
	When         []FieldMatch `json:"when"`
	ResolveWhen  []FieldMatch `json:"resolve_when"`
	ResolveAfter *string      `json:"resolve_after"`
	Key          []string     `json:"key"`
}

// Decode reads a rule as the API takes it: UnmarshalJSON's decoding and
// defaults, then Validate. Its error is a *problem.List with every
// problem found, those of decoding and of validation together.
func Decode(data []byte) (Rule, error) {
	var j ruleJSON
	if err := decodeRuleJSON(data, &j); err != nil {
		return Rule{}, err
	}
	var probs problem.List
	r := j.rule(&probs)
	r.validate(&probs)
	if err := probs.Err(); err != nil {
		return Rule{}, err
	}
	return r, nil
}

// UnmarshalJSON reads the PRODUCT.md §4 form strictly (an unknown field is
// an error) and fills in the defaults: kind metric, interval 1m, for and
// keep_firing_for 0s, enabled true; a builder's join all, mode per_series,
// missing no_data, a filter's op =; an event match's key ["source",
// "resource"], its conditions' op =, and resolve_after DefaultResolveAfter
// when neither resolve_after nor resolve_when is given. An empty string
// counts as absent; names, kinds and settings are trimmed, and kinds,
// settings and severity lowercased. A builder is compiled into Expr when
// it can be (else Expr is left empty).
//
// It does not validate, so a stored rule always reads back: Decode does
// both, and is what the API uses. Its error is a *problem.List.
func (r *Rule) UnmarshalJSON(data []byte) error {
	if string(bytes.TrimSpace(data)) == "null" {
		return nil
	}
	var j ruleJSON
	if err := decodeRuleJSON(data, &j); err != nil {
		return err
	}
	var probs problem.List
	n := j.rule(&probs)
	if err := probs.Err(); err != nil {
		return err
	}
	*r = n
	return nil
}

func decodeRuleJSON(data []byte, j *ruleJSON) error {
	return problem.DecodeStrict(data, j, "")
}

// rule builds the Rule j says, with defaults, adding what cannot be read
// to probs.
func (j *ruleJSON) rule(probs *problem.List) Rule {
	r := Rule{
		ID:            strings.TrimSpace(j.ID),
		Name:          strings.TrimSpace(j.Name),
		Kind:          Kind(cmp.Or(setting(string(j.Kind)), string(KindMetric))),
		Group:         strings.TrimSpace(j.Group),
		Expr:          strings.TrimSpace(j.Expr),
		For:           duration(probs, "for", j.For, 0),
		KeepFiringFor: duration(probs, "keep_firing_for", j.KeepFiringFor, 0),
		Interval:      duration(probs, "interval", j.Interval, DefaultInterval),
		Severity:      alert.Severity(setting(j.Severity)),
		Labels:        orNilMap(j.Labels),
		Annotations:   orNilMap(j.Annotations),
		Datasource:    strings.TrimSpace(j.Datasource),
		Targets: Targets{
			Policy:        strings.TrimSpace(j.Targets.Policy),
			Channels:      trimAll(j.Targets.Channels),
			ContactGroups: trimAll(j.Targets.ContactGroups),
		},
		Enabled:   j.Enabled == nil || *j.Enabled,
		CreatedAt: j.CreatedAt,
		UpdatedAt: j.UpdatedAt,
	}
	if j.Builder != nil {
		r.Builder = j.Builder.builder(probs)
		r.Expr = ""
		var bp problem.List
		if r.Builder.validate(&bp, "builder"); bp.Err() == nil {
			r.Expr = r.Builder.compile()
		}
	}
	if j.Match != nil {
		r.Match = j.Match.match(probs)
	}
	return r
}

func (j *builderJSON) builder(probs *problem.List) *Builder {
	b := &Builder{
		Join:    cmp.Or(setting(j.Join), JoinAll),
		Mode:    cmp.Or(setting(j.Mode), ModePerSeries),
		By:      trimAll(j.By),
		Missing: cmp.Or(setting(j.Missing), MissingNoData),
	}
	for i, cj := range j.Conditions {
		at := func(s string) string { return fmt.Sprintf("builder.conditions[%d].%s", i, s) }
		c := Condition{
			Metric:      strings.TrimSpace(cj.Metric),
			Aggregation: setting(cj.Aggregation),
			Window:      duration(probs, at("window"), cj.Window, 0),
		}
		for _, f := range cj.Filters {
			c.Filters = append(c.Filters, Filter{Label: strings.TrimSpace(f.Label), Op: cmp.Or(strings.TrimSpace(f.Op), "="), Value: f.Value})
		}
		if t := cj.Threshold; t != nil {
			c.Threshold = &Threshold{Op: strings.TrimSpace(t.Op)}
			if t.Value == nil {
				probs.Add(at("threshold.value"), "required", "give the number to compare with, such as 90")
			} else {
				c.Threshold.Value = *t.Value
			}
		}
		if ch := cj.Change; ch != nil {
			c.Change = &Change{
				Direction: setting(ch.Direction),
				Offset:    duration(probs, at("change.offset"), ch.Offset, 0),
			}
			if ch.Percent == nil {
				probs.Add(at("change.percent"), "required", "give the change in percent, such as 100 for \"doubled\"")
			} else {
				c.Change.Percent = *ch.Percent
			}
		}
		b.Conditions = append(b.Conditions, c)
	}
	return b
}

func (j *matchJSON) match(probs *problem.List) *EventMatch {
	m := &EventMatch{
		When:         fieldMatches(j.When),
		ResolveWhen:  fieldMatches(j.ResolveWhen),
		ResolveAfter: duration(probs, "match.resolve_after", j.ResolveAfter, 0),
		Key:          trimAll(j.Key),
	}
	if len(m.Key) == 0 {
		m.Key = append([]string(nil), defaultKey...)
	}
	if (j.ResolveAfter == nil || strings.TrimSpace(*j.ResolveAfter) == "") && len(m.ResolveWhen) == 0 {
		m.ResolveAfter = Duration(DefaultResolveAfter)
	}
	return m
}

func fieldMatches(in []FieldMatch) []FieldMatch {
	if len(in) == 0 {
		return nil
	}
	out := make([]FieldMatch, len(in))
	for i, c := range in {
		out[i] = FieldMatch{Field: strings.TrimSpace(c.Field), Op: cmp.Or(setting(c.Op), OpEqual), Value: c.Value, Values: c.Values}
	}
	return out
}

// setting normalises a keyword: trimmed and lowercased.
func setting(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// trimAll trims every entry; an empty list becomes nil, so [] and an
// absent field decode alike.
func trimAll(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strings.TrimSpace(v)
	}
	return out
}

// duration reads a duration field; absent or "" gives def.
func duration(probs *problem.List, field string, s *string, def time.Duration) Duration {
	if s == nil || strings.TrimSpace(*s) == "" {
		return Duration(def)
	}
	d, err := route.ParseDuration(*s)
	if err != nil {
		probs.Add(field, "invalid-duration", "%v", err)
		return Duration(def)
	}
	return Duration(d)
}

// MarshalJSON writes the PRODUCT.md §4 form with every field present
// (builder and match null when the rule has none), durations short ("5m",
// "1d").
func (r Rule) MarshalJSON() ([]byte, error) {
	j := ruleJSON{
		ID: r.ID, Name: r.Name, Kind: r.Kind, Group: r.Group, Expr: r.Expr,
		For:           durationText(r.For),
		KeepFiringFor: durationText(r.KeepFiringFor),
		Interval:      durationText(r.Interval),
		Severity:      string(r.Severity),
		Labels:        orEmptyMap(r.Labels),
		Annotations:   orEmptyMap(r.Annotations),
		Datasource:    r.Datasource,
		Targets:       r.Targets,
		Enabled:       &r.Enabled,
		CreatedAt:     r.CreatedAt,
		UpdatedAt:     r.UpdatedAt,
	}
	if b := r.Builder; b != nil {
		j.Builder = &builderJSON{
			Conditions: make([]conditionJSON, len(b.Conditions)),
			Join:       b.Join, Mode: b.Mode, By: orEmpty(b.By), Missing: b.Missing,
		}
		for i, c := range b.Conditions {
			cj := conditionJSON{
				Metric: c.Metric, Filters: c.Filters, Aggregation: c.Aggregation,
				Window: durationText(c.Window),
			}
			if cj.Filters == nil {
				cj.Filters = []Filter{}
			}
			if t := c.Threshold; t != nil {
				cj.Threshold = &thresholdJSON{Op: t.Op, Value: &t.Value}
			}
			if ch := c.Change; ch != nil {
				cj.Change = &changeJSON{Direction: ch.Direction, Percent: &ch.Percent, Offset: durationText(ch.Offset)}
			}
			j.Builder.Conditions[i] = cj
		}
	}
	if m := r.Match; m != nil {
		j.Match = &matchJSON{
			When:         orEmptyMatches(m.When),
			ResolveWhen:  orEmptyMatches(m.ResolveWhen),
			ResolveAfter: durationText(m.ResolveAfter),
			Key:          orEmpty(m.Key),
		}
	}
	return json.Marshal(j)
}

func durationText(d Duration) *string {
	s := route.FormatDuration(d.Std())
	return &s
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// orNilMap makes an empty map nil, so {} and an absent field decode
// alike.
func orNilMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

func orEmptyMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func orEmptyMatches(s []FieldMatch) []FieldMatch {
	if s == nil {
		return []FieldMatch{}
	}
	return s
}
