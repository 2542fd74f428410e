package lark

import (
	"fmt"
	"testing"
	"time"

	"github.com/tocsinhq/tocsin/internal/notify"
)

func TestClassify(t *testing.T) {
	const small, large = 2000, 19000 // bytes of the body sent
	tests := []struct {
		code       int
		msg        string
		sent       int
		action     notify.Action
		kind       string
		retryAfter time.Duration
	}{
		{11232, "frequency limited psm[lark.oapi.app_platform_runtime]appID[1500]", small, notify.Retry, "rate-limited", time.Minute},
		{11232, "rate limited", small, notify.Retry, "rate-limited", time.Minute},
		{9499, "too many request", small, notify.Retry, "rate-limited", time.Minute},
		{9499, "Too Many Requests", large, notify.Retry, "rate-limited", time.Minute},
		{9499, "Bad Request", large, notify.Shrink, "message-too-long", 0},
		{9499, "Bad Request", small, notify.Permanent, "bad-request", 0},
		{9499, "Bad Request: fail to parse content", small, notify.Permanent, "bad-request", 0},
		{19036, "The message exceeds the size limit of 30KB", small, notify.Shrink, "message-too-long", 0},

		{19001, "param invalid: incoming webhook access token invalid", small, notify.Permanent, "token-unknown", 0},
		{19002, "param invalid: msg_type", small, notify.Permanent, "invalid-parameter", 0},
		{19007, "Bot Not Enabled", small, notify.Permanent, "robot-disabled", 0},
		{19021, "sign match fail or timestamp is not within one hour from current time", small, notify.Permanent, "signature-mismatch", 0},
		{19022, "Ip Not Allowed", small, notify.Permanent, "ip-not-allowed", 0},
		{19024, "Key Words Not Found", small, notify.Permanent, "keyword-missing", 0},
		{99991300, "invalid request body: not json", small, notify.Permanent, "bad-request", 0},
		{99991201, "resource not find", small, notify.Permanent, "invalid-webhook-url", 0},
		{12345, "未知错误", small, notify.Permanent, "platform-error", 0},
	}
	seen := map[int]bool{}
	for _, tt := range tests {
		seen[tt.code] = true
		t.Run(fmt.Sprintf("%d %s %d", tt.code, tt.msg, tt.sent), func(t *testing.T) {
			e := classify(tt.code, tt.msg, tt.sent)
			if e.Action != tt.action || e.Code != tt.kind || e.RetryAfter != tt.retryAfter {
				t.Errorf("got %s %q after %v, want %s %q after %v", e.Action, e.Code, e.RetryAfter, tt.action, tt.kind, tt.retryAfter)
			}
			if e.PlatformCode != tt.code || e.PlatformMessage != tt.msg {
				t.Errorf("platform code and message = %d %q, want them as received", e.PlatformCode, e.PlatformMessage)
			}
			if e.Message == "" {
				t.Error("no message for a person")
			}
			if e.Action != notify.Retry && e.Hint == "" {
				t.Error("no hint: a person cannot tell what to fix")
			}
		})
	}
	for code := range codes {
		if !seen[code] {
			t.Errorf("code %d is in the table but not tested", code)
		}
	}
}
