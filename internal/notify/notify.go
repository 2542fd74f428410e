// Package notify holds what every platform client shares: the
// platform-neutral Message, the classification of a platform's refusal into
// retry / shrink / permanent, and the HTTP plumbing (one client with timeouts,
// bodies always drained). Platform packages (notify/dingtalk, …) import it;
// it imports none of them.
package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/tocsinhq/tocsin/internal/alert"
)

// Message is what Tocsin wants to say, before any platform shapes it.
type Message struct {
	// ID identifies the message across retries. Platforms with an
	// idempotency key (DingTalk's msgUuid) derive it from ID, so a retry
	// after a timeout does not post twice. Empty: no idempotency key.
	ID string
	// Title is one short line: the notification preview on a phone.
	Title string
	// Text is the body in the markdown subset every platform renders
	// (headings, bold, links, lists, quotes). Its first lines matter most.
	Text string
	// Buttons become action-card buttons where the platform has them and
	// links at the end of the text where it does not.
	Buttons []Button
	// Mentions are the people to notify, by platform identity.
	Mentions Mentions
	// Alerts are the alerts the message tells of (none for a test send).
	// Chat platforms read only Title and Text; structured receivers (the
	// generic webhook) send the alerts themselves.
	Alerts []alert.Alert
	// Status is firing or resolved: the state the message announces.
	Status alert.Status
	// Reached are the recipients an earlier attempt already delivered the
	// message to, as the sender named them in Error.Reached: a sender
	// that sends one message to several recipients (a DingTalk app robot's
	// members and groups) leaves them out. Other senders ignore it.
	Reached []string
}

// Button is a labelled link.
type Button struct {
	Title string
	URL   string
}

// Mentions names who a message must really notify.
type Mentions struct {
	// Mobiles and UserIDs are a DingTalk robot channel's own mention
	// lists (atMobiles "13800000000" or "+852-12345678", and userIds).
	Mobiles []string
	UserIDs []string
	// People are contacts to mention; each platform uses the identity it
	// needs and reports, in its notes, anyone it has no identity for.
	People []Person
	All    bool // @all
}

// IsZero reports whether nobody is mentioned.
func (m Mentions) IsZero() bool {
	return len(m.Mobiles) == 0 && len(m.UserIDs) == 0 && len(m.People) == 0 && !m.All
}

// Person is a contact as the platforms know them. Empty fields are
// identities the contact does not have.
type Person struct {
	Name           string
	Mobile         string // "13800000000" or "+852-12345678"
	DingTalkUserID string
	LarkOpenID     string // "ou_…"
	WeComUserID    string
	Email          string
}

// Action says what to do after a platform refused a message.
type Action int

const (
	// Retry: a passing fault (network, 5xx, system busy, rate limited).
	// Send the same message again later, with the same idempotency key.
	Retry Action = iota + 1
	// Shrink: the message is too large for the platform. Split or trim it
	// and send again.
	Shrink
	// Permanent: sending again cannot help until a person fixes something
	// (keyword, signature, token, robot disabled, group disbanded, …).
	Permanent
)

func (a Action) String() string {
	switch a {
	case Retry:
		return "retry"
	case Shrink:
		return "shrink"
	case Permanent:
		return "permanent"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Error is a platform's refusal, classified and explained for a person.
// Platform clients return *Error for every failure, transport errors included.
type Error struct {
	Action Action
	// Code is a stable kebab-case kind: "keyword-missing",
	// "signature-mismatch", "rate-limited", "network", … API answers and
	// metrics use it.
	Code string
	// PlatformCode is the platform's own error code (DingTalk errcode);
	// 0 when the failure happened before the platform answered.
	PlatformCode int
	// PlatformMessage is the platform's own text (errmsg), as received.
	PlatformMessage string
	// Message says in one sentence what went wrong.
	Message string
	// Hint says what a person should do about it; empty for retryable
	// failures that need nobody.
	Hint string
	// RetryAfter, when set, is the least time to wait before the next
	// attempt (a platform ban, say).
	RetryAfter time.Duration
	// Reached, on a failure to reach some of a message's recipients, are
	// the ones it did reach, this attempt and before (Message.Reached), in
	// the sender's own naming: a retry passes them back in
	// Message.Reached so that it goes to the others only.
	Reached []string
	// Err is the underlying error, if any (already redacted of secrets).
	Err error
}

func (e *Error) Error() string {
	msg := e.Message
	switch {
	case e.PlatformCode != 0 && e.PlatformMessage != "":
		msg = fmt.Sprintf("%s (platform code %d: %s)", msg, e.PlatformCode, e.PlatformMessage)
	case e.PlatformCode != 0:
		msg = fmt.Sprintf("%s (platform code %d)", msg, e.PlatformCode)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// AsError returns err as an *Error; an unclassified error becomes a
// retryable one with code "internal", so nothing is dropped by accident.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Action: Retry, Code: "internal", Message: "sending failed", Err: err}
}

// ErrAddressRefused is wrapped by the error a DialGuard returns: the
// platform's host resolved to an address Tocsin must not connect to.
var ErrAddressRefused = errors.New("address refused")

// DialGuard decides, for every connection, whether Tocsin may connect to
// ip, which addr ("host:port" as in the URL) resolved to. It returns nil to
// allow, or an error wrapping ErrAddressRefused. Checking the resolved
// address, not the name, is what stops a DNS name that points at loopback
// or a cloud metadata address.
type DialGuard func(addr string, ip netip.Addr) error

// NewHTTPClient returns the client every platform shares: per-request
// timeouts come from the caller's context, and the transport bounds every
// phase so a stuck platform cannot hold a worker forever. With a guard,
// every address a host resolves to is checked before it is dialled.
func NewHTTPClient(timeout time.Duration, guard DialGuard) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	dial := dialer.DialContext
	if guard != nil {
		dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
			if err != nil {
				return nil, err
			}
			var errs []error
			for _, ip := range ips {
				if err := guard(addr, ip.Unmap()); err != nil {
					errs = append(errs, err)
					continue
				}
				conn, err := dialer.DialContext(ctx, network, net.JoinHostPort(ip.Unmap().String(), port))
				if err == nil {
					return conn, nil
				}
				errs = append(errs, err)
			}
			return nil, errors.Join(errs...)
		}
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           dial,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: timeout,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   8,
			ForceAttemptHTTP2:     true,
		},
		// Platforms answer from the URL they were given; a redirect is
		// either a misconfiguration or a ban page, never a place to post to.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// DefaultTimeout bounds a platform call when a client sets no timeout.
const DefaultTimeout = 10 * time.Second

// DefaultHTTPClient is the client platform clients fall back to when given
// none: one for the whole process, made on first use, unguarded, with
// DefaultTimeout, so even a zero-value platform client has transport
// timeouts (Go's default client has none).
var DefaultHTTPClient = sync.OnceValue(func() *http.Client { return NewHTTPClient(DefaultTimeout, nil) })

// DrainClose reads what is left of body (up to a bound) and closes it, so
// the connection can be reused.
func DrainClose(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	_ = body.Close()
}
