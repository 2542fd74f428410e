package template

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/notify/fit"
)

// Group is one group notification: the alerts of one group that a policy,
// or Alertmanager through its webhook, notifies about together.
type Group struct {
	// Policy is the name of the policy that notifies; "" for an
	// Alertmanager webhook relayed as it came.
	Policy string
	// GroupLabels are the labels that define the group (the policy's
	// group_by values).
	GroupLabels alert.Labels
	Firing      []alert.Alert
	Resolved    []alert.Alert
	// ExternalURL is Alertmanager's externalURL when relaying its webhook,
	// else "": the group then gets a button to it in Alertmanager.
	ExternalURL string
	// StillFiring counts firing alerts of the group that an earlier
	// message announced and Firing leaves out; the message says they
	// still fire.
	StillFiring int
}

// groupListMax bounds how many alerts of each status a group message
// lists; the rest are counted. A group of hundreds belongs in the console,
// and a message that long would be split and trimmed by the platform with
// no account of which alerts were left out.
const groupListMax = 40

// RenderGroup renders one group notification.
//
// One alert gets a focused message: its name, severity and summary, where
// it fires and since when, then its description and other annotations,
// and its remaining labels last. Several get a title like
// "[FIRING 12] HighCPU (critical)", what they share, and one short line
// each that shows only the labels telling them apart, firing before
// resolved, each list up to 40 alerts and the rest counted.
//
// Buttons link to the alert in Tocsin's console (or, without a PublicURL,
// to its generatorURL), to its source and runbook, and for a relayed
// webhook to the group in Alertmanager. Alerts carries every alert, firing
// then resolved, as given; Status is firing when any alert fires. ID and
// Mentions are left for the caller.
func RenderGroup(g Group, o Options) notify.Message {
	firing := sortedAlerts(g.Firing)
	resolved := sortedAlerts(g.Resolved)
	msg := notify.Message{
		Alerts: slices.Concat(g.Firing, g.Resolved),
		Status: alert.Resolved,
	}
	if len(firing) > 0 {
		msg.Status = alert.Firing
	}
	r := groupRender{g: g, o: o, firing: firing, resolved: resolved}
	switch len(firing) + len(resolved) {
	case 0:
		msg.Title, msg.Text = r.empty()
	case 1:
		msg.Title, msg.Text, msg.Buttons = r.single()
	default:
		msg.Title, msg.Text, msg.Buttons = r.list()
	}
	if g.StillFiring > 0 {
		msg.Text += fmt.Sprintf("\n\nStill firing: %d more %s announced earlier.", g.StillFiring, plural(g.StillFiring, "alert", "alerts"))
	}
	return msg
}

func sortedAlerts(as []alert.Alert) []alert.Alert {
	s := slices.Clone(as)
	slices.SortStableFunc(s, compareAlerts)
	return s
}

// groupRender holds one group's rendering.
type groupRender struct {
	g                Group
	o                Options
	firing, resolved []alert.Alert // sorted for display
}

func (r *groupRender) all() []alert.Alert { return slices.Concat(r.firing, r.resolved) }

// name is what the group is called: its one alertname, else the alertname
// it is grouped by, else its most frequent alertnames, "A, B +3".
func (r *groupRender) name() string {
	counts := map[string]int{}
	var names []string
	for _, a := range r.all() {
		n := a.Name()
		if counts[n] == 0 {
			names = append(names, n)
		}
		counts[n]++
	}
	switch {
	case len(names) == 1 && names[0] != "":
		return fit.Line(names[0], maxValueRunes)
	case r.g.GroupLabels.Has("alertname"):
		return fit.Line(r.g.GroupLabels.Get("alertname"), maxValueRunes)
	}
	names = slices.DeleteFunc(names, func(n string) bool { return n == "" })
	if len(names) == 0 {
		if r.g.Policy != "" {
			return fit.Line(r.g.Policy, maxValueRunes)
		}
		return "alerts"
	}
	slices.SortStableFunc(names, func(a, b string) int { return counts[b] - counts[a] })
	shown := min(len(names), 2)
	s := strings.Join(names[:shown], ", ")
	if rest := len(names) - shown; rest > 0 {
		s += fmt.Sprintf(" +%d", rest)
	}
	return fit.Line(s, maxValueRunes)
}

// named reports whether the group's name is its one alertname, so that
// label need not be shown again.
func (r *groupRender) named() bool {
	all := r.all()
	for _, a := range all {
		if a.Name() != all[0].Name() {
			return r.g.GroupLabels.Has("alertname")
		}
	}
	return all[0].Name() != ""
}

