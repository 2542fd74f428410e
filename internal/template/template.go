// Package template turns alerts into what Tocsin says about them: the
// platform-neutral notify.Message that each platform package then shapes
// into its own payloads. It holds the default wording of a group
// notification (RenderGroup: one alert, or many) and of the digest that
// merges many queued notifications when a channel's send budget runs short
// (RenderDigest).
//
// Everything here is pure: no store, no clock (Options.Now is given), no
// network. Rendering is plain Go over a few small helpers (Summary, Where,
// Options.Time, …); those helpers are what a text/template function map
// will offer when channels get their own templates, so the default wording
// and a custom one can share them.
package template

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/notify/fit"
)

// Options are what a rendering needs beyond the alerts: where and when it
// is read, and where links point.
type Options struct {
	// Location is the channel's time zone: every time is shown in it,
	// with the zone named ("2026-11-21 10:01:05 CST", or "+04:00" for a
	// zone without an abbreviation). Wrong zones are the most repeated
	// complaint about the usual relays. nil means UTC.
	Location *time.Location
	// PublicURL is Tocsin's base URL for links ("https://tocsin.example",
	// no trailing slash needed); "" means no links to Tocsin.
	PublicURL string
	// Now is the time of rendering: "12m ago", and whether a time needs
	// its date. The zero Now leaves out relative times and always shows
	// dates.
	Now time.Time
}

func (o Options) loc() *time.Location {
	if o.Location == nil {
		return time.UTC
	}
	return o.Location
}

// Time renders t in the options' zone, to the second, with the zone named:
// "2026-11-21 10:01:05 CST". The zero time renders as "".
func (o Options) Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(o.loc())
	return t.Format("2006-01-02 15:04:05") + " " + zoneName(t)
}

// Clock renders t in the options' zone to the minute, with its date only
// when it is not Now's day there: "10:01" or "11-20 23:58". It names no
// zone; a list of clock times names it once (see Zone).
func (o Options) Clock(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(o.loc())
	if o.Now.IsZero() {
		return t.Format("01-02 15:04")
	}
	now := o.Now.In(o.loc())
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("15:04")
	}
	return t.Format("01-02 15:04")
}

// Span renders when an alert fired and ended to the minute, the end's
// date only when it differs from the start's: "23:40–00:15",
// "11-20 23:40–11-21 00:15" or "09:12–10:30". It names no zone.
func (o Options) Span(start, end time.Time) string {
	s := o.Clock(start)
	if end.IsZero() {
		return s
	}
	if start.IsZero() {
		return o.Clock(end)
	}
	st, en := start.In(o.loc()), end.In(o.loc())
	if y, m, d := st.Date(); y == en.Year() && m == en.Month() && d == en.Day() {
		return s + "–" + en.Format("15:04")
	}
	return s + "–" + en.Format("01-02 15:04")
}

// Zone names the options' zone as of t (Now when t is zero): its
// abbreviation and offset, "CST (UTC+08:00)", or the offset alone,
// "UTC+04:00", for a zone without an abbreviation.
func (o Options) Zone(t time.Time) string {
	if t.IsZero() {
		t = o.Now
	}
	if t.IsZero() {
		return o.loc().String() // no moment to take an abbreviation from
	}
	t = t.In(o.loc())
	name, offset := zoneName(t), "UTC"+t.Format("-07:00")
	if name == "UTC" {
		return name
	}
	if strings.HasPrefix(name, "+") || strings.HasPrefix(name, "-") {
		return offset
	}
	return name + " (" + offset + ")"
}

// zoneName is t's zone abbreviation ("CST", "UTC"), or its offset
// ("+04:00") where the zone database has no abbreviation: Go would print
// "+04", which reads like a number.
func zoneName(t time.Time) string {
	name, _ := t.Zone()
	if name == "" || name[0] == '+' || name[0] == '-' {
		return t.Format("-07:00")
	}
	return name
}

// ago is how long before Now t was, "12m", or "" without a Now.
func (o Options) ago(t time.Time) string {
	if o.Now.IsZero() || t.IsZero() || t.After(o.Now) {
		return ""
	}
	return Duration(o.Now.Sub(t))
}

// Duration renders d for a person, to two units at most: "45s", "12m",
// "3h 5m", "2d 4h".
func Duration(d time.Duration) string {
	d = max(d, 0)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 24*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh %dm", h, m)
	}
	days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
	if h == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd %dh", days, h)
}

// Summary is an alert's one-line summary: its summary annotation, else
// the first non-empty line of its description, else of its message (what
// Grafana and cloud events fill). It is cleaned to one line; "" when the
// alert has none of these.
func Summary(a alert.Alert) string {
	s, _ := summary(a)
	return s
}

