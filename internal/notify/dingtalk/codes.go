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

// Hints that several verdicts share.
const (
	banHint         = "DingTalk blocks the robot for 10 minutes after 20 messages in a minute: wait 10 minutes before sending to it again; if this repeats, lower the channel's send budget"
	contentRejected = "DingTalk's moderation refused the message: change the template, or the link it points to"
	badRequest      = "Tocsin sent a request DingTalk cannot read: this is a bug in Tocsin, please report it"
)

var (
	rateLimited = verdict{notify.Retry, "rate-limited",
		"DingTalk is rate-limiting the robot: more than 20 messages in a minute", banHint, banPeriod}
	tokenUnknown = verdict{notify.Permanent, "token-unknown",
		"DingTalk does not know the robot's access_token",
		"the access_token is wrong or the robot was deleted: copy the webhook URL again from the robot's settings in the group",
		0}
	addressRefused = verdict{notify.Permanent, "address-not-allowed",
		"Tocsin refused to connect: the robot's host resolves to a private, loopback or link-local address",
		"if this host is meant to be reached (a proxy, a local DingTalk-compatible server), start tocsin with --allow-hosts naming it",
		0}
	tooLong = verdict{notify.Shrink, "message-too-long",
		"the message is over DingTalk's 20000-byte limit",
		"Tocsin splits messages to fit, so DingTalk measured differently: shorten the template",
		0}
)

// errcodes classifies DingTalk's errcode. 310000 is missing: DingTalk uses
// it for four different security checks, told apart by securityChecks.
// Codes not listed are permanent "platform-error"s.
var errcodes = map[int]verdict{
	-1: {notify.Retry, "system-busy", "DingTalk is busy", "", 0},

	130101: rateLimited, // the form seen in practice
	410100: rateLimited, // the form in the official table
	90030: {notify.Retry, "quota-exceeded",
		"the organisation has used up its DingTalk webhook call quota",
		"DingTalk limits webhook calls per day or month for organisations without a paid plan; Tocsin retries every hour until the quota resets: upgrade the DingTalk plan or send through an app robot",
		quotaWait},

	460101: tooLong,
	101002: tooLong, // older servers

	300001: tokenUnknown, // older servers
	300005: tokenUnknown, // current servers
	400101: tokenUnknown,
	400102: {notify.Permanent, "robot-disabled", "the robot is disabled in DingTalk",
		"a group admin must enable the robot again in the group's robot settings", 0},
	400013: {notify.Permanent, "group-disbanded", "the robot's DingTalk group was disbanded",
		"point the channel at a robot in a group that exists", 0},
	400105: {notify.Permanent, "unsupported-message-type", "DingTalk does not support this message type",
		"choose markdown, actionCard or text for the channel", 0},
	400106: {notify.Permanent, "robot-not-in-group", "the robot is no longer in the group",
		"add the robot to the group again and copy its new webhook URL", 0},

	430101: {notify.Permanent, "content-rejected", "DingTalk refused the message: it links to an unsafe site", contentRejected, 0},
	430102: {notify.Permanent, "content-rejected", "DingTalk refused the message: inappropriate text", contentRejected, 0},
	430103: {notify.Permanent, "content-rejected", "DingTalk refused the message: inappropriate image", contentRejected, 0},
	430104: {notify.Permanent, "content-rejected", "DingTalk refused the message: inappropriate content", contentRejected, 0},

	40035: {notify.Permanent, "missing-parameter", "DingTalk says a parameter is missing",
		"check that the webhook URL has its access_token; if it does, this is a bug in Tocsin", 0},
	43002: {notify.Permanent, "bad-request", "DingTalk wants a POST request", badRequest, 0},
	43004: {notify.Permanent, "bad-request", "DingTalk refused the Content-Type", badRequest, 0},
}

// securityChecks tells apart the four failures DingTalk reports as 310000.
// Nothing but errmsg distinguishes them, so this is the one place that
// reads errmsg; it knows the old English texts and the newer
// "description:…;solution:…" Chinese ones, and the first match wins
// (the sign-mismatch text mentions a timestamp, so sign comes first).
var securityChecks = []struct {
	marks []string
	verdict
}{
	{[]string{"keywords not in content", "关键词不匹配"}, verdict{notify.Permanent, "keyword-missing",
		"DingTalk refused the message: it lacks the robot's security keyword",
		"add the robot's keyword to the channel's keywords, or check its spelling against the robot's security settings", 0}},
	{[]string{"sign not match", "签名不匹配"}, verdict{notify.Permanent, "signature-mismatch",
		"DingTalk refused the request signature",
		"copy the SEC… secret from the robot's security settings (加签) into the channel", 0}},
	{[]string{"invalid timestamp", "签名过期"}, verdict{notify.Permanent, "timestamp-invalid",
		"DingTalk refused the request timestamp",
		"this server's clock is off by more than an hour: check NTP", 0}},
	{[]string{"not in whitelist", "白名单"}, verdict{notify.Permanent, "ip-not-allowed",
		"DingTalk refused this server's IP address",
		"add this server's egress IP to the robot's IP range in its security settings", 0}},
}

var securityFailed = verdict{notify.Permanent, "security-check-failed",
	"DingTalk refused the message in a security check",
	"compare the channel's keywords, secret and this server's IP with the robot's security settings", 0}

// classify turns a non-zero errcode and its errmsg into an error.
func classify(errcode int, errmsg string) *notify.Error {
	v, ok := errcodes[errcode]
	switch {
	case errcode == 310000:
		v = securityFailed
		for _, c := range securityChecks {
			if containsAny(strings.ToLower(errmsg), c.marks) {
				v = c.verdict
				break
			}
		}
	case !ok:
		v = verdict{notify.Permanent, "platform-error", "DingTalk refused the message",
			"read DingTalk's message below; the code is not one Tocsin knows", 0}
	}
	return v.with(errcode, errmsg, nil)
}

// Verdicts on failures that come before or around DingTalk's errcode.
var (
	serverError = verdict{notify.Retry, "server-error", "DingTalk answered with a server error", "", 0}
	// DingTalk has been seen to answer 302 to a robot it is blocking.
	redirected = verdict{notify.Retry, "rate-limited",
		"DingTalk redirected the request, as it does while it blocks a robot for sending too fast", banHint, banPeriod}
	movedPermanently = verdict{notify.Permanent, "redirected",
		"the webhook URL redirects elsewhere",
		"copy the webhook URL again from the robot's settings; it should start with https://oapi.dingtalk.com/robot/send", 0}
	httpStatus = verdict{notify.Permanent, "http-status",
		"DingTalk refused the request with an unexpected HTTP status",
		"check that the webhook URL is the robot's, from its settings in the group", 0}
	notDingTalk = verdict{notify.Retry, "unexpected-response",
		"the answer was not DingTalk's: HTTP 200 without an errcode",
		"if this lasts, check that the webhook URL points at DingTalk and that no proxy answers in its place", 0}
	network = verdict{notify.Retry, "network", "could not reach DingTalk", "", 0}
	timeout = verdict{notify.Retry, "timeout", "DingTalk did not answer in time", "", 0}
	// Canceled means Tocsin itself gave up (shutting down, say): the
	// message was maybe not delivered and should go again later.
	canceled   = verdict{notify.Retry, "canceled", "sending was canceled", "", 0}
	badWebhook = verdict{notify.Permanent, "invalid-webhook-url", "the robot's webhook URL is not usable",
		"copy the webhook URL again from the robot's settings: https://oapi.dingtalk.com/robot/send?access_token=…", 0}
)
