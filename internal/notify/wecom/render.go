package wecom

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/notify/fit"
)

// Rendered is a message shaped for one robot.
type Rendered struct {
	// Parts are the payloads to post, in order. A message too long for
	// one request becomes several parts titled "Title (1/3)", ….
	Parts []Payload
	// Notes says what WeCom could not carry as asked (mentions the
	// message type cannot make, people with no WeCom identity, a line cut
	// short), one sentence each, so the delivery log can show it rather
	// than lose it.
	Notes []string
}

// MaxParts bounds how many messages one message may become. WeCom allows a
// robot 20 messages a minute, so one oversized message must not spend the
// whole budget: past MaxParts the text is cut and says so.
const MaxParts = 5

const (
	// maxTitleRunes bounds a title: it is one line on a phone, and every
	// part repeats it.
	maxTitleRunes = 128
	// blockSep separates the blocks of a content (title, text, buttons,
	// mentions): a blank line, which every WeCom client renders as a
	// paragraph break.
	blockSep = "\n\n"
)

// titleColors are the markdown font colours of a title by status: WeCom
// markdown knows three, "warning" (orange), "info" (green) and "comment"
// (grey).
var titleColors = map[alert.Status]string{
	alert.Firing:   "warning",
	alert.Resolved: "info",
}

// Render shapes msg into the payloads this robot needs, in r.MsgType
// (markdown when empty):
//
//   - markdown: the title as a bold line, orange for firing and green for
//     resolved, then the text, then the buttons as [title](url) links on
//     one line;
//   - text: the title on the first line, then the text, then one
//     "title: url" line per button;
//   - markdown_v2: as markdown, without colour (markdown_v2 has none).
//
// Mentions come from msg.Mentions.People (their WeComUserID, or else their
// Mobile), msg.Mentions.Mobiles and msg.Mentions.All. A text message
// carries them in mentioned_list ("@all" included) and
// mentioned_mobile_list. A markdown message can only write "<@userid>" in
// its content, so people known by mobile alone, and @all, are left out and
// a note says so. A markdown_v2 message cannot mention at all. Mainland
// numbers lose their "+86" prefix, as WeCom stores them; other numbers go
// as given. msg.Mentions.UserIDs are DingTalk's and are left out.
//
// Each part's content stays within WeCom's limit for the type
// (MaxTextBytes or MaxMarkdownBytes). A longer text is split on line
// boundaries into at most MaxParts parts, and a line that alone is too
// long is cut on a rune boundary and ends in "…"; past MaxParts the text
// is cut and the last part says how much was left out. Every part carries
// the title (numbered) and the buttons; only the first carries the
// mentions, so people are notified once per message, not once per part.
//
// WeCom has no idempotency key, so msg.ID is not used: a part sent twice
// shows twice.
func (r Robot) Render(msg notify.Message) (Rendered, error) {
	return r.render(msg, r.msgType().limit())
}

// layout holds what every part of one message shares.
type layout struct {
	typ   MsgType
	limit int
	// title is the cleaned title, before any part number; color is its
	// markdown font colour, if any.
	title string
	color string
	// footer is the buttons as the content writes them.
	footer string
	// The mentions, for the first part only: a "<@userid>" line in a
	// markdown content, or a text message's mention lists.
	mentionLine                 string
	mentioned, mentionedMobiles []string
}

