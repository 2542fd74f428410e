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
	rateLimited = notify.Verdict{Action: notify.Retry, Code: "rate-limited",
		Message:    "Lark is rate-limiting the bot: more than 5 messages in a second or 100 in a minute",
		Hint:       "Tocsin retries after a minute; if this repeats, lower the channel's send budget or spread alerts over more bots",
		RetryAfter: rateWindow}
	tooLong = notify.Verdict{Action: notify.Shrink, Code: "message-too-long",
		Message: "the message is over Lark's 20 KB limit",
		Hint:    "Tocsin splits messages to fit, so Lark measured differently: shorten the template"}
	badRequest = notify.Verdict{Action: notify.Permanent, Code: "bad-request",
		Message: "Lark cannot read the request",
		Hint:    "Tocsin sent a body Lark refused as malformed: this is a bug in Tocsin, please report it (or a proxy changed the body)"}
	badWebhook = notify.Verdict{Action: notify.Permanent, Code: "invalid-webhook-url", Message: "the bot's webhook URL is not usable",
		Hint: "copy the webhook URL again from the custom bot's settings in the group: https://open.feishu.cn/open-apis/bot/v2/hook/… (or open.larksuite.com for Lark)"}
)

// codes classifies Lark's code. 9499 is missing: Lark uses it for a
// malformed body, an oversized one and, by some reports, throttling, told
// apart by badRequestVerdict. Codes not listed are permanent
// "platform-error"s.
var codes = map[int]notify.Verdict{
	codeThrottled: rateLimited,
	codeTooLarge:  tooLong,
	19001: {Action: notify.Permanent, Code: "token-unknown",
		Message: "Lark does not know the bot's webhook token",
		Hint:    "the token is wrong or the bot was removed from the group: copy the webhook URL again from the custom bot's settings"},
	19002: {Action: notify.Permanent, Code: "invalid-parameter",
		Message: "Lark refused a parameter of the request",
		Hint:    "read Lark's message below; check the webhook URL, and if it is right this is a bug in Tocsin"},
	19007: {Action: notify.Permanent, Code: "robot-disabled",
		Message: "the bot is disabled in Lark",
		Hint:    "a group admin must enable the custom bot again in the group's bot settings"},
	// Lark does not say which of the two failed.
	19021: {Action: notify.Permanent, Code: "signature-mismatch",
		Message: "Lark refused the request signature or its timestamp",
		Hint:    "copy the signing secret (签名校验) from the custom bot's security settings into the channel; if it is right, this server's clock is more than an hour off: check NTP"},
	19022: {Action: notify.Permanent, Code: "ip-not-allowed",
		Message: "Lark refused this server's IP address",
		Hint:    "add this server's egress IP to the custom bot's IP allowlist in its security settings"},
	19024: {Action: notify.Permanent, Code: "keyword-missing",
		Message: "Lark refused the message: it lacks the bot's security keyword",
		Hint:    "add the bot's keyword to the channel's keywords, or check its spelling against the custom bot's security settings"},
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
func badRequestVerdict(msg string, sent int) notify.Verdict {
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
		v = notify.Verdict{Action: notify.Permanent, Code: "platform-error", Message: "Lark refused the message",
			Hint: "read Lark's message below; the code is not one Tocsin knows"}
	}
	return v.With(code, msg, nil)
}

// Verdicts on failures that come before or around Lark's code.
var (
	serverError = notify.Verdict{Action: notify.Retry, Code: "server-error", Message: "Lark answered with a server error"}
	redirected  = notify.Verdict{Action: notify.Permanent, Code: "redirected",
		Message: "the webhook URL redirects elsewhere",
		Hint:    "copy the webhook URL again from the custom bot's settings; it should start with https://open.feishu.cn/open-apis/bot/v2/hook/ or https://open.larksuite.com/open-apis/bot/v2/hook/"}
	httpStatus = notify.Verdict{Action: notify.Permanent, Code: "http-status",
		Message: "Lark refused the request with an unexpected HTTP status",
		Hint:    "check that the webhook URL is the custom bot's, from its settings in the group"}
	notLark = notify.Verdict{Action: notify.Retry, Code: "unexpected-response",
		Message: "the answer was not Lark's: HTTP 200 without a code",
		Hint:    "if this lasts, check that the webhook URL points at Lark and that no proxy answers in its place"}
	addressRefused = notify.Verdict{Action: notify.Permanent, Code: "address-not-allowed",
		Message: "Tocsin refused to connect: the bot's host resolves to a private, loopback or link-local address",
		Hint:    "if this host is meant to be reached (a proxy, a local Lark-compatible server), start tocsin with --allow-hosts naming it"}
)
