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

// verdict is what Tocsin makes of one kind of failure: what to do and what
// to tell a person.
type verdict struct {
	action  notify.Action
	code    string
	message string
	hint    string
}

func (v verdict) with(status int, answer string, err error) *notify.Error {
	return &notify.Error{
		Action:          v.action,
		Code:            v.code,
		PlatformCode:    status,
		PlatformMessage: answer,
		Message:         v.message,
		Hint:            v.hint,
		Err:             err,
	}
}

// statuses classifies the receiver's HTTP status where the class alone
// (see byStatus) would say too little.
var statuses = map[int]verdict{
	http.StatusRequestTimeout: {notify.Retry, "request-timeout",
		"the receiver timed out reading the request", ""},
	http.StatusTooManyRequests: {notify.Retry, "rate-limited",
		"the receiver is rate-limiting Tocsin",
		"if this repeats, lower the channel's send budget to what the receiver allows"},
	http.StatusRequestEntityTooLarge: {notify.Shrink, "message-too-long",
		"the receiver refused the body as too large",
		"Tocsin sends at most 1 MiB; raise the receiver's (or its proxy's) body limit, or shorten the template"},
	http.StatusUnauthorized: unauthorized,
	http.StatusForbidden:    unauthorized,
	http.StatusNotFound:     notFound,
	http.StatusGone:         notFound,
}

var (
	unauthorized = verdict{notify.Permanent, "unauthorized",
		"the receiver refused Tocsin's credentials",
		"check that the channel's secret is the one the receiver verifies with, and any token in the URL"}
	notFound = verdict{notify.Permanent, "not-found",
		"the receiver has nothing at the webhook URL",
		"check the channel's URL against the receiver's documentation"}
	rejected = verdict{notify.Permanent, "rejected",
		"the receiver refused the request",
		"read the receiver's answer below; it may not take Alertmanager-style JSON, or want settings Tocsin does not send"}
	serverError = verdict{notify.Retry, "server-error",
		"the receiver answered with a server error", ""}
	redirected = verdict{notify.Permanent, "redirected",
		"the webhook URL redirects elsewhere; Tocsin does not follow redirects",
		"set the channel's URL to the final one, where the redirect leads"}
	unexpected = verdict{notify.Retry, "unexpected-response",
		"the receiver answered with a status that is not HTTP's",
		"if this lasts, check that the URL points at the receiver and that no proxy answers in its place"}
)

// byStatus returns the verdict on a status that is not 2xx.
func byStatus(status int) verdict {
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
	network = verdict{notify.Retry, "network", "could not reach the receiver", ""}
	timeout = verdict{notify.Retry, "timeout", "the receiver did not answer in time", ""}
	// Canceled means Tocsin itself gave up (shutting down, say): the
	// message was maybe not delivered and should go again later.
	canceled = verdict{notify.Retry, "canceled", "sending was canceled", ""}
	// A certificate does not fix itself, and retrying in silence would
	// hide that nothing gets through.
	badCertificate = verdict{notify.Permanent, "certificate-invalid",
		"the receiver's TLS certificate is not valid for its URL",
		"renew or fix the receiver's certificate (expired, self-signed or issued for another name), or use a URL it is valid for"}
	addressRefused = verdict{notify.Permanent, "address-not-allowed",
		"Tocsin refused to connect: the receiver's host resolves to a private, loopback or link-local address",
		"if this host is meant to be reached, start tocsin with --allow-hosts naming it"}
	badURL = verdict{notify.Permanent, "invalid-url", "the webhook URL is not usable",
		"set the channel's URL to the receiver's full http:// or https:// address"}
	tooLarge = verdict{notify.Shrink, "message-too-long",
		"the message is over 1 MiB even without its alerts",
		"shorten the template: its text alone is too long"}
	emptyMessage = verdict{notify.Permanent, "empty-message",
		"the message has no title, text or alert",
		"check the template: it rendered nothing"}
	encodeFailed = verdict{notify.Permanent, "internal",
		"the message does not encode as JSON: this is a bug in Tocsin", "please report it"}
)
