package template

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/notify/fit"
)

// DigestItem is an alert and the status it is announced with.
type DigestItem struct {
	Alert  alert.Alert
	Status alert.Status
}

// DigestLimits bound a digest.
type DigestLimits struct {
	// MaxBytes bounds each message's Text, as Size counts it; 0 means no
	// bound. The platform adds the title, the buttons and its own framing
	// to the Text: leave room for them.
	MaxBytes int
	// MaxMessages bounds how many messages the digest makes; 0 means no
	// bound.
	MaxMessages int
	// Size is how the platform counts a text: nil counts UTF-8 bytes
	// (len); fit.JSONLen counts it as it is sent in a JSON body. It must
	// add up: Size(a+b) == Size(a)+Size(b), as both of those do.
	Size func(string) int
}

// RenderDigest merges many queued notifications into at most MaxMessages
// messages, for a channel where more waits than its send budget allows.
//
// Alerts are gathered into sections by status, alertname and severity:
// firing before resolved, then the most severe, then the largest. Each
// section has a heading that counts its alerts and names the labels that
// tell them apart, then one short line per alert: those labels' values, a
// trimmed summary (once in the heading when the section shares one) and
// when it fired, in the zone the message names once at its top. Words of
// a summary that only repeat the alertname or those values are left out,
// and so are the leading words all the section's summaries share.
//
// As many alerts are listed as fit: every section lists as many as the
// others up to the level where one more line each would not fit, then the
// more urgent sections take what room is left, so a small section is
// listed whole and a large one is cut short and ends "… and 37 more". A
// section none of whose alerts fits shrinks to one line that counts them;
// when even those lines do not fit, the least urgent sections are folded
// into one line that counts them all. The last message ends with the
// totals and, with a PublicURL, a link to every firing alert. Below a few
// hundred bytes even that does not fit: the one message left is cut to
// MaxBytes and carries every alert.
//
// Each message is titled "[DIGEST k/n] N alerts: …"; its Alerts are the
// alerts it lists or counts, each alert in exactly one message, and its
// Status is firing when any of them fires. listed holds the indexes into
// items of the alerts some message names, in increasing order; every other
// item is counted, not named. Items are taken as given: an alert queued
// twice (firing, then resolved) appears twice.
func RenderDigest(items []DigestItem, o Options, lim DigestLimits) (msgs []notify.Message, listed []int) {
	if len(items) == 0 {
		return nil, nil
	}
	d := newDigest(items, o, lim)
	return d.render()
}

// digest holds one digest's rendering.
type digest struct {
	items []DigestItem
	o     Options
	size  func(string) int
	// max is MaxBytes, or no bound; maxMsgs is MaxMessages or 0, no bound.
	max, maxMsgs int

	sections           []*section
	nFiring, nResolved int
	zone               string
	// sep1 and sep2 are the sizes of "\n" (between list lines) and
	// "\n\n" (between blocks).
	sep1, sep2 int
	// headSize and footSize are the widest a message's header and the
	// final totals line can be, so packing never underestimates them.
	headSize, footSize int
}

// section is the alerts of one status, alertname and severity.
type section struct {
	status alert.Status
	name   string
	sev    string // as shown
	rank   int    // severityRank
	items  []int  // indexes into the digest's items, in list order
	by     []string
	// head is the heading, with the shared summary if any; cont heads the
	// section's continuation in a next message; compact is the one line
	// that stands for the section when none of its alerts is listed.
	head, cont, compact             string
	headSize, contSize, compactSize int
	// lines are the list lines of items, and sizes their sizes.
	lines []string
	sizes []int
}

// Bounds of a digest line's parts, in bytes: a line must stay short for
// thousands of alerts to fit in a few messages.
const (
	maxDigestIdent   = 60
	maxDigestSummary = 40
	maxDigestCommon  = 160
)

