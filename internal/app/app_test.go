package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/config"
	"github.com/tocsinhq/tocsin/internal/notify/notifytest"
	"github.com/tocsinhq/tocsin/internal/secret"
	"github.com/tocsinhq/tocsin/internal/store"
	"github.com/tocsinhq/tocsin/internal/store/sqlite"
)

const (
	testAdminToken = "test-admin-token-0123456789"
	robotToken     = "1111111111111111111111111111111111111111111111111111111111111111"
	robotSec       = "SEC2222222222222222222222222222222222222222222222222222222222222222"
)

// syncBuffer is a bytes.Buffer safe for the server's writes and the test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// running is one Tocsin started by a test.
type running struct {
	base   string
	stdout *syncBuffer
	stop   func()
}

// startTocsin boots the whole app on 127.0.0.1:0 with SQLite in dir. The
// test's cleanup stops it and checks it shut down cleanly.
func startTocsin(t testing.TB, dir string, args ...string) *running {
	t.Helper()
	args = append([]string{"--listen", "127.0.0.1:0", "--data-dir", dir, "--log-level", "error"}, args...)
	cfg, err := config.Load(args, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	srv, err := Start(ctx, cfg, out, io.Discard)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			stopped := make(chan error, 1)
			go func() { stopped <- srv.Wait() }()
			select {
			case err := <-stopped:
				if err != nil {
					t.Errorf("server stopped with: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("server did not stop within 10s of cancelling its context")
			}
		})
	}
	t.Cleanup(stop)
	return &running{base: "http://" + srv.Addr().String(), stdout: out, stop: stop}
}

func startFake(t *testing.T) (*notifytest.DingTalk, string) {
	t.Helper()
	fake, srv, err := notifytest.StartDingTalk(notifytest.DingTalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	fake.AddRobot(robotToken, notifytest.RobotConfig{Secret: robotSec, Keywords: []string{"alert"}})
	return fake, srv.URL
}

// call makes an API request and decodes the JSON answer into a map.
func call(t *testing.T, method, url, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, _ := json.Marshal(b)
		rd = bytes.NewReader(js)
	}
	req, _ := http.NewRequest(method, url, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(data) > 0 && json.Unmarshal(data, &m) != nil {
		m = map[string]any{"raw": string(data)}
	}
	return resp.StatusCode, m
}

func channelBody(name, webhook string, settings map[string]any) map[string]any {
	s := map[string]any{"webhook_url": webhook, "secret": robotSec, "keywords": []string{"alert"}}
	for k, v := range settings {
		s[k] = v
	}
	return map[string]any{"name": name, "kind": "dingtalk_robot", "settings": s,
		"daily_report": map[string]any{"times": "09:00,18:00", "timezone": "Asia/Shanghai"}}
}

func TestChannelTestSendReachesSigningKeywordRobotAndSurvivesRestart(t *testing.T) {
	fake, fakeURL := startFake(t)
	dir := t.TempDir()
	hosts := strings.TrimPrefix(fakeURL, "http://")
	tc := startTocsin(t, dir, "--admin-token", testAdminToken, "--allow-hosts", hosts, "--timezone", "Asia/Shanghai")
	webhook := fake.WebhookURL(fakeURL, robotToken)

	status, ch := call(t, "POST", tc.base+"/api/v1/channels", testAdminToken,
		channelBody("sre-oncall", webhook, map[string]any{"at_mobiles": []string{"13800000000"}}))
	if status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, ch)
	}
	id := ch["id"].(string)
	js, _ := json.Marshal(ch)
	if strings.Contains(string(js), robotToken) || strings.Contains(string(js), robotSec) {
		t.Fatalf("create answer shows a secret: %s", js)
	}

	status, res := call(t, "POST", tc.base+"/api/v1/channels/"+id+"/test", testAdminToken, nil)
	if status != http.StatusOK || res["ok"] != true {
		t.Fatalf("test send: %d %v", status, res)
	}
	got := fake.Accepted(robotToken)
	if len(got) != 1 {
		t.Fatalf("fake accepted %d messages, want 1; attempts: %+v", len(got), fake.Attempts(robotToken))
	}
	if !strings.Contains(got[0].Text, "sre-oncall") || !strings.Contains(got[0].Text, "CST") {
		t.Errorf("test message lacks the channel name or the zone:\n%s", got[0].Text)
	}
	if diff := cmp.Diff([]string{"13800000000"}, got[0].AtMobiles); diff != "" {
		t.Errorf("mentions that really notify (-want +got): %s", diff)
	}

	// Restart on the same data dir: the channel and its secrets are kept.
	tc.stop()
	tc = startTocsin(t, dir, "--admin-token", testAdminToken, "--allow-hosts", hosts)
	status, again := call(t, "GET", tc.base+"/api/v1/channels/sre-oncall", testAdminToken, nil)
	if status != http.StatusOK || again["id"] != id {
		t.Fatalf("after restart, get by name: %d %v", status, again)
	}
	if status, res := call(t, "POST", tc.base+"/api/v1/channels/"+id+"/test", testAdminToken, nil); res["ok"] != true {
		t.Fatalf("test send after restart: %d %v", status, res)
	}
	if n := len(fake.Accepted(robotToken)); n != 2 {
		t.Errorf("fake accepted %d messages after restart, want 2", n)
	}

	// A PUT that sends the masked secrets back keeps the real ones: the
	// robot, which checks the signature, still accepts the next test.
	again["description"] = "edited"
	if status, upd := call(t, "PUT", tc.base+"/api/v1/channels/"+id, testAdminToken, again); status != http.StatusOK {
		t.Fatalf("update with masked secrets: %d %v", status, upd)
	}
	if status, res := call(t, "POST", tc.base+"/api/v1/channels/"+id+"/test", testAdminToken, nil); res["ok"] != true {
		t.Fatalf("test send after a masked update: %d %v", status, res)
	}

	// The database holds no secret in clear: not in the file, not in the WAL.
	for _, f := range []string{"tocsin.db", "tocsin.db-wal"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte(robotToken)) || bytes.Contains(data, []byte(robotSec)) {
			t.Errorf("%s contains a channel secret in clear text", f)
		}
	}
}

