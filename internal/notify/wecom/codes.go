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

// verdict is what Tocsin makes of one kind of refusal: what to do and what
// to tell a person.
type verdict struct {
	action     notify.Action
	code       string
	message    string
	hint       string
	retryAfter time.Duration
}

func (v verdict) with(platformCode int, platformMessage string, err error) *notify.Error {
	return &notify.Error{
		Action:          v.action,
		Code:            v.code,
		PlatformCode:    platformCode,
		PlatformMessage: platformMessage,
		Message:         v.message,
		Hint:            v.hint,
		RetryAfter:      v.retryAfter,
		Err:             err,
	}
}

// badRequest is the hint for refusals only a wrong request explains.
const badRequest = "Tocsin sent a request WeCom cannot read: this is a bug in Tocsin, please report it"

var (
	rateLimited = verdict{notify.Retry, "rate-limited",
		"WeCom is rate-limiting the robot: more than 20 messages in a minute",
		"WeCom counts refused messages too, so Tocsin waits a whole minute; if this repeats, lower the channel's send budget, or check whether something else posts through the same robot",
		rateWindow}
	tooLong = verdict{notify.Shrink, "message-too-long",
		"the message is over WeCom's size limit",
		"Tocsin splits messages to fit, so WeCom measured differently: shorten the template", 0}
	// Code as DingTalk's unknown token: the kind is the same, an unknown
	// robot credential, and the API and metrics read kinds, not platforms.
	tokenUnknown = verdict{notify.Permanent, "token-unknown",
		"WeCom does not know the robot's webhook key",
		"the key is wrong, or the robot was removed from its group: copy the webhook URL again from the robot's settings in the group; it looks like https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…",
		0}
	badParameter = verdict{notify.Permanent, "bad-request",
		"WeCom refused a parameter of the request", badRequest, 0}
	addressRefused = verdict{notify.Permanent, "address-not-allowed",
		"Tocsin refused to connect: the robot's host resolves to a private, loopback or link-local address",
		"if this host is meant to be reached (a proxy, a local WeCom-compatible server), start tocsin with --allow-hosts naming it",
		0}
)

// errcodes classifies WeCom's errcode (chat-apis §5.2). 40058 is missing:
// WeCom uses it both for a content over its limit and for other bad
// parameters, told apart by tooLongMark. Codes not listed are permanent
// "platform-error"s.
var errcodes = map[int]verdict{
	-1:    {notify.Retry, "system-busy", "WeCom is busy", "", 0},
	45009: rateLimited,
	45033: {notify.Retry, "concurrency-limited", "WeCom refused: too many requests at the same time", "", 0},

	45002: tooLong,

	93000: tokenUnknown,
	40008: {notify.Permanent, "unsupported-message-type", "WeCom does not accept this message type",
		"if the channel uses markdown_v2, choose markdown: this WeCom server may not have it yet; otherwise this is a bug in Tocsin, please report it", 0},
	44004: {notify.Permanent, "empty-message", "WeCom says the message is empty",
		"check the template: it may render nothing; if it does not, WeCom could not read the request and this is a bug in Tocsin, please report it", 0},
	40033: {notify.Permanent, "content-rejected", "WeCom refused characters in the message",
		"remove control characters or unusual symbols from the template", 0},
	40035: badParameter,
	40063: {notify.Permanent, "bad-request", "WeCom says a parameter is empty", badRequest, 0},
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
		v = verdict{notify.Permanent, "platform-error", "WeCom refused the message",
			"read WeCom's message below; the code is not one Tocsin knows, and its link explains it", 0}
	}
	return v.with(errcode, errmsg, nil)
}

// Verdicts on failures that come before or around WeCom's errcode.
var (
	serverError = verdict{notify.Retry, "server-error", "WeCom answered with a server error", "", 0}
	redirected  = verdict{notify.Permanent, "redirected",
		"the webhook URL redirects elsewhere",
		"copy the webhook URL again from the robot's settings; it should start with https://qyapi.weixin.qq.com/cgi-bin/webhook/send", 0}
	httpStatus = verdict{notify.Permanent, "http-status",
		"WeCom refused the request with an unexpected HTTP status",
		"check that the webhook URL is the robot's, from its settings in the group", 0}
	notWeCom = verdict{notify.Retry, "unexpected-response",
		"the answer was not WeCom's: HTTP 200 without an errcode",
		"if this lasts, check that the webhook URL points at WeCom and that no proxy answers in its place", 0}
	network = verdict{notify.Retry, "network", "could not reach WeCom", "", 0}
	timeout = verdict{notify.Retry, "timeout", "WeCom did not answer in time", "", 0}
	// Canceled means Tocsin itself gave up (shutting down, say): the
	// message was maybe not delivered and should go again later.
	canceled   = verdict{notify.Retry, "canceled", "sending was canceled", "", 0}
	badWebhook = verdict{notify.Permanent, "invalid-webhook-url", "the robot's webhook URL is not usable",
		"copy the webhook URL again from the robot's settings: https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…", 0}
	badPayload = verdict{notify.Permanent, "internal",
		"the payload is not one Tocsin can send: this is a bug in Tocsin", "please report it", 0}
)
