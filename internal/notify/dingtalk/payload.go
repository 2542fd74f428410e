package dingtalk

import "github.com/tocsinhq/tocsin/internal/notify/fit"

// MaxBodyBytes is DingTalk's limit on a robot request: the whole JSON body,
// not just the text ("message too long, exceed 20000 bytes", errcode 460101).
const MaxBodyBytes = 20000

// Payload is one request body for the robot webhook: msgtype, the one
// matching content object, and the optional at and msgUuid. Field names
// are DingTalk's, camelCase and irregular as they are (actionCard,
// singleURL, messageUrl but messageURL in a feedCard).
type Payload struct {
	MsgType    MsgType     `json:"msgtype"`
	Text       *Text       `json:"text,omitempty"`
	Markdown   *Markdown   `json:"markdown,omitempty"`
	ActionCard *ActionCard `json:"actionCard,omitempty"`
	Link       *Link       `json:"link,omitempty"`
	FeedCard   *FeedCard   `json:"feedCard,omitempty"`
	At         *At         `json:"at,omitempty"`
	// MsgUUID is DingTalk's idempotency key: a retry with the same key
	// after a timeout does not post twice.
	MsgUUID string `json:"msgUuid,omitempty"`
}

// Text is a plain-text message.
type Text struct {
	Content string `json:"content"`
}

// Markdown is a markdown message. Title shows only in the notification and
// the conversation list, not in the message itself.
type Markdown struct {
	Title string `json:"title"`
	Text  string `json:"text"`
}

// ActionCard is a card with a markdown body and buttons: one button in
// SingleTitle/SingleURL (which win when set), or several in Buttons.
type ActionCard struct {
	Title       string         `json:"title"`
	Text        string         `json:"text"`
	SingleTitle string         `json:"singleTitle,omitempty"`
	SingleURL   string         `json:"singleURL,omitempty"`
	Buttons     []ActionButton `json:"btns,omitempty"`
	// BtnOrientation is "0" for buttons stacked vertically, "1" for side
	// by side.
	BtnOrientation string `json:"btnOrientation,omitempty"`
}

// ActionButton is one button of a multi-button action card.
type ActionButton struct {
	Title     string `json:"title"`
	ActionURL string `json:"actionURL"`
}

// Link is a link card: DingTalk shows the title, the start of the text and
// the picture, and opens MessageURL on a tap. It cannot mention anyone.
type Link struct {
	Title      string `json:"title"`
	Text       string `json:"text"`
	MessageURL string `json:"messageUrl"`
	PicURL     string `json:"picUrl,omitempty"`
}

// FeedCard is a list of links. It cannot mention anyone.
type FeedCard struct {
	Links []FeedLink `json:"links"`
}

// FeedLink is one entry of a feed card. DingTalk requires all three
// fields, so picURL is sent even when empty.
type FeedLink struct {
	Title      string `json:"title"`
	MessageURL string `json:"messageURL"`
	PicURL     string `json:"picURL"`
}

// At says whom a message notifies. DingTalk only notifies a mobile or a
// userId that is also written as @<mobile> / @<userId> in the text.
type At struct {
	AtMobiles []string `json:"atMobiles,omitempty"`
	AtUserIDs []string `json:"atUserIds,omitempty"`
	IsAtAll   bool     `json:"isAtAll,omitempty"`
}

// Encode returns the request body exactly as Post sends it. HTML escaping
// is off: DingTalk reads JSON, not HTML, and \u003c for every < would
// spend six bytes of the 20000 on one character.
func (p Payload) Encode() ([]byte, error) { return fit.Encode(p) }