// severity is the most urgent severity of the firing alerts (of the
// resolved ones when none fires), as shown, or "".
func (r *groupRender) severity() string {
	as := r.firing
	if len(as) == 0 {
		as = r.resolved
	}
	return severityText(as[0]) // sorted: most severe first
}

// headline is "HighCPU (critical)".
func (r *groupRender) headline() string {
	if sev := r.severity(); sev != "" {
		return r.name() + " (" + sev + ")"
	}
	return r.name()
}

func (r *groupRender) empty() (title, text string) {
	name := "alerts"
	if r.g.Policy != "" {
		name = r.g.Policy
	}
	return "[RESOLVED] " + name, "### " + resolvedMark + " RESOLVED · " + name + "\n\nNo alert fires in this group any more."
}

// single renders the focused message of a group of one alert.
func (r *groupRender) single() (title, text string, buttons []notify.Button) {
	a, status := alert.Alert{}, alert.Firing
	if len(r.firing) == 1 {
		a = r.firing[0]
	} else {
		a, status = r.resolved[0], alert.Resolved
	}
	word := strings.ToUpper(string(status))
	where := Where(a.Labels)
	title = "[" + word + "] " + r.headline()
	if len(where) > 0 {
		title += " on " + fit.Line(where[0].Value, maxValueRunes)
	}

	sum, from := summary(a)
	var blocks []string
	blocks = append(blocks, "### "+mark(status)+" "+word+" · "+r.headline())
	if sum != "" {
		blocks = append(blocks, "**"+sum+"**")
	}

	var facts []string
	if len(where) > 0 {
		facts = append(facts, "- **Where**: "+labelList(where))
	}
	if status == alert.Firing {
		if since := r.o.Time(a.StartsAt); since != "" {
			if ago := r.o.ago(a.StartsAt); ago != "" {
				since += " (" + ago + " ago)"
			}
			facts = append(facts, "- **Since**: "+since)
		}
	} else {
		if t := r.o.Time(a.StartsAt); t != "" {
			facts = append(facts, "- **Fired**: "+t)
		}
		if t := r.o.Time(a.EndsAt); t != "" {
			if !a.StartsAt.IsZero() && a.EndsAt.After(a.StartsAt) {
				t += " (after " + Duration(a.EndsAt.Sub(a.StartsAt)) + ")"
			}
			facts = append(facts, "- **Resolved**: "+t)
		}
	}
	if r.g.Policy != "" {
		facts = append(facts, "- **Policy**: "+fit.Line(r.g.Policy, maxValueRunes))
	}
	blocks = append(blocks, strings.Join(facts, "\n"))
	blocks = append(blocks, details(a, from))
	blocks = append(blocks, otherAnnotations(a, from))

	shown := []string{"alertname", "severity"}
	for _, l := range where {
		shown = append(shown, l.Name)
	}
	rest := slices.DeleteFunc(slices.Clone(a.Labels), func(l alert.Label) bool { return slices.Contains(shown, l.Name) })
	if len(rest) > 0 {
		blocks = append(blocks, "**Labels**: "+labelList(rest))
	}

	buttons = r.alertButtons(a)
	return title, fit.Join("\n\n", blocks...), buttons
}

// maxDetailLines bounds the description shown under a summary.
const maxDetailLines = 10

// details is the description as a quote, when the summary did not come
// from it; when it did, the lines after the first. "" when there is none.
func details(a alert.Alert, from string) string {
	desc := fit.Clean(a.Annotations.Get("description"))
	if from == "description" {
		_, rest, _ := strings.Cut(strings.TrimLeft(desc, " \t\r\n"), "\n")
		desc = rest
	}
	var lines []string
	for line := range strings.SplitSeq(desc, "\n") {
		if line = fit.Line(line, maxSummaryRunes); line == "" {
			continue // a blank line would end the quote
		}
		if len(lines) == maxDetailLines {
			lines = append(lines, "> "+fit.Ellipsis)
			break
		}
		lines = append(lines, "> "+line)
	}
	return strings.Join(lines, "\n")
}

// linkAnnotations are annotations that become buttons rather than text.
var linkAnnotations = []string{"runbook_url", "runbook"}

