package dingtalk

import (
	"bytes"
	"context"
	"encoding/json"
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

// maxAnswer bounds how much of DingTalk's answer is read; a real one is a
// few dozen bytes.
const maxAnswer = 64 << 10

// Client posts messages to DingTalk robots. It holds no per-robot state, so
// one Client serves every channel, concurrently. The zero value is usable.
type Client struct {
	// HTTP is the shared client, from notify.NewHTTPClient; nil means one
	// notify.DefaultHTTPClient(), shared by the whole process.
	HTTP *http.Client
	// Now is the clock requests are signed with; nil means time.Now.
	Now func() time.Time
	// Timeout bounds each request; zero means DefaultTimeout.
	Timeout time.Duration
}

// Send renders msg for the robot and posts every part in order, stopping at
// the first failure. Sending the same message again after a failure posts
// every part again; with msg.ID set, DingTalk drops the parts it already
// has (msgUuid), so nobody sees a part twice.
//
// Every error is a *notify.Error, free of the access token and the secret.
func (c *Client) Send(ctx context.Context, r Robot, msg notify.Message) (notify.Receipt, error) {
	rd, err := r.Render(msg)
	if err != nil {
		return notify.Receipt{}, notify.AsError(err)
	}
	return notify.SendParts(ctx, rd.Parts, rd.Notes, func(p Payload) error { return c.Post(ctx, r, p) })
}

// Post sends one payload to the robot, signed if the robot has a secret,
// within the client's timeout. It refuses a payload over MaxBodyBytes
// without sending it. DingTalk reports refusals in the body of an HTTP 200,
// so the answer is always decoded; errcode 0 is the only success.
//
// Every error is a *notify.Error, free of the access token and the secret.
func (c *Client) Post(ctx context.Context, r Robot, p Payload) error {
	hide := secretsOf(r)
	body, err := p.Encode()
	if err != nil {
		return &notify.Error{Action: notify.Permanent, Code: "internal", Message: "the payload does not encode as JSON: this is a bug in Tocsin", Err: err}
	}
	if len(body) > MaxBodyBytes {
		return tooLong.With(0, "", fmt.Errorf("the body is %d bytes; Tocsin did not send it", len(body)))
	}
	target, sign, err := r.sendURL(c.now())
	if err != nil {
		return badWebhook.With(0, "", hide.Err(err))
	}
	hide = append(hide, sign, url.QueryEscape(sign))

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

// read turns DingTalk's answer into nil or an error. Only an errcode of 0
// in an HTTP 200 is success; an errcode that comes with another non-5xx
// status explains it better than the status does.
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
	var e *notify.Error
	switch {
	case status == http.StatusOK && decoded:
		if code == 0 {
			return nil
		}
		return classify(code, errmsg)
	case status == http.StatusOK:
		start := fit.Clean(string(body[:min(len(body), 120)]))
		return notDingTalk.With(0, "", fmt.Errorf("the answer starts %q", h.Text(start)))
	case status >= 500:
		e = serverError.With(code, errmsg, statusErr)
	case decoded && code != 0:
		e = classify(code, errmsg)
		e.Err = statusErr
		return e
	case status == http.StatusFound || status == http.StatusSeeOther || status == http.StatusTemporaryRedirect:
		return redirected.With(0, "", statusErr)
	case status == http.StatusMovedPermanently || status == http.StatusPermanentRedirect:
		return movedPermanently.With(0, "", statusErr)
	case status == http.StatusTooManyRequests:
		e = rateLimited.With(code, errmsg, statusErr)
	default:
		return httpStatus.With(code, errmsg, statusErr)
	}
	if d := notify.RetryAfter(header); d > 0 {
		e.RetryAfter = d
	}
	return e
}

// transport picks the verdict on a failure to get an answer at all.
func transport(err error) notify.Verdict {
	return notify.TransportVerdict(err, "DingTalk", addressRefused)
}

// secretsOf lists what must never leave Post in clear: the webhook URL, its
// access token, the signing secret, and (appended by Post) the request's
// signature, valid for an hour, so it could be replayed.
func secretsOf(r Robot) notify.Redactor {
	h := notify.Redactor{r.WebhookURL.Reveal(), r.Secret.Reveal()}
	if u, err := url.Parse(r.WebhookURL.Reveal()); err == nil {
		tok := u.Query().Get("access_token")
		h = append(h, tok, url.QueryEscape(tok))
	}
	return h
}
