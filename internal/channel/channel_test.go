package channel

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/problem"
)

const (
	tok = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	sec = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

func testEnv(t *testing.T, allow string) Env {
	t.Helper()
	hl, err := ParseHostList(allow)
	if err != nil {
		t.Fatal(err)
	}
	return Env{
		DingTalkRobotBase: mustURL("https://oapi.dingtalk.com"),
		DingTalkAppBase:   mustURL("https://api.dingtalk.com"),
		LarkBase:          mustURL("https://open.feishu.cn"),
		LarkIntlBase:      mustURL("https://open.larksuite.com"),
		WeComBase:         mustURL("https://qyapi.weixin.qq.com"),
		Allow:             hl,
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func validate(t *testing.T, body string, env Env) (*Channel, error) {
	t.Helper()
	in, err := Decode([]byte(body))
	if err != nil {
		return nil, err
	}
	return Validate(in, env)
}

// fields returns "field:code" for every problem in err.
func fields(err error) []string {
	p, ok := err.(*problem.List)
	if !ok {
		if err == nil {
			return nil
		}
		return []string{"not problems: " + err.Error()}
	}
	var out []string
	for _, pr := range p.Items {
		out = append(out, pr.Field+":"+pr.Code)
	}
	return out
}

func TestValidateRefusesBadInput(t *testing.T) {
	env := testEnv(t, "127.0.0.1:9999,fake.local")
	hook := "https://oapi.dingtalk.com/robot/send?access_token=" + tok
	for _, tc := range []struct {
		name string
		body string
		want []string
	}{
		{"empty body", ``, []string{":invalid-json"}},
		{"not json", `{"name":`, []string{":invalid-json"}},
		{"unknown top field", `{"name":"a","kind":"dingtalk_robot","colour":1,"settings":{"webhook_url":"` + hook + `"}}`, []string{"colour:unknown-field"}},
		{"unknown settings field", `{"name":"a","kind":"dingtalk_robot","settings":{"webhook_url":"` + hook + `","token":"x"}}`, []string{"settings.token:unknown-field"}},
		{"wrong type", `{"name":"a","kind":"dingtalk_robot","settings":{"webhook_url":"` + hook + `","keywords":"x"}}`, []string{"settings.keywords:invalid-type"}},
		{"missing name and kind", `{}`, []string{"name:required", "kind:required"}},
		{"unsupported kind", `{"name":"a","kind":"pager"}`, []string{"kind:unsupported-kind"}},
		{"no settings", `{"name":"a","kind":"dingtalk_robot"}`, []string{"settings:required"}},
		{"no webhook", `{"name":"a","kind":"dingtalk_robot","settings":{}}`, []string{"settings.webhook_url:required"}},
		{"foreign host", `{"name":"a","kind":"dingtalk_robot","settings":{"webhook_url":"https://evil.example/robot/send?access_token=x"}}`, []string{"settings.webhook_url:url-not-allowed"}},
		{"http to platform", `{"name":"a","kind":"dingtalk_robot","settings":{"webhook_url":"http://oapi.dingtalk.com/robot/send?access_token=x"}}`, []string{"settings.webhook_url:url-not-allowed"}},
		{"wrong path", `{"name":"a","kind":"dingtalk_robot","settings":{"webhook_url":"https://oapi.dingtalk.com/robot/other?access_token=x"}}`, []string{"settings.webhook_url:invalid-path"}},
		{"no token", `{"name":"a","kind":"dingtalk_robot","settings":{"webhook_url":"https://oapi.dingtalk.com/robot/send?foo=1"}}`, []string{"settings.webhook_url:missing-access-token"}},
		{"allowed port only", `{"name":"a","kind":"dingtalk_robot","settings":{"webhook_url":"http://127.0.0.1:9998/robot/send?access_token=x"}}`, []string{"settings.webhook_url:url-not-allowed"}},
		{"ftp scheme", `{"name":"a","kind":"dingtalk_robot","settings":{"webhook_url":"ftp://fake.local/robot/send?access_token=x"}}`, []string{"settings.webhook_url:url-not-allowed"}},
		{"bad secret", `{"name":"a","kind":"dingtalk_robot","settings":{"webhook_url":"` + hook + `","secret":"abc"}}`, []string{"settings.secret:invalid-secret"}},
		{"too many keywords", `{"name":"a","kind":"dingtalk_robot","settings":{"webhook_url":"` + hook + `","keywords":["1","2","3","4","5","6","7","8","9","10","11"]}}`, []string{"settings.keywords:too-many"}},
		{"empty keyword", `{"name":"a","kind":"dingtalk_robot","settings":{"webhook_url":"` + hook + `","keywords":["ok"," "]}}`, []string{"settings.keywords[1]:empty"}},
		{"bad mobile", `{"name":"a","kind":"dingtalk_robot","settings":{"webhook_url":"` + hook + `","at_mobiles":["138-abc"]}}`, []string{"settings.at_mobiles[0]:invalid-mobile"}},
		{"bad user id", `{"name":"a","kind":"dingtalk_robot","settings":{"webhook_url":"` + hook + `","at_user_ids":["@bob"]}}`, []string{"settings.at_user_ids[0]:invalid-user-id"}},
		{"bad msg type", `{"name":"a","kind":"dingtalk_robot","settings":{"webhook_url":"` + hook + `","msg_type":"feedCard"}}`, []string{"settings.msg_type:invalid-msg-type"}},
		{"bad budget", `{"name":"a","kind":"dingtalk_robot","settings":{"webhook_url":"` + hook + `","budget":{"messages":0,"per":"1x"}}}`, []string{"settings.budget.messages:invalid-budget", "settings.budget.per:invalid-budget"}},
		{"budget over platform", `{"name":"a","kind":"dingtalk_robot","settings":{"webhook_url":"` + hook + `","budget":{"messages":30,"per":"1m"}}}`, []string{"settings.budget:budget-over-platform-limit"}},
		{"bad report times", `{"name":"a","kind":"dingtalk_robot","settings":{"webhook_url":"` + hook + `"},"daily_report":{"times":"09:00, 25:00,9:30","timezone":"Mars/Olympus"}}`, []string{"daily_report.times[1]:invalid-time", "daily_report.times[2]:invalid-time", "daily_report.timezone:invalid-timezone"}},
		{"bad timezone", `{"name":"a","kind":"dingtalk_robot","timezone":"CST8","settings":{"webhook_url":"` + hook + `"}}`, []string{"timezone:invalid-timezone"}},
		{"slash in name", `{"name":"a/b","kind":"dingtalk_robot","settings":{"webhook_url":"` + hook + `"}}`, []string{"name:invalid-name"}},
		{"settings type error reported with the rest", `{"name":"","kind":"dingtalk_robot","settings":{"webhook_url":"` + hook + `","keywords":"x"},"timezone":"Nowhere"}`, []string{"name:required", "timezone:invalid-timezone", "settings.keywords:invalid-type"}},
		{"card not object", `{"name":"a","kind":"dingtalk_robot","settings":{"webhook_url":"` + hook + `"},"card":[1]}`, []string{"card:invalid-type"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := validate(t, tc.body, env)
			if diff := cmp.Diff(tc.want, fields(err)); diff != "" {
				t.Errorf("problems (-want +got):\n%s\nerror: %v", diff, err)
			}
		})
	}
}

func TestValidateNormalises(t *testing.T) {
	env := testEnv(t, "127.0.0.1:9999")
	for _, tc := range []struct {
		name, webhook, want string
	}{
		{"bare token", tok, "https://oapi.dingtalk.com/robot/send?access_token=" + tok},
		{"copied with stale signature", "https://oapi.dingtalk.com/robot/send?access_token=" + tok + "&timestamp=1700000000000&sign=abc%2B&x=1", "https://oapi.dingtalk.com/robot/send?access_token=" + tok},
		{"allowed local fake over http", "http://127.0.0.1:9999/robot/send?access_token=" + tok, "http://127.0.0.1:9999/robot/send?access_token=" + tok},
		{"explicit default port and trailing dot", "https://OAPI.dingtalk.com.:443/robot/send?access_token=" + tok, "https://OAPI.dingtalk.com.:443/robot/send?access_token=" + tok},
		{"spaces around", "  https://oapi.dingtalk.com/robot/send?access_token=" + tok + " ", "https://oapi.dingtalk.com/robot/send?access_token=" + tok},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := validate(t, `{"name":" ops ","kind":"dingtalk_robot","settings":{"webhook_url":"`+tc.webhook+`"}}`, env)
			if err != nil {
				t.Fatal(err)
			}
			got := ch.Settings.(*DingTalkRobot).WebhookURL.Reveal()
			if got != tc.want {
				t.Errorf("webhook = %q, want %q", got, tc.want)
			}
			if ch.Name != "ops" || !ch.Enabled {
				t.Errorf("name %q enabled %v, want trimmed name and enabled by default", ch.Name, ch.Enabled)
			}
		})
	}
	ch, err := validate(t, `{"name":"r","kind":"dingtalk_robot","enabled":false,"settings":{"webhook_url":"`+tok+`","keywords":[" alert ","alert"],"at_mobiles":["+852-12345678","13800000000"]},"daily_report":{"times":["18:00","09:00,18:00"],"timezone":"Asia/Shanghai"}}`, env)
	if err != nil {
		t.Fatal(err)
	}
	s := ch.Settings.(*DingTalkRobot)
	if diff := cmp.Diff([]string{"alert"}, s.Keywords); diff != "" {
		t.Errorf("keywords (-want +got): %s", diff)
	}
	if diff := cmp.Diff(DailyReport{Times: []string{"09:00", "18:00"}, Timezone: "Asia/Shanghai"}, ch.DailyReport); diff != "" {
		t.Errorf("daily report (-want +got): %s", diff)
	}
	if ch.Enabled || s.MsgType != "markdown" {
		t.Errorf("enabled=%v msg_type=%q, want false and the markdown default", ch.Enabled, s.MsgType)
	}
}

func TestJSONMasksSecretsAndKeepSecretsRestoresThem(t *testing.T) {
	env := testEnv(t, "")
	stored, err := validate(t, `{"name":"r","kind":"dingtalk_robot","settings":{"webhook_url":"`+tok+`","secret":"`+sec+`"}}`, env)
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(stored)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), tok) || strings.Contains(string(out), sec) {
		t.Fatalf("JSON shows a secret: %s", out)
	}
	// A client sends back what it got, changing only the keywords.
	var m map[string]any
	json.Unmarshal(out, &m)
	m["settings"].(map[string]any)["keywords"] = []string{"alert"}
	back, _ := json.Marshal(m)
	updated, err := validate(t, string(back), env)
	if err != nil {
		t.Fatalf("validating the echoed channel: %v", err)
	}
	if err := KeepSecrets(updated, stored); err != nil {
		t.Fatal(err)
	}
	s := updated.Settings.(*DingTalkRobot)
	if s.WebhookURL.Reveal() != "https://oapi.dingtalk.com/robot/send?access_token="+tok || s.Secret.Reveal() != sec {
		t.Errorf("secrets not restored: %q %q", s.WebhookURL.Reveal(), s.Secret.Reveal())
	}
	// On create there is nothing to restore from: a masked value is refused.
	fresh, _ := validate(t, string(back), env)
	if diff := cmp.Diff([]string{"settings.webhook_url:masked-secret", "settings.secret:masked-secret"}, fields(CheckNoMasked(fresh))); diff != "" {
		t.Errorf("CheckNoMasked (-want +got): %s", diff)
	}
}

