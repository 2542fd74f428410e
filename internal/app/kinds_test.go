package app

import (
	"fmt"
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

// TestWeComChannelTestSend test-sends through a WeCom robot channel and
// translates WeCom's refusal of an unknown key.
func TestWeComChannelTestSend(t *testing.T) {
	fake, srv, err := notifytest.StartWeCom(notifytest.WeComOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	const key = "693a91f6-7aaa-4bc4-97a0-0ec2sifa5aaa"
	fake.AddRobot(key, notifytest.WeComRobotConfig{})
	tc := startTocsin(t, t.TempDir(), "--admin-token", testAdminToken, "--allow-hosts", strings.TrimPrefix(srv.URL, "http://"))
	for _, c := range []struct {
		name, key string
		code      string
	}{
		{"known key", key, ""},
		{"unknown key", "00000000-0000-0000-0000-000000000000", "token-unknown"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, ch := call(t, "POST", tc.base+"/api/v1/channels", testAdminToken, map[string]any{
				"name": "wecom-" + c.name, "kind": "wecom_robot",
				"settings": map[string]any{"webhook_url": fake.WebhookURL(srv.URL, c.key)},
			})
			if status != http.StatusCreated {
				t.Fatalf("create: %d %v", status, ch)
			}
			_, res := call(t, "POST", tc.base+"/api/v1/channels/"+ch["id"].(string)+"/test", testAdminToken, nil)
			if c.code == "" {
				if res["ok"] != true || len(fake.Accepted(key)) != 1 || !strings.Contains(fake.Accepted(key)[0].Content, "wecom-known key") {
					t.Errorf("test send: %v; accepted %+v", res, fake.Accepted(key))
				}
				return
			}
			if e, _ := res["error"].(map[string]any); e == nil || e["code"] != c.code || e["platform_code"] != float64(93000) || e["hint"] == "" {
				t.Errorf("test send: %v, want %s / 93000 with a hint", res, c.code)
			}
		})
	}
}

// TestDingTalkAppChannelTestSend test-sends through an app robot to members
// 1:1 and to a group; unknown members are reported, not silently dropped.
func TestDingTalkAppChannelTestSend(t *testing.T) {
	fake, srv, err := notifytest.StartDingTalkApp(notifytest.DingTalkAppOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	fake.AddApp("dingapp0001", "app-secret-0001", "dingapp0001")
	fake.AddUsers("manager1234", "oncall5678")
	fake.AddGroup("cidGroup0001==", "dingapp0001")
	tc := startTocsin(t, t.TempDir(), "--admin-token", testAdminToken, "--allow-hosts", strings.TrimPrefix(srv.URL, "http://"))
	status, ch := call(t, "POST", tc.base+"/api/v1/channels", testAdminToken, map[string]any{
		"name": "app", "kind": "dingtalk_app",
		"settings": map[string]any{"client_id": "dingapp0001", "client_secret": "app-secret-0001", "api_base_url": srv.URL,
			"user_ids": []string{"manager1234", "oncall5678", "nobody999"}, "open_conversation_ids": []string{"cidGroup0001=="}},
	})
	if status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, ch)
	}
	if s := ch["settings"].(map[string]any); s["client_secret"] == "app-secret-0001" {
		t.Error("client secret shown in clear")
	}
	_, res := call(t, "POST", tc.base+"/api/v1/channels/app/test", testAdminToken, nil)
	if res["ok"] != true || res["messages"] != float64(3) {
		t.Fatalf("test send: %v, want ok with 3 messages (2 members, 1 group)", res)
	}
	if notes := fmt.Sprint(res["notes"]); !strings.Contains(notes, "nobody999") {
		t.Errorf("notes %s do not report the unknown member", notes)
	}
	if len(fake.AcceptedByUser("manager1234")) != 1 || len(fake.AcceptedInGroup("cidGroup0001==")) != 1 {
		t.Error("the fake did not receive the 1:1 and group messages")
	}
	if n := fake.TokenFetches("dingapp0001"); n != 1 {
		t.Errorf("%d token fetches, want 1", n)
	}
}

// TestLarkChannelTestSend test-sends to a Lark bot that checks the body
// signature and a keyword, and translates a keyword refusal.
func TestLarkChannelTestSend(t *testing.T) {
	fake, srv, err := notifytest.StartLark(notifytest.LarkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	const token, larkSecret = "2f5e0b7a-1c3d-4e5f-8a9b-0c1d2e3f4a5b", "lark-signing-secret"
	fake.AddBot(token, notifytest.LarkBotConfig{Secret: larkSecret, Keywords: []string{"告警"}})
	tc := startTocsin(t, t.TempDir(), "--admin-token", testAdminToken, "--allow-hosts", strings.TrimPrefix(srv.URL, "http://"))
	for _, c := range []struct {
		name    string
		keyword string
		code    string
	}{
		{"keyword and signature", "告警", ""},
		{"wrong keyword", "deploy", "keyword-missing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, ch := call(t, "POST", tc.base+"/api/v1/channels", testAdminToken, map[string]any{
				"name": "lark-" + c.name, "kind": "lark_robot",
				"settings": map[string]any{"webhook_url": fake.WebhookURL(srv.URL, token), "secret": larkSecret, "keywords": []string{c.keyword}},
			})
			if status != http.StatusCreated {
				t.Fatalf("create: %d %v", status, ch)
			}
			if js := fmt.Sprint(ch); strings.Contains(js, token) || strings.Contains(js, larkSecret) {
				t.Errorf("create answer shows a secret: %s", js)
			}
			_, res := call(t, "POST", tc.base+"/api/v1/channels/"+ch["id"].(string)+"/test", testAdminToken, nil)
			if c.code == "" {
				if res["ok"] != true || len(fake.Accepted(token)) != 1 {
					t.Errorf("test send: %v; accepted %d", res, len(fake.Accepted(token)))
				}
				return
			}
			if e, _ := res["error"].(map[string]any); e == nil || e["code"] != c.code || e["platform_code"] != float64(19024) {
				t.Errorf("test send: %v, want %s / 19024", res, c.code)
			}
		})
	}
}