func (r Robot) render(msg notify.Message, limit int) (Rendered, error) {
	typ := r.msgType()
	if typ.limit() == 0 {
		return Rendered{}, invalid("unsupported-message-type",
			fmt.Sprintf("Tocsin does not send WeCom %q messages", typ), "choose markdown, text or markdown_v2 for the channel")
	}
	l := &layout{typ: typ, limit: limit, title: cleanLine(msg.Title)}
	if typ == MsgMarkdown {
		l.color = titleColors[msg.Status]
	}
	text := fit.Clean(msg.Text)
	notes := l.setFooter(msg.Buttons)
	if l.title == "" && strings.TrimSpace(text) == "" && l.footer == "" {
		return Rendered{}, invalid("empty-message", "the message has no title, text or button", "check the template: it rendered nothing")
	}
	notes = append(notes, l.setMentions(msg.Mentions)...)

	// Most messages fit in one part. A text over the limit on its own
	// cannot: skip building a payload of it to find out.
	if len(text) <= l.limit {
		if p := l.payload(l.title, text, true); len(p.content()) <= l.limit {
			return Rendered{Parts: []Payload{p}, Notes: notes}, nil
		}
	}
	chunks, splitNotes, err := l.split(text)
	if err != nil {
		return Rendered{}, err
	}
	parts := make([]Payload, len(chunks))
	for i, c := range chunks {
		parts[i] = l.payload(l.partTitle(i, len(chunks)), c, i == 0)
	}
	if err := l.check(parts); err != nil {
		return Rendered{}, err
	}
	return Rendered{Parts: parts, Notes: append(notes, splitNotes...)}, nil
}

// markdownURL keeps a URL from ending a markdown link early: ")" would
// close it and a space would end it.
var markdownURL = strings.NewReplacer(")", "%29", " ", "%20")

// setFooter writes the buttons: markdown links on one line, or a
// "title: url" line each in plain text. A button without a URL opens
// nothing and is left out.
func (l *layout) setFooter(buttons []notify.Button) (notes []string) {
	var items []string
	dropped := 0
	for _, b := range buttons {
		title, link := cleanLine(b.Title), strings.TrimSpace(newlines.Replace(fit.Clean(b.URL)))
		if link == "" {
			dropped++
			continue
		}
		if title == "" {
			title = link
		}
		if l.typ == MsgText {
			items = append(items, title+": "+link)
		} else {
			items = append(items, "["+title+"]("+markdownURL.Replace(link)+")")
		}
	}
	sep := " | "
	if l.typ == MsgText {
		sep = "\n"
	}
	l.footer = strings.Join(items, sep)
	if dropped > 0 {
		notes = append(notes, fmt.Sprintf("buttons: %d button(s) without a URL were left out", dropped))
	}
	return notes
}

// setMentions decides whom the first part mentions, and how, and returns
// notes on whom it cannot.
func (l *layout) setMentions(m notify.Mentions) (notes []string) {
	if l.typ == MsgMarkdownV2 {
		if !m.IsZero() {
			notes = append(notes, "mentions: WeCom markdown_v2 messages cannot mention anyone, so nobody was notified; choose markdown or text for the channel")
		}
		return notes
	}
	var ids, mobiles, byMobile, nobody []string
	for _, p := range m.People {
		name := cleanLine(p.Name)
		id, mobile := strings.TrimSpace(fit.Clean(p.WeComUserID)), mobileNumber(p.Mobile)
		switch {
		case validUserID(id):
			ids = appendNew(ids, id)
		case mobile != "":
			mobiles = appendNew(mobiles, mobile)
			byMobile = append(byMobile, or(name, mobile))
		default:
			nobody = append(nobody, or(name, "a contact without a name"))
		}
	}
	for _, v := range m.Mobiles {
		if mobile := mobileNumber(v); mobile != "" {
			mobiles = appendNew(mobiles, mobile)
			byMobile = append(byMobile, mobile)
		}
	}
	if len(nobody) > 0 {
		notes = append(notes, fmt.Sprintf("mentions: no valid WeCom user ID or mobile for %s, so they were not notified", strings.Join(nobody, ", ")))
	}
	if n := len(nonBlank(m.UserIDs)); n > 0 {
		notes = append(notes, fmt.Sprintf("mentions: %d DingTalk user ID(s) mean nothing to WeCom and were left out", n))
	}
	switch l.typ {
	case MsgText:
		l.mentioned, l.mentionedMobiles = ids, mobiles
		if m.All {
			l.mentioned = append(l.mentioned, "@all")
		}
	case MsgMarkdown:
		tags := make([]string, len(ids))
		for i, id := range ids {
			tags[i] = "<@" + id + ">"
		}
		l.mentionLine = strings.Join(tags, " ")
		if len(byMobile) > 0 {
			notes = append(notes, fmt.Sprintf("mentions: WeCom markdown mentions by user ID only, so %s (known by mobile) were not notified; give them a WeCom user ID, or choose text for the channel", strings.Join(byMobile, ", ")))
		}
		if m.All {
			notes = append(notes, "mentions: WeCom markdown cannot mention everyone (@all works in text messages only), so @all was left out")
		}
	}
	return notes
}

