package wecom

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/notify/notifytest"
	"github.com/tocsinhq/tocsin/internal/secret"
)

// testKey is shaped like a real webhook key.
const testKey = "693a91f6-7a4c-4bc4-97a0-0ec2f1fa5a3e"

// clock is a settable clock for the fake, safe for concurrent use.
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

// fake is a WeCom fake on 127.0.0.1 with one robot, testKey, and a frozen
// clock, closed at the end of the test. limit is the robot's messages a
// minute; 0 means WeCom's 20.
type fake struct {
	*notifytest.WeCom
	clock *clock
	base  string
}

func startFake(t *testing.T, limit int) *fake {
	t.Helper()
	clk := &clock{t: time.Date(2026, 8, 21, 9, 0, 0, 0, time.UTC)}
	f, srv, err := notifytest.StartWeCom(notifytest.WeComOptions{Now: clk.Now, Limit: limit})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close the fake: %v", err)
		}
	})
	f.AddRobot(testKey, notifytest.WeComRobotConfig{})
	return &fake{WeCom: f, clock: clk, base: srv.URL}
}

func (f *fake) robot(typ MsgType) Robot {
	return Robot{WebhookURL: secret.NewURL(f.WebhookURL(f.base, testKey)), MsgType: typ}
}

func newClient() *Client {
	return &Client{HTTP: notify.NewHTTPClient(5*time.Second, nil)}
}

// TestSendAccepted: the fake accepts each message type as rendered, and
// sees the mentions Render meant.
func TestSendAccepted(t *testing.T) {
	msg := alertMessage()
	msg.Mentions = everyone()
	tests := []struct {
		typ         MsgType
		wantUserIDs []string
		wantMobiles []string
		wantAll     bool
	}{
		{MsgMarkdown, []string{"wangqing"}, nil, false},
		{MsgText, []string{"wangqing"}, []string{"13900002222", "+852-12345678", "13800001111", "13700003333"}, true},
		{MsgMarkdownV2, nil, nil, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ), func(t *testing.T) {
			f := startFake(t, 0)
			rc, err := newClient().Send(t.Context(), f.robot(tt.typ), msg)
			if err != nil {
				t.Fatal(err)
			}
			rd, err := f.robot(tt.typ).Render(msg)
			if err != nil {
				t.Fatal(err)
			}
			if rc.Parts != 1 || rc.Sent != 1 || !cmp.Equal(rc.Notes, rd.Notes) {
				t.Errorf("receipt %+v, want 1 part sent with the render's notes", rc)
			}
			got := f.Accepted(testKey)
			if len(got) != 1 {
				t.Fatalf("the fake accepted %d messages, want 1", len(got))
			}
			m := got[0]
			if m.MsgType != string(tt.typ) || m.Content != rd.Parts[0].content() {
				t.Errorf("accepted %s %q, want %s %q", m.MsgType, m.Content, tt.typ, rd.Parts[0].content())
			}
			if diff := cmp.Diff(tt.wantUserIDs, m.MentionedUserIDs, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("user IDs mentioned (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantMobiles, m.MentionedMobiles, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("mobiles mentioned (-want +got):\n%s", diff)
			}
			if m.MentionedAll != tt.wantAll {
				t.Errorf("@all = %t, want %t", m.MentionedAll, tt.wantAll)
			}
		})
	}
}

