package rule

import (
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/common/model"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/problem"
)

// Validate checks a rule, naming each problem by its JSON path and saying
// how to fix it, and puts a valid form's compiled PromQL in Expr. Its
// error is a *problem.List. For an invalid expr, the problem's message is
// the parser's, with its line and column; ParseExpr gives them as numbers.
func (r *Rule) Validate() error {
	var probs problem.List
	r.validate(&probs)
	return probs.Err()
}

func (r *Rule) validate(probs *problem.List) {
	checkText(probs, "name", r.Name, true, `a rule needs a name, such as "HighCPU" or "订单服务 Full GC 过多"`)
	checkText(probs, "group", r.Group, false, "")
	switch r.Kind {
	case KindMetric, KindEvent:
	case "":
		probs.Add("kind", "required", "say what the rule watches: metric (a PromQL expression or a form) or event (events sent to /api/v1/events)")
	default:
		probs.Add("kind", "invalid-value", "kind %q is not known: use metric or event", r.Kind)
	}
	switch r.Severity {
	case alert.Unknown, alert.Critical, alert.Warning, alert.Info:
	default:
		probs.Add("severity", "invalid-value", "severity %q is not known: use critical, warning or info, or leave it empty", r.Severity)
	}
	for _, name := range slices.Sorted(maps.Keys(r.Labels)) {
		f := "labels." + name
		switch {
		case !checkLabelName(probs, f, name):
		case name == model.MetricNameLabel:
			probs.Add(f, "invalid-value", "alerts have no metric name: remove the label %s", name)
		case name == model.AlertNameLabel:
			probs.Add(f, "invalid-value", "alertname is the rule's name: rename the rule instead, and remove this label")
		case name == "severity" && r.Severity != alert.Unknown:
			probs.Add(f, "conflict", "the rule's severity (%s) sets the severity label: remove labels.severity, or clear severity", r.Severity)
		case !utf8.ValidString(r.Labels[name]):
			probs.Add(f, "invalid-value", "the value is not valid UTF-8")
		}
	}
	for _, name := range slices.Sorted(maps.Keys(r.Annotations)) {
		f := "annotations." + name
		if checkLabelName(probs, f, name) && !utf8.ValidString(r.Annotations[name]) {
			probs.Add(f, "invalid-value", "the value is not valid UTF-8")
		}
	}
	switch r.Kind {
	case KindMetric:
		r.validateMetric(probs)
	case KindEvent:
		r.validateEvent(probs)
	}
	r.Targets.validate(probs)
	switch ds := r.Datasource; {
	case ds == "" || ds == Embedded:
	case r.Kind == KindEvent:
		probs.Add("datasource", "invalid-value", "event rules match the events Tocsin receives and query no data source: remove datasource")
	default:
		checkText(probs, "datasource", ds, true, "")
	}
}

// codeCompileFailed marks the problem of a form whose PromQL does not
// parse: Tocsin's fault, never the user's.
const codeCompileFailed = "compile-failed"

