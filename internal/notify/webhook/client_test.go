package webhook

import (
	"bytes"
	"context"
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
	"github.com/tocsinhq/tocsin/internal/secret"
)

const (
	testToken    = "q9Xw2Lr7Tz4Kp1Vn8Bc3Hm6Js0Df5Ga"
	testPassword = "b4s1c-p4ssw0rd-for-the-hook"
	testSecret   = "whsec-0f7e1c9a2b8d4e6f3a5c7b9d1e2f4a6c"
)

// request is what a test server saw of one request.
type request struct {
	header http.Header
	body   []byte
}

// server is a receiver stand-in on 127.0.0.1: it records each request and
// answers with reply (nil: 200).
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
		s.mu.Lock()
		s.requests = append(s.requests, request{r.Header.Clone(), body})
		s.mu.Unlock()
		if reply != nil {
			reply(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) seen() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.requests...)
}

// target returns a signing target pointing at the server, with a token in
// the query and a password in the user info, as some receivers want.
func (s *server) target() Target {
	t := testTarget()
	t.URL = secret.NewURL(strings.Replace(s.URL, "http://", "http://tocsin:"+testPassword+"@", 1) + "/hook?token=" + testToken)
	t.Secret = secret.New(testSecret)
	return t
}

func newClient() *Client {
	return &Client{HTTP: notify.NewHTTPClient(5*time.Second, nil), Now: func() time.Time { return testNow }}
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

// TestSendHeaders: the body is Encode's, the headers name Tocsin and the
// message, and the signature verifies against the body as received.
func TestSendHeaders(t *testing.T) {
	s := newServer(t, nil)
	msg := firingMessage()
	if err := newClient().Send(t.Context(), s.target(), msg); err != nil {
		t.Fatal(err)
	}
	unsigned := s.target()
	unsigned.Secret = secret.String{}
	if err := newClient().Send(t.Context(), unsigned, msg); err != nil {
		t.Fatal(err)
	}
	reqs := s.seen()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	want, _, _ := Encode(s.target(), msg, testNow)
	for i, r := range reqs {
		if !bytes.Equal(r.body, want) {
			t.Errorf("request %d: body is not Encode's:\n%s", i, r.body)
		}
		got := map[string]string{}
		for _, h := range []string{"Content-Type", "User-Agent", HeaderMessageID, HeaderTimestamp} {
			got[h] = r.header.Get(h)
		}
		wantHeaders := map[string]string{"Content-Type": "application/json", "User-Agent": "Tocsin", HeaderMessageID: "d41d8cd9", HeaderTimestamp: "1787275800"}
		if i == 1 {
			wantHeaders[HeaderTimestamp] = ""
		}
		if diff := cmp.Diff(wantHeaders, got); diff != "" {
			t.Errorf("request %d: headers (-want +got):\n%s", i, diff)
		}
	}
	signed := reqs[0].header
	if err := Verify(testSecret, signed.Get(HeaderTimestamp), signed.Get(HeaderSignature), reqs[0].body, testNow.Add(time.Minute), 0); err != nil {
		t.Errorf("the signature does not verify: %v", err)
	}
	if sig := reqs[1].header.Get(HeaderSignature); sig != "" {
		t.Errorf("unsigned target sent signature %q", sig)
	}
}

// TestSendNoMessageID: a message without an ID sends no empty header.
func TestSendNoMessageID(t *testing.T) {
	s := newServer(t, nil)
	msg := testMessage()
	msg.ID = ""
	if err := newClient().Send(t.Context(), s.target(), msg); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.seen()[0].header[HeaderMessageID]; ok {
		t.Errorf("%s sent for a message without ID", HeaderMessageID)
	}
}

// TestSendAnswers maps the receiver's HTTP answer to what to do. A
// refusal carries the status as its platform code.
func TestSendAnswers(t *testing.T) {
	date := testNow.Add(90 * time.Second).Format(http.TimeFormat)
	tests := []struct {
		name       string
		status     int
		body       string
		header     []string
		action     notify.Action // 0: success
		code       string
		retryAfter time.Duration
		answer     string // PlatformMessage
	}{
		{"200", 200, `{"ok":true}`, nil, 0, "", 0, ""},
		{"201", 201, ``, nil, 0, "", 0, ""},
		{"202", 202, ``, nil, 0, "", 0, ""},
		{"204", 204, ``, nil, 0, "", 0, ""},
		{"301", 301, ``, []string{"Location", "https://new.example/hook"}, notify.Permanent, "redirected", 0, ""},
		{"302", 302, ``, []string{"Location", "/login"}, notify.Permanent, "redirected", 0, ""},
		{"307", 307, ``, []string{"Location", "https://new.example/hook"}, notify.Permanent, "redirected", 0, ""},
		{"308", 308, ``, []string{"Location", "https://new.example/hook"}, notify.Permanent, "redirected", 0, ""},
		{"400", 400, `{"error":"unknown field \"tocsin\""}`, nil, notify.Permanent, "rejected", 0, `{"error":"unknown field \"tocsin\""}`},
		{"401", 401, `bad signature`, nil, notify.Permanent, "unauthorized", 0, "bad signature"},
		{"403", 403, `forbidden`, nil, notify.Permanent, "unauthorized", 0, "forbidden"},
		{"404", 404, "404 page not found\n", nil, notify.Permanent, "not-found", 0, "404 page not found"},
		{"405", 405, ``, nil, notify.Permanent, "rejected", 0, ""},
		{"408", 408, ``, nil, notify.Retry, "request-timeout", 0, ""},
		{"410", 410, ``, nil, notify.Permanent, "not-found", 0, ""},
		{"413", 413, `too big`, nil, notify.Shrink, "message-too-long", 0, "too big"},
		{"415", 415, ``, nil, notify.Permanent, "rejected", 0, ""},
		{"422", 422, `alerts[0].labels: required`, nil, notify.Permanent, "rejected", 0, "alerts[0].labels: required"},
		{"429", 429, ``, nil, notify.Retry, "rate-limited", 0, ""},
		{"429 retry-after seconds", 429, ``, []string{"Retry-After", "30"}, notify.Retry, "rate-limited", 30 * time.Second, ""},
		{"429 retry-after date", 429, ``, []string{"Retry-After", date}, notify.Retry, "rate-limited", 90 * time.Second, ""},
		{"429 retry-after a year", 429, ``, []string{"Retry-After", "31536000"}, notify.Retry, "rate-limited", time.Hour, ""},
		{"500", 500, "panic: runtime error\n\tgoroutine 1", nil, notify.Retry, "server-error", 0, "panic: runtime error goroutine 1"},
		{"502", 502, `<html><body>Bad Gateway</body></html>`, nil, notify.Retry, "server-error", 0, "<html><body>Bad Gateway</body></html>"},
		{"503 retry-after", 503, ``, []string{"Retry-After", "120"}, notify.Retry, "server-error", 2 * time.Minute, ""},
		{"504", 504, ``, nil, notify.Retry, "server-error", 0, ""},
		{"599", 599, ``, nil, notify.Retry, "server-error", 0, ""},
		{"600", 600, ``, nil, notify.Retry, "unexpected-response", 0, ""},
		{"400 retry-after ignored", 400, ``, []string{"Retry-After", "30"}, notify.Permanent, "rejected", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, reply(tt.status, tt.body, tt.header...))
			err := newClient().Send(t.Context(), s.target(), firingMessage())
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
			got := fmt.Sprintf("%s %s %d %v %q", e.Action, e.Code, e.PlatformCode, e.RetryAfter, e.PlatformMessage)
			want := fmt.Sprintf("%s %s %d %v %q", tt.action, tt.code, tt.status, tt.retryAfter, tt.answer)
			if got != want {
				t.Errorf("got  %s\nwant %s\n(%v)", got, want, err)
			}
			if e.Message == "" || (e.Action != notify.Retry && e.Hint == "") {
				t.Errorf("message %q, hint %q: a person cannot tell what to fix", e.Message, e.Hint)
			}
		})
	}
}