// otherAnnotations lists the annotations not shown otherwise, one line
// each: "- **value**: 93.2".
func otherAnnotations(a alert.Alert, from string) string {
	var lines []string
	for _, an := range a.Annotations {
		switch {
		case an.Name == from, an.Name == "summary", an.Name == "description",
			slices.Contains(linkAnnotations, an.Name) && isURL(an.Value):
			continue
		}
		if v := fit.Line(an.Value, maxValueRunes); v != "" {
			lines = append(lines, "- **"+an.Name+"**: "+v)
		}
	}
	return strings.Join(lines, "\n")
}

func isURL(s string) bool {
	s = strings.TrimSpace(s)
	return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")
}

// runbook is the alert's runbook link, or "".
func runbook(a alert.Alert) string {
	for _, name := range linkAnnotations {
		if v := strings.TrimSpace(a.Annotations.Get(name)); isURL(v) {
			return v
		}
	}
	return ""
}

// alertButtons are one alert's links: its details, its source when the
// details are Tocsin's page, its runbook, and Alertmanager for a relay.
func (r *groupRender) alertButtons(a alert.Alert) []notify.Button {
	var bs []notify.Button
	if u := r.o.AlertURL(a); u != "" {
		bs = append(bs, notify.Button{Title: "Details", URL: u})
	}
	if src := strings.TrimSpace(a.GeneratorURL); src != "" && r.o.base() != "" {
		bs = append(bs, notify.Button{Title: "Source", URL: src})
	}
	if u := runbook(a); u != "" {
		bs = append(bs, notify.Button{Title: "Runbook", URL: u})
	}
	return append(bs, r.alertmanagerButton(a.Labels)...)
}

// alertmanagerButton links a relayed notification to its alerts in
// Alertmanager's UI, filtered by ls (the group labels, or one alert's).
func (r *groupRender) alertmanagerButton(ls alert.Labels) []notify.Button {
	ext := strings.TrimRight(strings.TrimSpace(r.g.ExternalURL), "/")
	if ext == "" {
		return nil
	}
	u := ext + "/#/alerts"
	if len(ls) > 0 {
		u += "?filter=" + alertmanagerFilter(ls)
	}
	return []notify.Button{{Title: "Alertmanager", URL: u}}
}

// list renders a group of several alerts.
func (r *groupRender) list() (title, text string, buttons []notify.Button) {
	nf, nr := len(r.firing), len(r.resolved)
	var counts, heads []string
	if nf > 0 {
		counts = append(counts, fmt.Sprintf("FIRING %d", nf))
		heads = append(heads, fmt.Sprintf("%s FIRING %d", firingMark, nf))
	}
	if nr > 0 {
		counts = append(counts, fmt.Sprintf("RESOLVED %d", nr))
		heads = append(heads, fmt.Sprintf("%s RESOLVED %d", resolvedMark, nr))
	}
	title = "[" + strings.Join(counts, ", ") + "] " + r.headline()

	all := r.all()
	var blocks []string
	blocks = append(blocks, "### "+strings.Join(heads, " · ")+" · "+r.headline())
	common := Summary(all[0])
	for _, a := range all[1:] {
		if Summary(a) != common {
			common = ""
			break
		}
	}
	if common != "" {
		blocks = append(blocks, "**"+common+"**")
	}

	var facts []string
	groupLabels := r.g.GroupLabels
	if r.named() {
		groupLabels = slices.DeleteFunc(slices.Clone(groupLabels), func(l alert.Label) bool { return l.Name == "alertname" })
	}
	if len(groupLabels) > 0 {
		facts = append(facts, "- **Group**: "+labelList(groupLabels))
	}
	if nf > 0 {
		first := slices.MinFunc(r.firing, func(a, b alert.Alert) int { return a.StartsAt.Compare(b.StartsAt) })
		if since := r.o.Time(first.StartsAt); since != "" {
			if ago := r.o.ago(first.StartsAt); ago != "" {
				since += " (" + ago + " ago)"
			}
			facts = append(facts, "- **Since**: "+since)
		}
	}
	if r.g.Policy != "" {
		facts = append(facts, "- **Policy**: "+fit.Line(r.g.Policy, maxValueRunes))
	}
	blocks = append(blocks, strings.Join(facts, "\n"))

	sets := make([]alert.Labels, len(all))
	for i, a := range all {
		sets[i] = a.Labels
	}
	by := telling(sets)
	sevs := severityText(all[0])
	mixedSev := slices.ContainsFunc(all, func(a alert.Alert) bool { return severityText(a) != sevs })
	l := listing{r: r, by: by, withSummary: common == "", withSeverity: mixedSev}
	blocks = append(blocks, l.section(alert.Firing, r.firing)...)
	blocks = append(blocks, l.section(alert.Resolved, r.resolved)...)

	if shared := r.sharedLabels(all, groupLabels, mixedSev); len(shared) > 0 {
		blocks = append(blocks, "**Common labels**: "+labelList(shared))
	}

	if u := runbook(all[0]); u != "" && !slices.ContainsFunc(all, func(a alert.Alert) bool { return runbook(a) != u }) {
		buttons = append(buttons, notify.Button{Title: "Runbook", URL: u})
	}
	if u := r.listURL(); u != "" {
		buttons = append(buttons, notify.Button{Title: "All alerts", URL: u})
	}
	buttons = append(buttons, r.alertmanagerButton(r.g.GroupLabels)...)
	return title, fit.Join("\n\n", blocks...), buttons
}

