package dingtalkapp

import (
	"net/http"
	"strings"
	"time"

	"github.com/tocsinhq/tocsin/internal/notify"
)

// How long to wait after DingTalk rate-limited the app. Its thresholds are
// not published (chat-apis §2.5, §2.6): a per-second gateway quota is over
// within seconds; the robot's own limits are reported per minute by the
// clients that met them.
const (
	qpsWait  = 2 * time.Second
	sendWait = time.Minute
)

// Hints that several verdicts share.
const (
	credentialsHint = "copy the Client ID and Client Secret again from the app's Credentials page in the DingTalk developer console; a secret that was reset there must be replaced here too"
	bugHint         = "Tocsin sent a request DingTalk cannot read: this is a bug in Tocsin, please report it"
	rateHint        = "DingTalk does not publish the app robot's limits: if this repeats, lower the channel's send budget"
)

// Refusals the client checks for by Code, not only reports.
var (
	// authFailed: DingTalk refused a token it had just issued, or the
	// call's token twice in a row.
	authFailed = notify.Verdict{Action: notify.Permanent, Code: "app-auth-failed",
		Message: "DingTalk refused the app's access token even after fetching a fresh one", Hint: credentialsHint}
	// userIDsRefused is the one refusal about a batch's users rather
	// than the app or the message: the other batches may still go.
	userIDsRefused = notify.Verdict{Action: notify.Permanent, Code: "user-ids-invalid",
		Message: "DingTalk refused the list of user IDs",
		Hint:    "user IDs are DingTalk staff IDs (userid) from the organisation's address book, not mobile numbers, union IDs or names"}
)

var (
	credentialsRefused = notify.Verdict{Action: notify.Permanent, Code: "app-auth-failed",
		Message: "DingTalk refused the app's Client ID or Client Secret", Hint: credentialsHint}
	robotCodeRefused = notify.Verdict{Action: notify.Permanent, Code: "robot-code-invalid",
		Message: "DingTalk does not accept the robot code for this app",
		Hint:    "the robot code must be this app's own robot, shown on the app's robot page in the developer console; for an internal app it is usually the Client ID, which Tocsin uses when the robot code is left empty. For a group, the robot must also have been added to it"}
	badRequest = notify.Verdict{Action: notify.Permanent, Code: "bad-request",
		Message: "DingTalk cannot read the request Tocsin sent", Hint: bugHint}
	conversationRefused = notify.Verdict{Action: notify.Permanent, Code: "conversation-invalid",
		Message: "DingTalk does not know the group's openConversationId",
		Hint:    "copy the group's openConversationId (cid…) again, and check that the app's robot has been added to the group"}
	robotStopped = notify.Verdict{Action: notify.Permanent, Code: "robot-disabled", Message: "the app's robot is stopped",
		Hint: "enable the robot again on the app's robot page in the developer console and publish the app"}
	permissionDenied = notify.Verdict{Action: notify.Permanent, Code: "permission-denied",
		Message: "DingTalk denied the app access to the API",
		Hint:    "grant the app the robot messaging permissions in the developer console's permission management, and if the app has an IP allowlist add this server's egress IP to it"}
	tooFast = notify.Verdict{Action: notify.Retry, Code: "rate-limited",
		Message: "DingTalk is rate-limiting the app robot", Hint: rateHint, RetryAfter: sendWait}
	qpsLimited = notify.Verdict{Action: notify.Retry, Code: "rate-limited",
		Message: "DingTalk's gateway is limiting the app's calls per second", Hint: rateHint, RetryAfter: qpsWait}
	unknownCode = notify.Verdict{Action: notify.Permanent, Code: "platform-error", Message: "DingTalk refused the request",
		Hint: "read DingTalk's message below; the code is not one Tocsin knows"}
)

