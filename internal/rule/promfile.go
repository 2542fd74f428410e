package rule

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"go.yaml.in/yaml/v3"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/problem"
	"github.com/tocsinhq/tocsin/internal/route"
)

// ImportPrometheus reads a Prometheus rule file (YAML groups of rules) as
// Prometheus 3 does (model/rulefmt, unknown fields refused, UTF-8 names)
// and returns its alerting rules as metric rules:
//
//   - name = alert, Group = the group's name, Interval = the group's
//     interval (DefaultInterval when it has none), expr, for,
//     keep_firing_for, annotations as written; enabled;
//   - labels = the group's labels overlaid with the rule's, as Prometheus
//     does; a severity label of exactly critical, warning or info becomes
//     Severity (any other severity stays a label);
//   - recording rules are skipped, and so are a group's query_offset and
//     limit, which Tocsin has no use for: skipped says each in a sentence.
//
// Its error is a *problem.List: the parser's errors, each with its line and
// column in the file, or the rules that do not validate as Tocsin rules,
// by path (groups[0].rules[2].labels.alertname), including rule names used
// twice (Tocsin's rule names are unique). Nothing is returned then.
func ImportPrometheus(data []byte) (rules []Rule, skipped []string, err error) {
	var warned warnings
	groups, errs := rulefmt.Parse(data, false, model.UTF8Validation, promqlParser, slog.New(&warned))
	var probs problem.List
	for _, e := range errs {
		probs.Add("", "invalid-rule-file", "%v", e)
	}
	for _, w := range warned {
		probs.Add("", "invalid-rule-file", "%s: Tocsin reads one document, like Prometheus; import the others one by one", w)
	}
	if err := probs.Err(); err != nil {
		return nil, nil, err
	}
	seen := map[string]string{} // rule name → path of the rule with it
	for gi, g := range groups.Groups {
		gpath := fmt.Sprintf("groups[%d]", gi)
		interval := DefaultInterval
		if g.Interval != 0 {
			interval = time.Duration(g.Interval)
		}
		if g.QueryOffset != nil {
			skipped = append(skipped, fmt.Sprintf("group %q: query_offset %s (Tocsin queries at the evaluation time)", g.Name, g.QueryOffset))
		}
		if g.Limit != 0 {
			skipped = append(skipped, fmt.Sprintf("group %q: limit %d (Tocsin does not limit a rule's alerts)", g.Name, g.Limit))
		}
		for ri, pr := range g.Rules {
			if pr.Record != "" {
				skipped = append(skipped, fmt.Sprintf("group %q: recording rule %q (Tocsin keeps alerting rules only)", g.Name, pr.Record))
				continue
			}
			r := importRule(g, pr, interval)
			path := fmt.Sprintf("%s.rules[%d]", gpath, ri)
			var rp problem.List
			r.validate(&rp)
			for _, p := range rp.Items {
				probs.Add(yamlPath(gpath, path, p.Field), p.Code, "%s", p.Message)
			}
			if other, ok := seen[r.Name]; ok {
				probs.Add(path+".alert", "duplicate", "the rule name %q is also used by %s; Tocsin's rule names are unique: rename one (its alerts' alertname changes with it)", r.Name, other)
			}
			seen[r.Name] = path
			rules = append(rules, r)
		}
	}
	if err := probs.Err(); err != nil {
		return nil, nil, err
	}
	return rules, skipped, nil
}

func importRule(g rulefmt.RuleGroup, pr rulefmt.Rule, interval time.Duration) Rule {
	ls := maps.Clone(g.Labels)
	if ls == nil {
		ls = map[string]string{}
	}
	maps.Copy(ls, pr.Labels)
	var sev alert.Severity
	switch s := alert.Severity(ls["severity"]); s {
	case alert.Critical, alert.Warning, alert.Info:
		sev = s
		delete(ls, "severity")
	}
	if len(ls) == 0 {
		ls = nil
	}
	return Rule{
		Name:          pr.Alert,
		Kind:          KindMetric,
		Group:         g.Name,
		Expr:          strings.TrimSpace(pr.Expr),
		For:           Duration(pr.For),
		KeepFiringFor: Duration(pr.KeepFiringFor),
		Interval:      Duration(interval),
		Severity:      sev,
		Labels:        ls,
		Annotations:   orNilMap(pr.Annotations),
		Enabled:       true,
	}
}

