package dingtalk

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
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/secret"
)

const (
	testToken  = "8d3f0c6a1b2e4f5a9c7d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d"
	testSecret = "SECb1f6d0c2a9e84f7b3c5d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0"
)

// request is what a test server saw of one request.
type request struct {
	query       url.Values
	rawQuery    string
	contentType string
	payload     Payload
}

// server is a DingTalk robot stand-in on 127.0.0.1: it records each request
// and answers with reply (nil: errcode 0).
type server struct {
	*httptest.Server
	mu       sync.Mutex // guards requests
	requests []request
}

func newServer(t *testing.T, reply http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p Payload
		_ = json.Unmarshal(body, &p)
		s.mu.Lock()
		s.requests = append(s.requests, request{r.URL.Query(), r.URL.RawQuery, r.Header.Get("Content-Type"), p})
		s.mu.Unlock()
		if reply == nil {
			fmt.Fprint(w, `{"errcode":0,"errmsg":"ok"}`)
			return
		}
		reply(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) seen() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.requests...)
}

// robot returns a signing robot pointing at the server, its URL carrying
// stale signature parameters as if pasted from an old request.
func (s *server) robot() Robot {
	return Robot{
		WebhookURL: secret.NewURL(s.URL + "/robot/send?access_token=" + testToken + "&timestamp=1&sign=stale"),
		Secret:     secret.New(testSecret),
		Keywords:   []string{"告警"},
	}
}

// ticking is a clock that moves one second per reading.
func ticking() func() time.Time {
	var mu sync.Mutex
	now := time.UnixMilli(vectorMillis)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Second)
		return now
	}
}

