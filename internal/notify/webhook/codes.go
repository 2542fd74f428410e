package webhook

import (
	"net/http"
	"time"

	"github.com/tocsinhq/tocsin/internal/notify"
)

// maxRetryAfter caps a receiver's Retry-After. A buggy or hostile receiver
// could otherwise park a channel for days; asking again after an hour
// costs one request and gets a fresh answer.
const maxRetryAfter = time.Hour

// statuses classifies the receiver's HTTP status where the class alone
// (see byStatus) would say too little.
var statuses = map[int]notify.Verdict{
	http.StatusRequestTimeout: {Action: notify.Retry, Code: "request-timeout",
		Message: "the receiver timed out reading the request"},
	http.StatusTooManyRequests: {Action: notify.Retry, Code: "rate-limited",
		Message: "the receiver is rate-limiting Tocsin",
		Hint:    "if this repeats, lower the channel's send budget to what the receiver allows"},
	http.StatusRequestEntityTooLarge: {Action: notify.Shrink, Code: "message-too-long",
		Message: "the receiver refused the body as too large",
		Hint:    "Tocsin sends at most 1 MiB; raise the receiver's (or its proxy's) body limit, or shorten the template"},
	http.StatusUnauthorized: unauthorized,
	http.StatusForbidden:    unauthorized,
	http.StatusNotFound:     notFound,
	http.StatusGone:         notFound,
}

var (
	unauthorized = notify.Verdict{Action: notify.Permanent, Code: "unauthorized",
		Message: "the receiver refused Tocsin's credentials",
		Hint:    "check that the channel's secret is the one the receiver verifies with, and any token in the URL"}
	notFound = notify.Verdict{Action: notify.Permanent, Code: "not-found",
		Message: "the receiver has nothing at the webhook URL",
		Hint:    "check the channel's URL against the receiver's documentation"}
	rejected = notify.Verdict{Action: notify.Permanent, Code: "rejected",
		Message: "the receiver refused the request",
		Hint:    "read the receiver's answer below; it may not take Alertmanager-style JSON, or want settings Tocsin does not send"}
	serverError = notify.Verdict{Action: notify.Retry, Code: "server-error",
		Message: "the receiver answered with a server error"}
	redirected = notify.Verdict{Action: notify.Permanent, Code: "redirected",
		Message: "the webhook URL redirects elsewhere; Tocsin does not follow redirects",
		Hint:    "set the channel's URL to the final one, where the redirect leads"}
	unexpected = notify.Verdict{Action: notify.Retry, Code: "unexpected-response",
		Message: "the receiver answered with a status that is not HTTP's",
		Hint:    "if this lasts, check that the URL points at the receiver and that no proxy answers in its place"}
)

// byStatus returns the verdict on a status that is not 2xx.
func byStatus(status int) notify.Verdict {
	if v, ok := statuses[status]; ok {
		return v
	}
	switch {
	case status >= 300 && status < 400:
		return redirected
	case status >= 400 && status < 500:
		return rejected
	case status >= 500 && status < 600:
		return serverError
	}
	return unexpected
}

// Verdicts on failures before or around the receiver's answer.
var (
	// A certificate does not fix itself, and retrying in silence would
	// hide that nothing gets through.
	badCertificate = notify.Verdict{Action: notify.Permanent, Code: "certificate-invalid",
		Message: "the receiver's TLS certificate is not valid for its URL",
		Hint:    "renew or fix the receiver's certificate (expired, self-signed or issued for another name), or use a URL it is valid for"}
	addressRefused = notify.Verdict{Action: notify.Permanent, Code: "address-not-allowed",
		Message: "Tocsin refused to connect: the receiver's host resolves to a private, loopback or link-local address",
		Hint:    "if this host is meant to be reached, start tocsin with --allow-hosts naming it"}
	badURL = notify.Verdict{Action: notify.Permanent, Code: "invalid-url", Message: "the webhook URL is not usable",
		Hint: "set the channel's URL to the receiver's full http:// or https:// address"}
	tooLarge = notify.Verdict{Action: notify.Shrink, Code: "message-too-long",
		Message: "the message is over 1 MiB even without its alerts",
		Hint:    "shorten the template: its text alone is too long"}
	emptyMessage = notify.Verdict{Action: notify.Permanent, Code: "empty-message",
		Message: "the message has no title, text or alert",
		Hint:    "check the template: it rendered nothing"}
	encodeFailed = notify.Verdict{Action: notify.Permanent, Code: "internal",
		Message: "the message does not encode as JSON: this is a bug in Tocsin", Hint: "please report it"}
)
