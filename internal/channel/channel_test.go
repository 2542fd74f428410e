package channel

import (
	"encoding/json"
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
	base, _ := url.Parse("https://oapi.dingtalk.com")
	return Env{DingTalkRobotBase: base, Allow: hl}
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
