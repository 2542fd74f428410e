package dingtalk

import (
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/secret"
)

// The vector from reference/chat-apis.md §1.3.
const (
	vectorSecret  = "SEC0123456789abcdef"
	vectorMillis  = 1700000000000
	vectorSign    = "TSZbRFUuvaSQaRKUpF970OPCb2/LcQAP3wOvwZIzBZk="
	vectorEncoded = "TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D"
)

func TestSign(t *testing.T) {
	ts, sign := Sign(vectorSecret, time.UnixMilli(vectorMillis))
	if ts != "1700000000000" || sign != vectorSign {
		t.Errorf("Sign = %q, %q; want 1700000000000, %q", ts, sign, vectorSign)
	}
}

func TestSendURL(t *testing.T) {
	now := time.UnixMilli(vectorMillis)
	signed := "timestamp=1700000000000&sign=" + vectorEncoded
	tests := []struct {
		name    string
		webhook string
		secret  string
		want    string // the query
	}{
		{"signed", "https://oapi.dingtalk.com/robot/send?access_token=abc", vectorSecret,
			"access_token=abc&sign=" + vectorEncoded + "&timestamp=1700000000000"},
		{"unsigned", "https://oapi.dingtalk.com/robot/send?access_token=abc", "",
			"access_token=abc"},
		{"stale sign replaced", "https://oapi.dingtalk.com/robot/send?access_token=abc&timestamp=1&sign=old%2B", vectorSecret,
			"access_token=abc&sign=" + vectorEncoded + "&timestamp=1700000000000"},
		{"stale sign dropped when unsigned", "https://oapi.dingtalk.com/robot/send?" + signed + "&access_token=abc", "",
			"access_token=abc"},
		{"other parameters kept", "http://127.0.0.1:8080/robot/send?access_token=abc&x=1#frag", vectorSecret,
			"access_token=abc&sign=" + vectorEncoded + "&timestamp=1700000000000&x=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Robot{WebhookURL: secret.NewURL(tt.webhook), Secret: secret.New(tt.secret)}
			got, _, err := r.sendURL(now)
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(got)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, u.RawQuery); diff != "" {
				t.Errorf("query (-want +got):\n%s", diff)
			}
			if u.Fragment != "" {
				t.Errorf("fragment %q kept", u.Fragment)
			}
			// Signing the signed URL again changes nothing: nothing piles up.
			again, _, err := Robot{WebhookURL: secret.NewURL(got), Secret: r.Secret}.sendURL(now)
			if err != nil || again != got {
				t.Errorf("signing again gave %q, %v; want %q", again, err, got)
			}
		})
	}
}

func TestSendURLRefuses(t *testing.T) {
	for _, raw := range []string{
		"",
		"oapi.dingtalk.com/robot/send?access_token=abc",
		"ftp://oapi.dingtalk.com/robot/send?access_token=abc",
		"https://oapi.dingtalk.com/robot/send",
		"https://oapi.dingtalk.com/robot/send?access_token=abc\x7f",
	} {
		if got, _, err := (Robot{WebhookURL: secret.NewURL(raw)}).sendURL(time.Now()); err == nil {
			t.Errorf("sendURL(%q) = %q, want an error", raw, got)
		}
	}
}
