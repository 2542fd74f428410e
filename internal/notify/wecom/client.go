package wecom

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/secret"
)

// DefaultTimeout bounds one request when Client.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// maxAnswer bounds how much of WeCom's answer is read; a real one is a few
// hundred bytes.
const maxAnswer = 64 << 10

// defaultHTTP serves Clients without an HTTP client of their own, so the
// zero Client still has transport timeouts (http.DefaultClient has none).
var defaultHTTP = sync.OnceValue(func() *http.Client { return notify.NewHTTPClient(DefaultTimeout, nil) })

// Client posts messages to WeCom robots. It holds no per-robot state, so
// one Client serves every channel, concurrently. The zero value is usable.
//
// Unlike DingTalk's, it needs no clock: WeCom requests are not signed.
type Client struct {
	// HTTP is the shared client, from notify.NewHTTPClient; nil means one
	// made by notify.NewHTTPClient(DefaultTimeout, nil) for the whole package.
	HTTP *http.Client
	// Timeout bounds each request; zero means DefaultTimeout.
	Timeout time.Duration
}

// Receipt says how far Send got.
type Receipt struct {
	// Parts is how many payloads the message was rendered into.
	Parts int
	// Sent is how many of them WeCom accepted: parts 1 to Sent went out,
	// in order, and Send stopped at the next one.
	Sent int
	// Notes are Rendered.Notes: what WeCom could not carry as asked.
	Notes []string
}

// Send renders msg for the robot and posts every part in order, stopping at
// the first failure. WeCom has no idempotency key: sending the same message
// again after a failure posts the parts already sent again, so a caller
// that must not repeat them posts Render's parts from Receipt.Sent on.
//
// Every error is a *notify.Error, free of the webhook key.
func (c *Client) Send(ctx context.Context, r Robot, msg notify.Message) (Receipt, error) {
	rd, err := r.Render(msg)
	if err != nil {
		return Receipt{}, notify.AsError(err)
	}
	rc := Receipt{Parts: len(rd.Parts), Notes: rd.Notes}
	for _, p := range rd.Parts {
		if err := c.Post(ctx, r, p); err != nil {
			return rc, err
		}
		rc.Sent++
	}
	return rc, nil
}

// Post sends one payload to the robot within the client's timeout. It
// refuses, without sending it, a payload whose content is over WeCom's
// limit for its type. WeCom reports refusals in the body of an HTTP 200, so
// the answer is always decoded; errcode 0 is the only success.
//
// Every error is a *notify.Error, free of the webhook key.
func (c *Client) Post(ctx context.Context, r Robot, p Payload) error {
	hide := secretsOf(r)
	limit := p.MsgType.limit()
	if limit == 0 || p.content() == "" {
		return badPayload.with(0, "", fmt.Errorf("msgtype %q with content of %d bytes", p.MsgType, len(p.content())))
	}
	if n := len(p.content()); n > limit {
		return tooLong.with(0, "", fmt.Errorf("the content is %d bytes, over WeCom's %d for %s; Tocsin did not send it", n, limit, p.MsgType))
	}
	body, err := p.Encode()
	if err != nil {
		return badPayload.with(0, "", err)
	}
	target, err := r.sendURL()
	if err != nil {
		return badWebhook.with(0, "", hide.err(err))
	}

	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return badWebhook.with(0, "", hide.err(err))
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := c.client().Do(req)
	if err != nil {
		return transport(err).with(0, "", hide.err(err))
	}
	defer notify.DrainClose(resp.Body)
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return transport(err).with(0, "", hide.err(fmt.Errorf("read the answer: %w", err)))
	}
	return read(resp.StatusCode, resp.Header, answer, hide)
}

// sendURL checks the webhook URL and returns it without its fragment. A
// URL without a key would be refused by WeCom with the same 93000 as a
// wrong key; saying so here tells the person exactly what is missing.
func (r Robot) sendURL() (string, error) {
	u, err := url.Parse(r.WebhookURL.Reveal())
	if err != nil {
		return "", err
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", errors.New("the webhook URL must be an http or https URL with a host")
	}
	if u.Query().Get("key") == "" {
		return "", errors.New("the webhook URL has no key parameter")
	}
	u.Fragment = ""
	return u.String(), nil
}

func (c *Client) client() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP()
}

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// read turns WeCom's answer into nil or an error. Only an errcode of 0 in
// an HTTP 200 is success; an errcode that comes with another non-5xx status
// explains it better than the status does. The errmsg is kept whole, with
// WeCom's ", hint: [...], from ip: ..., more info at ..." suffix: the hint
// is what WeCom's support asks for, and the IP is the one WeCom saw.
func read(status int, header http.Header, body []byte, h redactor) error {
	var a struct {
		ErrCode *int   `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
	}
	decoded := json.Unmarshal(body, &a) == nil && a.ErrCode != nil
	code, errmsg := 0, h.text(clean(a.ErrMsg))
	if decoded {
		code = *a.ErrCode
	}
	statusErr := fmt.Errorf("HTTP %d %s", status, http.StatusText(status))
	switch {
	case status == http.StatusOK && decoded:
		if code == 0 {
			return nil
		}
		return classify(code, errmsg)
	case status == http.StatusOK:
		start := clean(string(body[:min(len(body), 120)]))
		return notWeCom.with(0, "", fmt.Errorf("the answer starts %q", h.text(start)))
	case status >= 500:
		e := serverError.with(code, errmsg, statusErr)
		e.RetryAfter = retryAfter(header)
		return e
	case decoded && code != 0:
		e := classify(code, errmsg)
		e.Err = statusErr
		return e
	case status == http.StatusTooManyRequests:
		e := rateLimited.with(code, errmsg, statusErr)
		if d := retryAfter(header); d > 0 {
			e.RetryAfter = d
		}
		return e
	case status >= 300 && status < 400:
		return redirected.with(0, "", statusErr)
	}
	return httpStatus.with(code, errmsg, statusErr)
}

// retryAfter reads a Retry-After header given in seconds.
func retryAfter(h http.Header) time.Duration {
	s, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || s <= 0 {
		return 0
	}
	return time.Duration(s) * time.Second
}

// transport picks the verdict on a failure to get an answer at all.
func transport(err error) verdict {
	var ne net.Error
	switch {
	case errors.Is(err, notify.ErrAddressRefused):
		return addressRefused
	case errors.Is(err, context.Canceled):
		return canceled
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return timeout
	}
	return network
}

// redactor lists what must never leave Post in clear: the webhook URL and
// its key, as written and as a query escapes it.
type redactor []string

func secretsOf(r Robot) redactor {
	h := redactor{r.WebhookURL.Reveal()}
	if u, err := url.Parse(r.WebhookURL.Reveal()); err == nil {
		key := u.Query().Get("key")
		h = append(h, key, url.QueryEscape(key))
	}
	return h
}

func (h redactor) text(s string) string { return secret.Redact(s, h...) }

// err makes err fit to return. http.Client and url.Parse return a
// *url.Error that quotes the whole URL, key included; it is rebuilt around
// the masked URL, which keeps errors.Is working on its cause. An error
// whose text would still show the key is flattened to redacted text.
func (h redactor) err(err error) error {
	if ue, ok := err.(*url.Error); ok { // the outermost one is what quotes the URL
		err = &url.Error{Op: ue.Op, URL: secret.MaskURL(ue.URL), Err: ue.Err}
	}
	if s := err.Error(); h.text(s) != s {
		return errors.New(h.text(s))
	}
	return err
}
