package notifytest

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// wecomMessage is a request body that passed the checks of its msgtype.
type wecomMessage struct {
	msgType string
	payload map[string]any
	// content and the mentions are as WeComMessage has them.
	content string
	userIDs []string
	mobiles []string
	all     bool // @all
}

// wecomReader reads WeCom's JSON the lenient way WeCom does: a body that is
// not JSON, or a field of the wrong type, reads as missing, and the errmsg
// of whatever refusal follows starts "Warning: wrong json format." (as in
// the observed "Warning: wrong json format. empty content").
type wecomReader struct {
	wrongJSON bool
}

func (r *wecomReader) object(obj map[string]any, key string) map[string]any {
	v, ok := obj[key].(map[string]any)
	if !ok && obj[key] != nil {
		r.wrongJSON = true
	}
	return v
}

func (r *wecomReader) text(obj map[string]any, key string) string {
	v, ok := obj[key].(string)
	if !ok && obj[key] != nil {
		r.wrongJSON = true
	}
	return v
}

func (r *wecomReader) array(obj map[string]any, key string) []any {
	v, ok := obj[key].([]any)
	if !ok && obj[key] != nil {
		r.wrongJSON = true
	}
	return v
}

func (r *wecomReader) number(obj map[string]any, key string) float64 {
	v, ok := obj[key].(float64)
	if !ok && obj[key] != nil {
		r.wrongJSON = true
	}
	return v
}

// texts reads an optional array of strings; ok is false when it is there
// but is not one.
func (r *wecomReader) texts(obj map[string]any, key string) (vals []string, ok bool) {
	vals, ok = stringList(obj[key])
	if !ok {
		r.wrongJSON = true
	}
	return vals, ok
}

// refuse is the answer for code, its errmsg marked if the JSON was off.
func (r *wecomReader) refuse(code int, format string, args ...any) (wecomMessage, int, string) {
	msg := fmt.Sprintf(format, args...)
	if r.wrongJSON {
		msg = wecomWrongJSON + msg
	}
	return wecomMessage{}, code, msg
}

// invalid refuses a field with WeCom's generic "invalid Request Parameter"
// (40058). WeCom's wording for each field is not documented; the code is
// the one it uses for parameters it will not take, and where no more
// specific code is known the fake answers with it.
func (r *wecomReader) invalid(field string) (wecomMessage, int, string) {
	return r.refuse(wecomInvalidParam, "%s invalid. invalid Request Parameter", field)
}

// wecomContentMax is the byte limit of each content-bearing msgtype.
var wecomContentMax = map[string]int{
	"text":        wecomTextMax,
	"markdown":    wecomMarkdownMax,
	"markdown_v2": wecomMarkdownMax,
}

// parseWeComMessage decodes and checks a webhook body against the message
// types of chat-apis §5.1. It returns the message, or a non-zero errcode
// and the errmsg (without WeCom's suffix) to refuse it with.
func parseWeComMessage(body []byte) (wecomMessage, int, string) {
	var r wecomReader
	var payload map[string]any
	if err := json.Unmarshal(body, &payload); err != nil || payload == nil {
		r.wrongJSON = true
		payload = map[string]any{}
	}
	m := wecomMessage{payload: payload, msgType: r.text(payload, "msgtype")}
	obj := r.object(payload, m.msgType)
	switch m.msgType {
	case "text", "markdown", "markdown_v2":
		m.content = r.text(obj, "content")
		// A blank content shows nothing: the fake takes it as empty,
		// the stricter reading of "content参数为空".
		if strings.TrimSpace(m.content) == "" {
			return r.refuse(wecomEmpty, "empty content")
		}
		// WeCom counts bytes of UTF-8, as decoded from the JSON.
		if limit := wecomContentMax[m.msgType]; len(m.content) > limit {
			return r.refuse(wecomInvalidParam, "%s.content exceed max length %d. invalid Request Parameter", m.msgType, limit)
		}
		switch m.msgType {
		case "text":
			users, ok := r.texts(obj, "mentioned_list")
			if !ok {
				return r.invalid("text.mentioned_list")
			}
			mobiles, ok := r.texts(obj, "mentioned_mobile_list")
			if !ok {
				return r.invalid("text.mentioned_mobile_list")
			}
			m.userIDs, m.all = wecomMentionList(users, m.all)
			m.mobiles, m.all = wecomMentionList(mobiles, m.all)
		case "markdown":
			// mentioned_list and mentioned_mobile_list are ignored for
			// markdown (chat-apis §5.1): only "<@userid>" counts.
			m.userIDs = wecomWrittenMentions(m.content)
		}
	case "image":
		return m.image(&r, obj)
	case "news":
		return m.news(&r, obj)
	case "file", "voice":
		// The fake serves no upload_media, so no media_id is one WeCom
		// issued to this key.
		return r.refuse(wecomBadMediaID, "invalid media_id")
	case "template_card":
		return m.templateCard(&r, obj)
	default:
		return r.refuse(wecomBadMsgType, "invalid message type")
	}
	return m, wecomOK, ""
}

// wecomMentionList splits one of a text message's mention lists into the
// ids it names, without blanks or repeats, and whether it holds "@all".
func wecomMentionList(list []string, all bool) ([]string, bool) {
	var ids []string
	for _, v := range list {
		switch {
		case v == "@all":
			all = true
		case v != "" && !slices.Contains(ids, v):
			ids = append(ids, v)
		}
	}
	return ids, all
}