func newClient() *Client {
	return &Client{HTTP: notify.NewHTTPClient(5*time.Second, nil), Now: ticking()}
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

// TestSendSigns: every request carries the token, one fresh timestamp and
// one sign that the server can verify, encoded once, and a JSON body.
func TestSendSigns(t *testing.T) {
	s := newServer(t, nil)
	c := newClient()
	for range 2 {
		if _, err := c.Send(t.Context(), s.robot(), alertMessage()); err != nil {
			t.Fatal(err)
		}
	}
	reqs := s.seen()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	for i, r := range reqs {
		if n, m := len(r.query["timestamp"]), len(r.query["sign"]); n != 1 || m != 1 {
			t.Fatalf("request %d: %d timestamps and %d signs, want one each: %s", i, n, m, r.rawQuery)
		}
		if got := r.query["access_token"]; len(got) != 1 || got[0] != testToken {
			t.Errorf("request %d: access_token %q", i, got)
		}
		ts := r.query.Get("timestamp")
		var millis int64
		if _, err := fmt.Sscan(ts, &millis); err != nil {
			t.Fatalf("request %d: timestamp %q: %v", i, ts, err)
		}
		if _, want := Sign(testSecret, time.UnixMilli(millis)); r.query.Get("sign") != want {
			t.Errorf("request %d: sign %q does not verify, want %q", i, r.query.Get("sign"), want)
		}
		if strings.Contains(r.rawQuery, "%25") || !strings.Contains(r.rawQuery, "sign="+url.QueryEscape(r.query.Get("sign"))) {
			t.Errorf("request %d: sign not encoded exactly once: %s", i, r.rawQuery)
		}
		if r.contentType != "application/json; charset=utf-8" {
			t.Errorf("request %d: Content-Type %q", i, r.contentType)
		}
		if r.payload.MsgType != MsgMarkdown || r.payload.MsgUUID != "d41d8cd9-1" {
			t.Errorf("request %d: payload %+v", i, r.payload)
		}
	}
	if reqs[0].query.Get("timestamp") == reqs[1].query.Get("timestamp") {
		t.Error("both requests have the same timestamp: signing is not per request")
	}
}

// TestSendVector: with the clock at the vector's time, the query holds the
// vector's signature, URL-encoded once.
func TestSendVector(t *testing.T) {
	s := newServer(t, nil)
	c := &Client{HTTP: notify.NewHTTPClient(5*time.Second, nil), Now: func() time.Time { return time.UnixMilli(vectorMillis) }}
	r := s.robot()
	r.Secret = secret.New(vectorSecret)
	if _, err := c.Send(t.Context(), r, alertMessage()); err != nil {
		t.Fatal(err)
	}
	want := "access_token=" + testToken + "&sign=" + vectorEncoded + "&timestamp=1700000000000"
	if got := s.seen()[0].rawQuery; got != want {
		t.Errorf("query = %s\nwant    %s", got, want)
	}
}

// TestPostAnswers maps DingTalk's (status, body) to what to do.
func TestPostAnswers(t *testing.T) {
	tests := []struct {
		name         string
		reply        http.HandlerFunc
		action       notify.Action // 0: success
		code         string
		platformCode int
		retryAfter   time.Duration
	}{
		{"ok", reply(200, `{"errcode":0,"errmsg":"ok"}`), 0, "", 0, 0},
		{"200 keyword missing", reply(200, `{"errcode":310000,"errmsg":"keywords not in content"}`), notify.Permanent, "keyword-missing", 310000, 0},
		{"200 rate limited", reply(200, `{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}`), notify.Retry, "rate-limited", 130101, 10 * time.Minute},
		{"200 too long", reply(200, `{"errcode":460101,"errmsg":"message too long, exceed 20000 bytes"}`), notify.Shrink, "message-too-long", 460101, 0},
		{"200 token unknown", reply(200, `{"errcode":300005,"errmsg":"token is not exist"}`), notify.Permanent, "token-unknown", 300005, 0},
		{"200 html", reply(200, `<html>portal</html>`), notify.Retry, "unexpected-response", 0, 0},
		{"200 empty object", reply(200, `{}`), notify.Retry, "unexpected-response", 0, 0},
		{"200 empty", reply(200, ``), notify.Retry, "unexpected-response", 0, 0},
		{"500", reply(500, ``), notify.Retry, "server-error", 0, 0},
		{"502 busy", reply(502, `{"errcode":-1,"errmsg":"系统繁忙"}`), notify.Retry, "server-error", -1, 0},
		{"503 retry-after", reply(503, `busy`, "Retry-After", "30"), notify.Retry, "server-error", 0, 30 * time.Second},
		{"302 during a ban", reply(302, ``, "Location", "/robot/limited"), notify.Retry, "rate-limited", 0, 10 * time.Minute},
		{"301 moved", reply(301, ``, "Location", "https://elsewhere.example/"), notify.Permanent, "redirected", 0, 0},
		{"429", reply(429, ``), notify.Retry, "rate-limited", 0, 10 * time.Minute},
		{"429 retry-after", reply(429, ``, "Retry-After", "60"), notify.Retry, "rate-limited", 0, time.Minute},
		{"404", reply(404, `not found`), notify.Permanent, "http-status", 0, 0},
		{"400 with errcode", reply(400, `{"errcode":43004,"errmsg":"无效的HTTP HEADER Content-Type"}`), notify.Permanent, "bad-request", 43004, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, tt.reply)
			rd, err := s.robot().Render(alertMessage())
			if err != nil {
				t.Fatal(err)
			}
			err = newClient().Post(t.Context(), s.robot(), rd.Parts[0])
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

// TestSendParts: a long message goes out as parts in order, each with its
// msgUuid; Send stops at the first refusal and says how far it got, and a
// second attempt reuses the same keys.
func TestSendParts(t *testing.T) {
	msg := alertMessage()
	msg.ID = "m1"
	msg.Text = manyLines(2000)

	var mu sync.Mutex
	fail := 2 // refuse the second request
	s := newServer(t, func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if fail--; fail == 0 {
			fmt.Fprint(w, `{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}`)
			return
		}
		fmt.Fprint(w, `{"errcode":0,"errmsg":"ok"}`)
	})
	c := newClient()

	rc, err := c.Send(t.Context(), s.robot(), msg)
	if e := notify.AsError(err); e == nil || e.Code != "rate-limited" {
		t.Fatalf("err = %v, want rate-limited", err)
	}
	if rc.Parts < 3 || rc.Sent != 1 {
		t.Fatalf("receipt %+v, want several parts and 1 sent", rc)
	}

	rc, err = c.Send(t.Context(), s.robot(), msg)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Sent != rc.Parts {
		t.Errorf("receipt %+v, want every part sent", rc)
	}
	var got []string
	for _, r := range s.seen() {
		got = append(got, r.payload.MsgUUID)
	}
	want := []string{"m1-1", "m1-2"}
	for i := range rc.Parts {
		want = append(want, fmt.Sprintf("m1-%d", i+1))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("msgUuids posted (-want +got):\n%s", diff)
	}
}

func TestPostRefusesOversize(t *testing.T) {
	s := newServer(t, nil)
	p := Payload{MsgType: MsgText, Text: &Text{Content: "告警 " + strings.Repeat("x", MaxBodyBytes)}}
	err := newClient().Post(t.Context(), s.robot(), p)
	if e := notify.AsError(err); e == nil || e.Action != notify.Shrink || e.Code != "message-too-long" {
		t.Fatalf("err = %v, want shrink message-too-long", err)
	}
	if n := len(s.seen()); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}

func TestSendInvalidMessage(t *testing.T) {
	s := newServer(t, nil)
	rc, err := newClient().Send(t.Context(), s.robot(), notify.Message{})
	if e := notify.AsError(err); e == nil || e.Action != notify.Permanent || e.Code != "empty-message" {
		t.Fatalf("err = %v, want permanent empty-message", err)
	}
	if rc.Sent != 0 || len(s.seen()) != 0 {
		t.Errorf("receipt %+v, %d requests; want nothing sent", rc, len(s.seen()))
	}
}

// TestClientZeroValue: a zero Client works, with the shared transport and
// the default timeout.
func TestClientZeroValue(t *testing.T) {
	s := newServer(t, nil)
	var c Client
	if c.timeout() != DefaultTimeout || c.client() == http.DefaultClient || c.client().Timeout == 0 {
		t.Errorf("zero Client: timeout %v, client %p with timeout %v", c.timeout(), c.client(), c.client().Timeout)
	}
	if _, err := c.Send(t.Context(), s.robot(), alertMessage()); err != nil {
		t.Fatal(err)
	}
}

// TestNoSecretLeak: neither the access token, the signing secret nor a
// request's signature appears in a returned error or in a log line about
// the robot and the error, whatever goes wrong.
func TestNoSecretLeak(t *testing.T) {
	echo := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			// A hostile or buggy answer quoting the request back.
			msg, _ := json.Marshal("sign not match: " + r.URL.String() + " " + testSecret)
			fmt.Fprintf(w, `{"errcode":310000,"errmsg":%s}`, msg)
		}
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	tests := []struct {
		name  string
		reply http.HandlerFunc
		url   string // overrides the robot's URL
		code  string
	}{
		{name: "connection closed", code: "network", reply: func(w http.ResponseWriter, _ *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}},
		{name: "timeout", code: "timeout", reply: func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }},
		{name: "errcode 310000", code: "signature-mismatch", reply: echo(200)},
		{name: "500 echoing", code: "server-error", reply: echo(500)},
		{name: "403 echoing", code: "signature-mismatch", reply: echo(403)},
		{name: "200 not json", code: "unexpected-response", reply: func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, r.URL.String())
		}},
		{name: "connection refused", code: "network", url: closed.URL + "/robot/send?access_token=" + testToken},
		{name: "unparsable URL", code: "invalid-webhook-url", url: "http://127.0.0.1/robot/send?access_token=" + testToken + "\x7f"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, tt.reply)
			r := s.robot()
			if tt.url != "" {
				r.WebhookURL = secret.NewURL(tt.url)
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
			hidden := map[string]string{"token": testToken, "secret": testSecret}
			for _, req := range s.seen() {
				hidden["sign"] = req.query.Get("sign")
				hidden["encoded sign"] = url.QueryEscape(req.query.Get("sign"))
			}
			for what, text := range texts {
				for name, v := range hidden {
					if strings.Contains(text, v) {
						t.Errorf("%s shows the %s:\n%s", what, name, text)
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
	robot := Robot{WebhookURL: secret.NewURL(srv.URL + "/robot/send?access_token=" + strings.Repeat("a", 64))}
	_, err := c.Send(t.Context(), robot, notify.Message{Title: "t", Text: "x"})
	ne := notify.AsError(err)
	if ne.Action != notify.Permanent || ne.Code != "address-not-allowed" || ne.Hint == "" {
		t.Errorf("refused address: %+v, want a permanent address-not-allowed with a hint", ne)
	}
	if strings.Contains(err.Error(), strings.Repeat("a", 64)) {
		t.Errorf("error shows the access token: %v", err)
	}
}
