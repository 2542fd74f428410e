package dingtalk

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/notify/fit"
)

// Rendered is a message shaped for one robot.
type Rendered struct {
	// Parts are the payloads to post, in order. A message too long for
	// one request becomes several parts titled "Title (1/3)", ….
	Parts []Payload
	// Notes says what DingTalk could not carry as asked (mentions on a
	// link, buttons beyond a link's one URL, a line cut short), one
	// sentence each, so the delivery log can show it rather than lose it.
	Notes []string
}

const (
	// maxTitleRunes bounds a title: it is one line in a phone notification,
	// and every part repeats it.
	maxTitleRunes = 128
	// blockSep separates the blocks of a body (text, buttons, mentions,
	// keyword): a blank line, since DingTalk's markdown sometimes joins
	// lines that only a single newline separates.
	blockSep = "\n\n"
	// sepReserve is what joining the text to the other blocks may add to
	// the encoded body: fit.JSONLen(blockSep).
	sepReserve = 4
)

// Render shapes msg into the payloads this robot needs, in r.MsgType
// (markdown when empty):
//
//   - markdown: the title, and the text followed by the buttons as
//     [title](url) links on one line;
//   - actionCard: the title and text, one button as singleTitle/singleURL,
//     several as btns stacked vertically; with no button at all it is sent
//     as markdown (and a note says so);
//   - text: the title on the first line, then the text, then one
//     "title: url" line per button;
//   - link: the title and text, opening the first button's URL; it is one
//     card, so a long text is cut rather than split;
//   - feedCard: one link per button; the title and text have no place in
//     a feed card and are left out.
//
// Mentions are the robot's defaults merged with the message's. For text,
// markdown and actionCard they go into the "at" object and, because
// DingTalk only notifies people whose @<mobile> or @<userId> is written in
// the text, into a line of the text too. @all needs only isAtAll, so no
// "@all" is written. Link and feedCard cannot mention: the mentions are
// dropped and a note says so.
//
// When the robot has keywords, each part's title and body must contain one
// (DingTalk does not say which fields it scans); where none appears, the
// first keyword is added as a "[kw] " title prefix and a "[kw]" last line.
//
// Each request body stays within MaxBodyBytes, measured as encoded JSON.
// A longer text is split on line boundaries into parts, and a line that
// alone is too long is cut on a rune boundary and ends in "…". Every part
// carries the title (numbered), the buttons and the keyword; only the
// first carries the mentions, so that people are notified once per
// message, not once per part. With a message ID, part i (from 1) gets
// msgUuid "<ID>-<i>", the same on every retry, so DingTalk drops repeats.
func (r Robot) Render(msg notify.Message) (Rendered, error) {
	return r.render(msg, MaxBodyBytes)
}

// layout holds what every part of one message shares.
type layout struct {
	typ      MsgType
	limit    int
	keywords []string
	id       string
	// title is the cleaned title with the keyword prefix if it needed
	// one, before any part number.
	title   string
	buttons []notify.Button
	// footer is the buttons written into the body (markdown and text).
	footer string
	// at and mentionLine go on the first part only.
	at          *At
	mentionLine string
}

