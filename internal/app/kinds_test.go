package app

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tocsinhq/tocsin/internal/notify/notifytest"
)

// TestWebhookChannelTestSend sends a test through a webhook channel to a
// receiver that checks the HMAC signature.
func TestWebhookChannelTestSend(t *testing.T) {
	const hookSecret = "receiver-secret-0123456789"
	fake, srv, err := notifytest.StartWebhook(notifytest.WebhookOptions{Secret: hookSecret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	tc := startTocsin(t, t.TempDir(), "--admin-token", testAdminToken, "--allow-hosts", strings.TrimPrefix(srv.URL, "http://"))

	for _, c := range []struct {
		name, secret string
		ok           bool
		code         string
	}{
		{"signed", hookSecret, true, ""},
		{"wrong secret", "not-the-receivers-secret", false, "unauthorized"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, ch := call(t, "POST", tc.base+"/api/v1/channels", testAdminToken, map[string]any{
				"name": "hook-" + c.name, "kind": "webhook",
				"settings": map[string]any{"url": srv.URL + "/alerts?token=abc", "secret": c.secret},
			})
			if status != http.StatusCreated {
				t.Fatalf("create: %d %v", status, ch)
			}
			if s := ch["settings"].(map[string]any); strings.Contains(s["url"].(string), "abc") || strings.Contains(s["secret"].(string), c.secret) {
				t.Errorf("webhook secrets shown: %v", s)
			}
			_, res := call(t, "POST", tc.base+"/api/v1/channels/"+ch["id"].(string)+"/test", testAdminToken, nil)
			if c.ok != (res["ok"] == true) {
				t.Fatalf("test send: %v, want ok=%v", res, c.ok)
			}
			if !c.ok {
				if e := res["error"].(map[string]any); e["code"] != c.code || e["platform_code"] != float64(401) {
					t.Errorf("error = %v, want %s with platform code 401", e, c.code)
				}
				return
			}
			got := fake.Received()
			last := got[len(got)-1]
			if !last.Verified || last.Notification.Tocsin == nil || last.Notification.Tocsin.Title != "Tocsin test message" || last.Notification.Receiver != "hook-signed" {
				t.Errorf("received %+v", last)
			}
		})
	}
}