func newDigest(items []DigestItem, o Options, lim DigestLimits) *digest {
	d := &digest{items: items, o: o, size: lim.Size, max: lim.MaxBytes, maxMsgs: max(lim.MaxMessages, 0)}
	if d.size == nil {
		d.size = func(s string) int { return len(s) }
	}
	if d.max <= 0 {
		d.max = math.MaxInt
	}
	d.sep1, d.sep2 = d.size("\n"), d.size("\n\n")

	type key struct {
		status    alert.Status
		name, sev string
	}
	byKey := map[key]*section{}
	for i, it := range items {
		status := it.Status
		if status != alert.Resolved {
			status = alert.Firing
			d.nFiring++
		} else {
			d.nResolved++
		}
		a := it.Alert
		k := key{status, a.Name(), severityText(a)}
		s := byKey[k]
		if s == nil {
			s = &section{status: status, name: fit.Line(k.name, maxValueRunes), sev: k.sev, rank: severityRank(Severity(a))}
			if s.name == "" {
				s.name = "(no alertname)"
			}
			byKey[k] = s
			d.sections = append(d.sections, s)
		}
		s.items = append(s.items, i)
	}
	slices.SortFunc(d.sections, func(a, b *section) int {
		return cmp.Or(
			cmp.Compare(statusRank(a.status), statusRank(b.status)),
			cmp.Compare(a.rank, b.rank),
			cmp.Compare(len(b.items), len(a.items)),
			strings.Compare(a.name, b.name),
			strings.Compare(a.sev, b.sev),
		)
	})
	// The zone as the reader knows it now; without a Now, as of the first
	// alert.
	at := o.Now
	if at.IsZero() {
		at = items[0].Alert.StartsAt
	}
	d.zone = o.Zone(at)
	for _, s := range d.sections {
		d.prepare(s)
	}

	widest := d.maxMsgs
	if widest == 0 {
		widest = 2*len(items) + len(d.sections) + 2 // more messages than rows is impossible
	}
	d.headSize = d.size(d.header(widest, widest))
	d.footSize = d.size(d.footer(len(items), len(items))) // listed + counted = len(items): neither is wider
	return d
}

// statusRank puts firing sections before resolved ones: in a storm, what
// still fires is what people must act on.
func statusRank(s alert.Status) int {
	if s == alert.Resolved {
		return 1
	}
	return 0
}

// prepare orders a section's alerts, chooses the labels that tell them
// apart, and writes its heading and every line.
func (d *digest) prepare(s *section) {
	slices.SortStableFunc(s.items, func(i, j int) int { return compareAlerts(d.items[i].Alert, d.items[j].Alert) })
	sets := make([]alert.Labels, len(s.items))
	for j, i := range s.items {
		sets[j] = d.items[i].Alert.Labels
	}
	s.by = telling(sets)
	sums := make([]string, len(s.items))
	idents := make([][]string, len(s.items))
	for j, i := range s.items {
		a := d.items[i].Alert
		sums[j] = Summary(a)
		idents[j] = identValues(a, s.by, maxDigestIdent)
	}
	common, short := shortSummaries(sums, d.items[s.items[0]].Alert.Name(), idents)

	title := "**" + mark(s.status) + " " + s.name + "**"
	facts := fmt.Sprintf("%d %s", len(s.items), s.status)
	if s.sev != "" {
		facts = s.sev + " · " + facts
	}
	s.head = title + " · " + facts
	if len(s.by) > 0 {
		s.head += " · by " + strings.Join(s.by, ", ")
	}
	if common != "" {
		s.head += "\n\n> " + fit.CutTo(common, maxDigestCommon)
	}
	s.cont = "**" + mark(s.status) + " " + s.name + " (continued)** · " + facts
	s.compact = "- " + mark(s.status) + " **" + s.name + "** · " + facts + ", none listed"
	s.headSize, s.contSize, s.compactSize = d.size(s.head), d.size(s.cont), d.size(s.compact)

	s.lines = make([]string, len(s.items))
	s.sizes = make([]int, len(s.items))
	var b strings.Builder
	for j, i := range s.items {
		a := d.items[i].Alert
		b.Reset()
		b.WriteString("- ")
		id := strings.Join(idents[j], ", ")
		if id == "" {
			id = a.Fingerprint.String()
		}
		b.WriteString(fit.CutTo(id, maxDigestIdent))
		if short[j] != "" {
			b.WriteString(" · ")
			b.WriteString(fit.CutTo(short[j], maxDigestSummary))
		}
		if !a.StartsAt.IsZero() {
			b.WriteString(" · ")
			if s.status == alert.Resolved {
				b.WriteString(d.o.Span(a.StartsAt, a.EndsAt))
			} else {
				b.WriteString(d.o.Clock(a.StartsAt))
			}
		}
		s.lines[j] = b.String()
		s.sizes[j] = d.size(s.lines[j])
	}
}

// more is the line that counts a section's alerts left unlisted when
// shown of them are listed.
func (s *section) more(shown int) string {
	return fmt.Sprintf("- %s and %d more", fit.Ellipsis, len(s.items)-shown)
}

// header opens message k of n.
func (d *digest) header(k, n int) string {
	return fmt.Sprintf("### 📋 Alert digest %d/%d · %d alerts\n\n%s · times in %s", k, n, len(d.items), d.counts(d.nFiring, d.nResolved), d.zone)
}