// validUserID reports whether id is a WeCom userid: 1 to 64 letters,
// digits and _-@. characters, starting with a letter or digit. Anything
// else would not be found, and in markdown a ">" would end "<@…>" early.
func validUserID(id string) bool {
	if id == "" || len(id) > 64 || !isAlnum(id[0]) {
		return false
	}
	for i := range len(id) {
		if c := id[i]; !isAlnum(c) && c != '_' && c != '-' && c != '@' && c != '.' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// mobileNumber is v as WeCom matches mobiles: trimmed, and a mainland
// number without its country code ("+86-13800000000" is "13800000000"),
// since WeCom stores mainland numbers bare. Other international numbers go
// as given: WeCom does not document their form.
func mobileNumber(v string) string {
	v = strings.TrimSpace(fit.Clean(v))
	for _, prefix := range []string{"+86-", "+86 ", "+86"} {
		if rest, ok := strings.CutPrefix(v, prefix); ok {
			return strings.TrimSpace(rest)
		}
	}
	return v
}

func appendNew(list []string, v string) []string {
	for _, have := range list {
		if have == v {
			return list
		}
	}
	return append(list, v)
}

func nonBlank(list []string) []string {
	var out []string
	for _, v := range list {
		if strings.TrimSpace(v) != "" {
			out = append(out, v)
		}
	}
	return out
}

func or(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

func (l *layout) partTitle(i, n int) string {
	if n == 1 || l.title == "" {
		return l.title
	}
	return fmt.Sprintf("%s (%d/%d)", l.title, i+1, n)
}

// titleLine is the title as a markdown content shows it.
func (l *layout) titleLine(title string) string {
	switch {
	case title == "" || l.typ == MsgText:
		return title
	case l.color != "":
		return `<font color="` + l.color + `">**` + title + `**</font>`
	}
	return "**" + title + "**"
}

// content is one part's content field: the title, the part's chunk of
// the text, the buttons and, on the first part of a markdown message, the
// mentions. Blocks are paragraphs; a text message has its title on the
// first line.
func (l *layout) content(title, chunk string, first bool) string {
	if l.typ == MsgText {
		return fit.Join("\n", title, fit.Join(blockSep, chunk, l.footer))
	}
	mentions := ""
	if first {
		mentions = l.mentionLine
	}
	return fit.Join(blockSep, l.titleLine(title), chunk, l.footer, mentions)
}

func (l *layout) payload(title, chunk string, first bool) Payload {
	c := l.content(title, chunk, first)
	switch l.typ {
	case MsgText:
		t := &Text{Content: c}
		if first {
			t.MentionedList, t.MentionedMobileList = l.mentioned, l.mentionedMobiles
		}
		return Payload{MsgType: MsgText, Text: t}
	case MsgMarkdownV2:
		return Payload{MsgType: MsgMarkdownV2, MarkdownV2: &Markdown{Content: c}}
	}
	return Payload{MsgType: MsgMarkdown, Markdown: &Markdown{Content: c}}
}

// budget is how many bytes of text a part can hold: the limit less the
// rest of a numbered part's content and a block separator. Part numbers
// up to MaxParts are one digit, so every numbered part of a message
// measures the same.
func (l *layout) budget(first bool) int {
	return l.limit - len(l.content(l.partTitle(MaxParts-1, MaxParts), "", first)) - len(blockSep)
}

// trimMark closes the last part of a message cut to MaxParts.
func trimMark(left int) string { return fit.LeftOut("WeCom", left) }

// split cuts a text too long for one part into one chunk per part, with
// notes on what it cut.
func (l *layout) split(text string) (chunks, notes []string, err error) {
	first, rest := l.budget(true), l.budget(false)
	// Parts holding less than a tenth of the limit would turn a long text
	// into a stream of messages that mostly repeat the title and buttons:
	// refuse instead.
	if min(first, rest) < l.limit/10 {
		return nil, nil, invalid("message-unsplittable",
			fmt.Sprintf("the title, buttons and mentions alone leave no room for the text in WeCom's %d bytes", l.limit),
			"shorten the title or the buttons, or mention fewer people")
	}
	spans := pack(text, func(i int) int {
		if i == 0 {
			return first
		}
		return rest
	})
	tail := ""
	if len(spans) > MaxParts {
		// Pack again with room for the closing mark in the last part; the
		// mark's count has at most as many digits as the text's length.
		reserve := len(blockSep) + len(trimMark(len(text)))
		if rest-reserve < l.limit/10 {
			return nil, nil, invalid("message-unsplittable",
				fmt.Sprintf("the text needs more than %d WeCom messages, and the title, buttons and mentions leave no room to say it was cut", MaxParts),
				"shorten the template's text, title or buttons")
		}
		spans = pack(text, func(i int) int {
			switch i {
			case 0:
				return first
			case MaxParts - 1:
				return rest - reserve
			}
			return rest
		})
		if len(spans) > MaxParts {
			spans = spans[:MaxParts]
			left := len(text) - spans[MaxParts-1].src
			tail = blockSep + trimMark(left)
			notes = append(notes, fmt.Sprintf("text: too long for %d WeCom messages; the last %d bytes were left out", MaxParts, left))
		}
	}
	cut := 0
	chunks = make([]string, len(spans))
	for i, s := range spans {
		chunks[i] = text[s.start:s.end]
		if s.cut {
			chunks[i] += fit.Ellipsis
			cut++
		}
	}
	chunks[len(chunks)-1] += tail
	if cut > 0 {
		notes = append(notes, fmt.Sprintf("text: %d line(s) too long for WeCom's %d-byte limit were cut short", cut, l.limit))
	}
	return chunks, notes, nil
}

// span is one part's share of a text: text[start:end], and then "…" if the
// line it ends in was cut, in which case the line went on to src.
type span struct {
	start, end, src int
	cut             bool
}

// pack fills parts with whole lines of text, greedily, part i holding up
// to budget(i) bytes. A line longer than a whole part is cut and makes a
// part of its own. Joining the spans' text with "\n" gives back the text,
// less what was cut.
func pack(text string, budget func(part int) int) []span {
	var spans []span
	var cur span
	open := false
	for start := 0; start <= len(text); {
		end := strings.IndexByte(text[start:], '\n')
		if end < 0 {
			end = len(text)
		} else {
			end += start
		}
		if open && cur.end-cur.start+1+end-start <= budget(len(spans)) { // 1: the "\n"
			cur.end, cur.src = end, end
		} else {
			if open {
				spans, open = append(spans, cur), false
			}
			if b := budget(len(spans)); end-start > b {
				spans = append(spans, span{start, start + cutAt(text[start:end], b), end, true})
			} else {
				cur, open = span{start, end, end, false}, true
			}
		}
		start = end + 1
	}
	if open {
		spans = append(spans, cur)
	}
	return spans
}

// cutAt is where to cut s so that it and "…" fit in budget bytes: the
// last rune boundary that leaves room. s is longer than budget.
func cutAt(s string, budget int) int {
	n := max(0, budget-len(fit.Ellipsis))
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}

// check guards the promise of the package: no content over the limit. The
// arithmetic above should make it impossible; if it ever fails, refusing
// to render beats a 40058 from WeCom.
func (l *layout) check(parts []Payload) error {
	for i, p := range parts {
		if n := len(p.content()); n > l.limit {
			return &notify.Error{Action: notify.Permanent, Code: "internal",
				Message: fmt.Sprintf("rendering made part %d's content %d bytes long, over WeCom's %d: this is a bug in Tocsin", i+1, n, l.limit)}
		}
	}
	return nil
}

func invalid(code, message, hint string) *notify.Error {
	return &notify.Error{Action: notify.Permanent, Code: code, Message: message, Hint: hint}
}

var newlines = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")

// cleanLine makes s one clean line: valid UTF-8, newlines turned into
// spaces, trimmed, at most maxTitleRunes long.
func cleanLine(s string) string { return fit.Line(s, maxTitleRunes) }
