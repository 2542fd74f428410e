// Package lark sends Tocsin's messages through a Lark (Feishu) custom bot,
// the webhook kind a group adds under "Bots → Custom bot": it signs each
// request, shapes a notify.Message into Lark's payloads (an interactive
// card, a rich-text post or plain text) so that the bot's keyword is always
// present, @ mentions really notify and no request body passes Lark's 20 KB
// limit, and it reads Lark's answer — HTTP 200 even when Lark refused the
// message — into a classified *notify.Error.
//
// Lark's custom bot differs from DingTalk's robot in ways that are easy to
// get wrong, and this package is where they are handled: the signature is
// an HMAC of an empty message keyed with "timestamp\nsecret", the timestamp
// is in seconds, and both go in the JSON body, not the URL; the webhook's
// secret token is a path segment, not a query parameter, so it needs its
// own masking; and a mention is a tag written in the text, with no separate
// list to fill in.
//
// The package keeps no state between calls: a Bot is one channel's
// settings, a Client is the shared transport. Validating settings as a
// person types them is internal/channel's job; rate budgets and retries
// belong to the outbox in internal/notify.
package lark

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/tocsinhq/tocsin/internal/secret"

	"github.com/tocsinhq/tocsin/internal/notify/fit"
)

// MsgType is a Lark message type, spelled as Lark's "msg_type".
type MsgType string

// Message types Tocsin sends through a custom bot. Lark also has image and
// share_chat, which need an image key or a chat ID that a webhook-only bot
// cannot obtain, so Tocsin does not offer them.
const (
	MsgInteractive MsgType = "interactive"
	MsgPost        MsgType = "post"
	MsgText        MsgType = "text"
)

// Bot is one Lark custom bot as a channel configures it.
type Bot struct {
	// WebhookURL is the bot's full URL,
	// https://open.feishu.cn/open-apis/bot/v2/hook/<token> (Feishu) or
	// https://open.larksuite.com/open-apis/bot/v2/hook/<token> (Lark). The
	// token is the secret part; it sits in the path, which secret.URL does
	// not mask, so Bot masks it itself wherever it prints the URL.
	WebhookURL secret.URL
	// Secret is the signing secret ("签名校验"); empty means the bot does
	// not check signatures and requests go unsigned.
	Secret secret.String
	// Keywords are the bot's security keywords. When set, every message
	// part carries one of them in its title and in its text.
	Keywords []string
	// MsgType is the shape messages take; empty means MsgInteractive.
	MsgType MsgType
}

// LogValue keeps the webhook token and the signing secret out of logs while
// still showing which bot a line is about.
func (b Bot) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("webhook_url", b.maskedURL()),
		slog.Bool("signed", !b.Secret.IsZero()),
		slog.Int("keywords", len(b.Keywords)),
		slog.String("msg_type", string(b.msgType())),
	)
}

// String describes the bot with its token masked. Without it, %v would
// print WebhookURL through secret.URL.String, which masks query values only
// and would show Lark's token, a path segment.
func (b Bot) String() string {
	return fmt.Sprintf("lark.Bot{%s, signed: %t, keywords: %d, msg_type: %s}",
		b.maskedURL(), !b.Secret.IsZero(), len(b.Keywords), b.msgType())
}

// GoString masks the token in %#v output too.
func (b Bot) GoString() string { return b.String() }

// maskedURL is the webhook URL with the token, and any query value, masked.
func (b Bot) maskedURL() string {
	raw := b.WebhookURL.Reveal()
	return secret.Redact(secret.MaskURL(raw), tokenOf(raw))
}

func (b Bot) msgType() MsgType {
	if b.MsgType == "" {
		return MsgInteractive
	}
	return b.MsgType
}

// keywords returns the bot's keywords fit for matching: valid UTF-8 and
// non-empty (an empty keyword would match everything and guarantee nothing).
func (b Bot) keywords() []string {
	var kws []string
	for _, k := range b.Keywords {
		if k = fit.Clean(k); k != "" {
			kws = append(kws, k)
		}
	}
	return kws
}

// defuse stops text Tocsin did not write from mentioning anyone. Lark turns
// every <at …></at> tag in a text message or card markdown into a real
// mention, so an alert label holding `<at id=all></at>` would page the
// whole group. A zero-width space after "<" keeps the text as it reads and
// makes it no tag; only the tags render writes itself mention anyone.
func defuse(s string) string {
	var b strings.Builder
	for rest := s; ; {
		i := atTag(rest)
		if i < 0 {
			if b.Len() == 0 {
				return s // the common case: nothing to change, nothing copied
			}
			b.WriteString(rest)
			return b.String()
		}
		b.WriteString(rest[:i+1])
		b.WriteString(zeroWidthSpace)
		rest = rest[i+1:]
	}
}

const zeroWidthSpace = "\u200b"

// atTag returns the index of the first "<at" in s, in any case, or -1.
func atTag(s string) int {
	for i := 0; ; {
		j := strings.IndexByte(s[i:], '<')
		if j < 0 {
			return -1
		}
		i += j
		if i+2 < len(s) && s[i+1]|0x20 == 'a' && s[i+2]|0x20 == 't' {
			return i
		}
		i++
	}
}
