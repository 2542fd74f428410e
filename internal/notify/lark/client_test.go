package lark

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/notify/notifytest"
	"github.com/tocsinhq/tocsin/internal/secret"
)

const (
	testToken  = "0b9f3a5e-7c1d-4e2f-8a6b-5d4c3b2a1f00"
	testSecret = "qJ8xVb2n5LmRtY7wZc3eKd"
)

// clock is a settable clock shared by a client and the fake.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fake starts a Lark fake on its own clock with one bot configured as c,
// and returns a client on the same clock and the bot's settings as a
// channel would hold them.
func fake(t *testing.T, c notifytest.LarkBotConfig) (*notifytest.Lark, *Client, Bot, *clock) {
	t.Helper()
	clk := &clock{t: time.Unix(vectorSeconds, 0)}
	f, srv, err := notifytest.StartLark(notifytest.LarkOptions{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	f.AddBot(testToken, c)
	b := Bot{WebhookURL: secret.NewURL(f.WebhookURL(srv.URL, testToken)), Secret: secret.New(c.Secret), Keywords: c.Keywords}
	return f, &Client{HTTP: notify.NewHTTPClient(5*time.Second, nil), Now: clk.Now}, b, clk
}

func wantError(t *testing.T, err error, action notify.Action, code string, platformCode int) *notify.Error {
	t.Helper()
	var e *notify.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want a *notify.Error", err)
	}
	if e.Action != action || e.Code != code || e.PlatformCode != platformCode {
		t.Errorf("got %s %q %d, want %s %q %d (%v)", e.Action, e.Code, e.PlatformCode, action, code, platformCode, err)
	}
	return e
}

// TestSendToFake: with signing and a keyword on, every message type is
// accepted, and the fake sees the mentions really written.
func TestSendToFake(t *testing.T) {
	for _, typ := range []MsgType{MsgInteractive, MsgPost, MsgText} {
		t.Run(string(typ), func(t *testing.T) {
			f, c, b, _ := fake(t, notifytest.LarkBotConfig{Secret: testSecret, Keywords: []string{"告警"}})
			b.MsgType = typ
			msg := alertMessage()
			msg.Mentions = notify.Mentions{People: []notify.Person{ann, carol, bo}, All: true}
			msg.Text += "\n<at id=all></at> <at user_id=\"ou_sneaky\">x</at>" // from an alert label: must not mention
			rc, err := c.Send(t.Context(), b, msg)
			if err != nil {
				t.Fatal(err)
			}
			if rc.Parts != 1 || rc.Sent != 1 || len(rc.Notes) != 1 {
				t.Errorf("receipt %+v, want 1 part sent and a note on Carol", rc)
			}
			got := f.Accepted(testToken)
			if len(got) != 1 {
				t.Fatalf("accepted %d, want 1", len(got))
			}
			m := got[0]
			if m.MsgType != string(typ) {
				t.Errorf("msg_type %q, want %q", m.MsgType, typ)
			}
			if diff := cmp.Diff([]string{ann.LarkOpenID, bo.LarkOpenID}, m.AtIDs); diff != "" || !m.AtAll {
				t.Errorf("mentions (-want +got):\n%s\nAtAll = %t, want true", diff, m.AtAll)
			}
			if !strings.Contains(m.Text, "HighCPU on web-1") {
				t.Errorf("the group would not see the alert: %q", m.Text)
			}
			if ts := m.Payload["timestamp"]; ts != "1599360473" {
				t.Errorf("timestamp %v, want the clock's seconds as a string", ts)
			}
		})
	}
}

func TestSendToFakeRefusals(t *testing.T) {
	t.Run("wrong secret", func(t *testing.T) {
		_, c, b, _ := fake(t, notifytest.LarkBotConfig{Secret: testSecret})
		b.Secret = secret.New("not-the-secret")
		_, err := c.Send(t.Context(), b, alertMessage())
		wantError(t, err, notify.Permanent, "signature-mismatch", 19021)
	})
	t.Run("clock two hours off", func(t *testing.T) {
		_, c, b, _ := fake(t, notifytest.LarkBotConfig{Secret: testSecret})
		c.Now = func() time.Time { return time.Unix(vectorSeconds-7200, 0) }
		_, err := c.Send(t.Context(), b, alertMessage())
		wantError(t, err, notify.Permanent, "signature-mismatch", 19021)
	})
	t.Run("unsigned", func(t *testing.T) {
		_, c, b, _ := fake(t, notifytest.LarkBotConfig{Secret: testSecret})
		b.Secret = secret.String{}
		_, err := c.Send(t.Context(), b, alertMessage())
		wantError(t, err, notify.Permanent, "signature-mismatch", 19021)
	})
	t.Run("keyword missing", func(t *testing.T) {
		_, c, b, _ := fake(t, notifytest.LarkBotConfig{Keywords: []string{"告警"}})
		b.Keywords = nil // the channel forgot the bot's keyword
		_, err := c.Send(t.Context(), b, alertMessage())
		wantError(t, err, notify.Permanent, "keyword-missing", 19024)
	})
	t.Run("unknown token", func(t *testing.T) {
		_, c, b, _ := fake(t, notifytest.LarkBotConfig{})
		b.WebhookURL = secret.NewURL(strings.Replace(b.WebhookURL.Reveal(), testToken, "deleted-bot-token", 1))
		_, err := c.Send(t.Context(), b, alertMessage())
		wantError(t, err, notify.Permanent, "token-unknown", 19001)
	})
	t.Run("disabled", func(t *testing.T) {
		_, c, b, _ := fake(t, notifytest.LarkBotConfig{Disabled: true})
		_, err := c.Send(t.Context(), b, alertMessage())
		wantError(t, err, notify.Permanent, "robot-disabled", 19007)
	})
	t.Run("IP", func(t *testing.T) {
		_, c, b, _ := fake(t, notifytest.LarkBotConfig{IPAllow: []string{"203.0.113.0/24"}})
		_, err := c.Send(t.Context(), b, alertMessage())
		wantError(t, err, notify.Permanent, "ip-not-allowed", 19022)
	})
}

// TestSendRateLimited: the sixth message within a second is throttled,
// retryable after a minute, and the next second has room again.
func TestSendRateLimited(t *testing.T) {
	f, c, b, clk := fake(t, notifytest.LarkBotConfig{Secret: testSecret})
	for i := range 5 {
		if _, err := c.Send(t.Context(), b, alertMessage()); err != nil {
			t.Fatalf("send %d: %v", i+1, err)
		}
		clk.Advance(100 * time.Millisecond)
	}
	_, err := c.Send(t.Context(), b, alertMessage())
	if e := wantError(t, err, notify.Retry, "rate-limited", 11232); e.RetryAfter != time.Minute {
		t.Errorf("RetryAfter = %v, want 1m", e.RetryAfter)
	}
	clk.Advance(time.Second)
	if _, err := c.Send(t.Context(), b, alertMessage()); err != nil {
		t.Errorf("a second later: %v", err)
	}
	if n := len(f.Accepted(testToken)); n != 6 {
		t.Errorf("accepted %d, want 6", n)
	}
}

// TestSendShrinkFromFake: a fake that counts 20 KB as fewer bytes than
// Tocsin refuses a part Tocsin thought fitted; that is Shrink, not a bug.
func TestSendShrinkFromFake(t *testing.T) {
	clk := &clock{t: time.Unix(vectorSeconds, 0)}
	for _, status := range []int{200, 400} {
		f, srv, err := notifytest.StartLark(notifytest.LarkOptions{Now: clk.Now, MaxBodyBytes: 15000, BadRequestStatus: status})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		f.AddBot(testToken, notifytest.LarkBotConfig{})
		b := Bot{WebhookURL: secret.NewURL(f.WebhookURL(srv.URL, testToken))}
		msg := alertMessage()
		msg.Text = strings.Repeat("a line of the alert\n", 900) // about 18 KB
		_, err = (&Client{Now: clk.Now}).Send(t.Context(), b, msg)
		wantError(t, err, notify.Shrink, "message-too-long", 9499)
	}
}

func reply(status int, body string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

// stub serves h on a loopback port at a webhook path and returns a bot
// pointing at it.
func stub(t *testing.T, h http.Handler) Bot {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return Bot{WebhookURL: secret.NewURL(srv.URL + hookPath + testToken), Secret: secret.New(testSecret)}
}

// TestPostAnswers maps Lark's (status, body) to what to do.
func TestPostAnswers(t *testing.T) {
	tests := []struct {
		name         string
		reply        http.HandlerFunc
		action       notify.Action // 0: success
		code         string
		platformCode int
		retryAfter   time.Duration
	}{
		{"ok, both shapes", reply(200, `{"StatusCode":0,"StatusMessage":"success","code":0,"data":{},"msg":"success"}`), 0, "", 0, 0},
		{"ok, new shape", reply(200, `{"code":0,"msg":"success","data":{}}`), 0, "", 0, 0},
		{"ok, legacy shape", reply(200, `{"StatusCode":0,"StatusMessage":"success"}`), 0, "", 0, 0},
		{"code wins over StatusCode", reply(200, `{"StatusCode":0,"code":19024,"msg":"Key Words Not Found"}`), notify.Permanent, "keyword-missing", 19024, 0},
		{"legacy refusal", reply(200, `{"StatusCode":19021,"StatusMessage":"sign match fail"}`), notify.Permanent, "signature-mismatch", 19021, 0},
		{"200 throttled", reply(200, `{"code":11232,"msg":"rate limited","data":{}}`), notify.Retry, "rate-limited", 11232, time.Minute},
		{"400 too many request", reply(400, `{"code":9499,"msg":"too many request","data":{}}`), notify.Retry, "rate-limited", 9499, time.Minute},
		{"400 bad request on a small body", reply(400, `{"code":9499,"msg":"Bad Request","data":{}}`), notify.Permanent, "bad-request", 9499, 0},
		{"404 wrong path", reply(404, `{"code":99991201,"msg":"resource not find"}`), notify.Permanent, "invalid-webhook-url", 99991201, 0},
		{"200 html", reply(200, `<html>portal</html>`), notify.Retry, "unexpected-response", 0, 0},
		{"200 empty object", reply(200, `{}`), notify.Retry, "unexpected-response", 0, 0},
		{"200 empty", reply(200, ``), notify.Retry, "unexpected-response", 0, 0},
		{"500", reply(500, ``), notify.Retry, "server-error", 0, 0},
		{"502 with a code", reply(502, `{"code":9499,"msg":"Bad Request"}`), notify.Retry, "server-error", 9499, 0},
		{"503 retry-after", reply(503, `busy`, "Retry-After", "30"), notify.Retry, "server-error", 0, 30 * time.Second},
		{"429", reply(429, ``), notify.Retry, "rate-limited", 0, time.Minute},
		{"429 retry-after", reply(429, ``, "Retry-After", "5"), notify.Retry, "rate-limited", 0, 5 * time.Second},
		{"302", reply(302, ``, "Location", "https://elsewhere.example/"), notify.Permanent, "redirected", 0, 0},
		{"403", reply(403, `forbidden`), notify.Permanent, "http-status", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := stub(t, tt.reply)
			rd, err := b.Render(alertMessage())
			if err != nil {
				t.Fatal(err)
			}
			err = (&Client{}).Post(t.Context(), b, rd.Parts[0])
			if tt.action == 0 {
				if err != nil {
					t.Fatalf("err = %v, want success", err)
				}
				return
			}
			if e := wantError(t, err, tt.action, tt.code, tt.platformCode); e.RetryAfter != tt.retryAfter {
				t.Errorf("RetryAfter = %v, want %v", e.RetryAfter, tt.retryAfter)
			}
		})
	}
}

// TestPostRequest: one JSON POST to the webhook, signed in the body with
// a fresh signature each time, never in the URL.
func TestPostRequest(t *testing.T) {
	var mu sync.Mutex
	var seen []*http.Request
	var bodies []map[string]any
	b := stub(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p map[string]any
		_ = json.NewDecoder(r.Body).Decode(&p)
		mu.Lock()
		seen, bodies = append(seen, r), append(bodies, p)
		mu.Unlock()
		fmt.Fprint(w, `{"code":0,"msg":"success","data":{}}`)
	}))
	b.WebhookURL = secret.NewURL(b.WebhookURL.Reveal() + "#pasted-fragment")
	clk := &clock{t: time.Unix(vectorSeconds, 0)}
	c := &Client{Now: clk.Now}
	rd, err := b.Render(alertMessage())
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := c.Post(t.Context(), b, rd.Parts[0]); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
	}
	if rd.Parts[0].Sign != "" {
		t.Error("Post signed the caller's payload in place")
	}
	for i, r := range seen {
		if r.Method != http.MethodPost || r.URL.Path != hookPath+testToken || r.URL.RawQuery != "" {
			t.Errorf("request %d: %s %s", i, r.Method, r.URL)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("request %d: Content-Type %q", i, ct)
		}
		ts, _ := bodies[i]["timestamp"].(string)
		if _, want := Sign(testSecret, time.Unix(vectorSeconds+int64(i), 0)); ts != fmt.Sprint(vectorSeconds+i) || bodies[i]["sign"] != want {
			t.Errorf("request %d: timestamp %q sign %v, want %d %q", i, ts, bodies[i]["sign"], vectorSeconds+i, want)
		}
		if _, ok := bodies[i]["card"].(map[string]any); !ok || bodies[i]["msg_type"] != "interactive" {
			t.Errorf("request %d: body %v, want an interactive card", i, bodies[i])
		}
	}
}

