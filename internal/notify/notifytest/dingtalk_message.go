package notifytest

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// dingTalkMessage is a request body that passed the shape checks.
type dingTalkMessage struct {
	msgType string
	payload map[string]any
	uuid    string
	// title and text are what the group sees (see AcceptedMessage).
	title, text string
	// keywordFields are the visible text fields the keyword check
	// searches.
	keywordFields []string
	// canMention is false for link and feedCard, which DingTalk documents
	// as not supporting @; mentionText is where an "@<id>" must be
	// written for a listed mention to notify.
	canMention  bool
	mentionText string
	// The "at" object as sent.
	atMobiles, atUserIDs []string
	atAll                bool
}

// parseDingTalkMessage decodes and checks a webhook body against the field
// tables of chat-apis §1.4. A body that is not a JSON object is treated like
// a missing one (40035 缺少参数 json); a JSON object of the wrong shape is
// 400105, the only message-shape error DingTalk documents.
//
// The checks are deliberately strict where DingTalk's are undocumented:
// field names must match exactly (no case folding, unlike encoding/json's
// struct decoding), a required field must be a string that is not blank,
// and the "at" lists must be arrays of strings with isAtAll a boolean.
func parseDingTalkMessage(body []byte) (dingTalkMessage, dingTalkReply, bool) {
	missing := dingTalkReply{dtMissingParam, "缺少参数 json"}
	unsupported := dingTalkReply{dtBadMessage, "不支持的消息类型"}

	var payload map[string]any
	if err := json.Unmarshal(body, &payload); err != nil || payload == nil {
		return dingTalkMessage{}, missing, false
	}
	m := dingTalkMessage{payload: payload}
	var ok bool
	if m.msgType, ok = payload["msgtype"].(string); !ok {
		return dingTalkMessage{}, unsupported, false
	}
	content, ok := payload[m.msgType].(map[string]any)
	if !ok || !m.readContent(content) || !m.readAt(payload["at"]) {
		return dingTalkMessage{}, unsupported, false
	}
	if v, present := payload["msgUuid"]; present && v != nil {
		if m.uuid, ok = v.(string); !ok {
			return dingTalkMessage{}, unsupported, false
		}
	}
	return m, dingTalkReply{}, true
}

// readContent checks the msgtype's own object and fills in what is shown.
// It reports false for an unknown msgtype or a missing required field.
func (m *dingTalkMessage) readContent(c map[string]any) bool {
	switch m.msgType {
	case "text":
		v, ok := requiredStrings(c, "content")
		if !ok {
			return false
		}
		m.text = v[0]
		m.keywordFields = v
		m.canMention, m.mentionText = true, m.text
	case "markdown", "link":
		keys := []string{"title", "text"}
		if m.msgType == "link" {
			keys = append(keys, "messageUrl") // picUrl is optional
		}
		v, ok := requiredStrings(c, keys...)
		if !ok {
			return false
		}
		m.title, m.text = v[0], v[1]
		m.keywordFields = v[:2]
		if m.msgType == "markdown" {
			// The title only previews the message in the conversation
			// list; an @ must be in the text.
			m.canMention, m.mentionText = true, m.text
		}
	case "actionCard":
		v, ok := requiredStrings(c, "title", "text")
		if !ok || !validButtons(c) {
			return false
		}
		m.title, m.text = v[0], v[1]
		m.keywordFields = v
		// Action cards mention through "@<userId>" in their text; the
		// fake applies the same rule as for text and markdown.
		m.canMention, m.mentionText = true, m.text
	case "feedCard":
		links, ok := eachRequired(c["links"], "title", "messageURL", "picURL")
		if !ok {
			return false
		}
		for _, link := range links {
			m.keywordFields = append(m.keywordFields, link[0])
		}
		m.text = strings.Join(m.keywordFields, "\n")
	default:
		// image works on some robots but is not documented for webhooks.
		return false
	}
	return true
}

