// Package dingtalk sends Tocsin's messages through a DingTalk custom group
// robot (the webhook kind): it signs each request, shapes a notify.Message
// into DingTalk's payloads (markdown, actionCard, text, link, feedCard) so
// that the robot's keyword is always present, @ mentions really notify and
// no request body passes DingTalk's 20000-byte limit, and it reads DingTalk's
// answer — which says "HTTP 200" even when it refused the message — into a
// classified *notify.Error.
//
// The package keeps no state between calls: a Robot is one channel's
// settings, a Client is the shared transport. Validating settings as a person
// types them is internal/channel's job; rate budgets and retries belong to
// the outbox in internal/notify.
package dingtalk

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/notify/fit"
	"github.com/tocsinhq/tocsin/internal/secret"
)

// MsgType is a DingTalk message type, spelled as DingTalk's "msgtype".
type MsgType string

// Message types of the custom robot webhook.
const (
	MsgMarkdown   MsgType = "markdown"
	MsgActionCard MsgType = "actionCard"
	MsgText       MsgType = "text"
	MsgLink       MsgType = "link"
	MsgFeedCard   MsgType = "feedCard"
)

// Robot is one DingTalk custom group robot as a channel configures it.
type Robot struct {
	// WebhookURL is the robot's full URL,
	// https://oapi.dingtalk.com/robot/send?access_token=…; any stale
	// timestamp and sign parameters on it are replaced on every request.
	WebhookURL secret.URL
	// Secret is the signing secret ("SEC…"); empty means the robot does
	// not use signing and requests go unsigned.
	Secret secret.String
	// Keywords are the robot's security keywords. When set, every message
	// part carries one of them in its title and in its body.
	Keywords []string
	// AtMobiles, AtUserIDs and AtAll are the channel's default mentions,
	// merged with each message's own.
	AtMobiles []string
	AtUserIDs []string
	AtAll     bool
	// MsgType is the shape messages take; empty means MsgMarkdown.
	MsgType MsgType
}

// LogValue keeps the webhook token and the signing secret out of logs while
// still showing which robot a line is about.
func (r Robot) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("webhook_url", r.WebhookURL.String()),
		slog.Bool("signed", !r.Secret.IsZero()),
		slog.Int("keywords", len(r.Keywords)),
		slog.String("msg_type", string(r.msgType())),
	)
}

func (r Robot) msgType() MsgType {
	if r.MsgType == "" {
		return MsgMarkdown
	}
	return r.MsgType
}

// keywords returns the robot's keywords fit for matching: valid UTF-8 and
// non-empty (an empty keyword would match everything and guarantee nothing).
func (r Robot) keywords() []string {
	var kws []string
	for _, k := range r.Keywords {
		if k = fit.Clean(k); k != "" {
			kws = append(kws, k)
		}
	}
	return kws
}

// mentions merges the robot's default mentions with a message's own, in that
// order, without duplicates or blanks.
// mentions merges the robot's own mention lists with the message's, and
// turns each person into the identity DingTalk notifies by: their user ID,
// else their mobile. People with neither are named in notes, so a person
// who was not paged is never dropped in silence.
func (r Robot) mentions(m notify.Mentions) (_ notify.Mentions, notes []string) {
	var mobiles, userIDs []string
	for _, p := range m.People {
		switch {
		case strings.TrimSpace(p.DingTalkUserID) != "":
			userIDs = append(userIDs, p.DingTalkUserID)
		case strings.TrimSpace(p.Mobile) != "":
			mobiles = append(mobiles, p.Mobile)
		default:
			notes = append(notes, fmt.Sprintf("mentions: %s has no mobile or DingTalk user ID, so DingTalk could not notify them", p.Name))
		}
	}
	return notify.Mentions{
		Mobiles: merge(r.AtMobiles, m.Mobiles, mobiles),
		UserIDs: merge(r.AtUserIDs, m.UserIDs, userIDs),
		All:     r.AtAll || m.All,
	}, notes
}

func merge(lists ...[]string) []string {
	var out []string
	seen := map[string]bool{}
	for _, list := range lists {
		for _, v := range list {
			v = strings.TrimSpace(fit.Clean(v))
			if v != "" && !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	return out
}
