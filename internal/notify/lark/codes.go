package lark

import (
	"strings"
	"time"

	"github.com/tocsinhq/tocsin/internal/notify"
)

// rateWindow is how long to wait after Lark throttled a bot: its limits are
// 5 requests a second and 100 a minute, so after a minute both have room
// again whichever was hit.
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

// The error codes Lark answers with (chat-apis §4.3). Codes that mean the
// same thing on every platform use the same notify.Error Code, so metrics
// and the API can count keyword misses or throttling across platforms.
const (
	codeBadRequest = 9499     // malformed or oversized body; also seen for throttling
	codeThrottled  = 11232    // rate limited
	codeTooLarge   = 19036    // "exceeds the size limit of 30KB" (2021)
	codeNotJSON    = 99991300 // the body is not JSON
	codeNoRoute    = 99991201 // "resource not find": a wrong path
)

var (
	rateLimited = verdict{notify.Retry, "rate-limited",
		"Lark is rate-limiting the bot: more than 5 messages in a second or 100 in a minute",
		"Tocsin retries after a minute; if this repeats, lower the channel's send budget or spread alerts over more bots",
		rateWindow}
	tooLong = verdict{notify.Shrink, "message-too-long",
		"the message is over Lark's 20 KB limit",
		"Tocsin splits messages to fit, so Lark measured differently: shorten the template",
		0}
	badRequest = verdict{notify.Permanent, "bad-request",
		"Lark cannot read the request",
		"Tocsin sent a body Lark refused as malformed: this is a bug in Tocsin, please report it (or a proxy changed the body)",
		0}
	badWebhook = verdict{notify.Permanent, "invalid-webhook-url", "the bot's webhook URL is not usable",
		"copy the webhook URL again from the custom bot's settings in the group: https://open.feishu.cn/open-apis/bot/v2/hook/… (or open.larksuite.com for Lark)",
		0}
)

// codes classifies Lark's code. 9499 is missing: Lark uses it for a
// malformed body, an oversized one and, by some reports, throttling, told
// apart by badRequestVerdict. Codes not listed are permanent
// "platform-error"s.
var codes = map[int]verdict{
	codeThrottled: rateLimited,
	codeTooLarge:  tooLong,
	19001: {notify.Permanent, "token-unknown",
		"Lark does not know the bot's webhook token",
		"the token is wrong or the bot was removed from the group: copy the webhook URL again from the custom bot's settings",
		0},
	19002: {notify.Permanent, "invalid-parameter",
		"Lark refused a parameter of the request",
		"read Lark's message below; check the webhook URL, and if it is right this is a bug in Tocsin",
		0},
	19007: {notify.Permanent, "robot-disabled",
		"the bot is disabled in Lark",
		"a group admin must enable the custom bot again in the group's bot settings",
		0},
	// Lark does not say which of the two failed.
	19021: {notify.Permanent, "signature-mismatch",
		"Lark refused the request signature or its timestamp",
		"copy the signing secret (签名校验) from the custom bot's security settings into the channel; if it is right, this server's clock is more than an hour off: check NTP",
		0},
	19022: {notify.Permanent, "ip-not-allowed",
		"Lark refused this server's IP address",
		"add this server's egress IP to the custom bot's IP allowlist in its security settings",
		0},
	19024: {notify.Permanent, "keyword-missing",
		"Lark refused the message: it lacks the bot's security keyword",
		"add the bot's keyword to the channel's keywords, or check its spelling against the custom bot's security settings",
		0},
	codeNotJSON: badRequest,
	codeNoRoute: badWebhook,
}

// tooManyRequests marks the 9499 that means throttling; Lark's message is
// the only thing that tells it from a bad body.
const tooManyRequests = "too many request"

// badRequestVerdict reads Lark's 9499. Its "Bad Request" is the same for a
// body over 20 KB and a malformed one, so the size of the body Tocsin sent
// decides: one under half the limit cannot be over it by any count, and
// shrinking it would not help.
func badRequestVerdict(msg string, sent int) verdict {
	switch {
	case strings.Contains(strings.ToLower(msg), tooManyRequests):
		return rateLimited
	case sent > MaxBodyBytes/2:
		return tooLong
	}
	return badRequest
}

// classify turns a non-zero code and its message into an error. sent is
// the size of the request body that drew the answer.
func classify(code int, msg string, sent int) *notify.Error {
	v, ok := codes[code]
	switch {
	case code == codeBadRequest:
		v = badRequestVerdict(msg, sent)
	case !ok:
		v = verdict{notify.Permanent, "platform-error", "Lark refused the message",
			"read Lark's message below; the code is not one Tocsin knows", 0}
	}
	return v.with(code, msg, nil)
}

// Verdicts on failures that come before or around Lark's code.
var (
	serverError = verdict{notify.Retry, "server-error", "Lark answered with a server error", "", 0}
	redirected  = verdict{notify.Permanent, "redirected",
		"the webhook URL redirects elsewhere",
		"copy the webhook URL again from the custom bot's settings; it should start with https://open.feishu.cn/open-apis/bot/v2/hook/ or https://open.larksuite.com/open-apis/bot/v2/hook/",
		0}
	httpStatus = verdict{notify.Permanent, "http-status",
		"Lark refused the request with an unexpected HTTP status",
		"check that the webhook URL is the custom bot's, from its settings in the group",
		0}
	notLark = verdict{notify.Retry, "unexpected-response",
		"the answer was not Lark's: HTTP 200 without a code",
		"if this lasts, check that the webhook URL points at Lark and that no proxy answers in its place",
		0}
	network = verdict{notify.Retry, "network", "could not reach Lark", "", 0}
	timeout = verdict{notify.Retry, "timeout", "Lark did not answer in time", "", 0}
	// Canceled means Tocsin itself gave up (shutting down, say): the
	// message was maybe not delivered and should go again later.
	canceled       = verdict{notify.Retry, "canceled", "sending was canceled", "", 0}
	addressRefused = verdict{notify.Permanent, "address-not-allowed",
		"Tocsin refused to connect: the bot's host resolves to a private, loopback or link-local address",
		"if this host is meant to be reached (a proxy, a local Lark-compatible server), start tocsin with --allow-hosts naming it",
		0}
)