func (r Robot) render(msg notify.Message, limit int) (Rendered, error) {
	l := &layout{typ: r.msgType(), limit: limit, keywords: r.keywords(), id: fit.Clean(msg.ID)}
	title, text := cleanLine(msg.Title), fit.Clean(msg.Text)
	for _, b := range msg.Buttons {
		l.buttons = append(l.buttons, notify.Button{Title: cleanLine(b.Title), URL: strings.TrimSpace(fit.Clean(b.URL))})
	}
	if title == "" && text == "" && len(l.buttons) == 0 {
		return Rendered{}, invalid("empty-message", "the message has no title, text or button", "check the template: it rendered nothing")
	}
	mentions, notes := r.mentions(msg.Mentions)
	switch l.typ {
	case MsgMarkdown, MsgText:
	case MsgActionCard:
		if len(l.buttons) == 0 {
			l.typ = MsgMarkdown
			notes = append(notes, "buttons: an actionCard needs at least one button, so the message went as markdown")
		}
	case MsgLink:
		if len(l.buttons) == 0 {
			return Rendered{}, invalid("invalid-message", "a link message needs a button: its URL is what the card opens", "give the message a button, or choose markdown for the channel")
		}
		if extra := len(l.buttons) - 1; extra > 0 {
			notes = append(notes, fmt.Sprintf("buttons: a link message opens one URL; %d more button(s) left out", extra))
			l.buttons = l.buttons[:1]
		}
	case MsgFeedCard:
		if len(l.buttons) == 0 {
			return Rendered{}, invalid("invalid-message", "a feedCard message needs buttons: each becomes one link", "give the message buttons, or choose markdown for the channel")
		}
		if title != "" || text != "" {
			notes = append(notes, "title and text: a feedCard shows only its links, one per button")
		}
	default:
		return Rendered{}, invalid("unsupported-message-type", fmt.Sprintf("DingTalk robots have no message type %q", l.typ), "choose markdown, actionCard or text for the channel")
	}
	if l.typ == MsgLink || l.typ == MsgFeedCard {
		if !mentions.IsZero() {
			notes = append(notes, fmt.Sprintf("mentions: DingTalk %s messages cannot mention anyone, so nobody was notified", l.typ))
		}
	} else {
		l.setMentions(mentions)
	}
	if l.typ == MsgFeedCard {
		parts, err := l.feedCard()
		return Rendered{Parts: parts, Notes: notes}, err
	}

	l.setTitle(title, text)
	l.setFooter()
	chunks, cut, err := l.split(text)
	if err != nil {
		return Rendered{}, err
	}
	if len(chunks) > MaxParts {
		var left int
		if chunks, cut, left, err = l.trimToParts(text); err != nil {
			return Rendered{}, err
		}
		notes = append(notes, fmt.Sprintf("text: too long for %d DingTalk messages; the last %d bytes were left out", MaxParts, left))
	}
	if cut > 0 {
		notes = append(notes, fmt.Sprintf("text: %d line(s) too long for DingTalk's %d-byte limit were cut short", cut, l.limit))
	}
	parts := make([]Payload, len(chunks))
	for i, c := range chunks {
		parts[i] = l.payload(l.partTitle(i, len(chunks)), c, i == 0, l.uuid(i))
	}
	if err := l.check(parts); err != nil {
		return Rendered{}, err
	}
	return Rendered{Parts: parts, Notes: notes}, nil
}

// MaxParts bounds how many messages one message may become. DingTalk bans
// a robot for 10 minutes after 20 messages in a minute, so one oversized
// message must not spend the whole budget: past MaxParts the text is cut
// and says so.
const MaxParts = 5

// trimToParts cuts text on a line or rune boundary, with a closing line
// saying how much was left out, until it splits into at most MaxParts.
func (l *layout) trimToParts(text string) (chunks []string, cut, left int, err error) {
	for trimmed, left := range fit.Shorter(text, "DingTalk", MaxParts*l.limit) {
		if chunks, cut, err = l.split(trimmed); err != nil || len(chunks) <= MaxParts {
			return chunks, cut, left, err
		}
	}
	return nil, 0, 0, invalid("message-unsplittable", "the message does not fit in DingTalk messages", "shorten the template")
}

func (l *layout) setMentions(m notify.Mentions) {
	if m.IsZero() {
		return
	}
	l.at = &At{AtMobiles: m.Mobiles, AtUserIDs: m.UserIDs, IsAtAll: m.All}
	var ats []string
	for _, v := range m.Mobiles {
		ats = append(ats, "@"+v)
	}
	for _, v := range m.UserIDs {
		ats = append(ats, "@"+v)
	}
	l.mentionLine = strings.Join(ats, " ")
}

// setTitle decides the title every part shows. Markdown, actionCard and
// link require one, so an empty title becomes the first line of the text.
// A text message writes the title as its first line, if there is one.
func (l *layout) setTitle(title, text string) {
	if title == "" && l.typ != MsgText {
		for line := range strings.SplitSeq(text, "\n") {
			if title = cleanLine(strings.TrimLeft(line, "#> \t")); title != "" {
				break
			}
		}
		if title == "" {
			title = "Tocsin"
		}
	}
	if title != "" && len(l.keywords) > 0 && !containsAny(title, l.keywords) {
		title = "[" + l.keywords[0] + "] " + title
	}
	l.title = title
}