func TestTestSendTranslatesRefusals(t *testing.T) {
	fake, fakeURL := startFake(t)
	fake.AddRobot("disabled-robot-token-000000000000", notifytest.RobotConfig{Disabled: true})
	tc := startTocsin(t, t.TempDir(), "--admin-token", testAdminToken, "--allow-hosts", strings.TrimPrefix(fakeURL, "http://"))
	for _, c := range []struct {
		name     string
		token    string
		settings map[string]any
		code     string
		platform float64
	}{
		{"keyword missing", robotToken, map[string]any{"keywords": []string{"deploy"}}, "keyword-missing", 310000},
		{"wrong secret", robotToken, map[string]any{"secret": "SEC9999999999999999999999999999"}, "signature-mismatch", 310000},
		{"unknown token", "3333333333333333333333333333333333333333333333333333333333333333", nil, "token-unknown", 300005},
		{"robot disabled", "disabled-robot-token-000000000000", nil, "robot-disabled", 400102},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, ch := call(t, "POST", tc.base+"/api/v1/channels", testAdminToken, channelBody(c.name, fake.WebhookURL(fakeURL, c.token), c.settings))
			if status != http.StatusCreated {
				t.Fatalf("create: %d %v", status, ch)
			}
			status, res := call(t, "POST", tc.base+"/api/v1/channels/"+ch["id"].(string)+"/test", testAdminToken, nil)
			e, _ := res["error"].(map[string]any)
			if status != http.StatusOK || res["ok"] != false || e == nil {
				t.Fatalf("test send: %d %v", status, res)
			}
			if e["code"] != c.code || e["platform_code"] != c.platform || e["message"] == "" || e["hint"] == "" {
				t.Errorf("error = %v, want code %s, platform_code %v, a message and a hint", e, c.code, c.platform)
			}
			if js, _ := json.Marshal(res); strings.Contains(string(js), c.token) {
				t.Errorf("the verdict shows the access token: %s", js)
			}
		})
	}
}

