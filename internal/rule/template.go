package rule

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/template"

	"github.com/tocsinhq/tocsin/internal/alert"
)

// metricDefs are the variables a Prometheus alerting rule's templates
// have, word for word as rules/alerting.go (Eval) declares them before
// each label and annotation.
var metricDefs = strings.Join([]string{
	"{{$labels := .Labels}}",
	"{{$externalLabels := .ExternalLabels}}",
	"{{$externalURL := .ExternalURL}}",
	"{{$value := .Value}}",
}, "")

// eventDefs are the variables of an event rule's annotation templates.
var eventDefs = "{{$labels := .Labels}}{{$event := .Event}}"

// TemplateEnv is what a metric rule's templates see besides the result:
// the external URL and labels ($externalURL, $externalLabels, and the
// template functions pathPrefix and externalURL), and how the template
// function query runs its PromQL.
type TemplateEnv struct {
	ExternalURL    *url.URL
	ExternalLabels map[string]string
	// Query runs {{ query "…" }} against the rule's data source at the
	// evaluation time; nil makes query fail, so a template using it
	// expands to "<error expanding template: …>".
	Query template.QueryFunc
}

// ExpandTemplates returns the labels and annotations of the alert a
// metric rule's result series makes, exactly as a Prometheus alerting rule
// makes them (rules/alerting.go Eval, v0.315.0):
//
//   - each label and annotation value is a Go template with Prometheus's
//     functions and the variables $labels (series' labels, __name__
//     included), $externalLabels, $externalURL and $value, run at ts;
//   - a template that fails expands to "<error expanding template: …>";
//   - labels: the series' labels without __name__, then the rule's labels
//     expanded (a label expanding to "" is dropped), then alertname = the
//     rule's name, and, Tocsin's addition, severity = the rule's Severity
//     when set;
//   - annotations: the rule's, expanded (kept when empty, as Prometheus
//     keeps them).
//
// Native histogram results are not supported: value is the sample's float.
func (r *Rule) ExpandTemplates(ctx context.Context, series labels.Labels, value float64, ts time.Time, env TemplateEnv) (ls, annotations alert.Labels) {
	externalURL := ""
	if env.ExternalURL != nil {
		externalURL = env.ExternalURL.String()
	}
	query := env.Query
	if query == nil {
		query = noQuery
	}
	data := template.AlertTemplateData(series.Map(), env.ExternalLabels, externalURL, promql.Sample{Metric: series, F: value})
	expand := func(text string) string {
		tmpl := template.NewTemplateExpander(ctx, metricDefs+text, "__alert_"+r.Name, data,
			model.Time(timestamp.FromTime(ts)), query, env.ExternalURL, nil)
		out, err := tmpl.Expand()
		if err != nil {
			return fmt.Sprintf("<error expanding template: %s>", err)
		}
		return out
	}

	m := series.Map()
	delete(m, model.MetricNameLabel)
	for name, text := range r.Labels {
		m[name] = expand(text)
	}
	m[model.AlertNameLabel] = r.Name
	if r.Severity != alert.Unknown {
		m["severity"] = string(r.Severity)
	}
	ls = alert.FromMap(m)

	annotations = make(alert.Labels, 0, len(r.Annotations))
	for name, text := range r.Annotations {
		annotations = append(annotations, alert.Label{Name: name, Value: expand(text)})
	}
	slices.SortFunc(annotations, func(a, b alert.Label) int { return strings.Compare(a.Name, b.Name) })
	return ls, annotations
}

var errNoQuery = errors.New("the query function is not available here")

func noQuery(context.Context, string, time.Time) (promql.Vector, error) { return nil, errNoQuery }

// parseMetricTemplate checks that a metric rule's label or annotation
// template parses, as Prometheus checks a rule file.
func parseMetricTemplate(ruleName, text string) error {
	data := template.AlertTemplateData(map[string]string{}, map[string]string{}, "", promql.Sample{})
	return template.NewTemplateExpander(context.Background(), metricDefs+text, "__alert_"+ruleName, data, 0, noQuery, nil, nil).ParseTest()
}

// eventTemplateData is what an event rule's annotation templates see.
type eventTemplateData struct {
	Labels map[string]string
	Event  EventData
}

// parseEventTemplate checks that an event rule's annotation template
// parses.
func parseEventTemplate(ruleName, text string) error {
	return template.NewTemplateExpander(context.Background(), eventDefs+text, "__alert_"+ruleName, eventTemplateData{}, 0, noQuery, nil, nil).ParseTest()
}

// expandEventTemplate expands an event rule's annotation, with
// Prometheus's template functions (query is not available: an event rule
// has no data source).
func expandEventTemplate(ruleName, text string, data eventTemplateData, ts time.Time) string {
	out, err := template.NewTemplateExpander(context.Background(), eventDefs+text, "__alert_"+ruleName, data,
		model.Time(timestamp.FromTime(ts)), noQuery, nil, nil).Expand()
	if err != nil {
		return fmt.Sprintf("<error expanding template: %s>", err)
	}
	return out
}
