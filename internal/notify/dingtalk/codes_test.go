package dingtalk

import (
	"fmt"
	"testing"
	"time"

	"github.com/tocsinhq/tocsin/internal/notify"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		errcode    int
		errmsg     string
		action     notify.Action
		code       string
		retryAfter time.Duration
	}{
		{-1, "系统繁忙", notify.Retry, "system-busy", 0},
		{130101, "send too fast, exceed 20 times per minute", notify.Retry, "rate-limited", 10 * time.Minute},
		{410100, "发送速度太快而限流", notify.Retry, "rate-limited", 10 * time.Minute},
		{90030, "webhook over limit", notify.Retry, "quota-exceeded", time.Hour},
		{460101, "message too long, exceed 20000 bytes", notify.Shrink, "message-too-long", 0},
		{460101, "description: body 大小不合法;solution:请保持大小在 20000bytes 以内;", notify.Shrink, "message-too-long", 0},
		{101002, "message is too long", notify.Shrink, "message-too-long", 0},

		{310000, "keywords not in content", notify.Permanent, "keyword-missing", 0},
		{310000, "错误描述:关键词不匹配;解决方案:请联系群管理员查看此机器人的关键词，并在发送的信息中包含此关键词;", notify.Permanent, "keyword-missing", 0},
		{310000, "description:关键词不匹配;solution:请联系群管理员查看此机器人的关键词，并在发送的信息中包含此关键词;", notify.Permanent, "keyword-missing", 0},
		{310000, "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]", notify.Permanent, "signature-mismatch", 0},
		{310000, "Sign Not Match", notify.Permanent, "signature-mismatch", 0},
		{310000, "description:机器人发送签名不匹配;solution:请确认签名和生成签名的时间戳必须都放在调用的网址中，请确认机器人的密钥加密和填写正确;link:https://open.dingtalk.com", notify.Permanent, "signature-mismatch", 0},
		{310000, "invalid timestamp", notify.Permanent, "timestamp-invalid", 0},
		{310000, "description:机器人发送签名过期;solution:签名生成时间和发送时间请保持在 timestampms 以内;", notify.Permanent, "timestamp-invalid", 0},
		{310000, "ip 203.0.113.7 not in whitelist", notify.Permanent, "ip-not-allowed", 0},
		{310000, "description:ip 不在白名单中;solution:请联系对应群的管理员，设置机器人安全ip地址段", notify.Permanent, "ip-not-allowed", 0},
		{310000, "something new", notify.Permanent, "security-check-failed", 0},
		{310000, "", notify.Permanent, "security-check-failed", 0},

		{300001, "token is not exist", notify.Permanent, "token-unknown", 0},
		{300005, "token is not exist", notify.Permanent, "token-unknown", 0},
		{400101, "access_token不存在", notify.Permanent, "token-unknown", 0},
		{400102, "机器人已停用", notify.Permanent, "robot-disabled", 0},
		{400013, "群已被解散", notify.Permanent, "group-disbanded", 0},
		{400105, "不支持的消息类型", notify.Permanent, "unsupported-message-type", 0},
		{400106, "机器人不存在", notify.Permanent, "robot-not-in-group", 0},
		{430101, "含有不安全的外链", notify.Permanent, "content-rejected", 0},
		{430102, "含有不合适的文本", notify.Permanent, "content-rejected", 0},
		{430103, "含有不合适的图片", notify.Permanent, "content-rejected", 0},
		{430104, "含有不合适的内容", notify.Permanent, "content-rejected", 0},
		{40035, "缺少参数 access_token", notify.Permanent, "missing-parameter", 0},
		{43002, "需要POST请求", notify.Permanent, "bad-request", 0},
		{43004, "无效的HTTP HEADER Content-Type", notify.Permanent, "bad-request", 0},
		{12345, "未知错误", notify.Permanent, "platform-error", 0},
	}
	seen := map[int]bool{}
	for _, tt := range tests {
		seen[tt.errcode] = true
		t.Run(fmt.Sprintf("%d %s", tt.errcode, tt.errmsg), func(t *testing.T) {
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