func TestBaseURLWithPath(t *testing.T) {
	base, _ := url.Parse("https://proxy.corp/dingtalk")
	env := Env{DingTalkRobotBase: base}
	for _, tc := range []struct {
		webhook string
		want    []string
	}{
		{tok, nil},
		{"https://proxy.corp/dingtalk/robot/send?access_token=" + tok, nil},
		{"https://proxy.corp/robot/send?access_token=" + tok, []string{"settings.webhook_url:invalid-path"}},
	} {
		ch, err := validate(t, `{"name":"r","kind":"dingtalk_robot","settings":{"webhook_url":"`+tc.webhook+`"}}`, env)
		if diff := cmp.Diff(tc.want, fields(err)); diff != "" {
			t.Errorf("%s: problems (-want +got):\n%s", tc.webhook, diff)
			continue
		}
		if err == nil && ch.Settings.(*DingTalkRobot).WebhookURL.Reveal() != "https://proxy.corp/dingtalk/robot/send?access_token="+tok {
			t.Errorf("%s normalised to %s", tc.webhook, ch.Settings.(*DingTalkRobot).WebhookURL.Reveal())
		}
	}
}

func TestHostList(t *testing.T) {
	hl, err := ParseHostList(" fake.local, 127.0.0.1:9999 ,10.0.0.0/8,[::1]:8080")
	if err != nil {
		t.Fatal(err)
	}
	for raw, want := range map[string]bool{
		"http://fake.local/x":        true,
		"https://FAKE.local:8443/x":  true,
		"http://127.0.0.1:9999/x":    true,
		"http://127.0.0.1:9998/x":    false,
		"http://127.0.0.1/x":         false,
		"http://10.1.2.3:7/x":        true,
		"http://11.1.2.3/x":          false,
		"http://[::1]:8080/x":        true,
		"http://evil.com/fake.local": false,
	} {
		u, _ := url.Parse(raw)
		if got := hl.Allows(u); got != want {
			t.Errorf("Allows(%s) = %v, want %v", raw, got, want)
		}
	}
	if u, _ := url.Parse("http://anything.example:1/x"); !AnyHost().Allows(u) || (HostList{}).Allows(u) {
		t.Error("AnyHost must allow every host and the zero HostList none")
	}
	for _, bad := range []string{"http://x", "10.0.0.0/99", ":80"} {
		if _, err := ParseHostList(bad); err == nil {
			t.Errorf("ParseHostList(%q) accepted", bad)
		}
	}
}

