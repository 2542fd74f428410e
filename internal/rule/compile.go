package rule

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/tocsinhq/tocsin/internal/problem"
)

// Aggregations a condition may use over its window.
const (
	AggAvg   = "avg"
	AggMax   = "max"
	AggMin   = "min"
	AggSum   = "sum"
	AggCount = "count"
)

// missingLookback is how far before a threshold condition's window a
// series must have had samples to count as missing (rather than gone or
// never there) under MissingZero and MissingOne. A change condition looks
// back over its offset instead.
const missingLookback = time.Hour

// Compile turns a form into PromQL. The form is checked first; its error
// is a *problem.List naming fields under "builder", as in a rule's JSON.
// An empty Join, Mode or Missing reads as its default (all, per_series,
// no_data).
//
// What the PromQL says, for a condition on metric m with filters f,
// aggregation agg and window w:
//
//   - per series, each series' value is agg_over_time(m{f}[w]);
//   - aggregated, the series are summarised first over the window, then
//     across series: agg by (By) (agg_over_time(m{f}[w])), so avg is the
//     mean of the series' means. Summarising each series over time first
//     needs no subquery (whose result would hang on its step) and copes
//     with series scraped at different rates. count is the exception:
//     across series it is summed, so the aggregated value is the number of
//     samples in the window, not the number of series;
//   - a threshold keeps the values that compare true: value > 90. The
//     alert's $value is the value;
//   - a change compares the value with the same expression Offset earlier
//     (prev) as a percentage of prev: a rise holds when
//     (value - prev) / |prev| * 100 >= Percent, a fall when
//     (prev - value) / |prev| * 100 >= Percent, and $value is that
//     percentage. Where prev is 0 no percentage exists and the condition
//     does not hold (the divisor is written abs(prev) > 0, which drops
//     those series); a series with no prev (it did not exist an Offset
//     earlier) does not hold either;
//   - conditions join with and (JoinAll) or or (JoinAny). Per series, the
//     _over_time functions drop the metric name, so conditions on
//     different metrics meet on all their other labels: cpu{instance="a",
//     job="node"} and mem{instance="a", job="node"} join, series whose
//     other labels differ do not. Aggregated with By labels, conditions
//     join on (By), the only labels they have. $value is that of the
//     first condition that holds, left to right; put the telling one
//     first;
//   - missing data: with MissingZero or MissingOne a series that had
//     samples in the lookback (the window plus one hour for a threshold,
//     the window plus the offset for a change) but none in the window
//     counts as 0 or 1, in the value and in prev:
//     (agg_over_time(m{f}[w]) or count_over_time(m{f}[lookback]) * 0).
//     Aggregated, the same holds per By group
//     (… or group by (By) (count_over_time(m{f}[lookback])) * 0), and with
//     no By labels the one value is always there: (… or vector(0)), so a
//     metric that never existed counts as missing too. MissingNoData adds
//     nothing: no samples, no value, no alert.
func Compile(b *Builder) (string, error) {
	var probs problem.List
	b.validate(&probs, "builder")
	if err := probs.Err(); err != nil {
		return "", err
	}
	return b.compile(), nil
}

// compile writes the PromQL of a valid form.
func (b *Builder) compile() string {
	parts := make([]string, len(b.Conditions))
	for i := range b.Conditions {
		parts[i] = b.condition(&b.Conditions[i])
	}
	if len(parts) == 1 {
		return parts[0]
	}
	op := " and "
	if b.Join == JoinAny {
		op = " or "
	}
	if b.Mode == ModeAggregated && len(b.By) > 0 {
		op = strings.TrimSuffix(op, " ") + " on (" + nameList(b.By) + ") "
	}
	for i, p := range parts {
		parts[i] = "(" + p + ")"
	}
	return strings.Join(parts, op)
}

// condition writes one condition: its value compared with a threshold, or
// its percent change filtered by the wanted percentage.
func (b *Builder) condition(c *Condition) string {
	if c.Threshold != nil {
		return b.value(c, 0, c.Window.Std()+missingLookback) + " " + c.Threshold.Op + " " + number(c.Threshold.Value)
	}
	lookback := c.Window.Std() + c.Change.Offset.Std()
	cur := b.value(c, 0, lookback)
	prev := b.value(c, c.Change.Offset.Std(), lookback)
	diff := "(" + cur + " - " + prev + ")"
	if c.Change.Direction == Fall {
		diff = "(" + prev + " - " + cur + ")"
	}
	return diff + " / (abs(" + prev + ") > 0) * 100 >= " + number(c.Change.Percent)
}