func TestRedirectSaysWhere(t *testing.T) {
	s := newServer(t, reply(308, ``, "Location", "https://new.example/hook?token="+testToken))
	err := newClient().Send(t.Context(), s.target(), testMessage())
	if msg := err.Error(); !strings.Contains(msg, "https://new.example/hook?token="+secret.Mask) || strings.Contains(msg, testToken) {
		t.Errorf("err = %v, want the masked Location", err)
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-5", 0},
		{" 45 ", 45 * time.Second},
		{"3600", time.Hour},
		{"3601", time.Hour},
		{"99999999999999999999", 0}, // not an int64: and not a date either
		{"9223372036854775807", time.Hour},
		{testNow.Add(10 * time.Second).Format(http.TimeFormat), 10 * time.Second},
		{testNow.Add(10 * time.Second).Format(time.RFC850), 10 * time.Second},
		{testNow.Add(48 * time.Hour).Format(http.TimeFormat), time.Hour},
		{testNow.Add(-time.Second).Format(http.TimeFormat), 0},
		{"tomorrow", 0},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.header, testNow); got != tt.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

func TestExcerpt(t *testing.T) {
	long := strings.Repeat("告警", 40) // 240 bytes, 3 per rune
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"  ok \r\n", "ok"},
		{"line 1\nline 2\x1b[31m red\x00", "line 1 line 2 [31m red"},
		{"bad \xff byte", "bad \uFFFD byte"},
		{long, long[:198]}, // 66 whole runes
		{strings.Repeat("a", 199) + " b", strings.Repeat("a", 199)},
		{strings.Repeat("a", 300), strings.Repeat("a", 200)},
	}
	for _, tt := range tests {
		got := excerpt(tt.in)
		if got != tt.want {
			t.Errorf("excerpt(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if len(got) > answerExcerpt {
			t.Errorf("excerpt(%q) is %d bytes", tt.in, len(got))
		}
	}
}

