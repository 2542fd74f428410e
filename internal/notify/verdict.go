package notify

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/tocsinhq/tocsin/internal/secret"
)

// Verdict is what Tocsin makes of one kind of refusal: what to do and what
// to tell a person. Each platform keeps its own table of them, keyed by its
// codes.
type Verdict struct {
	Action     Action
	Code       string
	Message    string
	Hint       string
	RetryAfter time.Duration
}

// With makes the error for one refusal: the verdict, with the platform's
// own code and text (0 and "" when the failure came before any answer) and
// the underlying error, already redacted.
func (v Verdict) With(platformCode int, platformMessage string, err error) *Error {
	return &Error{
		Action:          v.Action,
		Code:            v.Code,
		PlatformCode:    platformCode,
		PlatformMessage: platformMessage,
		Message:         v.Message,
		Hint:            v.Hint,
		RetryAfter:      v.RetryAfter,
		Err:             err,
	}
}

// Canceled means Tocsin itself gave up (shutting down, say): the message
// was maybe not delivered and should go again later.
var Canceled = Verdict{Retry, "canceled", "sending was canceled", "", 0}

// TransportVerdict picks the verdict on a failure to get an answer at all
// from peer ("DingTalk", "the receiver"). refused is the platform's verdict
// on an address the DialGuard refused, whose hint names the platform.
func TransportVerdict(err error, peer string, refused Verdict) Verdict {
	var ne net.Error
	switch {
	case errors.Is(err, ErrAddressRefused):
		return refused
	case errors.Is(err, context.Canceled):
		return Canceled
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return Verdict{Retry, "timeout", peer + " did not answer in time", "", 0}
	}
	return Verdict{Retry, "network", "could not reach " + peer, "", 0}
}

// RetryAfter reads a Retry-After header given in seconds; 0 when it is
// absent, not a whole number of seconds, or not positive.
func RetryAfter(h http.Header) time.Duration {
	s, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || s <= 0 {
		return 0
	}
	return time.Duration(s) * time.Second
}

// Redactor lists what must never leave a platform client in clear: URLs,
// tokens, secrets, signatures. Each client builds its own list; values
// under 4 bytes are not redacted (see secret.Redact).
type Redactor []string

// Text returns s with every secret masked.
func (r Redactor) Text(s string) string { return secret.Redact(s, r...) }

// Err makes err fit to return. http.Client and url.Parse return a
// *url.Error that quotes the whole URL, secrets included; it is rebuilt
// around the masked URL, which keeps errors.Is working on its cause. An
// error whose text would still show a secret is flattened to redacted text.
func (r Redactor) Err(err error) error { return r.err(err, secret.MaskURL) }

// PathErr is Err for URLs that carry their secret in the path (Lark's
// /hook/<token>): the secrets are redacted from the URL before it is
// masked, so that it keeps its host and path and shows only the token
// masked.
func (r Redactor) PathErr(err error) error {
	return r.err(err, func(u string) string { return secret.MaskURL(r.Text(u)) })
}

func (r Redactor) err(err error, mask func(string) string) error {
	if ue, ok := err.(*url.Error); ok { // the outermost one is what quotes the URL
		err = &url.Error{Op: ue.Op, URL: mask(ue.URL), Err: ue.Err}
	}
	if s := err.Error(); r.Text(s) != s {
		return errors.New(r.Text(s))
	}
	return err
}
