package route

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/problem"
)

// InhibitRule keeps targets quiet while a source fires: an alert matching
// TargetMatchers is inhibited while an alert matching SourceMatchers fires
// with the same values of the Equal labels (a label both lack is equal).
type InhibitRule struct {
	SourceMatchers Matchers
	TargetMatchers Matchers
	Equal          []string
}

// Inhibited reports whether target is inhibited at now by one of sources
// under one of rules, and by which source (the first found). Only sources
// firing at now count. As in Alertmanager, when the target matches both
// sides of a rule, sources that also match both sides are passed over, so
// two alerts that each match both sides do not silence each other — and an
// alert never inhibits itself.
func Inhibited(rules []InhibitRule, sources []alert.Alert, target alert.Labels, now time.Time) (by alert.Fingerprint, ok bool) {
	for i := range rules {
		r := &rules[i]
		if !r.TargetMatchers.Matches(target) {
			continue
		}
		twoSided := r.SourceMatchers.Matches(target)
	sources:
		for j := range sources {
			src := &sources[j]
			if src.StatusAt(now) != alert.Firing || !r.SourceMatchers.Matches(src.Labels) {
				continue
			}
			for _, n := range r.Equal {
				if src.Labels.Get(n) != target.Get(n) {
					continue sources
				}
			}
			if twoSided && r.TargetMatchers.Matches(src.Labels) {
				continue
			}
			return fingerprint(*src), true
		}
	}
	return 0, false
}

// Validate checks a rule, naming each problem by its JSON path. Source
// matchers are required. Target matchers may be empty only with Equal
// labels: {source: datacenter-down, equal: [dc]} quiets everything in that
// datacenter, while with no Equal either one source would quiet every
// alert everywhere.
func (r *InhibitRule) Validate() error {
	var p problem.List
	r.validate(&p)
	return p.Err()
}

func (r *InhibitRule) validate(p *problem.List) {
	if len(r.SourceMatchers) == 0 && !p.Has("source_matchers") {
		p.Add("source_matchers", "required", `say which alerts inhibit others, such as ["alertname=\"DatacenterDown\""]`)
	}
	if len(r.TargetMatchers) == 0 && len(r.Equal) == 0 && !p.Has("target_matchers") {
		p.Add("target_matchers", "required", `with neither target_matchers nor equal, one firing source would quiet every alert; name the targets, such as ["severity=\"warning\""], or the labels they share with the source in equal`)
	}
	p.Names("equal", r.Equal, "a label name")
}

type inhibitRuleJSON struct {
	SourceMatchers []string `json:"source_matchers"`
	TargetMatchers []string `json:"target_matchers"`
	Equal          []string `json:"equal"`
}

// MarshalJSON writes {"source_matchers":[…],"target_matchers":[…],
// "equal":[…]}, one matcher per string.
func (r InhibitRule) MarshalJSON() ([]byte, error) {
	return json.Marshal(inhibitRuleJSON{
		SourceMatchers: r.SourceMatchers.Strings(),
		TargetMatchers: r.TargetMatchers.Strings(),
		Equal:          orEmpty(r.Equal),
	})
}

// UnmarshalJSON reads the rule strictly and validates it; its error is
// *problem.List listing every problem found.
func (r *InhibitRule) UnmarshalJSON(data []byte) error {
	if string(bytes.TrimSpace(data)) == "null" {
		return nil
	}
	var j inhibitRuleJSON
	if err := problem.DecodeStrict(data, &j, ""); err != nil {
		return err
	}
	var p problem.List
	rule := InhibitRule{
		SourceMatchers: parseMatcherList(&p, "source_matchers", j.SourceMatchers),
		TargetMatchers: parseMatcherList(&p, "target_matchers", j.TargetMatchers),
		Equal:          trimAll(j.Equal),
	}
	rule.validate(&p)
	if err := p.Err(); err != nil {
		return err
	}
	*r = rule
	return nil
}
