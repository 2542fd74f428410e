package dingtalkapp

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/notify/fit"
)

// The message templates (msgKey) Tocsin sends, out of DingTalk's 13
// (chat-apis §2.4). There is no sampleActionCard1: one button is
// sampleActionCard. sampleActionCard6 (two buttons side by side) is not
// used: clients disagree on its field names (buttonUrl1 or buttonURL1),
// and a wrong guess would show a card whose buttons open nothing.
const (
	KeyMarkdown    = "sampleMarkdown"    // no button: {title, text}
	KeyActionCard  = "sampleActionCard"  // one button: {title, text, singleTitle, singleURL}
	KeyActionCard2 = "sampleActionCard2" // 2 to 5 buttons stacked: {title, text, actionTitleN, actionURLN}
	KeyActionCard3 = "sampleActionCard3"
	KeyActionCard4 = "sampleActionCard4"
	KeyActionCard5 = "sampleActionCard5"
)

const (
	// MaxParamBytes bounds a msgParam, the JSON text of the message's
	// parameters. DingTalk documents it for group messages; Tocsin holds
	// 1:1 messages to it too, as the same robot renders both and a limit
	// DingTalk does not state for 1:1 is not one to find out in production.
	MaxParamBytes = 15000
	// MaxButtons is the most buttons an action card has
	// (sampleActionCard5). Further buttons become links in the text.
	MaxButtons = 5

	// DingTalk recommends titles of at most 100 characters (the title is
	// the notification preview) and allows button titles of 20 and button
	// URLs of 500 (chat-apis §2.4).
	maxTitleRunes       = 100
	maxButtonTitleRunes = 20
	maxButtonURLRunes   = 500

	blockSep           = "\n\n"
	defaultTitle       = "Tocsin"
	defaultButtonTitle = "Open"
)

// Rendered is a message shaped for the app robot.
type Rendered struct {
	// MsgKey names DingTalk's template: KeyMarkdown or KeyActionCard….
	MsgKey string
	// MsgParam is the template's parameters as JSON text, at most
	// MaxParamBytes long. It is sent as a string inside the request's
	// JSON, as DingTalk requires.
	MsgParam string
	// Notes say what DingTalk could not carry as asked (buttons made
	// links, a text cut short), one sentence each, so the delivery log
	// can show it rather than lose it.
	Notes []string
}

// param holds the fields of every template Render uses; the ones a
// template does not have stay empty and are left out. Field order is the
// order on the wire, kept stable for golden files.
type param struct {
	Title        string `json:"title"`
	Text         string `json:"text"`
	SingleTitle  string `json:"singleTitle,omitempty"`
	SingleURL    string `json:"singleURL,omitempty"`
	ActionTitle1 string `json:"actionTitle1,omitempty"`
	ActionURL1   string `json:"actionURL1,omitempty"`
	ActionTitle2 string `json:"actionTitle2,omitempty"`
	ActionURL2   string `json:"actionURL2,omitempty"`
	ActionTitle3 string `json:"actionTitle3,omitempty"`
	ActionURL3   string `json:"actionURL3,omitempty"`
	ActionTitle4 string `json:"actionTitle4,omitempty"`
	ActionURL4   string `json:"actionURL4,omitempty"`
	ActionTitle5 string `json:"actionTitle5,omitempty"`
	ActionURL5   string `json:"actionURL5,omitempty"`
}

// setButtons puts bs (at most MaxButtons, titles and URLs never empty) in
// p and returns the template that shows them.
func (p *param) setButtons(bs []notify.Button) string {
	switch len(bs) {
	case 0:
		return KeyMarkdown
	case 1:
		p.SingleTitle, p.SingleURL = bs[0].Title, bs[0].URL
		return KeyActionCard
	}
	slots := [MaxButtons][2]*string{
		{&p.ActionTitle1, &p.ActionURL1},
		{&p.ActionTitle2, &p.ActionURL2},
		{&p.ActionTitle3, &p.ActionURL3},
		{&p.ActionTitle4, &p.ActionURL4},
		{&p.ActionTitle5, &p.ActionURL5},
	}
	for i, b := range bs {
		*slots[i][0], *slots[i][1] = b.Title, b.URL
	}
	return fmt.Sprintf("sampleActionCard%d", len(bs))
}

// encode writes p as DingTalk reads it (see fit.Encode).
func (p param) encode() string {
	b, err := fit.Encode(p)
	if err != nil {
		// Every field is a string, which always encodes.
		panic(fmt.Sprintf("dingtalkapp: encode msgParam: %v", err))
	}
	return string(b)
}

// Render shapes msg into one app robot message:
//
//   - with no buttons, sampleMarkdown: the title and the text;
//   - with one, sampleActionCard: the title, the text and the button;
//   - with two to five, sampleActionCard2 to 5, the buttons stacked
//     vertically, readable on a phone whatever their labels' length.
//
// The title is the notification preview: one line of at most 100
// characters; an empty one becomes the text's first line. A button title
// longer than DingTalk's 20 characters is cut. Buttons beyond the fifth,
// and buttons whose URL passes DingTalk's 500 characters, become markdown
// links in a last paragraph of the text instead, so no action is lost;
// a button without a URL opens nothing and is left out. Notes say so.
//
// Mentions are not rendered: a 1:1 message notifies its recipient anyway,
// and group messages from the app API cannot mention (see SendToGroup).
//
// The msgParam stays within MaxParamBytes. A longer text is cut, on a line
// boundary where one is near, else between characters, and ends with a
// line saying how much was left out; the links stay. The message is never
// split into several: each part would be another call for every 20
// recipients, DingTalk's per-user flow control could deliver a later part
// without an earlier one, and the message's buttons lead to the whole
// alert in Tocsin.
func Render(msg notify.Message) (Rendered, error) {
	return render(msg, MaxParamBytes)
}