func TestCheckURLAtSendTime(t *testing.T) {
	env := testEnv(t, "")
	if err := env.CheckURL(KindDingTalkRobot, "http://127.0.0.1:9999/robot/send?access_token=x"); err == nil {
		t.Error("a host no longer allowed was accepted")
	}
	if err := env.CheckURL(KindDingTalkRobot, "https://oapi.dingtalk.com/robot/send?access_token=x"); err != nil {
		t.Error(err)
	}
}

func FuzzDecodeValidate(f *testing.F) {
	f.Add(`{"name":"r","kind":"dingtalk_robot","settings":{"webhook_url":"` + tok + `","secret":"` + sec + `","keywords":["a"]},"daily_report":{"times":"09:00,18:00"}}`)
	f.Add(`{"name":"","kind":"x","settings":null,"card":{}}`)
	f.Add(`{"settings":{"webhook_url":"http://[::1]:80/robot/send?access_token=%zz"}}`)
	base, _ := url.Parse("https://oapi.dingtalk.com")
	env := Env{DingTalkRobotBase: base}
	f.Fuzz(func(t *testing.T, body string) {
		in, err := Decode([]byte(body))
		if err != nil {
			return
		}
		ch, err := Validate(in, env)
		if err != nil {
			if p, ok := err.(*problem.List); !ok || len(p.Items) == 0 {
				t.Fatalf("Validate error is not a non-empty *problem.List: %T %v", err, err)
			}
			return
		}
		if ch.Name == "" || ch.Settings == nil {
			t.Fatalf("valid channel without name or settings: %+v", ch)
		}
		if _, err := json.Marshal(ch); err != nil {
			t.Fatalf("valid channel does not marshal: %v", err)
		}
	})
}