// TestSendSplitsLongMarkdown: a long message goes out as parts, in order,
// each within 4096 content bytes, all accepted, the mention on the first.
func TestSendSplitsLongMarkdown(t *testing.T) {
	f := startFake(t, 0)
	msg := alertMessage()
	msg.Text = strings.Repeat("- 告警：主机 web-1 的磁盘 /data 使用率 97%，请尽快处理。\n", 180)
	msg.Mentions = notify.Mentions{People: []notify.Person{wang}}
	msg.Buttons = []notify.Button{details, silence} // as titleChunk expects

	rc, err := newClient().Send(t.Context(), f.robot(MsgMarkdown), msg)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Parts < 3 || rc.Parts > MaxParts || rc.Sent != rc.Parts || len(rc.Notes) != 0 {
		t.Fatalf("receipt %+v, want 3 to %d parts, all sent, no notes", rc, MaxParts)
	}
	got := f.Accepted(testKey)
	if len(got) != rc.Parts {
		t.Fatalf("the fake accepted %d messages, want %d", len(got), rc.Parts)
	}
	var text []string
	for i, m := range got {
		if n := len(m.Content); n > MaxMarkdownBytes {
			t.Errorf("part %d: %d content bytes, over %d", i+1, n, MaxMarkdownBytes)
		}
		if want := fmt.Sprintf("(%d/%d)**", i+1, rc.Parts); !strings.Contains(m.Content, want) {
			t.Errorf("part %d is not numbered %s: %.80q…", i+1, want, m.Content)
		}
		wantIDs := []string(nil)
		if i == 0 {
			wantIDs = []string{"wangqing"}
		}
		if diff := cmp.Diff(wantIDs, m.MentionedUserIDs, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("part %d mentions (-want +got):\n%s", i+1, diff)
		}
		_, chunk := titleChunk(t, MsgMarkdown, m.Content, i == 0)
		text = append(text, chunk)
	}
	if got := strings.Join(text, "\n"); got != msg.Text {
		t.Errorf("the parts do not add up to the text: %d bytes, want %d", len(got), len(msg.Text))
	}
}

func TestSendUnknownKey(t *testing.T) {
	f := startFake(t, 0)
	r := Robot{WebhookURL: secret.NewURL(f.WebhookURL(f.base, "0ec2f1fa-0000-4bc4-97a0-693a91f67a4c"))}
	rc, err := newClient().Send(t.Context(), r, alertMessage())
	e := notify.AsError(err)
	if e == nil || e.Action != notify.Permanent || e.Code != "token-unknown" || e.PlatformCode != 93000 || e.Hint == "" {
		t.Fatalf("err = %#v, want a permanent token-unknown from 93000 with a hint", e)
	}
	if !strings.HasPrefix(e.PlatformMessage, "invalid webhook url, hint: [") || !strings.Contains(e.PlatformMessage, "from ip: 127.0.0.1") {
		t.Errorf("platform message %q, want WeCom's errmsg with its suffix", e.PlatformMessage)
	}
	if rc.Sent != 0 {
		t.Errorf("receipt %+v, want nothing sent", rc)
	}
}

// TestSendRateLimited: WeCom takes 20 messages a minute from a robot; the
// 21st is refused, retryable after a minute, and after a minute goes
// through.
func TestSendRateLimited(t *testing.T) {
	f := startFake(t, 0)
	c := newClient()
	r := f.robot(MsgMarkdown)
	for i := range 20 {
		if _, err := c.Send(t.Context(), r, alertMessage()); err != nil {
			t.Fatalf("send %d: %v", i+1, err)
		}
		f.clock.Advance(time.Second)
	}
	_, err := c.Send(t.Context(), r, alertMessage())
	e := notify.AsError(err)
	if e == nil || e.Action != notify.Retry || e.Code != "rate-limited" || e.PlatformCode != 45009 || e.RetryAfter != time.Minute {
		t.Fatalf("21st send: err = %#v, want a retryable rate-limited 45009 after a minute", e)
	}
	f.clock.Advance(e.RetryAfter)
	if _, err := c.Send(t.Context(), r, alertMessage()); err != nil {
		t.Fatalf("after waiting RetryAfter: %v", err)
	}
	if n := len(f.Accepted(testKey)); n != 21 {
		t.Errorf("accepted %d, want 21", n)
	}
}

// TestSendStopsAtFirstFailure: Send posts parts in order, stops at the
// first refusal, and says how far it got.
func TestSendStopsAtFirstFailure(t *testing.T) {
	f := startFake(t, 1) // the second part is one too many
	msg := alertMessage()
	msg.Text = manyLines(300)
	rc, err := newClient().Send(t.Context(), f.robot(MsgText), msg)
	if e := notify.AsError(err); e == nil || e.Code != "rate-limited" || e.Action != notify.Retry {
		t.Fatalf("err = %v, want a retryable rate-limited", err)
	}
	if rc.Parts < 2 || rc.Sent != 1 {
		t.Errorf("receipt %+v, want several parts and 1 sent", rc)
	}
	if n := len(f.Attempts(testKey)); n != 2 {
		t.Errorf("%d requests, want 2: Send goes on after a refusal", n)
	}
}

