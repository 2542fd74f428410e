package lark

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/notify/fit"
)

// Rendered is a message shaped for one bot.
type Rendered struct {
	// Parts are the payloads to post, in order, unsigned. A message too
	// long for one request becomes several parts titled "Title (1/3)", ….
	Parts []Payload
	// Notes say what Lark could not carry as asked (a person without a
	// Lark identity, a button without a URL, a line cut short), one
	// sentence each, so the delivery log can show it rather than lose it.
	Notes []string
}

// MaxParts bounds how many messages one message may become. Lark throttles
// a bot at 5 requests a second, so a longer series would run into the limit
// by itself: past MaxParts the text is cut and says so.
const MaxParts = 5

const (
	// maxTitleRunes bounds a title: it is one line in a phone
	// notification, and every part repeats it.
	maxTitleRunes = 128
	// blockSep separates the blocks of a text or card body (text,
	// buttons, mentions, keyword) with a blank line, so that markdown
	// does not run a list into the line after it.
	blockSep = "\n\n"
	// fallbackTitle heads a card whose message has no title and no text
	// line to borrow one from.
	fallbackTitle = "Tocsin"
	// everyoneName is the name Lark's documentation gives a text
	// message's @all; the client shows its own label whatever it says.
	everyoneName = "所有人"
	everyoneID   = "all"
)

// Render shapes msg into the payloads this bot needs, in b.MsgType
// (interactive when empty):
//
//   - interactive: a card (JSON 2.0) whose header shows the title in a
//     colour for the message's status — green resolved, red critical (or
//     of unknown severity), orange warning, blue info or no status —
//     then the text as markdown, then one button per Button;
//   - post: the title, one paragraph per line of text (headings in bold,
//     [label](url) links as links, blank lines dropped), then the buttons
//     as links on one line;
//   - text: the title on the first line, then the text, then one
//     "title: url" line per button.
//
// Mentions are the message's People who have a LarkOpenID, and @all: in
// card markdown as <at id=…></at>, in a post as at nodes, in text as
// <at user_id="…">Name</at>. People without a Lark identity, and DingTalk's
// mobile and user-ID lists, are left out and a note says so. Any <at tag in
// the message's own title, text or buttons is defused, so that only the
// mentions asked for notify anyone.
//
// When the bot has keywords, each part's title and text must contain one
// (Lark checks text and title values, not links); where none appears, the
// first keyword is added as a "[kw] " title prefix and a "[kw]" last line.
//
// Each request body stays within MaxBodyBytes, measured as encoded JSON
// with room for the signature. A longer text is split on line boundaries
// into parts, and a line that alone is too long is cut on a rune boundary
// and ends in "…". Every part carries the title (numbered), the buttons
// and the keyword; only the first carries the mentions, so that people are
// notified once per message, not once per part. Past MaxParts parts the
// text is trimmed, with a closing line saying how much was left out.
func (b Bot) Render(msg notify.Message) (Rendered, error) {
	return b.render(msg, MaxBodyBytes)
}

// layout holds what every part of one message shares.
type layout struct {
	typ      MsgType
	limit    int
	keywords []string
	// title is the cleaned title with the keyword prefix if it needed
	// one, before any part number.
	title    string
	template string // the card header's colour
	buttons  []notify.Button
	// footer is the buttons written into a text message, or a post's
	// link paragraph.
	footer     string
	footerPara []PostNode
	// The mentions go on the first part only: mentionText in a card's
	// markdown or a text message, mentionPara in a post.
	mentionText string
	mentionPara []PostNode
}

