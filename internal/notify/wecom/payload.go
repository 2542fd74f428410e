package wecom

import (
	"github.com/tocsinhq/tocsin/internal/notify/fit"
)

// Payload is one request body for the robot webhook: msgtype and the one
// matching content object.
type Payload struct {
	MsgType    MsgType   `json:"msgtype"`
	Text       *Text     `json:"text,omitempty"`
	Markdown   *Markdown `json:"markdown,omitempty"`
	MarkdownV2 *Markdown `json:"markdown_v2,omitempty"`
}

// Text is a plain-text message. WeCom notifies the userids in
// MentionedList and the numbers in MentionedMobileList, and everyone when
// either holds "@all"; nothing needs writing in the content.
type Text struct {
	Content             string   `json:"content"`
	MentionedList       []string `json:"mentioned_list,omitempty"`
	MentionedMobileList []string `json:"mentioned_mobile_list,omitempty"`
}

// Markdown is a markdown or markdown_v2 message. WeCom ignores mention
// lists here: a markdown message mentions by writing "<@userid>" in the
// content, and a markdown_v2 message cannot mention at all.
type Markdown struct {
	Content string `json:"content"`
}

// content is the field WeCom's byte limit applies to: the content of the
// object msgtype names, "" if that object is missing (WeCom reads no other).
func (p Payload) content() string {
	switch {
	case p.MsgType == MsgText && p.Text != nil:
		return p.Text.Content
	case p.MsgType == MsgMarkdown && p.Markdown != nil:
		return p.Markdown.Content
	case p.MsgType == MsgMarkdownV2 && p.MarkdownV2 != nil:
		return p.MarkdownV2.Content
	}
	return ""
}

// Encode returns the request body exactly as Post sends it. HTML escaping
// is off: WeCom reads JSON, not HTML, and "<font>" and "<@userid>" read
// better unescaped in golden files and in captured requests.
func (p Payload) Encode() ([]byte, error) { return fit.Encode(p) }