// validButtons checks an actionCard's buttons: a single button when
// singleTitle or singleURL is set (they take precedence, and then both are
// needed), otherwise a non-empty btns array of {title, actionURL}.
func validButtons(c map[string]any) bool {
	if nonBlank(c["singleTitle"]) || nonBlank(c["singleURL"]) {
		_, ok := requiredStrings(c, "singleTitle", "singleURL")
		return ok
	}
	_, ok := eachRequired(c["btns"], "title", "actionURL")
	return ok
}

// readAt reads the optional "at" object.
func (m *dingTalkMessage) readAt(v any) bool {
	if v == nil {
		return true
	}
	at, ok := v.(map[string]any)
	if !ok {
		return false
	}
	if m.atMobiles, ok = stringList(at["atMobiles"]); !ok {
		return false
	}
	if m.atUserIDs, ok = stringList(at["atUserIds"]); !ok {
		return false
	}
	switch all := at["isAtAll"].(type) {
	case nil:
	case bool:
		m.atAll = all
	default:
		return false
	}
	return true
}

// requiredStrings returns the values of keys in obj, or false if any is
// missing, not a string, or blank.
func requiredStrings(obj map[string]any, keys ...string) ([]string, bool) {
	vals := make([]string, len(keys))
	for i, k := range keys {
		s, ok := obj[k].(string)
		if !ok || strings.TrimSpace(s) == "" {
			return nil, false
		}
		vals[i] = s
	}
	return vals, true
}

// eachRequired returns, for each object in the JSON array v, the values of
// keys, or false if v is not a non-empty array of objects that all have
// them.
func eachRequired(v any, keys ...string) ([][]string, bool) {
	items, ok := v.([]any)
	if !ok || len(items) == 0 {
		return nil, false
	}
	out := make([][]string, 0, len(items))
	for _, it := range items {
		obj, ok := it.(map[string]any)
		if !ok {
			return nil, false
		}
		vals, ok := requiredStrings(obj, keys...)
		if !ok {
			return nil, false
		}
		out = append(out, vals)
	}
	return out, true
}

func nonBlank(v any) bool {
	s, ok := v.(string)
	return ok && strings.TrimSpace(s) != ""
}

// stringList converts a JSON array of strings; absent or null is empty.
func stringList(v any) ([]string, bool) {
	if v == nil {
		return nil, true
	}
	items, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		s, ok := it.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// accepted is the record of m accepted at now.
func (m dingTalkMessage) accepted(now time.Time, body []byte) AcceptedMessage {
	a := AcceptedMessage{
		At:      now,
		MsgType: m.msgType,
		Title:   m.title,
		Text:    m.text,
		Payload: m.payload,
		Body:    body,
		MsgUUID: m.uuid,
	}
	if m.canMention {
		a.AtMobiles = writtenMentions(m.mentionText, m.atMobiles)
		a.AtUserIDs = writtenMentions(m.mentionText, m.atUserIDs)
		a.AtAll = m.atAll
	}
	return a
}

// writtenMentions returns the ids, without repeats, that text also mentions
// as "@<id>": DingTalk notifies only those.
func writtenMentions(text string, ids []string) []string {
	var out []string
	for _, id := range ids {
		if id != "" && !slices.Contains(out, id) && mentions(text, id) {
			out = append(out, id)
		}
	}
	return out
}

// mentions reports whether text holds "@<id>" not followed by another
// letter, digit or underscore, so that "@1380000000" is not found in
// "@13800000000". Anything else may follow, CJK text included.
func mentions(text, id string) bool {
	at := "@" + id
	for i := 0; ; {
		j := strings.Index(text[i:], at)
		if j < 0 {
			return false
		}
		end := i + j + len(at)
		if end == len(text) || !isIDByte(text[end]) {
			return true
		}
		i += j + 1
	}
}

func isIDByte(b byte) bool {
	return b == '_' || '0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
}