func (b Bot) render(msg notify.Message, limit int) (Rendered, error) {
	l := &layout{typ: b.msgType(), limit: limit, keywords: b.keywords()}
	switch l.typ {
	case MsgInteractive, MsgPost, MsgText:
	default:
		return Rendered{}, invalid("unsupported-message-type",
			fmt.Sprintf("Tocsin does not send Lark message type %q", l.typ),
			"choose interactive, post or text for the channel")
	}
	title := cleanLine(defuse(msg.Title))
	text := defuse(strings.ReplaceAll(fit.Clean(msg.Text), "\r\n", "\n"))
	var notes []string
	for _, btn := range msg.Buttons {
		u := strings.TrimSpace(fit.Clean(btn.URL))
		t := cleanLine(defuse(btn.Title))
		if u == "" {
			notes = append(notes, fmt.Sprintf("buttons: %q has no URL and was left out", t))
			continue
		}
		if t == "" {
			t = u
		}
		l.buttons = append(l.buttons, notify.Button{Title: t, URL: u})
	}
	if title == "" && strings.TrimSpace(text) == "" && len(l.buttons) == 0 {
		return Rendered{}, invalid("empty-message", "the message has no title, text or button", "check the template: it rendered nothing")
	}
	notes = append(notes, l.setMentions(msg.Mentions)...)
	l.template = headerTemplate(msg)
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
		notes = append(notes, fmt.Sprintf("text: too long for %d Lark messages; the last %d bytes were left out", MaxParts, left))
	}
	if cut > 0 {
		notes = append(notes, fmt.Sprintf("text: %d line(s) too long for Lark's %d-byte limit were cut short", cut, l.limit))
	}
	parts := make([]Payload, len(chunks))
	for i, c := range chunks {
		parts[i] = l.payload(l.partTitle(i, len(chunks)), c, i == 0, false)
	}
	if err := l.check(parts); err != nil {
		return Rendered{}, err
	}
	return Rendered{Parts: parts, Notes: notes}, nil
}

// setMentions writes the mentions for the message type and returns notes
// on the ones Lark cannot carry.
func (l *layout) setMentions(m notify.Mentions) (notes []string) {
	if n := len(m.Mobiles) + len(m.UserIDs); n > 0 {
		notes = append(notes, fmt.Sprintf("mentions: %d DingTalk mobile number(s) and user ID(s) are not Lark identities and were ignored", n))
	}
	var tags []string
	seen := map[string]bool{}
	mention := func(id, name string) {
		switch l.typ {
		case MsgInteractive:
			tags = append(tags, "<at id="+id+"></at>")
		case MsgText:
			tags = append(tags, `<at user_id="`+id+`">`+name+"</at>")
		case MsgPost:
			if len(l.mentionPara) > 0 {
				l.mentionPara = append(l.mentionPara, PostNode{Tag: "text", Text: " "})
			}
			l.mentionPara = append(l.mentionPara, PostNode{Tag: "at", UserID: id, UserName: name})
		}
	}
	for _, p := range m.People {
		id := strings.TrimSpace(fit.Clean(p.LarkOpenID))
		switch {
		case id == "":
			notes = append(notes, fmt.Sprintf("mentions: %s has no Lark open ID, not mentioned", describe(p)))
		case !validID(id):
			notes = append(notes, fmt.Sprintf("mentions: %s has an invalid Lark open ID %q, not mentioned", describe(p), id))
		case !seen[id]:
			seen[id] = true
			mention(id, nameOf(p))
		}
	}
	if m.All {
		name := ""
		if l.typ == MsgText {
			name = everyoneName
		}
		mention(everyoneID, name)
	}
	l.mentionText = strings.Join(tags, " ")
	return notes
}