// setFooter writes the buttons into the body where the message type has
// no buttons of its own: markdown links on one line, or a "title: url"
// line each in plain text.
func (l *layout) setFooter() {
	var items []string
	for _, b := range l.buttons {
		switch l.typ {
		case MsgMarkdown:
			items = append(items, "["+b.Title+"]("+b.URL+")")
		case MsgText:
			items = append(items, b.Title+": "+b.URL)
		}
	}
	sep := " | "
	if l.typ == MsgText {
		sep = "\n"
	}
	l.footer = strings.Join(items, sep)
}

func (l *layout) partTitle(i, n int) string {
	if n == 1 {
		return l.title
	}
	return strings.TrimSpace(fmt.Sprintf("%s (%d/%d)", l.title, i+1, n))
}

func (l *layout) uuid(i int) string {
	if l.id == "" {
		return ""
	}
	return l.id + "-" + strconv.Itoa(i+1)
}

// body is a part's text: its chunk of the message text, then the buttons,
// the mentions (first part only) and the keyword if nothing else in the
// part carries one, each block a paragraph.
func (l *layout) body(title, chunk string, first bool) string {
	blocks := []string{chunk, l.footer}
	if first {
		blocks = append(blocks, l.mentionLine)
	}
	body := joinBlocks(blocks...)
	if len(l.keywords) > 0 && !containsAny(body, l.keywords) &&
		!(l.typ == MsgText && containsAny(l.title, l.keywords)) { // a text message's title is in its content
		body = joinBlocks(body, "["+l.keywords[0]+"]")
	}
	if body == "" && l.typ != MsgText {
		body = title // DingTalk requires the text field
	}
	return body
}

func (l *layout) payload(title, chunk string, first bool, uuid string) Payload {
	body := l.body(title, chunk, first)
	p := Payload{MsgType: l.typ, MsgUUID: uuid}
	switch l.typ {
	case MsgText:
		p.Text = &Text{Content: joinLines(title, body)}
	case MsgMarkdown:
		p.Markdown = &Markdown{Title: title, Text: body}
	case MsgActionCard:
		ac := &ActionCard{Title: title, Text: body}
		if len(l.buttons) == 1 {
			ac.SingleTitle, ac.SingleURL = l.buttons[0].Title, l.buttons[0].URL
		} else {
			for _, b := range l.buttons {
				ac.Buttons = append(ac.Buttons, ActionButton{Title: b.Title, ActionURL: b.URL})
			}
			ac.BtnOrientation = "0" // vertical: readable on a phone whatever the labels' length
		}
		p.ActionCard = ac
	case MsgLink:
		p.Link = &Link{Title: title, Text: body, MessageURL: l.buttons[0].URL}
	}
	if first {
		p.At = l.at
	}
	return p
}

// budget is how many encoded bytes of message text a part can hold when
// the message has n parts: the limit less everything else in the part.
// It measures the part with an empty chunk, the widest part number and
// msgUuid of n parts, and the keyword line (which an empty chunk always
// needs), so it never overestimates.
func (l *layout) budget(n int, first bool) (int, error) {
	size, err := fit.EncodedLen(l.payload(l.partTitle(n-1, n), "", first, l.uuid(n-1)))
	return l.limit - size - sepReserve, err
}

