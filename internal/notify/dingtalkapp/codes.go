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

// verdict is what Tocsin makes of one kind of refusal: what to do and what
// to tell a person.
type verdict struct {
	action     notify.Action
	code       string
	message    string
	hint       string
	retryAfter time.Duration
}

// with makes the error for one refusal. The app API's codes are strings,
// which notify.Error's PlatformCode (an int) cannot hold, so the code goes
// into Err with the HTTP status and DingTalk's request ID (which DingTalk
// support asks for); PlatformMessage is DingTalk's message as received.
func (v verdict) with(platformMessage string, err error) *notify.Error {
	return &notify.Error{
		Action:          v.action,
		Code:            v.code,
		PlatformMessage: platformMessage,
		Message:         v.message,
		Hint:            v.hint,
		RetryAfter:      v.retryAfter,
		Err:             err,
	}
}

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
	authFailed = verdict{notify.Permanent, "app-auth-failed",
		"DingTalk refused the app's access token even after fetching a fresh one", credentialsHint, 0}
	// userIDsRefused is the one refusal about a batch's users rather
	// than the app or the message: the other batches may still go.
	userIDsRefused = verdict{notify.Permanent, "user-ids-invalid",
		"DingTalk refused the list of user IDs",
		"user IDs are DingTalk staff IDs (userid) from the organisation's address book, not mobile numbers, union IDs or names", 0}
)

var (
	credentialsRefused = verdict{notify.Permanent, "app-auth-failed",
		"DingTalk refused the app's Client ID or Client Secret", credentialsHint, 0}
	robotCodeRefused = verdict{notify.Permanent, "robot-code-invalid",
		"DingTalk does not accept the robot code for this app",
		"the robot code must be this app's own robot, shown on the app's robot page in the developer console; for an internal app it is usually the Client ID, which Tocsin uses when the robot code is left empty. For a group, the robot must also have been added to it", 0}
	badRequest = verdict{notify.Permanent, "bad-request",
		"DingTalk cannot read the request Tocsin sent", bugHint, 0}
	conversationRefused = verdict{notify.Permanent, "conversation-invalid",
		"DingTalk does not know the group's openConversationId",
		"copy the group's openConversationId (cid…) again, and check that the app's robot has been added to the group", 0}
	robotStopped = verdict{notify.Permanent, "robot-disabled", "the app's robot is stopped",
		"enable the robot again on the app's robot page in the developer console and publish the app", 0}
	permissionDenied = verdict{notify.Permanent, "permission-denied",
		"DingTalk denied the app access to the API",
		"grant the app the robot messaging permissions in the developer console's permission management, and if the app has an IP allowlist add this server's egress IP to it", 0}
	tooFast = verdict{notify.Retry, "rate-limited",
		"DingTalk is rate-limiting the app robot", rateHint, sendWait}
	qpsLimited = verdict{notify.Retry, "rate-limited",
		"DingTalk's gateway is limiting the app's calls per second", rateHint, qpsWait}
	unknownCode = verdict{notify.Permanent, "platform-error", "DingTalk refused the request",
		"read DingTalk's message below; the code is not one Tocsin knows", 0}
)

// codes classifies the app API's error codes (chat-apis §2.5). Codes not
// listed fall back on their prefix (prefixes), then on the HTTP status.
var codes = map[string]verdict{
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
	verdict
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
	serverError = verdict{notify.Retry, "server-error", "DingTalk answered with a server error", "", 0}
	// 429 without a code: a gateway in front of the API limiting us.
	rateLimited = verdict{notify.Retry, "rate-limited", "DingTalk is rate-limiting the app", rateHint, sendWait}
	httpStatus  = verdict{notify.Permanent, "http-status",
		"DingTalk refused the request with an unexpected HTTP status",
		"check the channel's base URL: leave it empty for " + DefaultBaseURL, 0}
	notDingTalk = verdict{notify.Retry, "unexpected-response",
		"the answer was not DingTalk's: HTTP 2xx without the JSON it should carry",
		"if this lasts, check that the base URL points at DingTalk and that no proxy answers in its place", 0}
	network        = verdict{notify.Retry, "network", "could not reach DingTalk", "", 0}
	timeout        = verdict{notify.Retry, "timeout", "DingTalk did not answer in time", "", 0}
	canceled       = verdict{notify.Retry, "canceled", "sending was canceled", "", 0}
	addressRefused = verdict{notify.Permanent, "address-not-allowed",
		"Tocsin refused to connect: the API's host resolves to a private, loopback or link-local address",
		"if this host is meant to be reached (a proxy, a local DingTalk-compatible server), start tocsin with --allow-hosts naming it", 0}
	invalidApp = verdict{notify.Permanent, "invalid-app", "the app's settings are not usable",
		"fill in the Client ID and Client Secret from the app's Credentials page in the DingTalk developer console", 0}
)

// classify picks the verdict on a non-2xx answer from the API's code and
// the HTTP status. fromToken is true for the token endpoint.
func classify(status int, code string, fromToken bool) verdict {
	v, ok := codes[code]
	if !ok {
		for _, p := range prefixes {
			if strings.HasPrefix(code, p.prefix) {
				v, ok = p.verdict, true
				break
			}
		}
	}
	switch {
	case status >= 500 && (!ok || v.action != notify.Retry):
		// The server's fault, whatever its code says.
		return serverError
	case fromToken && ok && v.action != notify.Retry && v != permissionDenied && code != "Missingbody":
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
