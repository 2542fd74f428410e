package notifytest

import (
	"slices"
	"sort"
	"strings"
	"time"
)

// larkMessage is a request body that passed the shape checks.
type larkMessage struct {
	msgType     string
	title, text string // what the group sees (see LarkMessage)
	// keywordFields are the text and title values the keyword check
	// searches, one by one.
	keywordFields []string
	atIDs         []string // mentions that notify, in order, without repeats
	atAll         bool
}

// larkPostLanguages are the languages a post may carry, in the order a
// reader's client falls back through them.
var larkPostLanguages = []string{"zh_cn", "en_us", "ja_jp"}

// parseLarkMessage checks a decoded webhook body against the shapes of
// chat-apis §4.2. A refusal is 9499 with errMsg. The webhook takes content
// and card as JSON objects (unlike Lark's message API, which takes a JSON
// string), and the fake refuses a string there, as Lark does.
//
// The checks are strict where Lark's are undocumented: a required string
// must not be blank (but a post's text may be: it is what it shows), a
// post node must have a known tag and that tag's fields, and a card must
// have an elements array where its schema puts one.
func parseLarkMessage(payload map[string]any) (m larkMessage, errMsg string, ok bool) {
	m.msgType, _ = payload["msg_type"].(string)
	content, _ := payload["content"].(map[string]any)
	switch m.msgType {
	case "text":
		v, ok := requiredStrings(content, "text")
		if !ok {
			return larkMessage{}, larkMsgBadRequest, false
		}
		m.text = v[0]
		m.keywordFields = v
		m.mentions(larkAtTags(m.text, "user_id"))
	case "post":
		if !m.readPost(content) {
			return larkMessage{}, larkMsgBadRequest, false
		}
	case "interactive":
		card, ok := payload["card"].(map[string]any)
		if !ok {
			if _, present := payload["content"]; present {
				return larkMessage{}, larkMsgNoCard, false
			}
			return larkMessage{}, larkMsgBadRequest, false
		}
		if !m.readCard(card) {
			return larkMessage{}, larkMsgBadRequest, false
		}
	case "image":
		if _, ok := requiredStrings(content, "image_key"); !ok {
			return larkMessage{}, larkMsgBadRequest, false
		}
	case "share_chat":
		if _, ok := requiredStrings(content, "share_chat_id"); !ok {
			return larkMessage{}, larkMsgBadRequest, false
		}
	default:
		return larkMessage{}, larkMsgBadRequest, false
	}
	return m, "", true
}

// mentions adds ids to the mentions, "all" as @all.
func (m *larkMessage) mentions(ids []string) {
	for _, id := range ids {
		switch {
		case id == "all":
			m.atAll = true
		case id != "" && !slices.Contains(m.atIDs, id):
			m.atIDs = append(m.atIDs, id)
		}
	}
}

// readPost checks content.post: at least one language, each an object with
// an optional string title and a content array of paragraphs, each an
// array of nodes. Every language is checked and searched for keywords; the
// one shown is the first of larkPostLanguages present, or else the first
// by name.
func (m *larkMessage) readPost(content map[string]any) bool {
	post, ok := content["post"].(map[string]any)
	if !ok || len(post) == 0 {
		return false
	}
	langs := make([]string, 0, len(post))
	for lang := range post {
		langs = append(langs, lang)
	}
	sort.Strings(langs)
	shown := langs[0]
	for _, lang := range slices.Backward(larkPostLanguages) {
		if _, ok := post[lang]; ok {
			shown = lang
		}
	}
	for _, lang := range langs {
		body, ok := post[lang].(map[string]any)
		if !ok {
			return false
		}
		title, ok := body["title"].(string)
		if _, present := body["title"]; present && !ok {
			return false
		}
		paras, ok := body["content"].([]any)
		if !ok {
			return false
		}
		m.keywordFields = append(m.keywordFields, title)
		var lines []string
		var ats []string
		for _, p := range paras {
			nodes, ok := p.([]any)
			if !ok {
				return false
			}
			var b strings.Builder
			for _, n := range nodes {
				node, ok := n.(map[string]any)
				if !ok {
					return false
				}
				shownText, keywordText, at, ok := larkPostNode(node)
				if !ok {
					return false
				}
				b.WriteString(shownText)
				if keywordText != "" {
					m.keywordFields = append(m.keywordFields, keywordText)
				}
				if at != "" {
					ats = append(ats, at)
				}
			}
			lines = append(lines, b.String())
		}
		if lang == shown {
			m.title, m.text = title, strings.Join(lines, "\n")
			m.mentions(ats)
		}
	}
	return true
}