func TestSendRefusesURL(t *testing.T) {
	for _, raw := range []string{
		"",
		"hooks.example/tocsin",
		"ftp://hooks.example/tocsin",
		"https:///tocsin",
		"https://hooks.example/tocsin?token=" + testToken + "\x7f",
	} {
		err := newClient().Send(t.Context(), Target{URL: secret.NewURL(raw)}, testMessage())
		e := notify.AsError(err)
		if e == nil || e.Action != notify.Permanent || e.Code != "invalid-url" || e.Hint == "" {
			t.Errorf("URL %q: err = %v, want a permanent invalid-url with a hint", raw, err)
		}
		if err != nil && strings.Contains(err.Error(), testToken) {
			t.Errorf("URL %q: error shows the token: %v", raw, err)
		}
	}
}

// TestClientZeroValue: a zero Client works, with the shared transport and
// the default timeout.
func TestClientZeroValue(t *testing.T) {
	s := newServer(t, nil)
	var c Client
	if c.timeout() != DefaultTimeout || c.client() == http.DefaultClient || c.client().Timeout == 0 || c.client().CheckRedirect == nil {
		t.Errorf("zero Client: timeout %v, client %p with timeout %v", c.timeout(), c.client(), c.client().Timeout)
	}
	if err := c.Send(t.Context(), s.target(), testMessage()); err != nil {
		t.Fatal(err)
	}
	ts := s.seen()[0].header.Get(HeaderTimestamp)
	if err := Verify(testSecret, ts, s.seen()[0].header.Get(HeaderSignature), s.seen()[0].body, time.Now(), 0); err != nil {
		t.Errorf("signed with the wrong clock: %v", err)
	}
}

