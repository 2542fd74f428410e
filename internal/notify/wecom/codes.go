package wecom

import (
	"strings"
	"time"

	"github.com/tocsinhq/tocsin/internal/notify"
)

// rateWindow is WeCom's rate-limit window. WeCom counts every request to a
// robot, refused ones included, over a rolling minute: a minute after a
// refusal, every request before it has left the window.
const rateWindow = time.Minute

// badRequest is the hint for refusals only a wrong request explains.
const badRequest = "Tocsin sent a request WeCom cannot read: this is a bug in Tocsin, please report it"

var (
	rateLimited = notify.Verdict{Action: notify.Retry, Code: "rate-limited",
		Message:    "WeCom is rate-limiting the robot: more than 20 messages in a minute",
		Hint:       "WeCom counts refused messages too, so Tocsin waits a whole minute; if this repeats, lower the channel's send budget, or check whether something else posts through the same robot",
		RetryAfter: rateWindow}
	tooLong = notify.Verdict{Action: notify.Shrink, Code: "message-too-long",
		Message: "the message is over WeCom's size limit",
		Hint:    "Tocsin splits messages to fit, so WeCom measured differently: shorten the template"}
	// Code as DingTalk's unknown token: the kind is the same, an unknown
	// robot credential, and the API and metrics read kinds, not platforms.
	tokenUnknown = notify.Verdict{Action: notify.Permanent, Code: "token-unknown",
		Message: "WeCom does not know the robot's webhook key",
		Hint:    "the key is wrong, or the robot was removed from its group: copy the webhook URL again from the robot's settings in the group; it looks like https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…"}
	badParameter = notify.Verdict{Action: notify.Permanent, Code: "bad-request",
		Message: "WeCom refused a parameter of the request", Hint: badRequest}
	addressRefused = notify.Verdict{Action: notify.Permanent, Code: "address-not-allowed",
		Message: "Tocsin refused to connect: the robot's host resolves to a private, loopback or link-local address",
		Hint:    "if this host is meant to be reached (a proxy, a local WeCom-compatible server), start tocsin with --allow-hosts naming it"}
)

// errcodes classifies WeCom's errcode (chat-apis §5.2). 40058 is missing:
// WeCom uses it both for a content over its limit and for other bad
// parameters, told apart by tooLongMark. Codes not listed are permanent
// "platform-error"s.
var errcodes = map[int]notify.Verdict{
	-1:    {Action: notify.Retry, Code: "system-busy", Message: "WeCom is busy"},
	45009: rateLimited,
	45033: {Action: notify.Retry, Code: "concurrency-limited", Message: "WeCom refused: too many requests at the same time"},

	45002: tooLong,

	93000: tokenUnknown,
	40008: {Action: notify.Permanent, Code: "unsupported-message-type", Message: "WeCom does not accept this message type",
		Hint: "if the channel uses markdown_v2, choose markdown: this WeCom server may not have it yet; otherwise this is a bug in Tocsin, please report it"},
	44004: {Action: notify.Permanent, Code: "empty-message", Message: "WeCom says the message is empty",
		Hint: "check the template: it may render nothing; if it does not, WeCom could not read the request and this is a bug in Tocsin, please report it"},
	40033: {Action: notify.Permanent, Code: "content-rejected", Message: "WeCom refused characters in the message",
		Hint: "remove control characters or unusual symbols from the template"},
	40035: badParameter,
	40063: {Action: notify.Permanent, Code: "bad-request", Message: "WeCom says a parameter is empty", Hint: badRequest},
}

// tooLongMark tells a 40058 about length ("markdown.content exceed max
// length 4096. invalid Request Parameter") from the other 40058s. Nothing
// but errmsg distinguishes them, so this is the one place that reads it.
const tooLongMark = "exceed max length"

// classify turns a non-zero errcode and its errmsg into an error.
func classify(errcode int, errmsg string) *notify.Error {
	v, ok := errcodes[errcode]
	switch {
	case errcode == 40058:
		v = badParameter
		if strings.Contains(errmsg, tooLongMark) {
			v = tooLong
		}
	case !ok:
		v = notify.Verdict{Action: notify.Permanent, Code: "platform-error", Message: "WeCom refused the message",
			Hint: "read WeCom's message below; the code is not one Tocsin knows, and its link explains it"}
	}
	return v.With(errcode, errmsg, nil)
}

// Verdicts on failures that come before or around WeCom's errcode.
var (
	serverError = notify.Verdict{Action: notify.Retry, Code: "server-error", Message: "WeCom answered with a server error"}
	redirected  = notify.Verdict{Action: notify.Permanent, Code: "redirected",
		Message: "the webhook URL redirects elsewhere",
		Hint:    "copy the webhook URL again from the robot's settings; it should start with https://qyapi.weixin.qq.com/cgi-bin/webhook/send"}
	httpStatus = notify.Verdict{Action: notify.Permanent, Code: "http-status",
		Message: "WeCom refused the request with an unexpected HTTP status",
		Hint:    "check that the webhook URL is the robot's, from its settings in the group"}
	notWeCom = notify.Verdict{Action: notify.Retry, Code: "unexpected-response",
		Message: "the answer was not WeCom's: HTTP 200 without an errcode",
		Hint:    "if this lasts, check that the webhook URL points at WeCom and that no proxy answers in its place"}
	badWebhook = notify.Verdict{Action: notify.Permanent, Code: "invalid-webhook-url", Message: "the robot's webhook URL is not usable",
		Hint: "copy the webhook URL again from the robot's settings: https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…"}
	badPayload = notify.Verdict{Action: notify.Permanent, Code: "internal",
		Message: "the payload is not one Tocsin can send: this is a bug in Tocsin", Hint: "please report it"}
)