func TestAuthHealthAndMetrics(t *testing.T) {
	tc := startTocsin(t, t.TempDir(), "--admin-token", testAdminToken)
	for _, c := range []struct {
		method, path, token string
		want                int
	}{
		{"GET", "/api/v1/channels", "", http.StatusUnauthorized},
		{"GET", "/api/v1/channels", "wrong-token-wrong-token", http.StatusUnauthorized},
		{"POST", "/api/v1/channels", "", http.StatusUnauthorized},
		{"GET", "/api/v1/nothing", "", http.StatusUnauthorized},
		{"GET", "/hooks/alertmanager/x", "", http.StatusUnauthorized},
		{"GET", "/api/v1/channels", testAdminToken, http.StatusOK},
		{"GET", "/api/v1/nothing", testAdminToken, http.StatusNotFound},
		{"GET", "/healthz", "", http.StatusOK},
		{"GET", "/readyz", "", http.StatusOK},
	} {
		if status, body := call(t, c.method, tc.base+c.path, c.token, nil); status != c.want {
			t.Errorf("%s %s with token %q: %d %v, want %d", c.method, c.path, c.token, status, body, c.want)
		}
	}
	// A known path under another method is 405 with Allow, not 404.
	req, _ := http.NewRequest("PATCH", tc.base+"/api/v1/channels", nil)
	req.Header.Set("Authorization", "bearer "+testAdminToken) // the scheme is case-insensitive
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, POST" {
		t.Errorf("PATCH /api/v1/channels: %v %v, want 405 with Allow: GET, POST", resp.Status, resp.Header.Get("Allow"))
	}
	resp, err := http.Get(tc.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"tocsin_http_requests_total", "go_goroutines", `code="401"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestBadInputIsRefusedAndNothingHalfStored(t *testing.T) {
	tc := startTocsin(t, t.TempDir(), "--admin-token", testAdminToken)
	api := tc.base + "/api/v1/channels"
	good := channelBody("ops", "https://oapi.dingtalk.com/robot/send?access_token="+robotToken, nil)
	for _, c := range []struct {
		name   string
		body   any
		status int
		field  string
	}{
		{"not json", "{", 400, ""},
		{"foreign host", channelBody("x", "https://example.com/robot/send?access_token=t", nil), 400, "settings.webhook_url"},
		{"bad secret", channelBody("x", robotToken, map[string]any{"secret": "nope"}), 400, "settings.secret"},
		{"bad report time", map[string]any{"name": "x", "kind": "dingtalk_robot", "settings": map[string]any{"webhook_url": robotToken}, "daily_report": map[string]any{"times": []string{"9h"}}}, 400, "daily_report.times[0]"},
		{"too large", `{"name":"` + strings.Repeat("a", 2<<20) + `"}`, 413, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := call(t, "POST", api, testAdminToken, c.body)
			e, _ := body["error"].(map[string]any)
			if status != c.status || e == nil || e["message"] == "" {
				t.Fatalf("status %d body %v, want %d with an error message", status, body, c.status)
			}
			if c.field != "" && e["field"] != c.field {
				t.Errorf("field = %v, want %s", e["field"], c.field)
			}
		})
	}
	if status, body := call(t, "POST", api, testAdminToken, good); status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, body)
	}
	if status, body := call(t, "POST", api, testAdminToken, good); status != http.StatusConflict {
		t.Errorf("duplicate name: %d %v, want 409", status, body)
	}
	_, list := call(t, "GET", api, testAdminToken, nil)
	if items := list["items"].([]any); len(items) != 1 {
		t.Errorf("%d channels stored, want 1 (refused inputs must store nothing)", len(items))
	}
}

func TestChannelsCRUD(t *testing.T) {
	tc := startTocsin(t, t.TempDir(), "--admin-token", testAdminToken)
	api := tc.base + "/api/v1/channels"
	_, a := call(t, "POST", api, testAdminToken, channelBody("Alpha team", robotToken, nil))
	_, _ = call(t, "POST", api, testAdminToken, channelBody("beta", robotToken, nil))

	if _, l := call(t, "GET", api+"?q=ALPHA", testAdminToken, nil); len(l["items"].([]any)) != 1 {
		t.Errorf("?q=ALPHA: %v", l)
	}
	if _, l := call(t, "GET", api+"?kind=dingtalk_robot&limit=1", testAdminToken, nil); len(l["items"].([]any)) != 1 || l["next"] == "" {
		t.Errorf("first page of 1: %v", l)
	}
	if status, _ := call(t, "GET", api+"?kind=pager", testAdminToken, nil); status != http.StatusBadRequest {
		t.Errorf("?kind=pager: %d, want 400", status)
	}

	// PUT with the masked secrets sent back keeps them; other fields change.
	a["description"] = "first line"
	a["settings"].(map[string]any)["keywords"] = []string{"alert", "告警"}
	status, upd := call(t, "PUT", api+"/"+a["id"].(string), testAdminToken, a)
	if status != http.StatusOK || upd["description"] != "first line" {
		t.Fatalf("update: %d %v", status, upd)
	}
	if diff := cmp.Diff(a["settings"].(map[string]any)["webhook_url"], upd["settings"].(map[string]any)["webhook_url"]); diff != "" {
		t.Errorf("masked webhook changed (-before +after): %s", diff)
	}
	// Leaving "enabled" out of a PUT keeps a disabled channel disabled.
	a["enabled"] = false
	call(t, "PUT", api+"/"+a["id"].(string), testAdminToken, a)
	delete(a, "enabled")
	if _, upd := call(t, "PUT", api+"/"+a["id"].(string), testAdminToken, a); upd["enabled"] != false {
		t.Errorf("a PUT without enabled turned the channel on: %v", upd["enabled"])
	}
	// A test text that would split into many messages is refused.
	if status, body := call(t, "POST", api+"/"+a["id"].(string)+"/test", testAdminToken, map[string]string{"text": strings.Repeat("x", 5000)}); status != http.StatusBadRequest {
		t.Errorf("5000-byte test text: %d %v, want 400", status, body)
	}
	if status, _ := call(t, "DELETE", api+"/"+a["id"].(string), testAdminToken, nil); status != http.StatusNoContent {
		t.Errorf("delete: %d", status)
	}
	if status, _ := call(t, "GET", api+"/"+a["id"].(string), testAdminToken, nil); status != http.StatusNotFound {
		t.Errorf("get deleted: %d, want 404", status)
	}
}

func TestGeneratedAdminTokenIsPrintedOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	tc := startTocsin(t, dir)
	out := tc.stdout.String()
	_, after, ok := strings.Cut(out, "Admin token (shown once, stored hashed; keep it): ")
	if !ok {
		t.Fatalf("no admin token printed:\n%s", out)
	}
	token := strings.TrimSpace(strings.SplitN(after, "\n", 2)[0])
	if status, _ := call(t, "GET", tc.base+"/api/v1/channels", token, nil); status != http.StatusOK {
		t.Fatalf("generated token refused: %d", status)
	}
	tc.stop()
	tc = startTocsin(t, dir)
	if strings.Contains(tc.stdout.String(), "Admin token") {
		t.Errorf("token printed again on the second start:\n%s", tc.stdout.String())
	}
	if status, _ := call(t, "GET", tc.base+"/api/v1/channels", token, nil); status != http.StatusOK {
		t.Errorf("token from the first start refused after restart: %d", status)
	}
	// Only the token's SHA-256 is stored.
	st := openTestStore(t, dir)
	stored, err := st.Meta(t.Context(), store.MetaAdminTokenHash)
	st.Close()
	if sum := sha256.Sum256([]byte(token)); err != nil || stored != hex.EncodeToString(sum[:]) {
		t.Errorf("stored admin token = %q, %v; want the token's SHA-256", stored, err)
	}
}

// openTestStore opens dir's SQLite database (the server must be stopped).
func openTestStore(t *testing.T, dir string) store.Store {
	t.Helper()
	key, err := secret.LoadKey(filepath.Join(dir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	box, _ := secret.NewBox(key)
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "tocsin.db"), box)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestAdminTokenFlagReplacesTheStoredToken(t *testing.T) {
	dir := t.TempDir()
	tc := startTocsin(t, dir)
	_, after, _ := strings.Cut(tc.stdout.String(), "keep it): ")
	generated := strings.TrimSpace(strings.SplitN(after, "\n", 2)[0])
	tc.stop()
	// A lost token is replaced by starting once with --admin-token …
	tc = startTocsin(t, dir, "--admin-token", testAdminToken)
	tc.stop()
	// … and the replacement keeps working without the flag.
	tc = startTocsin(t, dir)
	if status, _ := call(t, "GET", tc.base+"/api/v1/channels", testAdminToken, nil); status != http.StatusOK {
		t.Errorf("replacement token after restart without the flag: %d, want 200", status)
	}
	if status, _ := call(t, "GET", tc.base+"/api/v1/channels", generated, nil); status != http.StatusUnauthorized {
		t.Errorf("replaced generated token: %d, want 401", status)
	}
}

func TestStartRefusesAMissingOrWrongSecretKey(t *testing.T) {
	dir := t.TempDir()
	tc := startTocsin(t, dir, "--admin-token", testAdminToken)
	tc.stop()
	keyFile := filepath.Join(dir, "secret.key")
	original, _ := os.ReadFile(keyFile)
	start := func() error {
		cfg, err := config.Load([]string{"--listen", "127.0.0.1:0", "--data-dir", dir, "--log-level", "error"}, func(string) string { return "" }, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := Start(t.Context(), cfg, io.Discard, io.Discard)
		if err == nil {
			t.Cleanup(func() { srv.Wait() })
		}
		return err
	}

	os.Remove(keyFile)
	if err := start(); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("start without the key file: %v, want a refusal saying to restore it", err)
	}
	if _, err := os.Stat(keyFile); err == nil {
		t.Error("a new key file was written next to a database sealed with another key")
	}

	other, _ := secret.NewKey()
	secret.WriteKey(keyFile, other)
	if err := start(); err == nil || !strings.Contains(err.Error(), "not the key") {
		t.Errorf("start with another key: %v, want a refusal", err)
	}

	os.Remove(keyFile)
	os.WriteFile(keyFile, original, 0o600)
	tc = startTocsin(t, dir, "--admin-token", testAdminToken)
	if status, _ := call(t, "GET", tc.base+"/readyz", "", nil); status != http.StatusOK {
		t.Errorf("start with the right key restored: readyz %d", status)
	}
}

func TestSendCommandExitStatus(t *testing.T) {
	fake, fakeURL := startFake(t)
	webhook := fake.WebhookURL(fakeURL, robotToken)
	for _, c := range []struct {
		name string
		args []string
		want int
		out  string
	}{
		{"accepted", []string{"--webhook", webhook, "--secret", robotSec, "--keyword", "alert", "disk full on db-1"}, 0, "sent"},
		{"keyword missing", []string{"--webhook", webhook, "--secret", robotSec, "disk full"}, 1, "keyword-missing"},
		{"text from stdin", []string{"--webhook", webhook, "--secret", robotSec, "--keyword", "alert", "-"}, 0, "sent"},
		{"no text", []string{"--webhook", webhook}, 2, ""},
		{"bad secret shape", []string{"--webhook", webhook, "--secret", "x", "hi"}, 2, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Run(t.Context(), append([]string{"send"}, c.args...), func(string) string { return "" }, strings.NewReader("from stdin"), &out, io.Discard)
			if got := ExitCode(err, io.Discard); got != c.want {
				t.Errorf("exit %d (%v), want %d; output:\n%s", got, err, c.want, out.String())
			}
			if !strings.Contains(out.String(), c.out) {
				t.Errorf("output lacks %q:\n%s", c.out, out.String())
			}
		})
	}
	if got := fake.Accepted(robotToken); len(got) != 2 || !strings.Contains(got[1].Text, "from stdin") {
		t.Errorf("fake accepted %d messages, want 2, the second read from stdin", len(got))
	}
}
