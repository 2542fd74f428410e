package lark

import (
	"testing"
	"time"

	"github.com/tocsinhq/tocsin/internal/secret"
)

// The vector of reference/chat-apis.md §4.1, and what DingTalk's recipe
// makes of the same input: the mistake Sign must not make.
const (
	vectorSecret   = "demo"
	vectorSeconds  = 1599360473
	vectorSign     = "l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8="
	dingTalkRecipe = "DkEDUyVoOOJ539qBvUgMyzkzIdRWlf4e/V3Rq+ONJnQ="
)

func TestSign(t *testing.T) {
	// Milliseconds past the second must not change the timestamp.
	ts, sign := Sign(vectorSecret, time.Unix(vectorSeconds, 999_000_000))
	if ts != "1599360473" || sign != vectorSign {
		t.Errorf("Sign = %q, %q; want 1599360473, %q", ts, sign, vectorSign)
	}
	if sign == dingTalkRecipe {
		t.Error("Sign uses DingTalk's recipe")
	}
}

func TestTarget(t *testing.T) {
	tests := []struct {
		raw  string
		want string // "" means refused
	}{
		{"https://open.feishu.cn/open-apis/bot/v2/hook/0b9f3a5e-7c1d", "https://open.feishu.cn/open-apis/bot/v2/hook/0b9f3a5e-7c1d"},
		{"https://open.larksuite.com/open-apis/bot/v2/hook/abc#frag", "https://open.larksuite.com/open-apis/bot/v2/hook/abc"},
		{"http://127.0.0.1:8080/proxy/open-apis/bot/v2/hook/abc?x=1", "http://127.0.0.1:8080/proxy/open-apis/bot/v2/hook/abc?x=1"},
		{"", ""},
		{"0b9f3a5e-7c1d", ""},
		{"open.feishu.cn/open-apis/bot/v2/hook/abc", ""},
		{"ftp://open.feishu.cn/open-apis/bot/v2/hook/abc", ""},
		{"https://open.feishu.cn/open-apis/bot/v2/hook/", ""},
		{"https://open.feishu.cn/open-apis/bot/v2/hook/abc/def", ""},
		{"https://open.feishu.cn/open-apis/bot/hook/abc", ""},
		{"https://oapi.dingtalk.com/robot/send?access_token=abc", ""},
		{"https://open.feishu.cn/open-apis/bot/v2/hook/abc\x7f", ""},
	}
	for _, tt := range tests {
		got, err := Bot{WebhookURL: secret.NewURL(tt.raw)}.target()
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("target(%q) = %q, want an error", tt.raw, got)
		case tt.want != "" && (err != nil || got != tt.want):
			t.Errorf("target(%q) = %q, %v; want %q", tt.raw, got, err, tt.want)
		}
	}
}

func TestTokenOf(t *testing.T) {
	for raw, want := range map[string]string{
		"https://open.feishu.cn/open-apis/bot/v2/hook/abc-123":     "abc-123",
		"https://open.feishu.cn/open-apis/bot/v2/hook/abc?x=1#y":   "abc",
		"https://open.feishu.cn/open-apis/bot/v2/hook/abc\x7f":     "abc\x7f",
		"http://h/a/hook/b/open-apis/bot/v2/hook/tok/extra":        "tok",
		"https://open.feishu.cn/open-apis/bot/v2/nothing-here/abc": "",
	} {
		if got := tokenOf(raw); got != want {
			t.Errorf("tokenOf(%q) = %q, want %q", raw, got, want)
		}
	}
}
