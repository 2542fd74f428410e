package lark

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

// maxAnswer bounds how much of Lark's answer is read; a real one is a few
// dozen bytes.
const maxAnswer = 64 << 10

// Client posts messages to Lark custom bots. It holds no per-bot state, so
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

// Send renders msg for the bot and posts every part in order, stopping at
// the first failure. Lark's webhook has no idempotency key, so sending the
// same message again after a failure posts parts 1 to Sent a second time;
// a caller that must not repeat them renders once and posts from part
// Sent+1 itself.
//
// Every error is a *notify.Error, free of the webhook token and the secret.
func (c *Client) Send(ctx context.Context, b Bot, msg notify.Message) (notify.Receipt, error) {
	rd, err := b.Render(msg)
	if err != nil {
		return notify.Receipt{}, notify.AsError(err)
	}
	return notify.SendParts(ctx, rd.Parts, rd.Notes, func(p Payload) error { return c.Post(ctx, b, p) })
}

// Post sends one payload to the bot, signed if the bot has a secret,
// within the client's timeout. It refuses a payload over MaxBodyBytes
// without sending it. Lark reports refusals in the body of an HTTP 200, so
// the answer is always decoded; code 0 is the only success.
//
// Every error is a *notify.Error, free of the webhook token and the secret.
func (c *Client) Post(ctx context.Context, b Bot, p Payload) error {
	hide := secretsOf(b)
	target, err := b.target()
	if err != nil {
		return badWebhook.With(0, "", hide.PathErr(err))
	}
	p.Timestamp, p.Sign = "", ""
	if s := b.Secret.Reveal(); s != "" {
		p.Timestamp, p.Sign = Sign(s, c.now())
		// A signature is good for an hour: it must not leak either.
		hide = append(hide, p.Sign)
	}
	body, err := p.Encode()
	if err != nil {
		return &notify.Error{Action: notify.Permanent, Code: "internal", Message: "the payload does not encode as JSON: this is a bug in Tocsin", Err: err}
	}
	if len(body) > MaxBodyBytes {
		return tooLong.With(0, "", fmt.Errorf("the body is %d bytes; Tocsin did not send it", len(body)))
	}

	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return badWebhook.With(0, "", hide.PathErr(err))
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := c.client().Do(req)
	if err != nil {
		return transport(err).With(0, "", hide.PathErr(err))
	}
	defer notify.DrainClose(resp.Body)
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return transport(err).With(0, "", hide.PathErr(fmt.Errorf("read the answer: %w", err)))
	}
	return read(resp.StatusCode, resp.Header, answer, len(body), hide)
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

// answer is Lark's reply. Current servers send code and msg; older ones, and
// some current ones alongside, the redundant StatusCode and StatusMessage,
// which count only when code is absent.
type answer struct {
	Code          *int   `json:"code"`
	Msg           string `json:"msg"`
	StatusCode    *int   `json:"StatusCode"`
	StatusMessage string `json:"StatusMessage"`
}

// decode reads Lark's code and message from body; ok is false when body
// is not a Lark answer.
func decode(body []byte) (code int, msg string, ok bool) {
	var a answer
	if json.Unmarshal(body, &a) != nil {
		return 0, "", false
	}
	switch {
	case a.Code != nil:
		return *a.Code, a.Msg, true
	case a.StatusCode != nil:
		return *a.StatusCode, a.StatusMessage, true
	}
	return 0, "", false
}

// read turns Lark's answer into nil or an error. Only a code of 0 in an
// HTTP 200 is success; a code that comes with another non-5xx status (Lark
// has been seen to answer 9499 with a 400, and 99991201 with a 404)
// explains it better than the status does. sent is the request body's size.
func read(status int, header http.Header, body []byte, sent int, h notify.Redactor) error {
	code, msg, decoded := decode(body)
	msg = h.Text(fit.Clean(msg))
	statusErr := fmt.Errorf("HTTP %d %s", status, http.StatusText(status))
	var e *notify.Error
	switch {
	case status == http.StatusOK && decoded:
		if code == 0 {
			return nil
		}
		return classify(code, msg, sent)
	case status == http.StatusOK:
		start := fit.Clean(string(body[:min(len(body), 120)]))
		return notLark.With(0, "", fmt.Errorf("the answer starts %q", h.Text(start)))
	case status >= 500:
		e = serverError.With(code, msg, statusErr)
	case decoded && code != 0:
		e = classify(code, msg, sent)
		e.Err = statusErr
	case status == http.StatusTooManyRequests:
		e = rateLimited.With(code, msg, statusErr)
	case status >= 300 && status < 400:
		return redirected.With(0, "", statusErr)
	default:
		return httpStatus.With(code, msg, statusErr)
	}
	if d := notify.RetryAfter(header); d > 0 && e.Action == notify.Retry {
		e.RetryAfter = d
	}
	return e
}

// transport picks the verdict on a failure to get an answer at all.
func transport(err error) notify.Verdict {
	return notify.TransportVerdict(err, "Lark", addressRefused)
}

// secretsOf lists what must never leave Post in clear: the webhook token
// (as written, escaped and unescaped), the signing secret, the whole
// webhook URL, and (appended by Post) the request's signature. The token
// comes first, so that a URL in an error (see notify.Redactor.PathErr)
// keeps its host and path and shows only the token masked.
func secretsOf(b Bot) notify.Redactor {
	tok := tokenOf(b.WebhookURL.Reveal())
	h := notify.Redactor{tok, url.PathEscape(tok)}
	if t, err := url.PathUnescape(tok); err == nil {
		h = append(h, t)
	}
	return append(h, b.Secret.Reveal(), b.WebhookURL.Reveal())
}