func (r *Rule) validateMetric(probs *problem.List) {
	if r.Match != nil {
		probs.Add("match", "invalid-value", "match belongs to event rules: remove it, or set kind to event")
	}
	switch {
	case r.Builder != nil:
		// The form is the source: expr is its output, whatever was sent.
		r.Expr = ""
		r.Builder.validate(probs, "builder")
		if probs.Has("builder") {
			break
		}
		r.Expr = r.Builder.compile()
		if _, err := ParseExpr(r.Expr); err != nil {
			// A bug here, not the user's: say so plainly.
			probs.Add("builder", codeCompileFailed, "the form compiled to PromQL that does not parse (%v); please report this with the form", err)
		}
	case strings.TrimSpace(r.Expr) == "":
		probs.Add("expr", "required", "a metric rule needs expr (PromQL, such as avg_over_time(cpu_usage[5m]) > 90) or builder (a form)")
	default:
		if _, err := ParseExpr(r.Expr); err != nil {
			probs.Add("expr", "invalid-expr", "%v", err)
		}
	}
	if r.For < 0 {
		probs.Add("for", "out-of-range", "for must not be negative; 0s fires at the first evaluation that holds")
	}
	if r.KeepFiringFor < 0 {
		probs.Add("keep_firing_for", "out-of-range", "keep_firing_for must not be negative; 0s resolves as soon as the expression stops holding")
	}
	if r.Interval.Std() < MinInterval && !probs.Has("interval") {
		probs.Add("interval", "out-of-range", "interval must be at least %s, such as 1m", MinInterval)
	}
	for _, name := range slices.Sorted(maps.Keys(r.Labels)) {
		if err := parseMetricTemplate(r.Name, r.Labels[name]); err != nil && !probs.Has("labels."+name) {
			probs.Add("labels."+name, "invalid-template", "%v", err)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(r.Annotations)) {
		if err := parseMetricTemplate(r.Name, r.Annotations[name]); err != nil && !probs.Has("annotations."+name) {
			probs.Add("annotations."+name, "invalid-template", "%v", err)
		}
	}
}

func (r *Rule) validateEvent(probs *problem.List) {
	if r.Builder != nil {
		probs.Add("builder", "invalid-value", "event rules match events and have no form: remove builder, or set kind to metric")
	}
	if strings.TrimSpace(r.Expr) != "" {
		probs.Add("expr", "invalid-value", "event rules match events and have no PromQL: remove expr, or set kind to metric")
	}
	if r.For != 0 {
		probs.Add("for", "invalid-value", "an event rule fires when its event arrives: set for to 0s")
	}
	if r.KeepFiringFor != 0 {
		probs.Add("keep_firing_for", "invalid-value", "an event rule's alert ends by resolve_after or resolve_when in match: set keep_firing_for to 0s")
	}
	if r.Match == nil {
		probs.Add("match", "required", `an event rule needs match, such as {"when": [{"field": "type", "op": "=", "value": "Instance:StateChange"}]}`)
		return
	}
	r.Match.validate(probs, "match")
	if len(r.Match.ResolveWhen) > 0 && r.Severity == alert.Unknown {
		// Without one the severity label would be the event's level, and
		// the resolving event (often info) would name another alert.
		probs.Add("severity", "required", "a rule resolved by a paired event (resolve_when) needs a severity: the resolving event's level differs, and would name another alert; choose critical, warning or info")
	}
	keyLabels := map[string]bool{}
	for _, k := range r.Match.key() {
		if ref, err := parseKeyField(k); err == nil {
			keyLabels[ref.labelName()] = true
		}
	}
	for _, name := range slices.Sorted(maps.Keys(r.Labels)) {
		f := "labels." + name
		switch {
		case probs.Has(f):
		case keyLabels[name]:
			probs.Add(f, "conflict", "the label %s comes from the event (match.key): remove it here, or from the key", name)
		case strings.Contains(r.Labels[name], "{{"):
			probs.Add(f, "invalid-value", "an event rule's labels are plain text, not templates: the raising and the resolving event must give the same labels; put event details in annotations")
		}
	}
	for _, name := range slices.Sorted(maps.Keys(r.Annotations)) {
		if err := parseEventTemplate(r.Name, r.Annotations[name]); err != nil && !probs.Has("annotations."+name) {
			probs.Add("annotations."+name, "invalid-template", "%v", err)
		}
	}
}

func (t *Targets) validate(probs *problem.List) {
	if t.Policy != "" {
		checkText(probs, "targets.policy", t.Policy, true, "")
		if t.Direct() {
			probs.Add("targets", "conflict", "name a policy, or channels and contact groups, not both: the policy decides where its alerts go")
		}
	}
	probs.Names("targets.channels", t.Channels, "a channel id or name")
	probs.Names("targets.contact_groups", t.ContactGroups, "a contact group id or name")
}

// checkText checks a name-like string: no surrounding spaces, no control
// characters, valid UTF-8, at most MaxNameLen characters; required says
// it may not be empty, and how to fill it in.
func checkText(probs *problem.List, field, s string, required bool, example string) {
	switch n := utf8.RuneCountInString(s); {
	case s == "":
		if required {
			msg := "must not be empty"
			if example != "" {
				msg = example
			}
			probs.Add(field, "required", "%s", msg)
		}
	case !utf8.ValidString(s):
		probs.Add(field, "invalid-value", "must be valid UTF-8")
	case strings.TrimSpace(s) != s:
		probs.Add(field, "invalid-value", "%q starts or ends with spaces: remove them", s)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		probs.Add(field, "invalid-value", "%q holds a control character (a line break, a tab…): any other text is allowed", s)
	case n > MaxNameLen:
		probs.Add(field, "too-long", "must be at most %d characters, got %d", MaxNameLen, n)
	}
}