// validID accepts what Lark's open IDs and user IDs are made of. Anything
// else would break out of the <at> tag it is written into.
func validID(id string) bool {
	if id == everyoneID {
		return false // "all" is @all, which Mentions.All asks for
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c == '_' || c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// nameOf is the name written in a mention: Lark shows its own name for
// the user, but a text message's tag needs some content, and a name that
// holds < or > would end the tag early.
func nameOf(p notify.Person) string {
	return strings.NewReplacer("<", "", ">", "").Replace(cleanLine(p.Name))
}

// describe names a person in a note.
func describe(p notify.Person) string {
	for _, s := range []string{p.Name, p.Email, p.Mobile, p.DingTalkUserID, p.WeComUserID} {
		if s = cleanLine(s); s != "" {
			return strconv.Quote(s)
		}
	}
	return "a person"
}

// headerTemplate picks the card header's colour. A firing message is as red
// as its worst alert, and an alert of unknown severity counts as critical:
// Tocsin cannot tell it is not.
func headerTemplate(msg notify.Message) string {
	switch msg.Status {
	case alert.Resolved:
		return "green"
	case alert.Firing:
		color := "blue"
		if len(msg.Alerts) == 0 {
			return "red"
		}
		for _, a := range msg.Alerts {
			sev := a.Severity
			if sev == alert.Unknown {
				sev = alert.ParseSeverity(a.Labels.Get("severity"))
			}
			switch sev {
			case alert.Critical, alert.Unknown:
				return "red"
			case alert.Warning:
				color = "orange"
			}
		}
		return color
	}
	return "blue" // a test send, or a message that announces no status
}

// setTitle decides the title every part shows. A card always has a header,
// as its colour tells the status, so an empty title becomes the first line
// of the text; a post or text message may go without one.
func (l *layout) setTitle(title, text string) {
	if title == "" && l.typ == MsgInteractive {
		for line := range strings.SplitSeq(text, "\n") {
			if title = cleanLine(strings.TrimLeft(line, "#> \t")); title != "" {
				break
			}
		}
		if title == "" {
			title = fallbackTitle
		}
	}
	if title != "" && len(l.keywords) > 0 && !containsAny(title, l.keywords) {
		title = "[" + l.keywords[0] + "] " + title
	}
	l.title = title
}

// setFooter writes the buttons where the message type has no buttons of
// its own: a "title: url" line each in text, links on one line in a post.
func (l *layout) setFooter() {
	var lines []string
	for i, btn := range l.buttons {
		switch l.typ {
		case MsgText:
			// Lark reads tags in a text message's whole content, so a
			// URL written into it is defused too.
			lines = append(lines, btn.Title+": "+defuse(btn.URL))
		case MsgPost:
			if i > 0 {
				l.footerPara = append(l.footerPara, PostNode{Tag: "text", Text: " | "})
			}
			l.footerPara = append(l.footerPara, PostNode{Tag: "a", Text: btn.Title, Href: btn.URL})
		}
	}
	l.footer = strings.Join(lines, "\n")
}

func (l *layout) partTitle(i, n int) string {
	if n == 1 {
		return l.title
	}
	return strings.TrimSpace(fmt.Sprintf("%s (%d/%d)", l.title, i+1, n))
}

// keywordLine is what carries the keyword when nothing else in a part does.
func (l *layout) keywordLine() string { return "[" + l.keywords[0] + "]" }

// payload builds one part. measuring adds the keyword line whatever the
// chunk holds: budget measures with a stand-in chunk, and the real chunk
// may lack the keyword the stand-in happens to contain.
func (l *layout) payload(title, chunk string, first, measuring bool) Payload {
	needKeyword := func(has bool) bool { return len(l.keywords) > 0 && (measuring || !has) }
	mentions := ""
	if first {
		mentions = l.mentionText
	}
	switch l.typ {
	case MsgText:
		body := fit.Join(blockSep, chunk, l.footer, mentions)
		if needKeyword(containsAny(body, l.keywords) || containsAny(title, l.keywords)) {
			body = fit.Join(blockSep, body, l.keywordLine())
		}
		return Payload{MsgType: MsgText, Content: &Content{Text: fit.Join("\n", title, body)}}

	case MsgPost:
		paras := paragraphs(chunk)
		paras = appendPara(paras, l.footerPara)
		if first {
			paras = appendPara(paras, l.mentionPara)
		}
		if needKeyword(parasContain(paras, l.keywords)) {
			paras = append(paras, []PostNode{{Tag: "text", Text: l.keywordLine()}})
		}
		if len(paras) == 0 { // only a title: Lark wants some content
			paras = [][]PostNode{{{Tag: "text", Text: title}}}
		}
		return Payload{MsgType: MsgPost, Content: &Content{Post: &Post{ZhCN: PostBody{Title: title, Content: paras}}}}
	}

	md := fit.Join(blockSep, chunk, mentions)
	if needKeyword(containsAny(md, l.keywords)) {
		md = fit.Join(blockSep, md, l.keywordLine())
	}
	var elems []CardElement
	if md != "" || len(l.buttons) == 0 { // a card needs at least one element
		if md == "" {
			md = title
		}
		elems = append(elems, CardElement{Tag: "markdown", Content: md})
	}
	for i, btn := range l.buttons {
		style := "default"
		if i == 0 {
			style = "primary" // the first button is the message's main action
		}
		elems = append(elems, CardElement{Tag: "button", Text: &PlainText{Tag: "plain_text", Content: btn.Title},
			Type: style, Behaviors: []Behavior{{Type: "open_url", DefaultURL: btn.URL}}})
	}
	return Payload{MsgType: MsgInteractive, Card: &Card{
		Schema: cardSchema,
		Header: &CardHeader{Title: PlainText{Tag: "plain_text", Content: title}, Template: l.template},
		Body:   CardBody{Elements: elems},
	}}
}

func appendPara(paras [][]PostNode, p []PostNode) [][]PostNode {
	if len(p) == 0 {
		return paras
	}
	return append(paras, p)
}

// probe stands in for a chunk when measuring a part: any one character
// would do, as budget takes its own size off again.
const probe = "x"

// budget is how many encoded bytes of message text a part can hold when
// the message has n parts: the limit less everything else in the part. It
// measures the part with a one-character chunk (so that the element or
// block holding the text exists) and the widest part number of n parts,
// and takes the chunk off again, so it is exact and never overestimates.
func (l *layout) budget(n int, first bool) (int, error) {
	title := l.partTitle(n-1, n)
	size, err := signedLen(l.payload(title, probe, first, true))
	if err != nil {
		return 0, err
	}
	// A part without text can be the larger: with nothing else to show,
	// it repeats the title in its body. If even that does not fit, there
	// is no room at all.
	if empty, err := signedLen(l.payload(title, "", first, true)); err != nil || empty > l.limit {
		return 0, err
	}
	return l.limit - size + l.lineLen(probe), nil
}

// lineLen is what one line of text adds to a part: its encoded length in a
// markdown or text string, or its whole paragraph in a post.
func (l *layout) lineLen(s string) int {
	if l.typ == MsgPost {
		return paragraphLen(s)
	}
	return fit.JSONLen(s)
}

// sepLen is what joining two lines adds: an encoded "\n", or the comma
// between two post paragraphs.
func (l *layout) sepLen() int {
	if l.typ == MsgPost {
		return 1
	}
	return 2
}

// cutLine shortens a line too long for any part to fit budget.
func (l *layout) cutLine(s string, budget int) string {
	if l.typ == MsgPost {
		return cutParagraph(s, budget)
	}
	return fit.CutTo(s, budget)
}

// split cuts text into one chunk per part. Part titles carry "(i/n)", whose
// width depends on how many parts there are, so it packs again whenever
// the count gains a digit.
func (l *layout) split(text string) (chunks []string, cut int, err error) {
	lines := fit.Measure(text, l.lineLen)
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
		// text into dozens of messages: refuse instead.
		if min(first, rest) < max(l.limit/10, minRoom) {
			return nil, 0, invalid("message-unsplittable",
				fmt.Sprintf("the title, buttons, mentions and keyword alone leave no room for the text in Lark's %d bytes", l.limit),
				"shorten the title, the buttons or the keywords, or mention fewer people")
		}
		chunks, cut = fit.Pack(text, lines, first, rest, l.sepLen(), l.cutLine)
		m := len(chunks)
		if (n == 1 && m == 1) || (n > 1 && digits(m) <= digits(n)) {
			return chunks, cut, nil
		}
		n = m
	}
}

// minRoom is the least room for text a part must have, whatever the
// limit: enough for a post paragraph holding a cut line's "…".
const minRoom = 64

// trimToParts cuts text on a line or rune boundary, with a closing line
// saying how much was left out, until it splits into at most MaxParts.
func (l *layout) trimToParts(text string) (chunks []string, cut, left int, err error) {
	for trimmed, left := range fit.Shorter(text, "Lark", MaxParts*l.limit) {
		if chunks, cut, err = l.split(trimmed); err != nil || len(chunks) <= MaxParts {
			return chunks, cut, left, err
		}
	}
	return nil, 0, 0, invalid("message-unsplittable", "the message does not fit in Lark messages", "shorten the template")
}

// check guards the promise of the package: no part over the limit, signed.
// The arithmetic above should make it impossible; if it ever fails,
// refusing to render beats a 9499 from Lark.
func (l *layout) check(parts []Payload) error {
	for i, p := range parts {
		n, err := signedLen(p)
		if err != nil {
			return err
		}
		if n > l.limit {
			return &notify.Error{Action: notify.Permanent, Code: "internal",
				Message: fmt.Sprintf("rendering made part %d %d bytes long, over Lark's %d: this is a bug in Tocsin", i+1, n, l.limit)}
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

func digits(n int) int { return len(strconv.Itoa(n)) }