// split cuts text into one chunk per part. Part titles carry "(i/n)", whose
// width depends on how many parts there are, so it packs again whenever
// the count gains a digit.
func (l *layout) split(text string) (chunks []string, cut int, err error) {
	lines := fit.Measure(text, fit.JSONLen)
	for n := 1; ; {
		first, err := l.budget(n, true)
		if err != nil {
			return nil, 0, err
		}
		rest, err := l.budget(n, false)
		if err != nil {
			return nil, 0, err
		}
		// Parts holding less than a tenth of the limit would turn a long
		// text into dozens of messages, and DingTalk bans a robot after 20
		// a minute: refuse instead.
		if min(first, rest) < l.limit/10 {
			return nil, 0, invalid("message-unsplittable",
				fmt.Sprintf("the title, buttons, mentions and keyword alone leave no room for the text in DingTalk's %d bytes", l.limit),
				"shorten the title, the buttons or the keywords, or mention fewer people")
		}
		if l.typ == MsgLink {
			if fit.JSONLen(text) <= first {
				return []string{text}, 0, nil
			}
			return []string{fit.CutTo(text, first)}, 1, nil
		}
		chunks, cut = fit.Pack(text, lines, first, rest, 2, fit.CutTo) // 2: the encoded "\n"
		m := len(chunks)
		if (n == 1 && m == 1) || (n > 1 && digits(m) <= digits(n)) {
			return chunks, cut, nil
		}
		n = m
	}
}

// feedCard packs one link per button into as few parts as fit. Each part
// gets the keyword on its first link's title unless a title has one.
func (l *layout) feedCard() ([]Payload, error) {
	links := make([]FeedLink, len(l.buttons))
	for i, b := range l.buttons {
		links[i] = FeedLink{Title: b.Title, MessageURL: b.URL}
	}
	prefix := ""
	if len(l.keywords) > 0 {
		prefix = "[" + l.keywords[0] + "] "
	}
	// There are never more parts than links, so the last link's msgUuid
	// is the widest.
	base, err := fit.EncodedLen(Payload{MsgType: MsgFeedCard, FeedCard: &FeedCard{Links: []FeedLink{}}, MsgUUID: l.uuid(len(links) - 1)})
	if err != nil {
		return nil, err
	}
	budget := l.limit - base - fit.JSONLen(prefix)
	var parts []Payload
	var cur []FeedLink
	size := 0
	flush := func() {
		if !containsAnyTitle(cur, l.keywords) && prefix != "" {
			cur[0].Title = prefix + cur[0].Title
		}
		parts = append(parts, Payload{MsgType: MsgFeedCard, FeedCard: &FeedCard{Links: cur}, MsgUUID: l.uuid(len(parts))})
		cur, size = nil, 0
	}
	for _, link := range links {
		n, err := fit.EncodedLen(link)
		if err != nil {
			return nil, err
		}
		n++ // the comma between links
		if n > budget {
			return nil, invalid("message-unsplittable", fmt.Sprintf("one feedCard link alone is longer than DingTalk's %d bytes", l.limit), "shorten the button's title or URL")
		}
		if size+n > budget {
			flush()
		}
		cur = append(cur, link)
		size += n
	}
	flush()
	return parts, l.check(parts)
}

// check guards the promise of the package: no part over the limit. The
// arithmetic above should make it impossible; if it ever fails, refusing
// to render beats a 460101 from DingTalk.
func (l *layout) check(parts []Payload) error {
	for i, p := range parts {
		n, err := fit.EncodedLen(p)
		if err != nil {
			return err
		}
		if n > l.limit {
			return &notify.Error{Action: notify.Permanent, Code: "internal",
				Message: fmt.Sprintf("rendering made part %d %d bytes long, over DingTalk's %d: this is a bug in Tocsin", i+1, n, l.limit)}
		}
	}
	return nil
}

func invalid(code, message, hint string) *notify.Error {
	return &notify.Error{Action: notify.Permanent, Code: code, Message: message, Hint: hint}
}

// cleanLine makes s one clean line: valid UTF-8, newlines turned into
// spaces, trimmed, at most maxTitleRunes long.
func cleanLine(s string) string { return fit.Line(s, maxTitleRunes) }

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func containsAnyTitle(links []FeedLink, kws []string) bool {
	for _, l := range links {
		if containsAny(l.Title, kws) {
			return true
		}
	}
	return false
}

// joinBlocks joins the non-empty blocks with a blank line.
func joinBlocks(blocks ...string) string { return fit.Join(blockSep, blocks...) }

// joinLines joins the non-empty lines with a newline.
func joinLines(lines ...string) string { return fit.Join("\n", lines...) }

func digits(n int) int { return len(strconv.Itoa(n)) }