// listURL is the console's list of firing alerts (resolved ones when none
// fires), or "" without a PublicURL.
func (r *groupRender) listURL() string {
	base := r.o.base()
	if base == "" {
		return ""
	}
	if len(r.firing) == 0 {
		return base + "/alerts?status=resolved"
	}
	return base + "/alerts?status=firing"
}

// sharedLabels are the labels every alert has with the same value, less
// those the message already shows.
func (r *groupRender) sharedLabels(all []alert.Alert, groupLabels alert.Labels, mixedSev bool) alert.Labels {
	var shared alert.Labels
	for _, l := range all[0].Labels {
		switch {
		case l.Name == "alertname" && r.named(),
			l.Name == "severity" && !mixedSev,
			groupLabels.Has(l.Name):
			continue
		}
		if !slices.ContainsFunc(all[1:], func(a alert.Alert) bool { return a.Labels.Get(l.Name) != l.Value }) {
			shared = append(shared, l)
		}
	}
	return shared
}

// listing writes the per-status lists of a group message.
type listing struct {
	r            *groupRender
	by           []string
	withSummary  bool // the alerts' summaries differ, so each line shows its own
	withSeverity bool // severities differ, so each line shows its own
}

// maxLineSummary bounds a summary on a list line, in bytes.
const maxLineSummary = 80

// section is a status's heading and list, or nothing when no alert has
// that status.
func (l listing) section(status alert.Status, as []alert.Alert) []string {
	if len(as) == 0 {
		return nil
	}
	word := "Firing"
	if status == alert.Resolved {
		word = "Resolved"
	}
	head := fmt.Sprintf("**%s %s (%d)**", mark(status), word, len(as))
	if len(l.by) > 0 {
		head += " · by " + strings.Join(l.by, ", ")
	}
	lines := make([]string, 0, min(len(as), groupListMax)+1)
	for _, a := range as[:min(len(as), groupListMax)] {
		lines = append(lines, l.line(status, a))
	}
	if more := len(as) - groupListMax; more > 0 {
		lines = append(lines, fmt.Sprintf("- %s and %d more", fit.Ellipsis, more))
		if u := l.r.listURL(); u != "" {
			lines[len(lines)-1] += " · " + link("see all", u)
		}
	}
	return []string{head, strings.Join(lines, "\n")}
}

// line is one alert of a list: "- [web-1:9100](…) · CPU at 93% · since 10:01 CST".
func (l listing) line(status alert.Status, a alert.Alert) string {
	parts := []string{link(ident(a, l.by, 60), l.r.o.AlertURL(a))}
	if l.withSeverity {
		if sev := severityText(a); sev != "" {
			parts = append(parts, sev)
		}
	}
	if l.withSummary {
		if s := Summary(a); s != "" {
			parts = append(parts, fit.CutTo(s, maxLineSummary))
		}
	}
	if t := l.r.span(status, a); t != "" {
		parts = append(parts, t)
	}
	return "- " + strings.Join(parts, " · ")
}

// span is when an alert fired, "since 10:01 CST", or fired and ended,
// "09:12–10:30 CST", with the zone named once.
func (r *groupRender) span(status alert.Status, a alert.Alert) string {
	if a.StartsAt.IsZero() {
		return ""
	}
	zone := zoneName(a.StartsAt.In(r.o.loc()))
	if status == alert.Firing || a.EndsAt.IsZero() {
		return "since " + r.o.Clock(a.StartsAt) + " " + zone
	}
	return r.o.Span(a.StartsAt, a.EndsAt) + " " + zoneName(a.EndsAt.In(r.o.loc()))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