func TestPostRefusesOversize(t *testing.T) {
	b := stub(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("an oversized body was sent") }))
	p := Payload{MsgType: MsgText, Content: &Content{Text: strings.Repeat("x", MaxBodyBytes)}}
	wantError(t, (&Client{}).Post(t.Context(), b, p), notify.Shrink, "message-too-long", 0)
}

func TestSendInvalidMessage(t *testing.T) {
	b := stub(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("an empty message was sent") }))
	rc, err := (&Client{}).Send(t.Context(), b, notify.Message{})
	wantError(t, err, notify.Permanent, "empty-message", 0)
	if rc.Sent != 0 {
		t.Errorf("receipt %+v, want nothing sent", rc)
	}
}

// TestSendParts: a long message goes out as parts in order; Send stops at
// the first refusal and says how far it got.
func TestSendParts(t *testing.T) {
	f, c, b, clk := fake(t, notifytest.LarkBotConfig{})
	msg := alertMessage()
	msg.Text = manyLines(1200)
	f.FailNext(testToken, 1, notifytest.Fault{}) // the first part meets a throttle
	rc, err := c.Send(t.Context(), b, msg)
	wantError(t, err, notify.Retry, "rate-limited", 11232)
	if rc.Parts < 3 || rc.Sent != 0 {
		t.Fatalf("receipt %+v, want several parts and none sent", rc)
	}
	clk.Advance(time.Minute)
	rc, err = c.Send(t.Context(), b, msg)
	if err != nil || rc.Sent != rc.Parts {
		t.Fatalf("receipt %+v, %v; want every part sent", rc, err)
	}
	for i, m := range f.Accepted(testToken) {
		if want := fmt.Sprintf("(%d/%d)", i+1, rc.Parts); !strings.HasSuffix(m.Title, want) {
			t.Errorf("accepted message %d is titled %q, want it to end in %s", i, m.Title, want)
		}
	}
}