// TestPostFaults: failures in front of WeCom, and WeCom's own, come back
// classified.
func TestPostFaults(t *testing.T) {
	tests := []struct {
		fault  notifytest.Fault
		action notify.Action
		code   string
	}{
		{notifytest.Fault{}, notify.Retry, "system-busy"},
		{notifytest.Fault{ErrCode: 45033, ErrMsg: "api concurrent out of limit"}, notify.Retry, "concurrency-limited"},
		{notifytest.Fault{Status: http.StatusBadGateway}, notify.Retry, "server-error"},
		{notifytest.Fault{Status: http.StatusForbidden}, notify.Permanent, "http-status"},
		{notifytest.Fault{Drop: true}, notify.Retry, "network"},
		{notifytest.Fault{Hang: true}, notify.Retry, "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.code+fmt.Sprint(tt.fault.Status), func(t *testing.T) {
			f := startFake(t, 0)
			f.FailNext(testKey, 1, tt.fault)
			c := newClient()
			c.Timeout = 100 * time.Millisecond
			rd, err := f.robot(MsgMarkdown).Render(alertMessage())
			if err != nil {
				t.Fatal(err)
			}
			err = c.Post(t.Context(), f.robot(MsgMarkdown), rd.Parts[0])
			if e := notify.AsError(err); e == nil || e.Action != tt.action || e.Code != tt.code {
				t.Errorf("err = %v, want %s %s", err, tt.action, tt.code)
			}
		})
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

// TestPostAnswers maps WeCom's (status, body) to what to do, including
// answers the fake never gives.
func TestPostAnswers(t *testing.T) {
	const suffix = `, hint: [1700000000_1_0a1b2c], from ip: 203.0.113.7, more info at https://open.work.weixin.qq.com/devtool/query?e=`
	tests := []struct {
		name         string
		reply        http.HandlerFunc
		action       notify.Action // 0: success
		code         string
		platformCode int
		retryAfter   time.Duration
	}{
		{"ok", reply(200, `{"errcode":0,"errmsg":"ok"}`), 0, "", 0, 0},
		{"200 rate limited", reply(200, `{"errcode":45009,"errmsg":"api freq out of limit`+suffix+`45009"}`), notify.Retry, "rate-limited", 45009, time.Minute},
		{"200 too long", reply(200, `{"errcode":40058,"errmsg":"markdown.content exceed max length 4096. invalid Request Parameter`+suffix+`40058"}`), notify.Shrink, "message-too-long", 40058, 0},
		{"200 other bad parameter", reply(200, `{"errcode":40058,"errmsg":"news.articles[0].url invalid. invalid Request Parameter`+suffix+`40058"}`), notify.Permanent, "bad-request", 40058, 0},
		{"200 unknown key", reply(200, `{"errcode":93000,"errmsg":"invalid webhook url`+suffix+`93000"}`), notify.Permanent, "token-unknown", 93000, 0},
		{"200 html", reply(200, `<html>portal</html>`), notify.Retry, "unexpected-response", 0, 0},
		{"200 empty object", reply(200, `{}`), notify.Retry, "unexpected-response", 0, 0},
		{"500", reply(500, ``), notify.Retry, "server-error", 0, 0},
		{"502 busy", reply(502, `{"errcode":-1,"errmsg":"system busy"}`), notify.Retry, "server-error", -1, 0},
		{"503 retry-after", reply(503, `busy`, "Retry-After", "30"), notify.Retry, "server-error", 0, 30 * time.Second},
		{"429", reply(429, ``), notify.Retry, "rate-limited", 0, time.Minute},
		{"429 retry-after", reply(429, ``, "Retry-After", "90"), notify.Retry, "rate-limited", 0, 90 * time.Second},
		{"302", reply(302, ``, "Location", "https://login.example/"), notify.Permanent, "redirected", 0, 0},
		{"404", reply(404, `not found`), notify.Permanent, "http-status", 0, 0},
		{"400 with errcode", reply(400, `{"errcode":40008,"errmsg":"invalid message type"}`), notify.Permanent, "unsupported-message-type", 40008, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.reply)
			defer srv.Close()
			r := Robot{WebhookURL: secret.NewURL(srv.URL + "/cgi-bin/webhook/send?key=" + testKey)}
			err := newClient().Post(t.Context(), r, Payload{MsgType: MsgText, Text: &Text{Content: "disk full"}})
			if tt.action == 0 {
				if err != nil {
					t.Fatalf("err = %v, want success", err)
				}
				return
			}
			var e *notify.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want a *notify.Error", err)
			}
			got := fmt.Sprintf("%s %s %d %v", e.Action, e.Code, e.PlatformCode, e.RetryAfter)
			want := fmt.Sprintf("%s %s %d %v", tt.action, tt.code, tt.platformCode, tt.retryAfter)
			if got != want {
				t.Errorf("got %s, want %s (%v)", got, want, err)
			}
		})
	}
}