// yamlPath names a rule's field at fault in the file's terms.
func yamlPath(group, rule, field string) string {
	switch field {
	case "name":
		return rule + ".alert"
	case "interval":
		return group + ".interval"
	case "group":
		return group + ".name"
	case "severity":
		return rule + ".labels.severity"
	case "":
		return rule
	}
	return rule + "." + field
}

// warnings records what the rule file parser warns about (a file of
// several YAML documents, of which it reads the first).
type warnings []string

func (w *warnings) Enabled(context.Context, slog.Level) bool { return true }

func (w *warnings) Handle(_ context.Context, r slog.Record) error {
	*w = append(*w, r.Message)
	return nil
}

func (w *warnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnings) WithGroup(string) slog.Handler      { return w }

// ExportPrometheus writes rules as a Prometheus rule file, which
// ImportPrometheus reads back. Rules go to their Group's group
// (DefaultGroup when they have none), in the order given. A Prometheus
// group has one interval, so a rule whose interval differs from that of
// its group's first rule goes to a group named "<group> (every <interval>)",
// e.g. "tocsin (every 30s)". A rule's Severity becomes its severity label;
// a form rule is written as its compiled PromQL.
//
// Rules Prometheus cannot hold are left out, and skipped says each in a
// sentence: event rules, disabled rules (a rule file has no off switch)
// and rules without PromQL. Targets and data sources are not written:
// Prometheus has neither.
func ExportPrometheus(rules []Rule) (data []byte, skipped []string, err error) {
	var (
		out       rulefmt.RuleGroups
		index     = map[string]int{}           // group name → index in out.Groups
		intervals = map[string]time.Duration{} // group → the interval that keeps its plain name
	)
	for _, r := range rules {
		switch {
		case r.Kind == KindEvent:
			skipped = append(skipped, fmt.Sprintf("event rule %q: Prometheus has no event rules", r.Name))
			continue
		case !r.Enabled:
			skipped = append(skipped, fmt.Sprintf("rule %q: it is disabled, and a Prometheus rule file has no off switch", r.Name))
			continue
		case strings.TrimSpace(r.Expr) == "":
			skipped = append(skipped, fmt.Sprintf("rule %q: it has no PromQL (validate it first)", r.Name))
			continue
		}
		group := cmp.Or(r.Group, DefaultGroup)
		if first, ok := intervals[group]; !ok {
			intervals[group] = r.Interval.Std()
		} else if first != r.Interval.Std() {
			group = fmt.Sprintf("%s (every %s)", group, route.FormatDuration(r.Interval.Std()))
		}
		i, ok := index[group]
		if !ok {
			i = len(out.Groups)
			index[group] = i
			out.Groups = append(out.Groups, rulefmt.RuleGroup{Name: group, Interval: model.Duration(r.Interval)})
		}
		out.Groups[i].Rules = append(out.Groups[i].Rules, exportRule(&r))
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(out); err != nil {
		return nil, nil, fmt.Errorf("write rule file: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, nil, fmt.Errorf("write rule file: %w", err)
	}
	return b.Bytes(), skipped, nil
}

func exportRule(r *Rule) rulefmt.Rule {
	ls := maps.Clone(r.Labels)
	if r.Severity != alert.Unknown {
		if ls == nil {
			ls = map[string]string{}
		}
		ls["severity"] = string(r.Severity)
	}
	return rulefmt.Rule{
		Alert:         r.Name,
		Expr:          r.Expr,
		For:           model.Duration(r.For),
		KeepFiringFor: model.Duration(r.KeepFiringFor),
		Labels:        ls,
		Annotations:   r.Annotations,
	}
}
