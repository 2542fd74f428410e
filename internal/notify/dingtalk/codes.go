package dingtalk

import (
	"strings"
	"time"

	"github.com/tocsinhq/tocsin/internal/notify"
)

// banPeriod is how long DingTalk blocks a robot that sent more than 20
// messages in a minute.
const banPeriod = 10 * time.Minute

// quotaWait is how long to wait after the organisation's webhook quota ran
// out. The quota is daily or monthly and its reset time is not published;
// an hour keeps messages queued without hammering DingTalk.
const quotaWait = time.Hour

// Hints that several verdicts share.
const (
	banHint         = "DingTalk blocks the robot for 10 minutes after 20 messages in a minute: wait 10 minutes before sending to it again; if this repeats, lower the channel's send budget"
	contentRejected = "DingTalk's moderation refused the message: change the template, or the link it points to"
	badRequest      = "Tocsin sent a request DingTalk cannot read: this is a bug in Tocsin, please report it"
)

var (
	rateLimited = notify.Verdict{Action: notify.Retry, Code: "rate-limited",
		Message: "DingTalk is rate-limiting the robot: more than 20 messages in a minute", Hint: banHint, RetryAfter: banPeriod}
	tokenUnknown = notify.Verdict{Action: notify.Permanent, Code: "token-unknown",
		Message: "DingTalk does not know the robot's access_token",
		Hint:    "the access_token is wrong or the robot was deleted: copy the webhook URL again from the robot's settings in the group"}
	addressRefused = notify.Verdict{Action: notify.Permanent, Code: "address-not-allowed",
		Message: "Tocsin refused to connect: the robot's host resolves to a private, loopback or link-local address",
		Hint:    "if this host is meant to be reached (a proxy, a local DingTalk-compatible server), start tocsin with --allow-hosts naming it"}
	tooLong = notify.Verdict{Action: notify.Shrink, Code: "message-too-long",
		Message: "the message is over DingTalk's 20000-byte limit",
		Hint:    "Tocsin splits messages to fit, so DingTalk measured differently: shorten the template"}
)

// errcodes classifies DingTalk's errcode. 310000 is missing: DingTalk uses
// it for four different security checks, told apart by securityChecks.
// Codes not listed are permanent "platform-error"s.
var errcodes = map[int]notify.Verdict{
	-1: {Action: notify.Retry, Code: "system-busy", Message: "DingTalk is busy"},

	130101: rateLimited, // the form seen in practice
	410100: rateLimited, // the form in the official table
	90030: {Action: notify.Retry, Code: "quota-exceeded",
		Message:    "the organisation has used up its DingTalk webhook call quota",
		Hint:       "DingTalk limits webhook calls per day or month for organisations without a paid plan; Tocsin retries every hour until the quota resets: upgrade the DingTalk plan or send through an app robot",
		RetryAfter: quotaWait},

	460101: tooLong,
	101002: tooLong, // older servers

	300001: tokenUnknown, // older servers
	300005: tokenUnknown, // current servers
	400101: tokenUnknown,
	400102: {Action: notify.Permanent, Code: "robot-disabled", Message: "the robot is disabled in DingTalk",
		Hint: "a group admin must enable the robot again in the group's robot settings"},
	400013: {Action: notify.Permanent, Code: "group-disbanded", Message: "the robot's DingTalk group was disbanded",
		Hint: "point the channel at a robot in a group that exists"},
	400105: {Action: notify.Permanent, Code: "unsupported-message-type", Message: "DingTalk does not support this message type",
		Hint: "choose markdown, actionCard or text for the channel"},
	400106: {Action: notify.Permanent, Code: "robot-not-in-group", Message: "the robot is no longer in the group",
		Hint: "add the robot to the group again and copy its new webhook URL"},

	430101: {Action: notify.Permanent, Code: "content-rejected", Message: "DingTalk refused the message: it links to an unsafe site", Hint: contentRejected},
	430102: {Action: notify.Permanent, Code: "content-rejected", Message: "DingTalk refused the message: inappropriate text", Hint: contentRejected},
	430103: {Action: notify.Permanent, Code: "content-rejected", Message: "DingTalk refused the message: inappropriate image", Hint: contentRejected},
	430104: {Action: notify.Permanent, Code: "content-rejected", Message: "DingTalk refused the message: inappropriate content", Hint: contentRejected},

	40035: {Action: notify.Permanent, Code: "missing-parameter", Message: "DingTalk says a parameter is missing",
		Hint: "check that the webhook URL has its access_token; if it does, this is a bug in Tocsin"},
	43002: {Action: notify.Permanent, Code: "bad-request", Message: "DingTalk wants a POST request", Hint: badRequest},
	43004: {Action: notify.Permanent, Code: "bad-request", Message: "DingTalk refused the Content-Type", Hint: badRequest},
}