func TestPostRefusesBadPayloads(t *testing.T) {
	f := startFake(t, 0)
	tests := []struct {
		name   string
		p      Payload
		action notify.Action
		code   string
	}{
		{"text over 2048", Payload{MsgType: MsgText, Text: &Text{Content: strings.Repeat("告", 683)}}, notify.Shrink, "message-too-long"},
		{"markdown over 4096", Payload{MsgType: MsgMarkdown, Markdown: &Markdown{Content: strings.Repeat("x", 4097)}}, notify.Shrink, "message-too-long"},
		{"no content", Payload{MsgType: MsgMarkdown}, notify.Permanent, "internal"},
		{"unknown type", Payload{MsgType: "news", Markdown: &Markdown{Content: "x"}}, notify.Permanent, "internal"},
		{"msgtype and object differ", Payload{MsgType: MsgText, Markdown: &Markdown{Content: "x"}}, notify.Permanent, "internal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := newClient().Post(t.Context(), f.robot(MsgMarkdown), tt.p)
			if e := notify.AsError(err); e == nil || e.Action != tt.action || e.Code != tt.code {
				t.Fatalf("err = %v, want %s %s", err, tt.action, tt.code)
			}
		})
	}
	if n := len(f.Attempts(testKey)); n != 0 {
		t.Errorf("%d requests reached WeCom, want none", n)
	}
}

func TestPostChecksWebhookURL(t *testing.T) {
	for _, raw := range []string{
		"",
		"qyapi.weixin.qq.com/cgi-bin/webhook/send?key=" + testKey,
		"ftp://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=" + testKey,
		"https://qyapi.weixin.qq.com/cgi-bin/webhook/send",
		"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=",
		testKey,
	} {
		err := newClient().Post(t.Context(), Robot{WebhookURL: secret.NewURL(raw)}, Payload{MsgType: MsgText, Text: &Text{Content: "x"}})
		if e := notify.AsError(err); e == nil || e.Code != "invalid-webhook-url" || e.Action != notify.Permanent {
			t.Errorf("%q: err = %v, want a permanent invalid-webhook-url", raw, err)
		} else if strings.Contains(err.Error(), testKey) {
			t.Errorf("%q: the error shows the key: %v", raw, err)
		}
	}
}

// TestClientZeroValue: a zero Client works, with the shared transport and
// the default timeout.
func TestClientZeroValue(t *testing.T) {
	f := startFake(t, 0)
	var c Client
	if c.timeout() != DefaultTimeout || c.client() == http.DefaultClient || c.client().Timeout == 0 {
		t.Errorf("zero Client: timeout %v, client %p with timeout %v", c.timeout(), c.client(), c.client().Timeout)
	}
	if _, err := c.Send(t.Context(), f.robot(""), alertMessage()); err != nil {
		t.Fatal(err)
	}
}