// codes classifies the app API's error codes (chat-apis §2.5). Codes not
// listed fall back on their prefix (prefixes), then on the HTTP status.
var codes = map[string]notify.Verdict{
	// DingTalk answers 400 (sometimes 401) for a token that is missing,
	// expired or revoked. The client fetches a token and tries once more
	// before it reports this.
	"InvalidAuthentication": authFailed,
	// The token endpoint's answer to a wrong Client ID or Client Secret
	// (seen in DingTalk-Real-AI/dingtalk-workspace-cli#919).
	"invalidClientIdOrSecret": credentialsRefused,

	"invalidParameter.robotCode.empty":    robotCodeRefused,
	"invalidParameter.robotCode.auth":     robotCodeRefused,
	"invalidParameter.robotCode.notExsit": robotCodeRefused, // sic
	"invalidParameter.userIds.empty":      userIDsRefused,
	"invalidParameter.userIds.overMax":    userIDsRefused,
	"invalidParameter.msgKey.empty":       badRequest,
	"invalidParameter.msgKey.invalid":     badRequest,
	"invalidParameter.msgParam.invalid":   badRequest,
	"invalidParameter.param.invalid":      badRequest,
	"Missingbody":                         badRequest,
	"invalid.openConversationId":          conversationRefused,
	"bot.stopped":                         robotStopped,

	"send.too.fast":        tooFast,
	"send.byToken.tooFast": tooFast,
	"too.many.people":      tooFast,
	"too.many.group":       tooFast,
	"Forbidden.AccessDenied.QpsLimitForAppkeyAndApi": qpsLimited,
}

// prefixes classifies codes the table does not list by their family, first
// match wins: DingTalk's codes are dotted paths, and new leaves appear
// (robotCode.notExist spelled right, say) without changing what they mean.
var prefixes = []struct {
	prefix string
	notify.Verdict
}{
	{"invalidParameter.robotCode.", robotCodeRefused},
	{"invalidParameter.userIds.", userIDsRefused},
	{"invalidParameter.msgKey.", badRequest},
	{"invalidParameter.msgParam.", badRequest},
	{"invalid.openConversationId", conversationRefused},
	{"Forbidden.AccessDenied.", permissionDenied},
	{"invalidParameter.", badRequest},
}

// Verdicts on answers without a code Tocsin knows, and on failures to get
// an answer at all.
var (
	serverError = notify.Verdict{Action: notify.Retry, Code: "server-error", Message: "DingTalk answered with a server error"}
	// 429 without a code: a gateway in front of the API limiting us.
	rateLimited = notify.Verdict{Action: notify.Retry, Code: "rate-limited", Message: "DingTalk is rate-limiting the app", Hint: rateHint, RetryAfter: sendWait}
	httpStatus  = notify.Verdict{Action: notify.Permanent, Code: "http-status",
		Message: "DingTalk refused the request with an unexpected HTTP status",
		Hint:    "check the channel's base URL: leave it empty for " + DefaultBaseURL}
	notDingTalk = notify.Verdict{Action: notify.Retry, Code: "unexpected-response",
		Message: "the answer was not DingTalk's: HTTP 2xx without the JSON it should carry",
		Hint:    "if this lasts, check that the base URL points at DingTalk and that no proxy answers in its place"}
	addressRefused = notify.Verdict{Action: notify.Permanent, Code: "address-not-allowed",
		Message: "Tocsin refused to connect: the API's host resolves to a private, loopback or link-local address",
		Hint:    "if this host is meant to be reached (a proxy, a local DingTalk-compatible server), start tocsin with --allow-hosts naming it"}
	invalidApp = notify.Verdict{Action: notify.Permanent, Code: "invalid-app", Message: "the app's settings are not usable",
		Hint: "fill in the Client ID and Client Secret from the app's Credentials page in the DingTalk developer console"}
)

// classify picks the verdict on a non-2xx answer from the API's code and
// the HTTP status. fromToken is true for the token endpoint.
func classify(status int, code string, fromToken bool) notify.Verdict {
	v, ok := codes[code]
	if !ok {
		for _, p := range prefixes {
			if strings.HasPrefix(code, p.prefix) {
				v, ok = p.Verdict, true
				break
			}
		}
	}
	switch {
	case status >= 500 && (!ok || v.Action != notify.Retry):
		// The server's fault, whatever its code says.
		return serverError
	case fromToken && ok && v.Action != notify.Retry && v != permissionDenied && code != "Missingbody":
		// At the token endpoint the credentials are all a request can
		// get wrong besides its shape; DingTalk's code for them is not
		// documented, so any refusal of them gets the credentials hint.
		return credentialsRefused
	case ok:
		return v
	case status == http.StatusTooManyRequests:
		return rateLimited
	case status == http.StatusUnauthorized && fromToken:
		return credentialsRefused
	case status == http.StatusUnauthorized:
		return authFailed // a 401 without a code of ours: the token, as far as we can tell
	case fromToken && code != "" && status >= 400 && status < 500:
		return credentialsRefused
	case code != "":
		return unknownCode
	}
	return httpStatus
}