// wecomMentionPattern is a markdown mention: "<@userid>", where a WeCom
// userid is 1 to 64 letters, digits and _-@. characters.
var wecomMentionPattern = regexp.MustCompile(`<@([0-9A-Za-z_\-@.]{1,64})>`)

// wecomWrittenMentions returns the userids content mentions as
// "<@userid>", in order, without repeats.
func wecomWrittenMentions(content string) []string {
	var ids []string
	for _, sub := range wecomMentionPattern.FindAllStringSubmatch(content, -1) {
		if !slices.Contains(ids, sub[1]) {
			ids = append(ids, sub[1])
		}
	}
	return ids
}

// image checks an image message: base64 of a JPG or PNG of at most 2 MB, and
// md5, the hex MD5 of the image bytes.
func (m wecomMessage) image(r *wecomReader, obj map[string]any) (wecomMessage, int, string) {
	b64, sum := r.text(obj, "base64"), r.text(obj, "md5")
	if b64 == "" || sum == "" {
		return r.refuse(wecomEmpty, "empty content")
	}
	img, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return r.invalid("image.base64")
	}
	if len(img) > wecomImageMax {
		return r.refuse(wecomBadImageSize, "invalid image size")
	}
	if ct := http.DetectContentType(img); ct != "image/jpeg" && ct != "image/png" {
		return r.refuse(wecomBadImageType, "invalid media type")
	}
	want := md5.Sum(img)
	if got, err := hex.DecodeString(sum); err != nil || !bytes.Equal(got, want[:]) {
		return r.invalid("image.md5")
	}
	return m, wecomOK, ""
}

// news checks a news message: 1 to 8 articles, each with a title and a url.
// The content is the titles as shown, cut to 128 bytes.
func (m wecomMessage) news(r *wecomReader, obj map[string]any) (wecomMessage, int, string) {
	articles := r.array(obj, "articles")
	if len(articles) < 1 || len(articles) > wecomMaxArticles {
		return r.refuse(wecomArticles, "invalid article count")
	}
	titles := make([]string, 0, len(articles))
	for i, a := range articles {
		art, ok := a.(map[string]any)
		if !ok {
			r.wrongJSON = true
		}
		title, link := r.text(art, "title"), r.text(art, "url")
		if strings.TrimSpace(title) == "" {
			return r.invalid(fmt.Sprintf("news.articles[%d].title", i))
		}
		if strings.TrimSpace(link) == "" {
			return r.invalid(fmt.Sprintf("news.articles[%d].url", i))
		}
		titles = append(titles, wecomCut(title, wecomTitleMax))
	}
	m.content = strings.Join(titles, "\n")
	return m, wecomOK, ""
}

// wecomCut shortens s to at most n bytes on a rune boundary, as WeCom
// shortens (rather than refuses) long news titles.
func wecomCut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// The template card's documented bounds (chat-apis §5.1).
var wecomCardLists = []struct {
	key string
	max int
}{
	{"horizontal_content_list", 6},
	{"jump_list", 3},
	{"vertical_content_list", 4},
}

// templateCard checks a template_card: a known card_type, a card_action
// that opens a URL (type 1) or a mini program (type 2), a main title or a
// subtitle, list lengths within bounds, and a card image's aspect ratio in
// 1.3–2.25. chat-apis documents the title rule for text_notice only; the
// fake applies it to news_notice too, the stricter reading.
func (m wecomMessage) templateCard(r *wecomReader, card map[string]any) (wecomMessage, int, string) {
	if card == nil {
		return r.refuse(wecomEmpty, "empty content")
	}
	if t := r.text(card, "card_type"); t != "text_notice" && t != "news_notice" {
		return r.invalid("template_card.card_type")
	}
	action := r.object(card, "card_action")
	switch r.number(action, "type") {
	case 1:
		if strings.TrimSpace(r.text(action, "url")) == "" {
			return r.invalid("template_card.card_action.url")
		}
	case 2:
		if strings.TrimSpace(r.text(action, "appid")) == "" {
			return r.invalid("template_card.card_action.appid")
		}
	default:
		return r.invalid("template_card.card_action.type")
	}
	main := r.object(card, "main_title")
	lines := []string{r.text(main, "title"), r.text(main, "desc"), r.text(card, "sub_title_text")}
	if strings.TrimSpace(lines[0]) == "" && strings.TrimSpace(lines[2]) == "" {
		return r.invalid("template_card.main_title.title")
	}
	for _, l := range wecomCardLists {
		if len(r.array(card, l.key)) > l.max {
			return r.invalid("template_card." + l.key)
		}
	}
	if img := r.object(card, "card_image"); img != nil {
		if ratio, ok := img["aspect_ratio"].(float64); ok && (ratio < 1.3 || ratio > 2.25) {
			return r.invalid("template_card.card_image.aspect_ratio")
		}
	}
	m.content = strings.Join(slices.DeleteFunc(lines, func(s string) bool { return s == "" }), "\n")
	return m, wecomOK, ""
}

// accepted is the record of m accepted at now.
func (m wecomMessage) accepted(now time.Time, body []byte) WeComMessage {
	return WeComMessage{
		At:               now,
		MsgType:          m.msgType,
		Content:          m.content,
		MentionedUserIDs: m.userIDs,
		MentionedMobiles: m.mobiles,
		MentionedAll:     m.all,
		Payload:          m.payload,
		Body:             body,
	}
}
