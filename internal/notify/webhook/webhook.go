// Package webhook sends Tocsin's messages to any HTTP endpoint as one JSON
// POST (the channel kind "webhook"). The body is Alertmanager's webhook
// notification, version 4, so that receivers written for Alertmanager —
// and there are many — read it unchanged; what Tocsin has to say beyond
// the alerts rides in one extra "tocsin" object that such receivers ignore:
//
//	{
//	  "version": "4",
//	  "groupKey": "…",
//	  "status": "firing" | "resolved",
//	  "receiver": "<channel name>",
//	  "groupLabels": {…}, "commonLabels": {…}, "commonAnnotations": {…},
//	  "externalURL": "https://tocsin.example",
//	  "truncatedAlerts": 0,
//	  "tocsin": {
//	    "id": "<message id>", "title": "…", "text": "<markdown>",
//	    "buttons": [{"title": "Details", "url": "…"}],
//	    "mentions": [{"name": "…", "mobile": "…", "email": "…", …}],
//	    "mentionAll": true
//	  },
//	  "alerts": [{"status", "labels", "annotations", "startsAt", "endsAt",
//	              "generatorURL", "fingerprint"}, …]
//	}
//
// A test send carries no alerts: status "firing", "alerts": [] and the
// title and text under "tocsin".
//
// # Headers
//
//	Content-Type: application/json
//	User-Agent: Tocsin
//	X-Tocsin-Message-Id: <message id>            (when the message has one)
//	X-Tocsin-Timestamp: <Unix seconds>            (signed channels only)
//	X-Tocsin-Signature: sha256=<lowercase hex>    (signed channels only)
//
// X-Tocsin-Message-Id is the same on every attempt to deliver one message:
// Tocsin retries after a timeout, when it cannot know whether the receiver
// got the first attempt, so a receiver that must not act twice keeps the
// ids it has seen.
//
// # Signatures
//
// A channel with a secret signs every request:
//
//	signature = hex(HMAC-SHA256(key = secret, message = timestamp + "." + body))
//
// where timestamp is the X-Tocsin-Timestamp header as sent and body is the
// request body byte for byte. To verify, compute the same over the body as
// received (before any parsing), compare it with X-Tocsin-Signature in
// constant time, and refuse a timestamp more than a few minutes from the
// receiver's clock, so that a captured request cannot be replayed later.
// Verify does exactly that, and its example shows a handler using it.
// Binding the timestamp into the signed message is what makes the age
// check meaningful: an attacker cannot pair an old body with a fresh time.
//
// # Size
//
// A body is at most MaxBodyBytes. A message with more alerts than fit is
// sent with alerts dropped from the end and "truncatedAlerts" saying how
// many, as Alertmanager's max_alerts does; Tocsin's title and text still
// tell of the whole group.
//
// # Answers
//
// Any 2xx is success; its body is not read, as receivers agree on none.
// 5xx, 408, 429, network failures and timeouts are retried (honouring
// Retry-After, up to an hour), 413 asks for a smaller message, and any
// other status is permanent and reported with the first bytes of the
// answer. Redirects are not followed: a webhook URL that redirects is
// reported so that a person can set the final URL. A receiver whose TLS
// certificate does not verify is a permanent failure too: a certificate
// does not mend itself.
//
// The package keeps no state between calls: a Target is one delivery's
// settings, a Client is the shared transport. Rate budgets and retries
// belong to the outbox in internal/notify.
package webhook

import (
	"log/slog"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/secret"
)

// Target is where one message goes and what the Alertmanager-shaped
// envelope says about it. URL and Secret are the channel's settings
// ({"url","secret"}); the other fields describe the notification and are
// filled per delivery by whoever builds it. The zero values of those give
// a valid document with empty fields.
type Target struct {
	// URL is the receiver's endpoint. It may carry a token in its query
	// or user info; both are kept out of errors and logs.
	URL secret.URL
	// Secret is the HMAC key requests are signed with; empty means
	// requests go unsigned.
	Secret secret.String
	// Receiver is the body's "receiver": the channel's name, as
	// Alertmanager puts the receiver's name there.
	Receiver string
	// GroupKey is the body's "groupKey": it identifies the group of alerts
	// across notifications, so a receiver can thread or update what it
	// made of the previous one.
	GroupKey string
	// GroupLabels is the body's "groupLabels": the labels the policy
	// grouped by, with the group's values.
	GroupLabels alert.Labels
	// ExternalURL is the body's "externalURL": Tocsin's public URL.
	ExternalURL string
}

// LogValue keeps the URL's tokens and the secret out of logs while still
// showing which endpoint a line is about.
func (t Target) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", t.URL.String()),
		slog.Bool("signed", !t.Secret.IsZero()),
		slog.String("receiver", t.Receiver),
	)
}
