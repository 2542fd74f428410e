package lark

import (
	"strings"

	"github.com/tocsinhq/tocsin/internal/notify/fit"
)

// MaxBodyBytes is Lark's limit on a custom-bot request: the whole JSON
// body, signature included. Lark documents "20 KB" without saying whether
// it means 20,000 or 20,480 bytes; Tocsin keeps to the smaller, so a body it
// sends fits under either reading. (A 2021 report of code 19036 speaks of
// 30 KB; Tocsin keeps to the documented, stricter figure.)
const MaxBodyBytes = 20000

// Payload is one request body for the custom-bot webhook. Render leaves
// Timestamp and Sign empty; Post fills them in for each request, as the
// signature is only good for an hour.
//
// Content carries text and post messages; an interactive message carries
// Card at the top level instead, and Lark refuses one that puts the card
// inside content.
type Payload struct {
	Timestamp string   `json:"timestamp,omitempty"`
	Sign      string   `json:"sign,omitempty"`
	MsgType   MsgType  `json:"msg_type"`
	Content   *Content `json:"content,omitempty"`
	Card      *Card    `json:"card,omitempty"`
}

// Content is the content object of a text or post message.
type Content struct {
	Text string `json:"text,omitempty"`
	Post *Post  `json:"post,omitempty"`
}

// Post is a rich-text message. Lark wants at least one language; Tocsin
// writes zh_cn only, the language every Lark and Feishu client falls back
// to when the reader's own is missing, rather than guessing the group's.
type Post struct {
	ZhCN PostBody `json:"zh_cn"`
}

// PostBody is a post in one language: a title and paragraphs, each a list
// of nodes shown on one line.
type PostBody struct {
	Title   string       `json:"title"`
	Content [][]PostNode `json:"content"`
}

// PostNode is one node of a post paragraph: "text" (Text, optionally
// styled), "a" (Text linking to Href) or "at" (a mention of UserID, an
// open ID or "all").
type PostNode struct {
	Tag      string   `json:"tag"`
	Text     string   `json:"text,omitempty"`
	Href     string   `json:"href,omitempty"`
	UserID   string   `json:"user_id,omitempty"`
	UserName string   `json:"user_name,omitempty"`
	Style    []string `json:"style,omitempty"`
}

// Card is an interactive card in card JSON 2.0. Tocsin uses 2.0 rather than
// the older 1.0 because only 2.0's markdown renders headings and quotes,
// which Message.Text uses; clients older than Feishu 7.20 show the header
// (the alert's title, in its colour) and an "upgrade" line instead of the
// body. Config is left out: its only permitted setting in 2.0 is the
// default, and 2.0 refuses attributes it does not know.
type Card struct {
	Schema string      `json:"schema"`
	Header *CardHeader `json:"header,omitempty"`
	Body   CardBody    `json:"body"`
}

// cardSchema is the value of Card.Schema.
const cardSchema = "2.0"

// CardHeader is the card's coloured title bar. Template is Lark's colour
// name: red, orange, green, blue, ….
type CardHeader struct {
	Title    PlainText `json:"title"`
	Template string    `json:"template,omitempty"`
}

// PlainText is text shown as written: no markdown, no mentions.
type PlainText struct {
	Tag     string `json:"tag"` // "plain_text"
	Content string `json:"content"`
}

// CardBody holds the card's elements, top to bottom.
type CardBody struct {
	Elements []CardElement `json:"elements"`
}

// CardElement is a markdown block (Tag "markdown", Content) or a button
// (Tag "button", Text, Type, Behaviors). A custom bot's card can only open
// URLs: it has no callback to send a click to.
type CardElement struct {
	Tag       string     `json:"tag"`
	Content   string     `json:"content,omitempty"`
	Text      *PlainText `json:"text,omitempty"`
	Type      string     `json:"type,omitempty"`
	Behaviors []Behavior `json:"behaviors,omitempty"`
}

// Behavior is what a button does: Type "open_url" opens DefaultURL.
type Behavior struct {
	Type       string `json:"type"`
	DefaultURL string `json:"default_url"`
}

// Encode returns the request body exactly as Post sends it. HTML escaping
// is off: Lark reads JSON, not HTML, and \u003c for every < would spend six
// bytes of the limit on one character.
func (p Payload) Encode() ([]byte, error) { return fit.Encode(p) }

// signedLen is p's encoded length once Post has signed it. The stand-in
// signature is as long as any real one: ten digits of Unix seconds (until
// the year 2286) and the 44 characters of a base64 SHA-256. Render
// measures every part this way whether or not the bot signs, so turning
// signing on never pushes a rendered part over the limit.
func signedLen(p Payload) (int, error) {
	p.Timestamp, p.Sign = "9999999999", strings.Repeat("s", 44)
	return fit.EncodedLen(p)
}
