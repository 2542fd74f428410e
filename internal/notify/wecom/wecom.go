// Package wecom sends Tocsin's messages through a WeCom (WeChat Work) group
// robot: it shapes a notify.Message into the robot's markdown, text or
// markdown_v2 payload so that mentions really notify and no content passes
// WeCom's byte limits (splitting a long message into at most MaxParts), and
// it reads WeCom's answer — HTTP 200 even when it refused the message — into
// a classified *notify.Error.
//
// A WeCom robot has no keyword and no signature: the key in its webhook URL
// is its only credential, so this package keeps that key out of every error
// and log line. It keeps no state between calls: a Robot is one channel's
// settings, a Client is the shared transport. Rate budgets (WeCom allows 20
// messages a minute per robot) and retries belong to the outbox in
// internal/notify.
package wecom

import (
	"log/slog"

	"github.com/tocsinhq/tocsin/internal/secret"
)

// MsgType is a WeCom message type, spelled as WeCom's "msgtype".
type MsgType string

// Message types Tocsin sends through a group robot. The robot knows more
// (image, news, file, voice, template_card); none of them carries an alert
// better than markdown does.
const (
	// MsgMarkdown renders headings, bold, links, quotes and font colours,
	// and mentions through "<@userid>" in the content. WeCom shows it in
	// every client version; Tocsin's default.
	MsgMarkdown MsgType = "markdown"
	// MsgText is plain text; the only type that can mention by mobile
	// number and @all.
	MsgText MsgType = "text"
	// MsgMarkdownV2 adds tables, lists and code blocks but has no font
	// colours and cannot mention anyone; clients older than 4.1.36 show
	// it as plain text.
	MsgMarkdownV2 MsgType = "markdown_v2"
)

// Content limits, in bytes of UTF-8, of the content field (not the whole
// body): WeCom answers 40058 "<type>.content exceed max length <n>".
const (
	MaxTextBytes     = 2048
	MaxMarkdownBytes = 4096 // markdown and markdown_v2
)

// limit is the content limit of t, 0 for a type Tocsin does not send.
func (t MsgType) limit() int {
	switch t {
	case MsgText:
		return MaxTextBytes
	case MsgMarkdown, MsgMarkdownV2:
		return MaxMarkdownBytes
	}
	return 0
}

// Robot is one WeCom group robot as a channel configures it.
type Robot struct {
	// WebhookURL is the robot's full URL,
	// https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…; the key is
	// the secret.
	WebhookURL secret.URL
	// MsgType is the shape messages take; empty means MsgMarkdown.
	MsgType MsgType
}

// LogValue keeps the webhook key out of logs while still showing which
// robot a line is about.
func (r Robot) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("webhook_url", r.WebhookURL.String()),
		slog.String("msg_type", string(r.msgType())),
	)
}

func (r Robot) msgType() MsgType {
	if r.MsgType == "" {
		return MsgMarkdown
	}
	return r.MsgType
}
