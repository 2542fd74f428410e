package wecom

import (
	"fmt"
	"testing"
	"time"

	"github.com/tocsinhq/tocsin/internal/notify"
)

func TestClassify(t *testing.T) {
	const suffix = ", hint: [1700000000_7_9f2c], from ip: 203.0.113.7, more info at https://open.work.weixin.qq.com/devtool/query?e="
	tests := []struct {
		errcode    int
		errmsg     string
		action     notify.Action
		code       string
		retryAfter time.Duration
	}{
		{-1, "system busy" + suffix + "-1", notify.Retry, "system-busy", 0},
		{45009, "api freq out of limit" + suffix + "45009", notify.Retry, "rate-limited", time.Minute},
		{45033, "api concurrent out of limit" + suffix + "45033", notify.Retry, "concurrency-limited", 0},

		{40058, "markdown.content exceed max length 4096. invalid Request Parameter" + suffix + "40058", notify.Shrink, "message-too-long", 0},
		{40058, "text.content exceed max length 2048. invalid Request Parameter" + suffix + "40058", notify.Shrink, "message-too-long", 0},
		{40058, "invalid Request Parameter" + suffix + "40058", notify.Permanent, "bad-request", 0},
		{45002, "content size out of limit" + suffix + "45002", notify.Shrink, "message-too-long", 0},

		{93000, "invalid webhook url" + suffix + "93000", notify.Permanent, "token-unknown", 0},
		{40008, "invalid message type" + suffix + "40008", notify.Permanent, "unsupported-message-type", 0},
		{44004, "Warning: wrong json format. empty content" + suffix + "44004", notify.Permanent, "empty-message", 0},
		{40033, "invalid charset" + suffix + "40033", notify.Permanent, "content-rejected", 0},
		{40035, "invalid parameter" + suffix + "40035", notify.Permanent, "bad-request", 0},
		{40063, "empty parameter" + suffix + "40063", notify.Permanent, "bad-request", 0},
		{45008, "invalid article count" + suffix + "45008", notify.Permanent, "platform-error", 0},
		{12345, "未知错误", notify.Permanent, "platform-error", 0},
	}
	seen := map[int]bool{}
	for _, tt := range tests {
		seen[tt.errcode] = true
		t.Run(fmt.Sprintf("%d %.30s", tt.errcode, tt.errmsg), func(t *testing.T) {
			e := classify(tt.errcode, tt.errmsg)
			if e.Action != tt.action || e.Code != tt.code || e.RetryAfter != tt.retryAfter {
				t.Errorf("got %s %q after %v, want %s %q after %v", e.Action, e.Code, e.RetryAfter, tt.action, tt.code, tt.retryAfter)
			}
			if e.PlatformCode != tt.errcode || e.PlatformMessage != tt.errmsg {
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
	for code := range errcodes {
		if !seen[code] {
			t.Errorf("errcode %d is in the table but not tested", code)
		}
	}
}
