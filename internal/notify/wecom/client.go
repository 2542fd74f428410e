package wecom

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/notify/fit"
)

// DefaultTimeout bounds one request when Client.Timeout is zero.
const DefaultTimeout = notify.DefaultTimeout

// maxAnswer bounds how much of WeCom's answer is read; a real one is a few
// hundred bytes.
const maxAnswer = 64 << 10

// Client posts messages to WeCom robots. It holds no per-robot state, so
// one Client serves every channel, concurrently. The zero value is usable.
//
// Unlike DingTalk's, it needs no clock: WeCom requests are not signed.
type Client struct {
	// HTTP is the shared client, from notify.NewHTTPClient; nil means one
	// notify.DefaultHTTPClient(), shared by the whole process.
	HTTP *http.Client
	// Timeout bounds each request; zero means DefaultTimeout.
	Timeout time.Duration
}

// Send renders msg for the robot and posts every part in order, stopping at
// the first failure. WeCom has no idempotency key: sending the same message
// again after a failure posts the parts already sent again, so a caller
// that must not repeat them posts Render's parts from notify.Receipt.Sent on.
//
// Every error is a *notify.Error, free of the webhook key.
func (c *Client) Send(ctx context.Context, r Robot, msg notify.Message) (notify.Receipt, error) {
	rd, err := r.Render(msg)
	if err != nil {
		return notify.Receipt{}, notify.AsError(err)
	}
	return notify.SendParts(ctx, rd.Parts, rd.Notes, func(p Payload) error { return c.Post(ctx, r, p) })
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
		return badPayload.With(0, "", fmt.Errorf("msgtype %q with content of %d bytes", p.MsgType, len(p.content())))
	}
	if n := len(p.content()); n > limit {
		return tooLong.With(0, "", fmt.Errorf("the content is %d bytes, over WeCom's %d for %s; Tocsin did not send it", n, limit, p.MsgType))
	}
	body, err := p.Encode()
	if err != nil {
		return badPayload.With(0, "", err)
	}
	target, err := r.sendURL()
	if err != nil {
		return badWebhook.With(0, "", hide.Err(err))
	}

	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return badWebhook.With(0, "", hide.Err(err))
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := c.client().Do(req)
	if err != nil {
		return transport(err).With(0, "", hide.Err(err))
	}
	defer notify.DrainClose(resp.Body)
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return transport(err).With(0, "", hide.Err(fmt.Errorf("read the answer: %w", err)))
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
	return notify.DefaultHTTPClient()
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
func read(status int, header http.Header, body []byte, h notify.Redactor) error {
	var a struct {
		ErrCode *int   `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
	}
	decoded := json.Unmarshal(body, &a) == nil && a.ErrCode != nil
	code, errmsg := 0, h.Text(fit.Clean(a.ErrMsg))
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
		start := fit.Clean(string(body[:min(len(body), 120)]))
		return notWeCom.With(0, "", fmt.Errorf("the answer starts %q", h.Text(start)))
	case status >= 500:
		e := serverError.With(code, errmsg, statusErr)
		e.RetryAfter = notify.RetryAfter(header)
		return e
	case decoded && code != 0:
		e := classify(code, errmsg)
		e.Err = statusErr
		return e
	case status == http.StatusTooManyRequests:
		e := rateLimited.With(code, errmsg, statusErr)
		if d := notify.RetryAfter(header); d > 0 {
			e.RetryAfter = d
		}
		return e
	case status >= 300 && status < 400:
		return redirected.With(0, "", statusErr)
	}
	return httpStatus.With(code, errmsg, statusErr)
}

// transport picks the verdict on a failure to get an answer at all.
func transport(err error) notify.Verdict {
	return notify.TransportVerdict(err, "WeCom", addressRefused)
}

// secretsOf lists what must never leave Post in clear: the webhook URL and
// its key, as written and as a query escapes it.
func secretsOf(r Robot) notify.Redactor {
	h := notify.Redactor{r.WebhookURL.Reveal()}
	if u, err := url.Parse(r.WebhookURL.Reveal()); err == nil {
		key := u.Query().Get("key")
		h = append(h, key, url.QueryEscape(key))
	}
	return h
}