func render(msg notify.Message, limit int) (Rendered, error) {
	title, text := oneLine(msg.Title), fit.Clean(msg.Text)
	var (
		buttons []notify.Button
		links   []string
		notes   []string
		// counts of buttons that needed changing, for the notes
		noURL, longURL, extra, cut int
	)
	for _, b := range msg.Buttons {
		t, u := oneLine(b.Title), strings.TrimSpace(fit.Clean(b.URL))
		switch {
		case u == "":
			noURL++
			continue
		case utf8.RuneCountInString(u) > maxButtonURLRunes:
			longURL++
			links = append(links, mdLink(t, u))
			continue
		case len(buttons) == MaxButtons:
			extra++
			links = append(links, mdLink(t, u))
			continue
		}
		if t == "" {
			t = defaultButtonTitle
		}
		if short := fit.Runes(t, maxButtonTitleRunes); short != t {
			t = short
			cut++
		}
		buttons = append(buttons, notify.Button{Title: t, URL: u})
	}
	if title == "" && text == "" && len(buttons) == 0 && len(links) == 0 {
		return Rendered{}, invalid("empty-message", "the message has no title, text or button", "check the template: it rendered nothing")
	}
	if noURL > 0 {
		notes = append(notes, fmt.Sprintf("buttons: %d button(s) without a URL left out", noURL))
	}
	if longURL > 0 {
		notes = append(notes, fmt.Sprintf("buttons: %d button(s) with a URL over DingTalk's %d characters written as links in the text", longURL, maxButtonURLRunes))
	}
	if extra > 0 {
		notes = append(notes, fmt.Sprintf("buttons: DingTalk cards have at most %d buttons; %d more written as links in the text", MaxButtons, extra))
	}
	if cut > 0 {
		notes = append(notes, fmt.Sprintf("buttons: %d button title(s) cut to DingTalk's %d characters", cut, maxButtonTitleRunes))
	}

	if title == "" {
		title = firstLine(text)
	}
	p := param{Title: fit.Runes(title, maxTitleRunes)}
	key := p.setButtons(buttons)
	s, left, err := fitParam(p, text, strings.Join(links, " | "), limit)
	if err != nil {
		return Rendered{}, err
	}
	if left > 0 {
		notes = append(notes, fmt.Sprintf("text: too long for DingTalk's %d-byte msgParam; the last %d bytes were left out", limit, left))
	}
	return Rendered{MsgKey: key, MsgParam: s, Notes: notes}, nil
}

// fitParam returns p encoded with text and then footer as its body, text cut
// so that the whole stays within limit bytes; left is how many bytes of
// text were left out. The size is measured by encoding, not estimated, so
// JSON escapes (\n, \", \u2028) count exactly.
func fitParam(p param, text, footer string, limit int) (msgParam string, left int, err error) {
	build := func(n int) string {
		body := text
		if n < len(text) {
			head := strings.TrimRight(text[:n], " \t\r\n")
			body = joinBlocks(head, fit.LeftOut("DingTalk", len(text)-n))
		}
		q := p
		if q.Text = joinBlocks(body, footer); strings.TrimSpace(q.Text) == "" {
			q.Text = q.Title // DingTalk requires a text
		}
		return q.encode()
	}
	fits := func(n int) bool { return len(build(n)) <= limit }
	if s := build(len(text)); len(s) <= limit {
		return s, 0, nil
	}
	// Every byte of text takes at least one byte encoded, so no more than
	// limit bytes of it can fit. The size grows with n but for the
	// closing line's count, which shrinks by a digit now and then, so the
	// search lands next to the longest cut that fits, and the steps after
	// it make sure.
	n := sort.Search(min(len(text), limit)+1, func(n int) bool { return !fits(n) }) - 1
	n = max(n, 0)
	for n > 0 && ((n < len(text) && !utf8.RuneStart(text[n])) || !fits(n)) {
		n--
	}
	if !fits(n) {
		return "", 0, invalid("message-too-long",
			fmt.Sprintf("the title and buttons alone do not fit in DingTalk's %d-byte msgParam", limit),
			"shorten the title, or give the message fewer buttons")
	}
	// Cut at the end of a line if that loses less than half of what fits.
	if i := strings.LastIndexByte(text[:n], '\n'); i > n/2 && fits(i) {
		n = i
	}
	return build(n), len(text) - n, nil
}

func invalid(code, message, hint string) *notify.Error {
	return &notify.Error{Action: notify.Permanent, Code: code, Message: message, Hint: hint}
}

// oneLine makes s one clean line: valid UTF-8, every run of white space
// (newlines included) one space, trimmed.
func oneLine(s string) string { return strings.Join(strings.Fields(fit.Clean(s)), " ") }

// firstLine is a title for a message without one: the first line of text
// with something in it, without its markdown heading or quote marks.
func firstLine(text string) string {
	for line := range strings.SplitSeq(text, "\n") {
		if t := oneLine(strings.TrimLeft(line, "#> \t")); t != "" {
			return t
		}
	}
	return defaultTitle
}

// mdLinkURL keeps a URL from ending a markdown link early.
var mdLinkURL = strings.NewReplacer(" ", "%20", "(", "%28", ")", "%29")

func mdLink(title, url string) string {
	if title == "" {
		title = defaultButtonTitle
	}
	return "[" + title + "](" + mdLinkURL.Replace(url) + ")"
}

// joinBlocks joins the non-empty blocks with a blank line, which
// DingTalk's markdown always renders as a paragraph break.
func joinBlocks(blocks ...string) string { return fit.Join(blockSep, blocks...) }