// TestClientZeroValue: a zero Client works, with the shared transport and
// the default timeout.
func TestClientZeroValue(t *testing.T) {
	_, _, b, _ := fake(t, notifytest.LarkBotConfig{})
	var c Client
	if c.timeout() != DefaultTimeout || c.client() == http.DefaultClient || c.client().Timeout == 0 {
		t.Errorf("zero Client: timeout %v, client %p with timeout %v", c.timeout(), c.client(), c.client().Timeout)
	}
	if _, err := c.Send(t.Context(), b, alertMessage()); err != nil {
		t.Fatal(err)
	}
}

// TestNoSecretLeak: neither the webhook token, the signing secret nor a
// request's signature appears in a returned error or in a log line about
// the bot and the error, whatever goes wrong.
func TestNoSecretLeak(t *testing.T) {
	var mu sync.Mutex
	var signs []string
	echo := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var p map[string]any
			_ = json.NewDecoder(r.Body).Decode(&p)
			sign, _ := p["sign"].(string)
			mu.Lock()
			signs = append(signs, sign)
			mu.Unlock()
			// A hostile or buggy answer quoting the request back.
			msg, _ := json.Marshal("sign match fail: " + r.URL.String() + " " + testSecret + " " + sign)
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"code":19021,"msg":%s}`, msg)
		}
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	tests := []struct {
		name  string
		reply http.HandlerFunc
		url   string // overrides the bot's URL
		code  string
	}{
		{name: "connection closed", code: "network", reply: func(w http.ResponseWriter, _ *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}},
		{name: "timeout", code: "timeout", reply: func(_ http.ResponseWriter, r *http.Request) {
			// Only once the body is read does net/http notice the client
			// hanging up and cancel the context.
			_, _ = io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
		}},
		{name: "code 19021 echoing", code: "signature-mismatch", reply: echo(200)},
		{name: "500 echoing", code: "server-error", reply: echo(500)},
		{name: "400 echoing", code: "signature-mismatch", reply: echo(400)},
		{name: "200 not json", code: "unexpected-response", reply: func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "http://"+r.Host+r.URL.String())
		}},
		{name: "connection refused", code: "network", url: closed.URL + hookPath + testToken},
		{name: "unparsable URL", code: "invalid-webhook-url", url: "http://127.0.0.1" + hookPath + testToken + "\x7f"},
		{name: "no token in the path", code: "invalid-webhook-url", url: "http://127.0.0.1/open-apis/bot/hook/" + testToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := stub(t, tt.reply)
			if tt.url != "" {
				b.WebhookURL = secret.NewURL(tt.url)
			}
			c := &Client{}
			if tt.code == "timeout" { // only here: under load a normal answer may take longer
				c.Timeout = 100 * time.Millisecond
			}
			_, err := c.Send(t.Context(), b, alertMessage())
			var e *notify.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want a *notify.Error", err)
			}
			if e.Code != tt.code {
				t.Errorf("code %q, want %q (%v)", e.Code, tt.code, err)
			}
			if tt.code == "timeout" && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("a timeout does not wrap context.DeadlineExceeded: %v", err)
			}

			var logs bytes.Buffer
			slog.New(slog.NewTextHandler(&logs, nil)).Error("send failed", "bot", b, "err", err, "settings", fmt.Sprintf("%v %+v %#v %s", b, b, b, b))
			slog.New(slog.NewJSONHandler(&logs, nil)).Error("send failed", "bot", b, "err", err)
			texts := map[string]string{
				"Error()":   err.Error(),
				"%+v":       fmt.Sprintf("%+v", e),
				"Message":   e.Message + e.Hint + e.PlatformMessage,
				"logs":      logs.String(),
				"cause":     fmt.Sprint(errors.Unwrap(err)),
				"cause %#v": fmt.Sprintf("%#v", errors.Unwrap(err)),
			}
			hidden := map[string]string{"token": testToken, "secret": testSecret}
			mu.Lock()
			for i, s := range signs {
				hidden[fmt.Sprint("sign ", i)] = s
			}
			mu.Unlock()
			for what, text := range texts {
				for name, v := range hidden {
					if v != "" && strings.Contains(text, v) {
						t.Errorf("%s shows the %s:\n%s", what, name, text)
					}
				}
			}
			if !strings.Contains(logs.String(), secret.Mask) {
				t.Errorf("the log does not show the bot masked:\n%s", logs.String())
			}
		})
	}
}

func TestBotMasksToken(t *testing.T) {
	b := Bot{WebhookURL: secret.NewURL("https://open.feishu.cn" + hookPath + testToken), Secret: secret.New(testSecret)}
	want := "https://open.feishu.cn/open-apis/bot/v2/hook/" + secret.Mask + testToken[len(testToken)-4:]
	if got := b.maskedURL(); got != want {
		t.Errorf("maskedURL = %q, want %q", got, want)
	}
	if s := fmt.Sprintf("%v|%+v|%#v", b, b, b); strings.Contains(s, testToken) || strings.Contains(s, testSecret) || !strings.Contains(s, want) {
		t.Errorf("formatted bot = %s", s)
	}
}

func TestRefusedAddressIsPermanentAndExplained(t *testing.T) {
	b := stub(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("the guard let a refused address through") }))
	refuse := func(addr string, ip netip.Addr) error { return fmt.Errorf("%s: %w", ip, notify.ErrAddressRefused) }
	c := &Client{HTTP: notify.NewHTTPClient(5*time.Second, refuse)}
	_, err := c.Send(t.Context(), b, notify.Message{Title: "t", Text: "x"})
	e := wantError(t, err, notify.Permanent, "address-not-allowed", 0)
	if e.Hint == "" || strings.Contains(err.Error(), testToken) {
		t.Errorf("refused address: %v (hint %q), want a hint and no token", err, e.Hint)
	}
}