// summary returns the summary and the annotation it came from.
func summary(a alert.Alert) (string, string) {
	if s := fit.Line(a.Annotations.Get("summary"), maxSummaryRunes); s != "" {
		return s, "summary" // meant as one line, whatever its newlines
	}
	for _, name := range []string{"description", "message"} {
		for line := range strings.SplitSeq(a.Annotations.Get(name), "\n") {
			if line = fit.Line(line, maxSummaryRunes); line != "" {
				return line, name
			}
		}
	}
	return "", ""
}

const (
	// maxSummaryRunes bounds a summary where it stands alone.
	maxSummaryRunes = 300
	// maxValueRunes bounds a label or annotation value in a message.
	maxValueRunes = 200
)

// whereLabels are the labels that say where an alert fires, most specific
// first: they are shown right under the summary, and preferred when
// telling the alerts of a list apart.
var whereLabels = []string{
	"instance", "pod", "container", "host", "hostname", "node", "device", "mountpoint",
	"namespace", "service", "job", "cluster", "region",
}

// maxWhere bounds how many where-labels a message shows for one alert.
const maxWhere = 4

// Where returns the labels that say where the alert fires, at most four,
// most specific first (instance, pod, host, …, job, cluster).
func Where(ls alert.Labels) alert.Labels {
	var where alert.Labels
	for _, name := range whereLabels {
		if v := ls.Get(name); v != "" {
			where = append(where, alert.Label{Name: name, Value: v})
			if len(where) == maxWhere {
				break
			}
		}
	}
	return where
}

// whereRank orders label names for display: where-labels by their place
// in whereLabels, then every other label, by name.
func whereRank(name string) int {
	if i := slices.Index(whereLabels, name); i >= 0 {
		return i
	}
	return len(whereLabels)
}

// Severity is an alert's severity: the one its sender set, else its
// severity label read by alert.ParseSeverity.
func Severity(a alert.Alert) alert.Severity {
	if a.Severity != alert.Unknown {
		return a.Severity
	}
	return alert.ParseSeverity(a.Labels.Get("severity"))
}

// severityText is the severity as shown: the known severity, or the
// severity label as sent when it reads as none ("sev5"), or "".
func severityText(a alert.Alert) string {
	if s := Severity(a); s != alert.Unknown {
		return string(s)
	}
	return fit.Line(a.Labels.Get("severity"), 32)
}

// severityRank orders severities, most urgent first.
func severityRank(s alert.Severity) int {
	switch s {
	case alert.Critical:
		return 0
	case alert.Warning:
		return 1
	case alert.Info:
		return 2
	}
	return 3
}

// compareAlerts orders alerts for lists: most severe first, then the
// longest firing, then by labels, so the order never depends on input.
func compareAlerts(a, b alert.Alert) int {
	return cmp.Or(
		cmp.Compare(severityRank(Severity(a)), severityRank(Severity(b))),
		a.StartsAt.Compare(b.StartsAt),
		slices.CompareFunc(a.Labels, b.Labels, func(x, y alert.Label) int {
			return cmp.Or(strings.Compare(x.Name, y.Name), strings.Compare(x.Value, y.Value))
		}),
	)
}

// AlertURL is where a reader sees an alert: its page in Tocsin's console
// when there is a PublicURL, else the link its sender gave (Prometheus's
// graph of the rule's expression, say), else "".
func (o Options) AlertURL(a alert.Alert) string {
	if base := o.base(); base != "" {
		return base + "/alerts/" + a.Fingerprint.String()
	}
	return strings.TrimSpace(a.GeneratorURL)
}

// base is PublicURL without a trailing slash.
func (o Options) base() string { return strings.TrimRight(strings.TrimSpace(o.PublicURL), "/") }

// alertmanagerFilter is Alertmanager's UI filter for labels:
// {alertname="HighCPU",cluster="prod"}, query-escaped.
func alertmanagerFilter(ls alert.Labels) string {
	ms := make([]string, len(ls))
	for i, l := range ls {
		ms[i] = fmt.Sprintf("%s=%q", l.Name, l.Value)
	}
	return url.QueryEscape("{" + strings.Join(ms, ",") + "}")
}

// labelList renders labels as "name=value · name=value", values one line
// and bounded.
func labelList(ls alert.Labels) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = l.Name + "=" + fit.Line(l.Value, maxValueRunes)
	}
	return strings.Join(parts, " · ")
}

// linkText makes s safe as the text of a markdown link: brackets would
// end it early.
var linkText = strings.NewReplacer("[", "(", "]", ")", "\n", " ", "\r", " ")

// link is a markdown link, or the text alone without a URL.
func link(text, u string) string {
	if u == "" {
		return text
	}
	return "[" + linkText.Replace(text) + "](" + u + ")"
}

// Emoji and words that tell firing from resolved at a glance.
const (
	firingMark   = "🔥"
	resolvedMark = "✅"
)

func mark(s alert.Status) string {
	if s == alert.Resolved {
		return resolvedMark
	}
	return firingMark
}
