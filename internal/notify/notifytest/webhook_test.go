package notifytest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// A signing vector computed outside Go (Python's hmac module) from the
// scheme in internal/notify/webhook's package doc.
const (
	webhookVectorSecret    = "tocsin-webhook-secret"
	webhookVectorTimestamp = 1700000000
	webhookVectorBody      = `{"version":"4","status":"firing","alerts":[]}`
	webhookVectorSignature = "sha256=6c94ba52bb47c99563dfdde4a25652083292aa7f520441524fac132f067c19f3"
)

// webhookAlertBody is a notification as Alertmanager itself sends it: no
// "tocsin" object.
const webhookAlertBody = `{"receiver":"sre","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"HighCPU"},` +
	`"annotations":{},"startsAt":"2023-11-14T22:13:20Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"1f0c5e9d2a3b4c6d"}],` +
	`"groupLabels":{},"commonLabels":{"alertname":"HighCPU"},"commonAnnotations":{},"externalURL":"http://am:9093","version":"4","groupKey":"{}:{}","truncatedAlerts":0}`

// webhookSigned returns the signature headers for body at ts, made with
// the fake's own signing code.
func webhookSigned(secret string, ts int64, body string) []string {
	f := &Webhook{secret: secret}
	tsStr := strconv.FormatInt(ts, 10)
	return []string{webhookTimestampHeader, tsStr, webhookSignatureHeader, f.sign(tsStr, []byte(body))}
}

// webhookCall serves one request on f in-process and returns the status.
func webhookCall(f *Webhook, method, contentType, body string, header ...string) int {
	req := httptest.NewRequest(method, "/hooks/sre?x=1", strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	f.ServeHTTP(rec, req)
	return rec.Code
}

func TestWebhookSignVector(t *testing.T) {
	f := &Webhook{secret: webhookVectorSecret}
	if got := f.sign(strconv.Itoa(webhookVectorTimestamp), []byte(webhookVectorBody)); got != webhookVectorSignature {
		t.Errorf("sign = %s, want %s", got, webhookVectorSignature)
	}
}

// TestWebhookChecks: each check refuses what it should, in order, and only
// accepted requests are received.
func TestWebhookChecks(t *testing.T) {
	const json = "application/json"
	now := int64(webhookVectorTimestamp)
	vector := []string{webhookTimestampHeader, strconv.Itoa(webhookVectorTimestamp), webhookSignatureHeader, webhookVectorSignature}
	tests := []struct {
		name        string
		secret      string
		method      string
		contentType string
		body        string
		header      []string
		status      int
		problem     string // a part of it
	}{
		{"unsigned, no secret", "", "POST", json, webhookVectorBody, nil, 200, ""},
		{"signature ignored without secret", "", "POST", json, webhookVectorBody, []string{webhookSignatureHeader, "sha256=00"}, 200, ""},
		{"vector", webhookVectorSecret, "POST", json, webhookVectorBody, vector, 200, ""},
		{"charset", webhookVectorSecret, "POST", json + "; charset=utf-8", webhookVectorBody, vector, 200, ""},
		{"alertmanager's body", "", "POST", json, webhookAlertBody, nil, 200, ""},
		{"GET", "", "GET", json, webhookVectorBody, nil, 405, "POST only"},
		{"too large", "", "POST", json, `{"version":"4","x":"` + strings.Repeat("x", 2000) + `"}`, nil, 413, "body over 1000 bytes"},
		{"no content type", "", "POST", "", webhookVectorBody, nil, 415, "want application/json"},
		{"form", "", "POST", "application/x-www-form-urlencoded", webhookVectorBody, nil, 415, "want application/json"},
		{"not signed", webhookVectorSecret, "POST", json, webhookVectorBody, nil, 401, "not signed"},
		{"no timestamp", webhookVectorSecret, "POST", json, webhookVectorBody, vector[2:], 401, "not signed"},
		{"wrong secret", webhookVectorSecret, "POST", json, webhookVectorBody, webhookSigned("other", now, webhookVectorBody), 401, "does not verify"},
		{"body changed", webhookVectorSecret, "POST", json, webhookVectorBody + " ", vector, 401, "does not verify"},
		{"upper-case hex", webhookVectorSecret, "POST", json, webhookVectorBody, []string{vector[0], vector[1], vector[2], "sha256=" + strings.ToUpper(webhookVectorSignature[7:])}, 401, "does not verify"},
		{"5 minutes old", webhookVectorSecret, "POST", json, webhookVectorBody, webhookSigned(webhookVectorSecret, now-300, webhookVectorBody), 200, ""},
		{"5 minutes and 1 s old", webhookVectorSecret, "POST", json, webhookVectorBody, webhookSigned(webhookVectorSecret, now-301, webhookVectorBody), 401, "from the receiver's clock"},
		{"5 minutes and 1 s ahead", webhookVectorSecret, "POST", json, webhookVectorBody, webhookSigned(webhookVectorSecret, now+301, webhookVectorBody), 401, "from the receiver's clock"},
		{"timestamp in milliseconds", webhookVectorSecret, "POST", json, webhookVectorBody, webhookSigned(webhookVectorSecret, now*1000, webhookVectorBody), 401, "from the receiver's clock"},
		{"timestamp not a number", webhookVectorSecret, "POST", json, webhookVectorBody, []string{webhookTimestampHeader, "now", webhookSignatureHeader, webhookVectorSignature}, 401, "not Unix seconds"},
		{"not JSON", "", "POST", json, `version=4`, nil, 400, "not a notification"},
		{"two values", "", "POST", json, webhookVectorBody + webhookVectorBody, nil, 400, "more than one"},
		{"version 3", "", "POST", json, `{"version":"3","status":"firing","alerts":[]}`, nil, 400, `version "3"`},
		{"bad status", "", "POST", json, `{"version":"4","status":"burning","alerts":[]}`, nil, 400, `status "burning"`},
		{"alerts null", "", "POST", json, `{"version":"4","status":"firing","alerts":null}`, nil, 400, "alerts missing"},
		{"alert without labels", "", "POST", json, `{"version":"4","status":"firing","alerts":[{"status":"firing","fingerprint":"1"}]}`, nil, 400, "alerts[0]"},
		{"bad time", "", "POST", json, `{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"a":"b"},"startsAt":"yesterday","fingerprint":"1"}]}`, nil, 400, "not a notification"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewWebhook(WebhookOptions{Secret: tt.secret, MaxBody: 1000, Now: func() time.Time { return time.Unix(now, 0) }})
			if got := webhookCall(f, tt.method, tt.contentType, tt.body, tt.header...); got != tt.status {
				t.Errorf("status %d, want %d (%+v)", got, tt.status, f.Attempts())
			}
			attempts := f.Attempts()
			if len(attempts) != 1 {
				t.Fatalf("%d attempts recorded, want 1", len(attempts))
			}
			a := attempts[0]
			if a.Status != tt.status || !strings.Contains(a.Problem, tt.problem) || (tt.problem == "") != (a.Problem == "") {
				t.Errorf("recorded status %d problem %q, want %d and %q", a.Status, a.Problem, tt.status, tt.problem)
			}
			if a.Target != "/hooks/sre?x=1" || a.Method != tt.method || a.Injected {
				t.Errorf("recorded %+v", a)
			}
			if wantVerified := tt.status == 200 && tt.secret != ""; a.Verified != wantVerified {
				t.Errorf("Verified = %v, want %v", a.Verified, wantVerified)
			}
			if got := len(f.Received()); got != map[bool]int{true: 1, false: 0}[tt.status == 200] {
				t.Errorf("%d received", got)
			}
			if (a.Notification != nil) != (tt.status == 200) {
				t.Errorf("Notification = %+v with status %d", a.Notification, a.Status)
			}
		})
	}
}