// counts is "1850 firing · 150 resolved", leaving out a zero.
func (d *digest) counts(firing, resolved int) string {
	var parts []string
	if firing > 0 {
		parts = append(parts, strconv.Itoa(firing)+" firing")
	}
	if resolved > 0 {
		parts = append(parts, strconv.Itoa(resolved)+" resolved")
	}
	return strings.Join(parts, " · ")
}

// footer is the totals line ending the last message.
func (d *digest) footer(listed, counted int) string {
	s := fmt.Sprintf("**Total**: %d alerts (%s) · %d listed here, %d counted", len(d.items),
		strings.ReplaceAll(d.counts(d.nFiring, d.nResolved), " · ", ", "), listed, counted)
	if base := d.o.base(); base != "" {
		s += " · " + link("all firing alerts", base+"/alerts?status=firing")
	}
	return s
}

// others is the line counting the sections folded away because even
// their headings did not fit: sections[kept:].
func (d *digest) others(kept int) string {
	var n, firing, resolved int
	for _, s := range d.sections[kept:] {
		n += len(s.items)
		if s.status == alert.Resolved {
			resolved += len(s.items)
		} else {
			firing += len(s.items)
		}
	}
	kinds := len(d.sections) - kept
	what := "kinds of alert"
	if kinds == 1 {
		what = "kind of alert"
	}
	more := " more"
	if kept == 0 {
		more = ""
	}
	return fmt.Sprintf("**%s %d%s %s**: %d alerts (%s), not listed",
		fit.Ellipsis, kinds, more, what, n, strings.ReplaceAll(d.counts(firing, resolved), " · ", ", "))
}

func (d *digest) render() ([]notify.Message, []int) {
	kept := len(d.sections)
	n := make([]int, len(d.sections))
	level := func(l int) bool {
		for i := range kept {
			n[i] = min(len(d.sections[i].items), l)
		}
		return d.pack(n, kept, nil)
	}
	for kept >= 0 && !level(0) {
		kept--
	}
	if kept < 0 {
		return d.squeezed()
	}
	// The highest level at which every section lists up to that many
	// alerts; then, round by round, one more line for each section that
	// still has room, the most urgent first. Each round adds at least one
	// line, and the room left after the level is less than a line for
	// every section still cut short, so the rounds are few. Every layout
	// kept is one pack accepted: the result fits whatever the arithmetic.
	lo, hi := 0, 0
	for _, s := range d.sections[:kept] {
		hi = max(hi, len(s.items))
	}
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if level(mid) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	level(lo)
	for grew := true; grew; {
		grew = false
		for i := range kept {
			if n[i] < len(d.sections[i].items) {
				n[i]++
				if d.pack(n, kept, nil) {
					grew = true
				} else {
					n[i]--
				}
			}
		}
	}
	b := &builder{}
	if !d.pack(n, kept, b) {
		// Cannot happen: pack measures what it records. Should it ever,
		// a digest that counts everything beats one over the limit.
		return d.squeezed()
	}
	return d.messages(b)
}

// builder records the messages a pack lays out.
type builder struct {
	msgs   []*builtMsg
	listed []int
}

type builtMsg struct {
	body   strings.Builder // after the header
	alerts []int           // items listed or counted here
}

func (b *builder) start() {
	if b != nil {
		b.msgs = append(b.msgs, &builtMsg{})
	}
}

func (b *builder) add(sep, text string, counted []int) {
	if b == nil {
		return
	}
	m := b.msgs[len(b.msgs)-1]
	m.body.WriteString(sep)
	m.body.WriteString(text)
	m.alerts = append(m.alerts, counted...)
}

func (b *builder) list(sep, text string, item int) {
	if b == nil {
		return
	}
	b.add(sep, text, []int{item})
	b.listed = append(b.listed, item)
}