// securityChecks tells apart the four failures DingTalk reports as 310000.
// Nothing but errmsg distinguishes them, so this is the one place that
// reads errmsg; it knows the old English texts and the newer
// "description:…;solution:…" Chinese ones, and the first match wins
// (the sign-mismatch text mentions a timestamp, so sign comes first).
var securityChecks = []struct {
	marks []string
	notify.Verdict
}{
	{[]string{"keywords not in content", "关键词不匹配"}, notify.Verdict{Action: notify.Permanent, Code: "keyword-missing",
		Message: "DingTalk refused the message: it lacks the robot's security keyword",
		Hint:    "add the robot's keyword to the channel's keywords, or check its spelling against the robot's security settings"}},
	{[]string{"sign not match", "签名不匹配"}, notify.Verdict{Action: notify.Permanent, Code: "signature-mismatch",
		Message: "DingTalk refused the request signature",
		Hint:    "copy the SEC… secret from the robot's security settings (加签) into the channel"}},
	{[]string{"invalid timestamp", "签名过期"}, notify.Verdict{Action: notify.Permanent, Code: "timestamp-invalid",
		Message: "DingTalk refused the request timestamp",
		Hint:    "this server's clock is off by more than an hour: check NTP"}},
	{[]string{"not in whitelist", "白名单"}, notify.Verdict{Action: notify.Permanent, Code: "ip-not-allowed",
		Message: "DingTalk refused this server's IP address",
		Hint:    "add this server's egress IP to the robot's IP range in its security settings"}},
}

var securityFailed = notify.Verdict{Action: notify.Permanent, Code: "security-check-failed",
	Message: "DingTalk refused the message in a security check",
	Hint:    "compare the channel's keywords, secret and this server's IP with the robot's security settings"}

// classify turns a non-zero errcode and its errmsg into an error.
func classify(errcode int, errmsg string) *notify.Error {
	v, ok := errcodes[errcode]
	switch {
	case errcode == 310000:
		v = securityFailed
		for _, c := range securityChecks {
			if containsAny(strings.ToLower(errmsg), c.marks) {
				v = c.Verdict
				break
			}
		}
	case !ok:
		v = notify.Verdict{Action: notify.Permanent, Code: "platform-error", Message: "DingTalk refused the message",
			Hint: "read DingTalk's message below; the code is not one Tocsin knows"}
	}
	return v.With(errcode, errmsg, nil)
}

// Verdicts on failures that come before or around DingTalk's errcode.
var (
	serverError = notify.Verdict{Action: notify.Retry, Code: "server-error", Message: "DingTalk answered with a server error"}
	// DingTalk has been seen to answer 302 to a robot it is blocking.
	redirected = notify.Verdict{Action: notify.Retry, Code: "rate-limited",
		Message: "DingTalk redirected the request, as it does while it blocks a robot for sending too fast", Hint: banHint, RetryAfter: banPeriod}
	movedPermanently = notify.Verdict{Action: notify.Permanent, Code: "redirected",
		Message: "the webhook URL redirects elsewhere",
		Hint:    "copy the webhook URL again from the robot's settings; it should start with https://oapi.dingtalk.com/robot/send"}
	httpStatus = notify.Verdict{Action: notify.Permanent, Code: "http-status",
		Message: "DingTalk refused the request with an unexpected HTTP status",
		Hint:    "check that the webhook URL is the robot's, from its settings in the group"}
	notDingTalk = notify.Verdict{Action: notify.Retry, Code: "unexpected-response",
		Message: "the answer was not DingTalk's: HTTP 200 without an errcode",
		Hint:    "if this lasts, check that the webhook URL points at DingTalk and that no proxy answers in its place"}
	badWebhook = notify.Verdict{Action: notify.Permanent, Code: "invalid-webhook-url", Message: "the robot's webhook URL is not usable",
		Hint: "copy the webhook URL again from the robot's settings: https://oapi.dingtalk.com/robot/send?access_token=…"}
)