// TestNoSecretLeak: neither the URL's token, its password, the secret nor
// a request's signature appears in a returned error or in a log line
// about the target and the error, whatever goes wrong.
func TestNoSecretLeak(t *testing.T) {
	echo := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			// A hostile or buggy answer quoting the request back.
			w.Header().Set("Location", r.URL.String())
			w.WriteHeader(status)
			fmt.Fprintf(w, "%s %s %v %s", r.URL, r.Header.Get("Authorization"), r.Header, testSecret)
		}
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	tests := []struct {
		name  string
		reply http.HandlerFunc
		url   string // overrides the target's URL
		code  string
	}{
		{name: "connection closed", code: "network", reply: func(w http.ResponseWriter, _ *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}},
		{name: "timeout", code: "timeout", reply: func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }},
		{name: "400 echoing", code: "rejected", reply: echo(400)},
		{name: "401 echoing", code: "unauthorized", reply: echo(401)},
		{name: "500 echoing", code: "server-error", reply: echo(500)},
		{name: "302 to itself", code: "redirected", reply: echo(302)},
		{name: "connection refused", code: "network", url: strings.Replace(closed.URL, "http://", "http://u:"+testPassword+"@", 1) + "/hook?token=" + testToken},
		{name: "unparsable URL", code: "invalid-url", url: "http://127.0.0.1/hook?token=" + testToken + "\x7f"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, tt.reply)
			target := s.target()
			if tt.url != "" {
				target.URL = secret.NewURL(tt.url)
			}
			c := newClient()
			if tt.code == "timeout" {
				c.Timeout = 100 * time.Millisecond
			}
			err := c.Send(t.Context(), target, firingMessage())
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
			slog.New(slog.NewTextHandler(&logs, nil)).Error("send failed", "target", target, "err", err, "settings", fmt.Sprintf("%v %+v", target, target))
			slog.New(slog.NewJSONHandler(&logs, nil)).Error("send failed", "target", target, "err", err)
			texts := map[string]string{
				"Error()":   err.Error(),
				"%+v":       fmt.Sprintf("%+v", e),
				"Message":   e.Message + e.Hint + e.PlatformMessage,
				"logs":      logs.String(),
				"cause":     fmt.Sprint(errors.Unwrap(err)),
				"cause %#v": fmt.Sprintf("%#v", errors.Unwrap(err)),
			}
			hidden := map[string]string{"token": testToken, "password": testPassword, "secret": testSecret}
			for _, req := range s.seen() {
				hidden["signature"] = req.header.Get(HeaderSignature)
				hidden["signature hex"] = strings.TrimPrefix(req.header.Get(HeaderSignature), "sha256=")
			}
			for what, text := range texts {
				for name, v := range hidden {
					if strings.Contains(text, v) {
						t.Errorf("%s shows the %s:\n%s", what, name, text)
					}
				}
			}
			if !strings.Contains(logs.String(), secret.Mask) {
				t.Errorf("the log does not show the target masked:\n%s", logs.String())
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
	err := c.Send(t.Context(), Target{URL: secret.NewURL(srv.URL + "/hook?token=" + testToken)}, testMessage())
	ne := notify.AsError(err)
	if ne.Action != notify.Permanent || ne.Code != "address-not-allowed" || ne.Hint == "" {
		t.Errorf("refused address: %+v, want a permanent address-not-allowed with a hint", ne)
	}
	if strings.Contains(err.Error(), testToken) {
		t.Errorf("error shows the token: %v", err)
	}
}

// TestUntrustedCertificate: a certificate the client does not trust is a
// person's problem, not a passing one.
func TestUntrustedCertificate(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ErrorLog = slog.NewLogLogger(slog.DiscardHandler, slog.LevelError) // the handshake failure is expected
	srv.StartTLS()
	defer srv.Close()
	err := newClient().Send(t.Context(), Target{URL: secret.NewURL(srv.URL + "/hook")}, testMessage())
	if e := notify.AsError(err); e == nil || e.Action != notify.Permanent || e.Code != "certificate-invalid" || e.Hint == "" {
		t.Errorf("err = %+v, want a permanent certificate-invalid with a hint", e)
	}
}

func TestCanceled(t *testing.T) {
	s := newServer(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := newClient().Send(ctx, s.target(), testMessage())
	if e := notify.AsError(err); e == nil || e.Action != notify.Retry || e.Code != "canceled" {
		t.Errorf("err = %+v, want a retryable canceled", e)
	}
}