func TestWebhookDecodes(t *testing.T) {
	f := NewWebhook(WebhookOptions{})
	body := `{"version":"4","groupKey":"g","status":"resolved","receiver":"sre","groupLabels":{"alertname":"HighCPU"},` +
		`"commonLabels":{"alertname":"HighCPU"},"commonAnnotations":{},"externalURL":"https://tocsin.example","truncatedAlerts":3,` +
		`"tocsin":{"id":"m1","title":"t","text":"x","buttons":[{"title":"Details","url":"https://d"}],` +
		`"mentions":[{"name":"Li Lei","mobile":"13800000000","larkOpenId":"ou_1"}],"mentionAll":true,"later":1},` +
		`"alerts":[{"status":"resolved","labels":{"alertname":"HighCPU"},"annotations":{"summary":"s"},"startsAt":"2026-08-21T01:00:00Z",` +
		`"endsAt":"2026-08-21T01:29:00.5Z","generatorURL":"https://g","fingerprint":"f878fa3e15b29d1a"}],"future":{}}`
	if got := webhookCall(f, "POST", "application/json", body, webhookMessageIDHeader, "m1"); got != 200 {
		t.Fatalf("status %d (%+v)", got, f.Attempts())
	}
	got := f.Received()[0]
	if got.MessageID != "m1" || string(got.Body) != body || got.Header.Get("Content-Type") != "application/json" {
		t.Errorf("recorded %+v", got)
	}
	n := got.Notification
	want := &WebhookNotification{
		Version: "4", GroupKey: "g", Status: "resolved", Receiver: "sre",
		GroupLabels: map[string]string{"alertname": "HighCPU"}, CommonLabels: map[string]string{"alertname": "HighCPU"},
		CommonAnnotations: map[string]string{}, ExternalURL: "https://tocsin.example", TruncatedAlerts: 3,
		Alerts: []WebhookAlert{{
			Status: "resolved", Labels: map[string]string{"alertname": "HighCPU"}, Annotations: map[string]string{"summary": "s"},
			StartsAt: time.Date(2026, 8, 21, 1, 0, 0, 0, time.UTC), EndsAt: time.Date(2026, 8, 21, 1, 29, 0, 5e8, time.UTC),
			GeneratorURL: "https://g", Fingerprint: "f878fa3e15b29d1a",
		}},
		Tocsin: &WebhookTocsin{ID: "m1", Title: "t", Text: "x", MentionAll: true},
	}
	want.Tocsin.Buttons = append(want.Tocsin.Buttons, struct {
		Title string `json:"title"`
		URL   string `json:"url"`
	}{"Details", "https://d"})
	want.Tocsin.Mentions = n.Tocsin.Mentions // checked below
	if diff := cmp.Diff(want, n); diff != "" {
		t.Errorf("notification (-want +got):\n%s", diff)
	}
	if m := n.Tocsin.Mentions; len(m) != 1 || m[0].Name != "Li Lei" || m[0].Mobile != "13800000000" || m[0].LarkOpenID != "ou_1" {
		t.Errorf("mentions %+v", m)
	}

	if webhookCall(f, "POST", "application/json", webhookAlertBody) != 200 || f.Received()[1].Notification.Tocsin != nil {
		t.Errorf("Alertmanager's own body: %+v", f.Attempts()[1])
	}
}

