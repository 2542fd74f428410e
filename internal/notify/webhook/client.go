package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/secret"
)

// DefaultTimeout bounds one request when Client.Timeout is zero.
const DefaultTimeout = notify.DefaultTimeout

// userAgent names Tocsin to receivers, which may allow-list it.
const userAgent = "Tocsin"

// maxAnswer bounds how much of an answer is read; answerExcerpt is how
// much of it a refusal quotes, enough for a receiver's error sentence.
const (
	maxAnswer     = 64 << 10
	answerExcerpt = 200
)

// Client posts messages to webhook receivers. It holds no per-channel
// state, so one Client serves every channel, concurrently. The zero value
// is usable.
type Client struct {
	// HTTP is the shared client, from notify.NewHTTPClient (which refuses
	// redirects, as this package expects); nil means one made by
	// notify.NewHTTPClient(DefaultTimeout, nil) for the whole package.
	HTTP *http.Client
	// Now is the clock: it signs requests, decides whether each alert
	// still fires, and dates Retry-After; nil means time.Now.
	Now func() time.Time
	// Timeout bounds each request; zero means DefaultTimeout.
	Timeout time.Duration
}

// Send posts msg to the target, signed if the target has a secret, within
// the client's timeout. Any 2xx answer is success; see the package doc for
// the rest. Sending the same message again sends the same
// X-Tocsin-Message-Id, so a receiver can drop the repeat.
//
// Every error is a *notify.Error, free of the URL's tokens, the secret and
// the request's signature.
func (c *Client) Send(ctx context.Context, t Target, msg notify.Message) error {
	now := c.now()
	body, _, err := Encode(t, msg, now)
	if err != nil {
		return err
	}
	hide := secretsOf(t)
	u, err := url.Parse(t.URL.Reveal())
	if err != nil {
		return badURL.With(0, "", hide.Err(err))
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return badURL.With(0, "", errors.New("want an http or https URL with a host"))
	}

	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return badURL.With(0, "", hide.Err(err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if msg.ID != "" {
		req.Header.Set(HeaderMessageID, msg.ID)
	}
	if s := t.Secret.Reveal(); s != "" {
		ts, sig := Sign(s, now, body)
		req.Header.Set(HeaderTimestamp, ts)
		req.Header.Set(HeaderSignature, sig)
		// A signature is good for minutes and could be replayed; a
		// receiver echoing the request must not put it in our logs.
		hide = append(hide, sig, strings.TrimPrefix(sig, signaturePrefix))
	}

	resp, err := c.client().Do(req)
	if err != nil {
		return transport(err).With(0, "", hide.Err(err))
	}
	defer notify.DrainClose(resp.Body)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return transport(err).With(resp.StatusCode, "", hide.Err(fmt.Errorf("read the answer to HTTP %d: %w", resp.StatusCode, err)))
	}
	return refusal(resp.StatusCode, resp.Header, answer, now, hide)
}

func (c *Client) client() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return notify.DefaultHTTPClient()
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// refusal turns a status that is not 2xx, with its headers and answer,
// into an error quoting the start of the answer.
func refusal(status int, header http.Header, answer []byte, now time.Time, h notify.Redactor) *notify.Error {
	v := byStatus(status)
	var cause error
	if status >= 300 && status < 400 {
		// Where it leads is the fix; the Location is the receiver's,
		// but it may repeat our URL's token.
		cause = fmt.Errorf("HTTP %d to %s", status, h.Text(secret.MaskURL(header.Get("Location"))))
	}
	e := v.With(status, excerpt(h.Text(string(answer))), cause)
	if e.Action == notify.Retry {
		e.RetryAfter = retryAfter(header.Get("Retry-After"), now)
	}
	return e
}

// retryAfter reads a Retry-After header in either of its forms, seconds
// or an HTTP date, capped at maxRetryAfter; 0 when absent or past.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		d = time.Duration(min(max(s, 0), int64(maxRetryAfter/time.Second))) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		d = at.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// excerpt makes the start of an answer fit to show: at most answerExcerpt
// bytes cut on a rune boundary, valid UTF-8, every run of control
// characters and white space one space, so that an HTML page or a stack
// trace reads as one line and cannot forge log lines.
func excerpt(s string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = true
			continue
		}
		sep := ""
		if space && b.Len() > 0 { // one space between words, none at the ends
			sep = " "
		}
		if b.Len()+len(sep)+utf8.RuneLen(r) > answerExcerpt {
			break
		}
		b.WriteString(sep)
		b.WriteRune(r)
		space = false
	}
	return b.String()
}

// transport picks the verdict on a failure to get an answer at all.
func transport(err error) notify.Verdict {
	v := notify.TransportVerdict(err, "the receiver", addressRefused)
	var ce *tls.CertificateVerificationError
	if v.Code == "network" && errors.As(err, &ce) {
		return badCertificate
	}
	return v
}

// secretsOf lists what must never leave Send in clear: the URL, its query
// values and password, the secret, and (appended by Send) the request's
// signature.
func secretsOf(t Target) notify.Redactor {
	h := notify.Redactor{t.URL.Reveal(), t.Secret.Reveal()}
	if u, err := url.Parse(t.URL.Reveal()); err == nil {
		for _, vs := range u.Query() {
			for _, v := range vs {
				h = append(h, v, url.QueryEscape(v))
			}
		}
		if p, ok := u.User.Password(); ok {
			h = append(h, p, url.QueryEscape(p))
		}
	}
	return h
}