// larkPostNode checks one post node and returns what it shows, the text
// value the keyword check sees (none for at, img and the like) and, for an
// at node, whom it mentions.
func larkPostNode(node map[string]any) (shown, keywordText, at string, ok bool) {
	tag, _ := node["tag"].(string)
	switch tag {
	case "text", "code_block", "md":
		// Blank text is text: a space between two mentions, say.
		text, ok := node["text"].(string)
		return text, text, "", ok
	case "a":
		text, ok := node["text"].(string)
		if _, hasHref := requiredStrings(node, "href"); !ok || !hasHref {
			return "", "", "", false
		}
		return text, text, "", true // the href is not searched for keywords
	case "at":
		v, ok := requiredStrings(node, "user_id")
		if !ok {
			return "", "", "", false
		}
		name, _ := node["user_name"].(string)
		if name == "" {
			name = v[0]
		}
		return "@" + name, "", v[0], true
	case "img":
		_, ok := requiredStrings(node, "image_key")
		return "[image]", "", "", ok
	case "media":
		_, ok := requiredStrings(node, "file_key")
		return "[video]", "", "", ok
	case "emotion":
		v, ok := requiredStrings(node, "emoji_type")
		if !ok {
			return "", "", "", false
		}
		return ":" + v[0] + ":", "", "", true
	case "hr":
		return "---", "", "", true
	}
	return "", "", "", false
}

// readCard checks an interactive card: with "schema":"2.0" its elements are
// in body.elements, otherwise (JSON 1.0) in elements; either way an array
// of objects that each have a tag. The header is optional; its title, if
// any, must be text with a content string.
func (m *larkMessage) readCard(card map[string]any) bool {
	var elements []any
	var ok bool
	if schema, present := card["schema"]; present {
		if schema != "2.0" {
			return false
		}
		body, _ := card["body"].(map[string]any)
		elements, ok = body["elements"].([]any)
	} else {
		elements, ok = card["elements"].([]any)
	}
	if !ok {
		return false
	}
	for _, e := range elements {
		el, ok := e.(map[string]any)
		if !ok {
			return false
		}
		if tag, _ := el["tag"].(string); tag == "" {
			return false
		}
	}
	if h, present := card["header"]; present {
		header, ok := h.(map[string]any)
		if !ok {
			return false
		}
		title, _ := header["title"].(map[string]any)
		if m.title, ok = title["content"].(string); !ok {
			return false
		}
	}
	var shown, ats []string
	larkWalkCard(elements, &shown, &ats)
	m.text = strings.Join(shown, "\n")
	m.mentions(ats)
	larkTextValues(card, "", &m.keywordFields)
	return true
}

// larkWalkCard collects, in document order, the text a card's elements
// show (every plain_text, lark_md and markdown content) and the mentions
// in the two of those that render <at> tags. Objects' keys are visited in
// sorted order, so the result does not depend on map order.
func larkWalkCard(v any, shown, ats *[]string) {
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			larkWalkCard(e, shown, ats)
		}
	case map[string]any:
		if content, ok := v["content"].(string); ok {
			switch v["tag"] {
			case "markdown", "lark_md":
				*ats = append(*ats, larkAtTags(content, "id")...)
				*shown = append(*shown, content)
			case "plain_text":
				*shown = append(*shown, content)
			}
		}
		for _, k := range larkSortedKeys(v) {
			if k != "content" {
				larkWalkCard(v[k], shown, ats)
			}
		}
	}
}

// larkTextValues collects every string under a "text", "title" or
// "content" key, anywhere in v: what Lark's keyword check reads in a card.
// URLs (url, href, default_url, …) are not among them.
func larkTextValues(v any, key string, out *[]string) {
	switch v := v.(type) {
	case string:
		if key == "text" || key == "title" || key == "content" {
			*out = append(*out, v)
		}
	case []any:
		for _, e := range v {
			larkTextValues(e, key, out)
		}
	case map[string]any:
		for _, k := range larkSortedKeys(v) {
			larkTextValues(v[k], k, out)
		}
	}
}

func larkSortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// larkAtTags returns the value of attr in each complete <at …></at> tag of
// s, in order: <at user_id="ou_…">Name</at> in a text message,
// <at id=ou_…></at> in card markdown. The value may be quoted or not. A
// tag that is not closed by </at>, or that lacks attr, mentions nobody.
func larkAtTags(s, attr string) []string {
	var ids []string
	for {
		i := strings.Index(s, "<at ")
		if i < 0 {
			return ids
		}
		s = s[i+len("<at "):]
		end := strings.IndexByte(s, '>')
		if end < 0 {
			return ids
		}
		attrs, rest := s[:end], s[end+1:]
		closing := strings.Index(rest, "</at>")
		if closing < 0 {
			return ids
		}
		if id, ok := larkAttr(attrs, attr); ok {
			ids = append(ids, id)
		}
		s = rest[closing+len("</at>"):]
	}
}

// larkAttr finds name=value among space-separated attributes.
func larkAttr(attrs, name string) (string, bool) {
	for _, f := range strings.Fields(attrs) {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k != name {
			continue
		}
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		return v, v != ""
	}
	return "", false
}

// accepted is the record of m accepted at now.
func (m larkMessage) accepted(now time.Time, payload map[string]any, body []byte) LarkMessage {
	return LarkMessage{
		At:      now,
		MsgType: m.msgType,
		Title:   m.title,
		Text:    m.text,
		AtIDs:   m.atIDs,
		AtAll:   m.atAll,
		Payload: payload,
		Body:    body,
	}
}