// startWebhook starts a fake and closes it at the end of the test.
func startWebhook(t *testing.T, opts WebhookOptions) (*Webhook, string) {
	t.Helper()
	f, srv, err := StartWebhook(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("URL = %q, want a 127.0.0.1 address", srv.URL)
	}
	return f, srv.URL + "/hook"
}

// webhookPost posts body with message id to url over the network.
func webhookPost(ctx context.Context, client *http.Client, url, id string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(webhookVectorBody))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhookMessageIDHeader, id)
	resp, err := client.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	return resp, err
}

// TestWebhookFaults: queued faults answer the next requests in order,
// before any check, and are recorded but not received; then the fake
// answers normally again.
func TestWebhookFaults(t *testing.T) {
	f, url := startWebhook(t, WebhookOptions{Secret: "s"}) // unsigned requests pass only under a fault
	f.FailNext(2, WebhookFault{Status: http.StatusTooManyRequests, RetryAfter: "30", Body: "slow down"})
	f.FailNext(1, WebhookFault{})
	client := &http.Client{Timeout: 5 * time.Second}

	var got []string
	for i := range 4 {
		resp, err := webhookPost(t.Context(), client, url, "m"+strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, resp.Status+" "+resp.Header.Get("Retry-After"))
	}
	want := []string{"429 Too Many Requests 30", "429 Too Many Requests 30", "503 Service Unavailable ", "401 Unauthorized "}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
	var ids []string
	for _, a := range f.Attempts() {
		ids = append(ids, a.MessageID+" "+strconv.Itoa(a.Status)+" "+strconv.FormatBool(a.Injected))
	}
	if diff := cmp.Diff([]string{"m0 429 true", "m1 429 true", "m2 503 true", "m3 401 false"}, ids); diff != "" {
		t.Errorf("attempts (-want +got):\n%s", diff)
	}
	if n := len(f.Received()); n != 0 {
		t.Errorf("%d received, want none", n)
	}
}

func TestWebhookDrop(t *testing.T) {
	f, url := startWebhook(t, WebhookOptions{})
	f.FailNext(1, WebhookFault{Drop: true})
	client := &http.Client{Timeout: 5 * time.Second}
	if _, err := webhookPost(t.Context(), client, url, "m1"); err == nil {
		t.Fatal("a dropped request got an answer")
	}
	// The same message again, as a client retries: recorded again, not
	// deduplicated.
	if resp, err := webhookPost(t.Context(), client, url, "m1"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("retry: %v %v", resp, err)
	}
	if resp, err := webhookPost(t.Context(), client, url, "m1"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("repeat: %v %v", resp, err)
	}
	a := f.Attempts()
	if len(a) != 3 || a[0].Status != 0 || !a[0].Injected || string(a[0].Body) != webhookVectorBody {
		t.Errorf("attempts %+v", a)
	}
	if r := f.Received(); len(r) != 2 || r[0].MessageID != "m1" || r[1].MessageID != "m1" {
		t.Errorf("received %+v, want m1 twice", r)
	}
}

// TestWebhookHang: a held request waits, recorded, until the client gives
// up; the cleanup's Close returning proves the handler let go.
func TestWebhookHang(t *testing.T) {
	f, url := startWebhook(t, WebhookOptions{})
	f.FailNext(1, WebhookFault{Hang: true})
	// Long enough for the request to arrive and be recorded, even on a
	// loaded machine.
	ctx, cancel := context.WithTimeout(t.Context(), 250*time.Millisecond)
	defer cancel()
	if _, err := webhookPost(ctx, &http.Client{}, url, "m1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the client's deadline", err)
	}
	if a := f.Attempts(); len(a) != 1 || a[0].Status != 0 || !a[0].Injected || a[0].MessageID != "m1" {
		t.Errorf("attempts %+v, want one held and injected", a)
	}
}