// value writes a condition's value offset earlier, with the missing-data
// fill for series seen in the lookback.
func (b *Builder) value(c *Condition, offset, lookback time.Duration) string {
	v := c.Aggregation + "_over_time(" + selector(c) + "[" + promDuration(c.Window.Std()) + "]"
	if offset > 0 {
		v += " offset " + promDuration(offset)
	}
	v += ")"
	aggregated := b.Mode == ModeAggregated
	if aggregated {
		v = b.across(c.Aggregation) + "(" + v + ")"
	}
	if b.Missing != MissingZero && b.Missing != MissingOne {
		return v
	}
	fill := "0"
	if b.Missing == MissingOne {
		fill = "1"
	}
	if aggregated && len(b.By) == 0 {
		return "(" + v + " or vector(" + fill + "))"
	}
	seen := "count_over_time(" + selector(c) + "[" + promDuration(lookback) + "])"
	if aggregated {
		seen = "group by (" + nameList(b.By) + ") (" + seen + ")"
	}
	seen += " * 0"
	if fill == "1" {
		seen += " + 1"
	}
	return "(" + v + " or " + seen + ")"
}

// across returns the aggregation operator that summarises the series of
// an aggregated form, with its by clause: "sum", "avg by (instance) ".
func (b *Builder) across(agg string) string {
	if agg == AggCount {
		agg = AggSum // the samples of all series, not the number of series
	}
	if len(b.By) > 0 {
		return agg + " by (" + nameList(b.By) + ") "
	}
	return agg
}

// selector writes the metric and its filters: m{a="1"}, or {"m.x", a="1"}
// for a name PromQL cannot write bare.
func selector(c *Condition) string {
	ms := make([]string, 0, len(c.Filters)+1)
	bare := model.LegacyValidation.IsValidMetricName(c.Metric)
	if !bare {
		ms = append(ms, strconv.Quote(c.Metric))
	}
	for _, f := range c.Filters {
		ms = append(ms, labelName(f.Label)+cmp.Or(f.Op, "=")+strconv.Quote(f.Value))
	}
	switch {
	case bare && len(ms) == 0:
		return c.Metric
	case bare:
		return c.Metric + "{" + strings.Join(ms, ", ") + "}"
	}
	return "{" + strings.Join(ms, ", ") + "}"
}

// labelName writes a label name bare when PromQL allows, else quoted.
func labelName(n string) string {
	if model.LegacyValidation.IsValidLabelName(n) {
		return n
	}
	return strconv.Quote(n)
}

func nameList(ns []string) string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = labelName(n)
	}
	return strings.Join(out, ", ")
}

// promDuration writes d as PromQL does: "5m", "1h30m", "1d".
func promDuration(d time.Duration) string { return model.Duration(d).String() }