func TestOtherKinds(t *testing.T) {
	env := testEnv(t, "127.0.0.1:9999")
	const larkTok = "2f5e0b7a-1c3d-4e5f-8a9b-0c1d2e3f4a5b"
	for _, tc := range []struct {
		name     string
		body     string
		problems []string
		// secret is the settings' secret URL after normalisation.
		check func(t *testing.T, s Settings)
	}{
		{"lark bare token", `{"name":"l","kind":"lark_robot","settings":{"webhook_url":"` + larkTok + `","secret":"larksecret123","keywords":["告警"]}}`, nil,
			func(t *testing.T, s Settings) {
				if got := s.(*LarkRobot).WebhookURL.Reveal(); got != "https://open.feishu.cn/open-apis/bot/v2/hook/"+larkTok {
					t.Errorf("webhook = %s", got)
				}
				if s.(*LarkRobot).MsgType != "interactive" {
					t.Error("lark msg_type default")
				}
			}},
		{"lark international", `{"name":"l","kind":"lark_robot","settings":{"webhook_url":"https://open.larksuite.com/open-apis/bot/v2/hook/` + larkTok + `?x=1"}}`, nil,
			func(t *testing.T, s Settings) {
				if got := s.(*LarkRobot).WebhookURL.Reveal(); got != "https://open.larksuite.com/open-apis/bot/v2/hook/"+larkTok {
					t.Errorf("webhook = %s", got)
				}
			}},
		{"lark wrong path", `{"name":"l","kind":"lark_robot","settings":{"webhook_url":"https://open.feishu.cn/open-apis/bot/hook/` + larkTok + `"}}`, []string{"settings.webhook_url:invalid-path"}, nil},
		{"lark budget over 100/min", `{"name":"l","kind":"lark_robot","settings":{"webhook_url":"` + larkTok + `","budget":{"messages":3,"per":"1s"}}}`, []string{"settings.budget:budget-over-platform-limit"}, nil},
		{"wecom bare key", `{"name":"w","kind":"wecom_robot","settings":{"webhook_url":"693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"}}`, nil,
			func(t *testing.T, s Settings) {
				if got := s.(*WeComRobot).WebhookURL.Reveal(); got != "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa" {
					t.Errorf("webhook = %s", got)
				}
			}},
		{"wecom no key", `{"name":"w","kind":"wecom_robot","settings":{"webhook_url":"https://qyapi.weixin.qq.com/cgi-bin/webhook/send"}}`, []string{"settings.webhook_url:missing-key"}, nil},
		{"wecom local fake", `{"name":"w","kind":"wecom_robot","settings":{"webhook_url":"http://127.0.0.1:9999/cgi-bin/webhook/send?key=k","msg_type":"text"}}`, nil, nil},
		{"webhook any https host", `{"name":"h","kind":"webhook","settings":{"url":"https://hooks.example.com/tocsin?token=abc","secret":"0123456789abcdef"}}`, nil, nil},
		{"webhook plain http refused", `{"name":"h","kind":"webhook","settings":{"url":"http://hooks.example.com/tocsin"}}`, []string{"settings.url:url-not-allowed"}, nil},
		{"webhook weak secret", `{"name":"h","kind":"webhook","settings":{"url":"https://hooks.example.com/","secret":"short"}}`, []string{"settings.secret:weak-secret"}, nil},
		{"app defaults", `{"name":"a","kind":"dingtalk_app","settings":{"client_id":"dingabc123","client_secret":"s3cr3t","user_ids":["manager1234"," manager1234"]}}`, nil,
			func(t *testing.T, s Settings) {
				a := s.(*DingTalkApp)
				if a.RobotCode != "dingabc123" || a.APIBaseURL != "https://api.dingtalk.com" || len(a.UserIDs) != 1 {
					t.Errorf("app = %+v", a)
				}
			}},
		{"app without recipients", `{"name":"a","kind":"dingtalk_app","settings":{"client_id":"dingabc123","client_secret":"s"}}`, []string{"settings:no-recipients"}, nil},
		{"app foreign api base", `{"name":"a","kind":"dingtalk_app","settings":{"client_id":"dingabc123","client_secret":"s","user_ids":["u1234"],"api_base_url":"https://evil.example"}}`, []string{"settings.api_base_url:url-not-allowed"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := validate(t, tc.body, env)
			if diff := cmp.Diff(tc.problems, fields(err)); diff != "" {
				t.Fatalf("problems (-want +got):\n%s\nerror: %v", diff, err)
			}
			if err == nil && tc.check != nil {
				tc.check(t, ch.Settings)
			}
		})
	}
}