// TestNoSecretLeak: the webhook key appears in no returned error and no log
// line about the robot and the error, whatever goes wrong — transport
// errors quote the request URL, and an answer may quote the request back.
func TestNoSecretLeak(t *testing.T) {
	echo := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			msg, _ := json.Marshal("invalid webhook url: " + r.URL.String() + " key " + r.URL.Query().Get("key"))
			fmt.Fprintf(w, `{"errcode":93000,"errmsg":%s}`, msg)
		}
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	tests := []struct {
		name  string
		fault *notifytest.Fault // on the fake
		reply http.HandlerFunc  // instead of the fake
		url   string            // instead of either
		code  string
	}{
		{name: "connection dropped", fault: &notifytest.Fault{Drop: true}, code: "network"},
		{name: "timeout", fault: &notifytest.Fault{Hang: true}, code: "timeout"},
		{name: "bad gateway", fault: &notifytest.Fault{Status: http.StatusBadGateway}, code: "server-error"},
		{name: "unknown key", code: "token-unknown", url: "fake-unknown"},
		{name: "errmsg echoing", reply: echo(200), code: "token-unknown"},
		{name: "500 echoing", reply: echo(500), code: "server-error"},
		{name: "403 echoing", reply: echo(403), code: "token-unknown"},
		{name: "200 not json", code: "unexpected-response", reply: func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, r.URL.String())
		}},
		{name: "connection refused", code: "network", url: closed.URL + "/cgi-bin/webhook/send?key=" + testKey},
		{name: "unparsable URL", code: "invalid-webhook-url", url: "http://127.0.0.1/cgi-bin/webhook/send?key=" + testKey + "\x7f"},
		{name: "escaped key", code: "network", url: closed.URL + "/cgi-bin/webhook/send?key=" + url.QueryEscape(testKey+"/+=")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFake(t, 0)
			r := f.robot(MsgMarkdown)
			hidden := []string{testKey}
			switch {
			case tt.url == "fake-unknown":
				// A key the fake does not know, still a secret.
				r.WebhookURL = secret.NewURL(f.WebhookURL(f.base, "secret-"+testKey))
			case tt.url != "":
				r.WebhookURL = secret.NewURL(tt.url)
				hidden = append(hidden, testKey+"/+=", url.QueryEscape(testKey+"/+="))
			case tt.reply != nil:
				srv := httptest.NewServer(tt.reply)
				t.Cleanup(srv.Close)
				r.WebhookURL = secret.NewURL(srv.URL + "/cgi-bin/webhook/send?key=" + testKey)
			case tt.fault != nil:
				f.FailNext(testKey, 1, *tt.fault)
			}
			c := newClient()
			c.Timeout = 100 * time.Millisecond
			_, err := c.Send(t.Context(), r, alertMessage())
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
			slog.New(slog.NewTextHandler(&logs, nil)).Error("send failed", "robot", r, "err", err, "settings", fmt.Sprintf("%v %+v", r, r))
			slog.New(slog.NewJSONHandler(&logs, nil)).Error("send failed", "robot", r, "err", err)
			texts := map[string]string{
				"Error()":   err.Error(),
				"%+v":       fmt.Sprintf("%+v", e),
				"Message":   e.Message + e.Hint + e.PlatformMessage,
				"logs":      logs.String(),
				"cause":     fmt.Sprint(errors.Unwrap(err)),
				"cause %#v": fmt.Sprintf("%#v", errors.Unwrap(err)),
			}
			for what, text := range texts {
				for _, v := range hidden {
					if strings.Contains(text, v) {
						t.Errorf("%s shows the key %q:\n%s", what, v, text)
					}
				}
			}
			if !strings.Contains(logs.String(), secret.Mask) {
				t.Errorf("the log does not show the robot masked:\n%s", logs.String())
			}
		})
	}
}

func TestRefusedAddressIsPermanentAndExplained(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the guard let a refused address through")
	}))
	defer srv.Close()
	refuse := func(addr string, ip netip.Addr) error { return fmt.Errorf("%s: %w", ip, notify.ErrAddressRefused) }
	c := &Client{HTTP: notify.NewHTTPClient(5*time.Second, refuse)}
	robot := Robot{WebhookURL: secret.NewURL(srv.URL + "/cgi-bin/webhook/send?key=" + testKey)}
	_, err := c.Send(t.Context(), robot, notify.Message{Title: "t", Text: "x"})
	ne := notify.AsError(err)
	if ne.Action != notify.Permanent || ne.Code != "address-not-allowed" || ne.Hint == "" {
		t.Errorf("refused address: %+v, want a permanent address-not-allowed with a hint", ne)
	}
	if strings.Contains(err.Error(), testKey) {
		t.Errorf("error shows the key: %v", err)
	}
}