// number writes a float the shortest way PromQL reads back exactly, whole
// numbers in full (1000000000, not 1e+09).
func number(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// validate checks a form, naming fields under field ("builder").
func (b *Builder) validate(probs *problem.List, field string) {
	at := func(s string) string { return field + "." + s }
	if len(b.Conditions) == 0 {
		probs.Add(at("conditions"), "required", "a form needs at least one condition, such as the avg of cpu_usage over 5m above 90")
	}
	switch b.Join {
	case "", JoinAll, JoinAny:
	default:
		probs.Add(at("join"), "invalid-value", "join %q is not known: use all (every condition holds) or any (one is enough)", b.Join)
	}
	switch b.Mode {
	case "", ModePerSeries, ModeAggregated:
	default:
		probs.Add(at("mode"), "invalid-value", "mode %q is not known: use per_series (each series on its own) or aggregated (one value, or one per by labels)", b.Mode)
	}
	switch b.Missing {
	case "", MissingNoData, MissingZero, MissingOne:
	default:
		probs.Add(at("missing"), "invalid-value", "missing %q is not known: use no_data (a series without samples does not count), zero or one (it counts as 0 or 1)", b.Missing)
	}
	if len(b.By) > 0 && b.Mode != ModeAggregated && !probs.Has(at("mode")) {
		probs.Add(at("by"), "conflict", "by lists the labels an aggregated form keeps: set mode to aggregated, or remove by")
	}
	for i, n := range b.By {
		f := fmt.Sprintf("%s[%d]", at("by"), i)
		switch {
		case !checkLabelName(probs, f, n):
		case n == model.MetricNameLabel:
			probs.Add(f, "invalid-value", "the aggregated value has no metric name to keep: remove %s", n)
		case slices.Contains(b.By[:i], n):
			probs.Add(f, "duplicate", "%q is listed twice", n)
		}
	}
	for i := range b.Conditions {
		b.Conditions[i].validate(probs, fmt.Sprintf("%s[%d]", at("conditions"), i))
	}
}

func (c *Condition) validate(probs *problem.List, field string) {
	at := func(s string) string { return field + "." + s }
	checkMetricName(probs, at("metric"), c.Metric)
	for i, f := range c.Filters {
		f.validate(probs, fmt.Sprintf("%s[%d]", at("filters"), i))
	}
	switch c.Aggregation {
	case AggAvg, AggMax, AggMin, AggSum, AggCount:
	case "":
		probs.Add(at("aggregation"), "required", "say how to summarise the window: avg, max, min, sum or count")
	default:
		probs.Add(at("aggregation"), "invalid-value", "aggregation %q is not known: use avg, max, min, sum or count", c.Aggregation)
	}
	checkRange(probs, at("window"), c.Window.Std(), "the window", "5m")
	switch {
	case c.Threshold == nil && c.Change == nil:
		probs.Add(field, "required", "a condition compares its value with a threshold ({\"op\": \">\", \"value\": 90}) or with an earlier window (change): set one")
	case c.Threshold != nil && c.Change != nil:
		probs.Add(field, "conflict", "a condition has a threshold or a change, not both: remove one")
	case c.Threshold != nil:
		switch c.Threshold.Op {
		case ">", ">=", "<", "<=", "==", "!=":
		default:
			probs.Add(at("threshold.op"), "invalid-value", "op %q is not a comparison: use >, >=, <, <=, == or !=", c.Threshold.Op)
		}
		if math.IsNaN(c.Threshold.Value) || math.IsInf(c.Threshold.Value, 0) {
			probs.Add(at("threshold.value"), "invalid-value", "the threshold must be a finite number")
		}
	default:
		switch c.Change.Direction {
		case Rise, Fall:
		case "":
			probs.Add(at("change.direction"), "required", "say whether the value must rise or fall")
		default:
			probs.Add(at("change.direction"), "invalid-value", "direction %q is not known: use rise or fall", c.Change.Direction)
		}
		if p := c.Change.Percent; (!(p > 0) || math.IsInf(p, 0)) && !probs.Has(at("change.percent")) {
			probs.Add(at("change.percent"), "out-of-range", "percent must be a number above 0, such as 100 for \"doubled\" or 50 for \"halved\"")
		}
		checkRange(probs, at("change.offset"), c.Change.Offset.Std(), "the offset", "1h")
	}
}

func (f *Filter) validate(probs *problem.List, field string) {
	at := func(s string) string { return field + "." + s }
	if checkLabelName(probs, at("label"), f.Label) && f.Label == model.MetricNameLabel {
		probs.Add(at("label"), "invalid-value", "the metric name goes in metric, not in a filter: remove this filter")
	}
	if !utf8.ValidString(f.Value) {
		probs.Add(at("value"), "invalid-value", "the value is not valid UTF-8")
		return
	}
	switch f.Op {
	case "", "=", "!=":
	case "=~", "!~":
		checkRegexp(probs, at("value"), f.Value)
	default:
		probs.Add(at("op"), "invalid-value", "op %q is not a label matcher: use =, !=, =~ or !~", f.Op)
	}
}

// checkRegexp checks a regular expression as PromQL reads it: RE2,
// anchored at both ends.
func checkRegexp(probs *problem.List, field, re string) {
	if _, err := labels.NewMatcher(labels.MatchRegexp, "", re); err != nil {
		probs.Add(field, "invalid-regexp", "%q is not a regular expression (RE2 syntax, matched against the whole value): %v", re, err)
	}
}

// checkRange refuses a window or offset below a second or finer than a
// millisecond (PromQL writes no finer).
func checkRange(probs *problem.List, field string, d time.Duration, what, example string) {
	if probs.Has(field) {
		return
	}
	switch {
	case d <= 0:
		probs.Add(field, "required", "%s must be set, such as %q", what, example)
	case d < time.Second:
		probs.Add(field, "out-of-range", "%s must be at least 1s", what)
	case d%time.Millisecond != 0:
		probs.Add(field, "invalid-value", "%s must be a whole number of milliseconds, such as %q", what, example)
	}
}

// checkLabelName checks a label name as Prometheus 3 does (any non-empty
// UTF-8; names PromQL cannot write bare are quoted in compiled PromQL) and
// reports whether it is one.
func checkLabelName(probs *problem.List, field, name string) bool {
	switch {
	case name == "":
		probs.Add(field, "required", "a label name is empty: write one such as instance")
	case !model.UTF8Validation.IsValidLabelName(name):
		probs.Add(field, "invalid-value", "a label name must be valid UTF-8")
	default:
		return true
	}
	return false
}

// checkMetricName takes what Prometheus 3 takes as a metric name (any
// UTF-8) but for what shows it is not one: spaces, control characters,
// braces and quotes (a selector such as up{job="x"} put in the name).
func checkMetricName(probs *problem.List, field, name string) {
	switch {
	case name == "":
		probs.Add(field, "required", "name the metric, such as jvm_gc_full_count")
	case !utf8.ValidString(name):
		probs.Add(field, "invalid-value", "the metric name must be valid UTF-8")
	case strings.ContainsAny(name, "{}\"") || strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		probs.Add(field, "invalid-value", "%q is not a metric name: write the name alone, such as jvm_gc_full_count, and put label conditions in filters", name)
	}
}