func TestDefaultBudgets(t *testing.T) {
	for k, want := range map[Kind]string{KindDingTalkRobot: "20/1m", KindWeComRobot: "20/1m", KindLarkRobot: "100/1m", KindDingTalkApp: "20/1s", KindWebhook: "0/"} {
		b := DefaultBudget(k)
		if got := fmt.Sprintf("%d/%s", b.Messages, b.Per); got != want {
			t.Errorf("DefaultBudget(%s) = %s, want %s", k, got, want)
		}
	}
}

// TestMaskedPathTokenIsKept: a Lark webhook's token is in its path, and
// the URL the API shows masks it there; sending that back keeps the token.
func TestMaskedPathTokenIsKept(t *testing.T) {
	env := testEnv(t, "")
	const hook = "https://open.feishu.cn/open-apis/bot/v2/hook/2f5e0b7a-1c3d-4e5f-8a9b-0c1d2e3f4a5b"
	stored, err := validate(t, `{"name":"l","kind":"lark_robot","settings":{"webhook_url":"`+hook+`"}}`, env)
	if err != nil {
		t.Fatal(err)
	}
	shown, _ := json.Marshal(stored)
	var m map[string]any
	json.Unmarshal(shown, &m)
	masked := m["settings"].(map[string]any)["webhook_url"].(string)
	if strings.Contains(masked, "2f5e0b7a") {
		t.Fatalf("the token shows: %s", masked)
	}
	back, _ := json.Marshal(m)
	updated, err := validate(t, string(back), env)
	if err != nil {
		t.Fatal(err)
	}
	if err := KeepSecrets(updated, stored); err != nil {
		t.Fatal(err)
	}
	if got := updated.Settings.(*LarkRobot).WebhookURL.Reveal(); got != hook {
		t.Errorf("after a PUT of the masked URL the webhook is %q, want the stored one", got)
	}
}