// pack lays sections[:kept] out into messages, listing n[i] alerts of
// section i, folding the rest of the sections into one counting line,
// and reports whether it all fits the limits. With a builder it records
// the layout; without, it only measures. A section's heading never ends a
// message alone: it goes with the section's first line.
func (d *digest) pack(n []int, kept int, b *builder) bool {
	used, msgs := d.headSize, 1
	b.start()
	if used > d.max {
		return false
	}
	var compact bool
	next := func() bool {
		msgs++
		used, compact = d.headSize, false
		b.start()
		return d.maxMsgs == 0 || msgs <= d.maxMsgs
	}
	// block adds a paragraph of size size (after a blank line), in a
	// new message if the current one is full.
	block := func(size int) bool {
		if used+d.sep2+size <= d.max {
			used += d.sep2 + size
			return true
		}
		if !next() || used+d.sep2+size > d.max {
			return false
		}
		used += d.sep2 + size
		return true
	}
	for si, s := range d.sections[:kept] {
		k := n[si]
		if k == 0 {
			if compact && used+d.sep1+s.compactSize <= d.max {
				used += d.sep1 + s.compactSize
				b.add("\n", s.compact, s.items)
				continue
			}
			if !block(s.compactSize) {
				return false
			}
			b.add("\n\n", s.compact, s.items)
			compact = true
			continue
		}
		compact = false
		more := ""
		if k < len(s.items) {
			more = s.more(k)
		}
		rows := k
		if more != "" {
			rows++
		}
		row := func(j int) (string, int) {
			if j < k {
				return s.lines[j], s.sizes[j]
			}
			return more, d.size(more)
		}
		text, size := row(0)
		if !block(s.headSize + d.sep2 + size) {
			return false
		}
		compact = false
		b.add("\n\n", s.head, nil)
		d.addRow(b, "\n\n", s, 0, k, text)
		for j := 1; j < rows; j++ {
			text, size := row(j)
			if used+d.sep1+size <= d.max {
				used += d.sep1 + size
				d.addRow(b, "\n", s, j, k, text)
				continue
			}
			if !next() {
				return false
			}
			if used+d.sep2+s.contSize+d.sep2+size > d.max {
				return false
			}
			used += d.sep2 + s.contSize + d.sep2 + size
			b.add("\n\n", s.cont, nil)
			d.addRow(b, "\n\n", s, j, k, text)
		}
	}
	if kept < len(d.sections) {
		line := d.others(kept)
		if !block(d.size(line)) {
			return false
		}
		if b != nil {
			var folded []int
			for _, s := range d.sections[kept:] {
				folded = append(folded, s.items...)
			}
			b.add("\n\n", line, folded)
		}
	}
	if !block(d.footSize) {
		return false
	}
	if b != nil {
		b.add("\n\n", d.footer(len(b.listed), len(d.items)-len(b.listed)), nil)
	}
	return true
}

// addRow records row j of a section listing k alerts: an alert's line, or
// the line counting the rest.
func (d *digest) addRow(b *builder, sep string, s *section, j, k int, text string) {
	if j < k {
		b.list(sep, text, s.items[j])
		return
	}
	b.add(sep, text, s.items[k:])
}

// messages turns a recorded layout into messages.
func (d *digest) messages(b *builder) ([]notify.Message, []int) {
	msgs := make([]notify.Message, len(b.msgs))
	for k, m := range b.msgs {
		msgs[k] = d.message(k+1, len(b.msgs), d.header(k+1, len(b.msgs))+m.body.String(), m.alerts)
	}
	slices.Sort(b.listed)
	return msgs, b.listed
}

func (d *digest) message(k, n int, text string, items []int) notify.Message {
	msg := notify.Message{
		Title:  fmt.Sprintf("[DIGEST %d/%d] %d alerts: %s", k, n, len(d.items), strings.ReplaceAll(d.counts(d.nFiring, d.nResolved), " · ", ", ")),
		Text:   text,
		Status: alert.Resolved,
		Alerts: make([]alert.Alert, len(items)),
	}
	for j, i := range items {
		msg.Alerts[j] = d.items[i].Alert
		if d.items[i].Status != alert.Resolved {
			msg.Status = alert.Firing
		}
	}
	if base := d.o.base(); base != "" {
		msg.Buttons = []notify.Button{{Title: "All firing alerts", URL: base + "/alerts?status=firing"}}
	}
	return msg
}

// squeezed is the digest when even one header, the counting line and the
// totals do not fit in MaxBytes: one message, cut to the limit, listing
// nothing and carrying every alert.
func (d *digest) squeezed() ([]notify.Message, []int) {
	text := fit.Join("\n\n", d.header(1, 1), d.others(0), d.footer(0, len(d.items)))
	all := make([]int, len(d.items))
	for i := range all {
		all[i] = i
	}
	return []notify.Message{d.message(1, 1, d.cut(text), all)}, nil
}

// cut shortens s to at most max as Size counts it, on a rune boundary,
// ending in an ellipsis.
func (d *digest) cut(s string) string {
	if d.size(s) <= d.max {
		return s
	}
	budget := d.max - d.size(fit.Ellipsis)
	if budget < 0 {
		return ""
	}
	used := 0
	for i, r := range s {
		if used += d.size(string(r)); used > budget {
			return s[:i] + fit.Ellipsis
		}
	}
	return s
}
