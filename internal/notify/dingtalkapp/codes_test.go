package dingtalkapp

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tocsinhq/tocsin/internal/notify"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		status     int
		code       string
		fromToken  bool
		action     notify.Action
		want       string
		retryAfter time.Duration
	}{
		{400, "InvalidAuthentication", false, notify.Permanent, "app-auth-failed", 0},
		{401, "InvalidAuthentication", false, notify.Permanent, "app-auth-failed", 0},
		{401, "", false, notify.Permanent, "app-auth-failed", 0},
		{400, "invalidClientIdOrSecret", true, notify.Permanent, "app-auth-failed", 0},
		{400, "invalidClientIdOrSecret", false, notify.Permanent, "app-auth-failed", 0},
		{400, "InvalidAuthentication", true, notify.Permanent, "app-auth-failed", 0},
		{400, "invalidParameter.appSecret.invalid", true, notify.Permanent, "app-auth-failed", 0},
		{400, "something.new", true, notify.Permanent, "app-auth-failed", 0},
		{401, "", true, notify.Permanent, "app-auth-failed", 0},

		{400, "invalidParameter.robotCode.empty", false, notify.Permanent, "robot-code-invalid", 0},
		{400, "invalidParameter.robotCode.auth", false, notify.Permanent, "robot-code-invalid", 0},
		{400, "invalidParameter.robotCode.notExsit", false, notify.Permanent, "robot-code-invalid", 0},
		{400, "invalidParameter.robotCode.notExist", false, notify.Permanent, "robot-code-invalid", 0},
		{400, "invalidParameter.userIds.empty", false, notify.Permanent, "user-ids-invalid", 0},
		{400, "invalidParameter.userIds.overMax", false, notify.Permanent, "user-ids-invalid", 0},
		{400, "invalidParameter.userIds.invalid", false, notify.Permanent, "user-ids-invalid", 0},
		{400, "invalidParameter.msgKey.empty", false, notify.Permanent, "bad-request", 0},
		{400, "invalidParameter.msgKey.invalid", false, notify.Permanent, "bad-request", 0},
		{400, "invalidParameter.msgKey.notSupported", false, notify.Permanent, "bad-request", 0},
		{400, "invalidParameter.msgParam.invalid", false, notify.Permanent, "bad-request", 0},
		{400, "invalidParameter.msgParam.tooLong", false, notify.Permanent, "bad-request", 0},
		{400, "invalidParameter.param.invalid", false, notify.Permanent, "bad-request", 0},
		{400, "invalidParameter.coolAppCode.invalid", false, notify.Permanent, "bad-request", 0},
		{400, "Missingbody", false, notify.Permanent, "bad-request", 0},
		{400, "Missingbody", true, notify.Permanent, "bad-request", 0},
		{400, "invalid.openConversationId", false, notify.Permanent, "conversation-invalid", 0},
		{400, "invalid.openConversationId.notFound", false, notify.Permanent, "conversation-invalid", 0},
		{400, "bot.stopped", false, notify.Permanent, "robot-disabled", 0},
		{403, "Forbidden.AccessDenied.AccessTokenPermissionDenied", false, notify.Permanent, "permission-denied", 0},
		{403, "Forbidden.AccessDenied.IpNotInWhiteList", true, notify.Permanent, "permission-denied", 0},

		{400, "send.too.fast", false, notify.Retry, "rate-limited", time.Minute},
		{400, "send.byToken.tooFast", false, notify.Retry, "rate-limited", time.Minute},
		{400, "too.many.people", false, notify.Retry, "rate-limited", time.Minute},
		{400, "too.many.group", false, notify.Retry, "rate-limited", time.Minute},
		{429, "send.too.fast", false, notify.Retry, "rate-limited", time.Minute},
		{403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", false, notify.Retry, "rate-limited", 2 * time.Second},
		{403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", true, notify.Retry, "rate-limited", 2 * time.Second},
		{429, "", false, notify.Retry, "rate-limited", time.Minute},
		{429, "", true, notify.Retry, "rate-limited", time.Minute},

		{500, "", false, notify.Retry, "server-error", 0},
		{502, "", true, notify.Retry, "server-error", 0},
		{503, "ServiceUnavailable", false, notify.Retry, "server-error", 0},
		{500, "bot.stopped", false, notify.Retry, "server-error", 0},
		{503, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", false, notify.Retry, "rate-limited", 2 * time.Second},

		{400, "something.new", false, notify.Permanent, "platform-error", 0},
		{404, "InvalidAction.NotFound", false, notify.Permanent, "platform-error", 0},
		{404, "", false, notify.Permanent, "http-status", 0},
		{404, "", true, notify.Permanent, "http-status", 0},
		{302, "", false, notify.Permanent, "http-status", 0},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.code] = true
		t.Run(fmt.Sprintf("%d %s token=%t", tt.status, tt.code, tt.fromToken), func(t *testing.T) {
			e := classify(tt.status, tt.code, tt.fromToken).With(0, "说明", nil)
			if e.Action != tt.action || e.Code != tt.want || e.RetryAfter != tt.retryAfter {
				t.Errorf("got %s %q after %v, want %s %q after %v", e.Action, e.Code, e.RetryAfter, tt.action, tt.want, tt.retryAfter)
			}
			if e.Message == "" || e.PlatformMessage != "说明" {
				t.Errorf("message %q, platform message %q: want a message for a person and DingTalk's as received", e.Message, e.PlatformMessage)
			}
			if e.Action != notify.Retry && e.Hint == "" {
				t.Error("no hint: a person cannot tell what to fix")
			}
		})
	}
	for code := range codes {
		if !seen[code] {
			t.Errorf("code %s is in the table but not tested", code)
		}
	}
	for _, p := range prefixes {
		var covered bool
		for code := range seen {
			if _, exact := codes[code]; !exact && strings.HasPrefix(code, p.prefix) {
				covered = true
			}
		}
		if !covered {
			t.Errorf("prefix %s is not tested with a code the table does not list", p.prefix)
		}
	}
}
