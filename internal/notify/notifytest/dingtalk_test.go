package notifytest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// The signing test vector of chat-apis §1.3.
const (
	vectorSecret     = "SEC0123456789abcdef"
	vectorTimestamp  = 1700000000000
	vectorSign       = "TSZbRFUuvaSQaRKUpF970OPCb2/LcQAP3wOvwZIzBZk="
	vectorSignInURL  = "TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D"
	vectorSignTwice  = "TSZbRFUuvaSQaRKUpF970OPCb2%252FLcQAP3wOvwZIzBZk%253D"
	okText           = `{"msgtype":"text","text":{"content":"[ALERT] disk full"}}`
	testToken        = "tok"
	testRemoteIP     = "192.0.2.1" // what httptest.NewRequest sets
	oldKeywordErrMsg = "keywords not in content"
)

// clock is a settable clock for the fake, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(ms int64) *clock { return &clock{t: time.UnixMilli(ms)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// call is one request to send to the fake; the zero value beyond path and
// body is a JSON POST from testRemoteIP.
type call struct {
	method      string // default POST
	target      string // path and query; default the webhook of testToken
	contentType string // default application/json; "-" sends none
	body        string
	remoteIP    string
}

// send serves c on f in-process and returns the answer, failing the test
// unless it is HTTP 200 JSON, as every DingTalk answer is.
func send(t *testing.T, f *DingTalk, c call) dingTalkReply {
	t.Helper()
	if c.method == "" {
		c.method = http.MethodPost
	}
	if c.target == "" {
		c.target = "/robot/send?access_token=" + testToken
	}
	req := httptest.NewRequest(c.method, c.target, strings.NewReader(c.body))
	switch c.contentType {
	case "":
		req.Header.Set("Content-Type", "application/json")
	case "-":
	default:
		req.Header.Set("Content-Type", c.contentType)
	}
	if c.remoteIP != "" {
		req.RemoteAddr = net.JoinHostPort(c.remoteIP, "40000")
	}
	rec := httptest.NewRecorder()
	f.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("%s %s: HTTP status %d, want 200", c.method, c.target, rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: Content-Type %q, want application/json", c.method, c.target, ct)
	}
	var reply dingTalkReply
	if err := json.Unmarshal(rec.Body.Bytes(), &reply); err != nil {
		t.Fatalf("%s %s: answer %q is not JSON: %v", c.method, c.target, rec.Body, err)
	}
	return reply
}

// signedTarget is the webhook path of testToken signed with secret at ts,
// the sign URL-encoded once as DingTalk expects.
func signedTarget(secret string, ts int64) string {
	tsStr := strconv.FormatInt(ts, 10)
	return "/robot/send?" + url.Values{
		"access_token": {testToken},
		"timestamp":    {tsStr},
		"sign":         {dingTalkSign(secret, tsStr)},
	}.Encode()
}

func textBody(content string) string {
	b, err := json.Marshal(map[string]any{"msgtype": "text", "text": map[string]any{"content": content}})
	if err != nil {
		panic(err)
	}
	return string(b)
}

func wantReply(t *testing.T, got dingTalkReply, code int, msg string) {
	t.Helper()
	if want := (dingTalkReply{code, msg}); got != want {
		t.Errorf("answer = %+v, want %+v", got, want)
	}
}

func TestDingTalkSignVector(t *testing.T) {
	if got := dingTalkSign(vectorSecret, strconv.Itoa(vectorTimestamp)); got != vectorSign {
		t.Fatalf("dingTalkSign = %q, want %q", got, vectorSign)
	}
	if got := url.QueryEscape(vectorSign); got != vectorSignInURL {
		t.Fatalf("URL-encoded vector = %q, want %q", got, vectorSignInURL)
	}
}

func TestDingTalkSignature(t *testing.T) {
	const hour = int64(time.Hour / time.Millisecond)
	now := int64(vectorTimestamp)
	base := "/robot/send?access_token=" + testToken

	// A timestamp whose sign holds a "+", which a client that forgets to
	// URL-encode sends as a space.
	plusTS := now
	for !strings.Contains(dingTalkSign(vectorSecret, strconv.FormatInt(plusTS, 10)), "+") {
		plusTS++
	}
	plusRaw := base + "&timestamp=" + strconv.FormatInt(plusTS, 10) + "&sign=" + dingTalkSign(vectorSecret, strconv.FormatInt(plusTS, 10))

	tests := []struct {
		name    string
		target  string
		wantMsg string // "" means accepted
	}{
		{"vector", base + "&timestamp=1700000000000&sign=" + vectorSignInURL, ""},
		{"vector before token", "/robot/send?timestamp=1700000000000&sign=" + vectorSignInURL + "&access_token=" + testToken, ""},
		{"double-encoded sign", base + "&timestamp=1700000000000&sign=" + vectorSignTwice, "sign not match"},
		{"unencoded sign with plus", plusRaw, "sign not match"},
		{"wrong secret", signedTarget("SECother", now), "sign not match"},
		{"sign for another timestamp", base + "&timestamp=1700000000001&sign=" + vectorSignInURL, "sign not match"},
		{"no timestamp", base + "&sign=" + vectorSignInURL, "sign not match"},
		{"no sign", base + "&timestamp=1700000000000", "sign not match"},
		{"neither", base, "sign not match"},
		{"timestamp not a number", base + "&timestamp=soon&sign=" + vectorSignInURL, "invalid timestamp"},
		{"timestamp in seconds", signedTarget(vectorSecret, now/1000), "invalid timestamp"},
		{"exactly one hour old", signedTarget(vectorSecret, now-hour), ""},
		{"one hour and 1 ms old", signedTarget(vectorSecret, now-hour-1), "invalid timestamp"},
		{"exactly one hour ahead", signedTarget(vectorSecret, now+hour), ""},
		{"one hour and 1 ms ahead", signedTarget(vectorSecret, now+hour+1), "invalid timestamp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewDingTalk(DingTalkOptions{Now: newClock(now).Now})
			f.AddRobot(testToken, RobotConfig{Secret: vectorSecret})
			got := send(t, f, call{target: tt.target, body: okText})
			if tt.wantMsg == "" {
				wantReply(t, got, 0, "ok")
			} else {
				wantReply(t, got, 310000, tt.wantMsg)
			}
		})
	}
}

func TestDingTalkKeywords(t *testing.T) {
	const kw = "[ALERT]"
	tests := []struct {
		name string
		body string
		ok   bool
	}{
		{"text content", `{"msgtype":"text","text":{"content":"[ALERT] disk full"}}`, true},
		{"text without", `{"msgtype":"text","text":{"content":"disk full"}}`, false},
		{"keyword is case-sensitive", `{"msgtype":"text","text":{"content":"[alert] disk full"}}`, false},
		{"markdown title", `{"msgtype":"markdown","markdown":{"title":"[ALERT] disk","text":"full"}}`, true},
		{"markdown text", `{"msgtype":"markdown","markdown":{"title":"disk","text":"## [ALERT] full"}}`, true},
		{"markdown without", `{"msgtype":"markdown","markdown":{"title":"disk","text":"full"}}`, false},
		{"markdown keyword split across fields", `{"msgtype":"markdown","markdown":{"title":"disk [AL","text":"ERT] full"}}`, false},
		{"link title", `{"msgtype":"link","link":{"title":"[ALERT]","text":"x","messageUrl":"https://e.test"}}`, true},
		{"link text", `{"msgtype":"link","link":{"title":"x","text":"[ALERT]","messageUrl":"https://e.test"}}`, true},
		{"link only in messageUrl", `{"msgtype":"link","link":{"title":"x","text":"y","messageUrl":"https://e.test/[ALERT]"}}`, false},
		{"actionCard title", `{"msgtype":"actionCard","actionCard":{"title":"[ALERT]","text":"x","singleTitle":"Open","singleURL":"https://e.test"}}`, true},
		{"actionCard text", `{"msgtype":"actionCard","actionCard":{"title":"x","text":"[ALERT]","singleTitle":"Open","singleURL":"https://e.test"}}`, true},
		{"actionCard only in button", `{"msgtype":"actionCard","actionCard":{"title":"x","text":"y","btns":[{"title":"[ALERT]","actionURL":"https://e.test"}]}}`, false},
		{"feedCard second link title", `{"msgtype":"feedCard","feedCard":{"links":[{"title":"a","messageURL":"https://e.test/1","picURL":"https://e.test/p"},{"title":"[ALERT] b","messageURL":"https://e.test/2","picURL":"https://e.test/p"}]}}`, true},
		{"feedCard only in URL", `{"msgtype":"feedCard","feedCard":{"links":[{"title":"a","messageURL":"https://e.test/[ALERT]","picURL":"https://e.test/p"}]}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewDingTalk(DingTalkOptions{})
			f.AddRobot(testToken, RobotConfig{Keywords: []string{"resolved", kw}})
			got := send(t, f, call{body: tt.body})
			if tt.ok {
				wantReply(t, got, 0, "ok")
			} else {
				wantReply(t, got, 310000, oldKeywordErrMsg)
			}
		})
	}
}

func TestDingTalkBodySize(t *testing.T) {
	// A text message of exactly n bytes of JSON.
	bodyOf := func(n int) string {
		b := textBody("")
		return textBody(strings.Repeat("a", n-len(b)))
	}
	for _, tt := range []struct {
		size int
		ok   bool
	}{{20000, true}, {20001, false}} {
		t.Run(strconv.Itoa(tt.size), func(t *testing.T) {
			f := NewDingTalk(DingTalkOptions{})
			f.AddRobot(testToken, RobotConfig{})
			body := bodyOf(tt.size)
			if len(body) != tt.size {
				t.Fatalf("test body is %d bytes, want %d", len(body), tt.size)
			}
			got := send(t, f, call{body: body})
			if tt.ok {
				wantReply(t, got, 0, "ok")
			} else {
				wantReply(t, got, 460101, "message too long, exceed 20000 bytes")
			}
		})
	}
}

func TestDingTalkMessageShape(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		wantCode int
	}{
		{"text", `{"msgtype":"text","text":{"content":"x"}}`, 0},
		{"markdown", `{"msgtype":"markdown","markdown":{"title":"t","text":"x"}}`, 0},
		{"link without picUrl", `{"msgtype":"link","link":{"title":"t","text":"x","messageUrl":"https://e.test"}}`, 0},
		{"actionCard single", `{"msgtype":"actionCard","actionCard":{"title":"t","text":"x","singleTitle":"Open","singleURL":"https://e.test"}}`, 0},
		{"actionCard btns", `{"msgtype":"actionCard","actionCard":{"title":"t","text":"x","btnOrientation":"1","btns":[{"title":"A","actionURL":"https://e.test/a"},{"title":"B","actionURL":"https://e.test/b"}]}}`, 0},
		{"actionCard empty single fields and btns", `{"msgtype":"actionCard","actionCard":{"title":"t","text":"x","singleTitle":"","singleURL":"","btns":[{"title":"A","actionURL":"https://e.test/a"}]}}`, 0},
		{"feedCard", `{"msgtype":"feedCard","feedCard":{"links":[{"title":"t","messageURL":"https://e.test","picURL":"https://e.test/p"}]}}`, 0},
		{"with at and msgUuid", `{"msgtype":"text","text":{"content":"x"},"at":{"atMobiles":["1"],"atUserIds":[],"isAtAll":false},"msgUuid":"u"}`, 0},
		{"null at", `{"msgtype":"text","text":{"content":"x"},"at":null}`, 0},

		{"empty body", ``, 40035},
		{"not JSON", `msgtype=text`, 40035},
		{"JSON array", `[{"msgtype":"text"}]`, 40035},
		{"JSON null", `null`, 40035},
		{"trailing garbage", `{"msgtype":"text","text":{"content":"x"}} x`, 40035},

		{"no msgtype", `{"text":{"content":"x"}}`, 400105},
		{"msgtype not a string", `{"msgtype":1,"text":{"content":"x"}}`, 400105},
		{"unknown msgtype", `{"msgtype":"image","image":{"picURL":"https://e.test/p"}}`, 400105},
		{"msgtype in wrong case", `{"msgtype":"actioncard","actioncard":{"title":"t","text":"x","singleTitle":"Open","singleURL":"https://e.test"}}`, 400105},
		{"content object missing", `{"msgtype":"text","markdown":{"title":"t","text":"x"}}`, 400105},
		{"content not an object", `{"msgtype":"text","text":"x"}`, 400105},
		{"text content missing", `{"msgtype":"text","text":{}}`, 400105},
		{"text content blank", `{"msgtype":"text","text":{"content":"  \n"}}`, 400105},
		{"text content a number", `{"msgtype":"text","text":{"content":1}}`, 400105},
		{"markdown title missing", `{"msgtype":"markdown","markdown":{"text":"x"}}`, 400105},
		{"markdown text missing", `{"msgtype":"markdown","markdown":{"title":"t"}}`, 400105},
		{"link messageUrl missing", `{"msgtype":"link","link":{"title":"t","text":"x"}}`, 400105},
		{"link messageURL in wrong case", `{"msgtype":"link","link":{"title":"t","text":"x","messageURL":"https://e.test"}}`, 400105},
		{"link text missing", `{"msgtype":"link","link":{"title":"t","messageUrl":"https://e.test"}}`, 400105},
		{"actionCard title missing", `{"msgtype":"actionCard","actionCard":{"text":"x","singleTitle":"Open","singleURL":"https://e.test"}}`, 400105},
		{"actionCard singleURL missing", `{"msgtype":"actionCard","actionCard":{"title":"t","text":"x","singleTitle":"Open"}}`, 400105},
		{"actionCard singleTitle missing", `{"msgtype":"actionCard","actionCard":{"title":"t","text":"x","singleURL":"https://e.test"}}`, 400105},
		{"actionCard no buttons", `{"msgtype":"actionCard","actionCard":{"title":"t","text":"x"}}`, 400105},
		{"actionCard empty btns", `{"msgtype":"actionCard","actionCard":{"title":"t","text":"x","btns":[]}}`, 400105},
		{"actionCard btn without actionURL", `{"msgtype":"actionCard","actionCard":{"title":"t","text":"x","btns":[{"title":"A"}]}}`, 400105},
		{"actionCard btn actionUrl in wrong case", `{"msgtype":"actionCard","actionCard":{"title":"t","text":"x","btns":[{"title":"A","actionUrl":"https://e.test"}]}}`, 400105},
		{"feedCard links at top level", `{"msgtype":"feedCard","links":[{"title":"t","messageURL":"https://e.test","picURL":"https://e.test/p"}]}`, 400105},
		{"feedCard no links", `{"msgtype":"feedCard","feedCard":{"links":[]}}`, 400105},
		{"feedCard picURL missing", `{"msgtype":"feedCard","feedCard":{"links":[{"title":"t","messageURL":"https://e.test"}]}}`, 400105},
		{"feedCard messageUrl in wrong case", `{"msgtype":"feedCard","feedCard":{"links":[{"title":"t","messageUrl":"https://e.test","picURL":"https://e.test/p"}]}}`, 400105},
		{"at not an object", `{"msgtype":"text","text":{"content":"x"},"at":["1"]}`, 400105},
		{"atMobiles not strings", `{"msgtype":"text","text":{"content":"x"},"at":{"atMobiles":[13800000000]}}`, 400105},
		{"atUserIds a string", `{"msgtype":"text","text":{"content":"x"},"at":{"atUserIds":"u1"}}`, 400105},
		{"isAtAll a string", `{"msgtype":"text","text":{"content":"x"},"at":{"isAtAll":"true"}}`, 400105},
		{"msgUuid a number", `{"msgtype":"text","text":{"content":"x"},"msgUuid":1}`, 400105},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewDingTalk(DingTalkOptions{})
			f.AddRobot(testToken, RobotConfig{})
			got := send(t, f, call{body: tt.body})
			want := map[int]string{0: "ok", 40035: "缺少参数 json", 400105: "不支持的消息类型"}[tt.wantCode]
			wantReply(t, got, tt.wantCode, want)
			if n := len(f.Accepted(testToken)); (tt.wantCode == 0) != (n == 1) {
				t.Errorf("accepted %d messages after errcode %d", n, got.ErrCode)
			}
		})
	}
}

func TestDingTalkRequestChecks(t *testing.T) {
	tests := []struct {
		name    string
		robot   RobotConfig
		opts    DingTalkOptions
		call    call
		wantErr dingTalkReply
	}{
		{"ok", RobotConfig{}, DingTalkOptions{}, call{body: okText}, dingTalkReply{0, "ok"}},
		{"GET", RobotConfig{}, DingTalkOptions{}, call{method: http.MethodGet}, dingTalkReply{43002, "需要POST请求"}},
		{"no token", RobotConfig{}, DingTalkOptions{}, call{target: "/robot/send", body: okText}, dingTalkReply{40035, "缺少参数 access_token"}},
		{"empty token", RobotConfig{}, DingTalkOptions{}, call{target: "/robot/send?access_token=", body: okText}, dingTalkReply{40035, "缺少参数 access_token"}},
		{"unknown token", RobotConfig{}, DingTalkOptions{}, call{target: "/robot/send?access_token=other", body: okText}, dingTalkReply{300005, "token is not exist"}},
		{"whole URL pasted as token", RobotConfig{}, DingTalkOptions{}, call{target: "/robot/send?access_token=" + url.QueryEscape("https://oapi.dingtalk.com/robot/send?access_token=tok"), body: okText}, dingTalkReply{300005, "token is not exist"}},
		{"unknown token, old servers", RobotConfig{}, DingTalkOptions{UnknownTokenCode: 300001}, call{target: "/robot/send?access_token=other", body: okText}, dingTalkReply{300001, "token is not exist"}},
		{"unknown token, official table", RobotConfig{}, DingTalkOptions{UnknownTokenCode: 400101}, call{target: "/robot/send?access_token=other", body: okText}, dingTalkReply{400101, "access_token不存在"}},
		{"no Content-Type", RobotConfig{}, DingTalkOptions{}, call{contentType: "-", body: okText}, dingTalkReply{43004, "无效的HTTP HEADER Content-Type"}},
		{"text/plain", RobotConfig{}, DingTalkOptions{}, call{contentType: "text/plain", body: okText}, dingTalkReply{43004, "无效的HTTP HEADER Content-Type"}},
		{"form", RobotConfig{}, DingTalkOptions{}, call{contentType: "application/x-www-form-urlencoded", body: okText}, dingTalkReply{43004, "无效的HTTP HEADER Content-Type"}},
		{"charset GBK", RobotConfig{}, DingTalkOptions{}, call{contentType: "application/json; charset=GBK", body: okText}, dingTalkReply{43004, "无效的HTTP HEADER Content-Type"}},
		{"charset UTF-8", RobotConfig{}, DingTalkOptions{}, call{contentType: "application/json;charset=UTF-8", body: okText}, dingTalkReply{0, "ok"}},
		{"disabled", RobotConfig{Disabled: true}, DingTalkOptions{}, call{body: okText}, dingTalkReply{400102, "机器人已停用"}},
		{"disbanded", RobotConfig{Disbanded: true, Disabled: true}, DingTalkOptions{}, call{body: okText}, dingTalkReply{400013, "群已被解散"}},
		{"disabled before content checks", RobotConfig{Disabled: true}, DingTalkOptions{}, call{contentType: "text/plain"}, dingTalkReply{400102, "机器人已停用"}},
		{"content type before size", RobotConfig{}, DingTalkOptions{}, call{contentType: "text/plain", body: strings.Repeat("x", 20001)}, dingTalkReply{43004, "无效的HTTP HEADER Content-Type"}},
		{"size before security", RobotConfig{Secret: vectorSecret}, DingTalkOptions{}, call{body: strings.Repeat("x", 20001)}, dingTalkReply{460101, "message too long, exceed 20000 bytes"}},
		{"security before JSON", RobotConfig{Secret: vectorSecret}, DingTalkOptions{}, call{body: "x"}, dingTalkReply{310000, "sign not match"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewDingTalk(tt.opts)
			f.AddRobot(testToken, tt.robot)
			wantReply(t, send(t, f, tt.call), tt.wantErr.ErrCode, tt.wantErr.ErrMsg)
		})
	}
}

func TestDingTalkUnknownPath(t *testing.T) {
	f := NewDingTalk(DingTalkOptions{})
	rec := httptest.NewRecorder()
	f.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/robot/sendx?access_token=tok", strings.NewReader(okText)))
	if rec.Code != http.StatusNotFound {
		t.Errorf("status = %d, want 404", rec.Code)
	}
}

func TestDingTalkSecurityOrder(t *testing.T) {
	// A robot with every security setting; each request fixes one more
	// problem, so each answer shows which check runs next.
	const now = vectorTimestamp
	robot := RobotConfig{Secret: vectorSecret, Keywords: []string{"[ALERT]"}, IPAllow: []string{"10.0.0.0/8"}}
	signed := signedTarget(vectorSecret, now)
	tests := []struct {
		name    string
		call    call
		wantMsg string
	}{
		{"everything wrong", call{body: textBody("no keyword")}, "ip 192.0.2.1 not in whitelist"},
		{"IP fixed", call{remoteIP: "10.1.2.3", body: textBody("no keyword")}, "sign not match"},
		{"IP and sign fixed", call{remoteIP: "10.1.2.3", target: signed, body: textBody("no keyword")}, oldKeywordErrMsg},
		{"all fixed", call{remoteIP: "10.1.2.3", target: signed, body: okText}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewDingTalk(DingTalkOptions{Now: newClock(now).Now})
			f.AddRobot(testToken, robot)
			got := send(t, f, tt.call)
			if tt.wantMsg == "" {
				wantReply(t, got, 0, "ok")
			} else {
				wantReply(t, got, 310000, tt.wantMsg)
			}
		})
	}
}

func TestDingTalkIPAllow(t *testing.T) {
	tests := []struct {
		name  string
		allow []string
		from  string
		ok    bool
	}{
		{"exact IP", []string{"192.0.2.1"}, "192.0.2.1", true},
		{"other exact IP", []string{"192.0.2.2"}, "192.0.2.1", false},
		{"CIDR contains", []string{"198.51.100.7", "192.0.2.0/24"}, "192.0.2.200", true},
		{"CIDR with host bits", []string{"192.0.2.77/24"}, "192.0.2.1", true},
		{"CIDR excludes", []string{"192.0.2.0/25"}, "192.0.2.200", false},
		{"IPv4-mapped sender", []string{"192.0.2.0/24"}, "::ffff:192.0.2.9", true},
		{"IPv6 sender", []string{"192.0.2.0/24"}, "2001:db8::1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewDingTalk(DingTalkOptions{})
			f.AddRobot(testToken, RobotConfig{IPAllow: tt.allow})
			got := send(t, f, call{remoteIP: tt.from, body: okText})
			if tt.ok {
				wantReply(t, got, 0, "ok")
				return
			}
			wantReply(t, got, 310000, "ip "+tt.from+" not in whitelist")
		})
	}
}

func TestDingTalkErrorStyles(t *testing.T) {
	const now = vectorTimestamp
	robot := RobotConfig{Secret: vectorSecret, Keywords: []string{"[ALERT]"}}
	tests := []struct {
		name     string
		robot    RobotConfig
		call     call
		wantCode int
		old, new string
	}{
		{"keyword", robot, call{target: signedTarget(vectorSecret, now), body: textBody("x")}, 310000,
			"keywords not in content",
			"description:关键词不匹配;solution:请联系群管理员查看此机器人的关键词，并在发送的信息中包含此关键词;"},
		{"sign", robot, call{target: signedTarget("SECwrong", now), body: okText}, 310000,
			"sign not match",
			"description:机器人发送签名不匹配;solution:请确认签名和生成签名的时间戳必须都放在调用的网址中，请确认机器人的密钥加密和填写正确;"},
		{"timestamp", robot, call{target: signedTarget(vectorSecret, now-2*3600000), body: okText}, 310000,
			"invalid timestamp",
			"description:机器人发送签名过期;solution:签名生成时间和发送时间请保持在 timestampms 以内;"},
		{"IP", RobotConfig{IPAllow: []string{"10.0.0.1"}}, call{body: okText}, 310000,
			"ip 192.0.2.1 not in whitelist",
			"description:ip 不在白名单中;solution:请联系对应群的管理员，设置机器人安全ip地址段"},
		{"size", RobotConfig{}, call{body: textBody(strings.Repeat("a", 20000))}, 460101,
			"message too long, exceed 20000 bytes",
			"description: body 大小不合法;solution:请保持大小在 20000bytes 以内;"},
	}
	for _, tt := range tests {
		for _, newStyle := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/new=%t", tt.name, newStyle), func(t *testing.T) {
				f := NewDingTalk(DingTalkOptions{Now: newClock(now).Now, NewStyleErrors: newStyle})
				f.AddRobot(testToken, tt.robot)
				want := tt.old
				if newStyle {
					want = tt.new
				}
				wantReply(t, send(t, f, tt.call), tt.wantCode, want)
			})
		}
	}
}

func TestDingTalkRateLimit(t *testing.T) {
	for _, tt := range []struct {
		code int
		msg  string
	}{
		{0, "send too fast, exceed 20 times per minute"},
		{130101, "send too fast, exceed 20 times per minute"},
		{410100, "发送速度太快而限流"},
	} {
		t.Run(strconv.Itoa(tt.code), func(t *testing.T) {
			clk := newClock(vectorTimestamp)
			f := NewDingTalk(DingTalkOptions{Now: clk.Now, RateLimitCode: tt.code})
			f.AddRobot(testToken, RobotConfig{})
			wantCode := tt.code
			if wantCode == 0 {
				wantCode = 130101
			}

			for i := range 20 {
				wantReply(t, send(t, f, call{body: textBody(fmt.Sprint("[ALERT] ", i))}), 0, "ok")
				clk.Advance(2 * time.Second) // all 20 within 40 s
			}
			wantReply(t, send(t, f, call{body: okText}), wantCode, tt.msg)

			// The ban holds whatever the request, valid or not.
			clk.Advance(9 * time.Minute)
			wantReply(t, send(t, f, call{body: okText}), wantCode, tt.msg)
			wantReply(t, send(t, f, call{body: "not json"}), wantCode, tt.msg)

			// Ten minutes after the refusal that started the ban, the robot
			// sends again with a fresh allowance, and attempts made during
			// the ban did not extend it.
			clk.Advance(time.Minute)
			for range 20 {
				wantReply(t, send(t, f, call{body: okText}), 0, "ok")
			}
			wantReply(t, send(t, f, call{body: okText}), wantCode, tt.msg)

			if n := len(f.Accepted(testToken)); n != 40 {
				t.Errorf("accepted %d messages, want 40", n)
			}
			var refused int
			for _, a := range f.Attempts(testToken) {
				if a.ErrCode == wantCode {
					refused++
				}
			}
			if refused != 4 {
				t.Errorf("%d rate-limit refusals in Attempts, want 4", refused)
			}
		})
	}
}

func TestDingTalkRateLimitWindowRolls(t *testing.T) {
	clk := newClock(vectorTimestamp)
	f := NewDingTalk(DingTalkOptions{Now: clk.Now})
	f.AddRobot(testToken, RobotConfig{})
	first := clk.Now()
	wantReply(t, send(t, f, call{body: okText}), 0, "ok")
	clk.Advance(30 * time.Second)
	for range 19 {
		wantReply(t, send(t, f, call{body: okText}), 0, "ok")
	}
	// 60 s after the first send it no longer counts: one more fits.
	clk.Advance(first.Add(time.Minute).Sub(clk.Now()))
	wantReply(t, send(t, f, call{body: okText}), 0, "ok")
	wantReply(t, send(t, f, call{body: okText}), 130101, "send too fast, exceed 20 times per minute")
}

func TestDingTalkRefusalsDoNotCount(t *testing.T) {
	f := NewDingTalk(DingTalkOptions{Now: newClock(vectorTimestamp).Now})
	f.AddRobot(testToken, RobotConfig{Keywords: []string{"[ALERT]"}})
	for range 30 {
		wantReply(t, send(t, f, call{body: textBody("no keyword")}), 310000, oldKeywordErrMsg)
	}
	for range 20 {
		wantReply(t, send(t, f, call{body: okText}), 0, "ok")
	}
}

func TestDingTalkMentions(t *testing.T) {
	at := map[string]any{
		"atMobiles": []string{"13800000000", "13900000000", "1380000000", "+852-12345678", "13800000000"},
		"atUserIds": []string{"manager7675", "ops", "user"},
	}
	tests := []struct {
		name          string
		msg           map[string]any
		wantMobiles   []string
		wantUserIDs   []string
		wantAtAll     bool
		wantMsgType   string
		wantTitleText [2]string
	}{
		{
			name: "text",
			msg: map[string]any{"msgtype": "text", "at": at,
				"text": map[string]any{"content": "disk full @13800000000 @+852-12345678，@manager7675 please look; @user_x"}},
			wantMobiles:   []string{"13800000000", "+852-12345678"},
			wantUserIDs:   []string{"manager7675"},
			wantMsgType:   "text",
			wantTitleText: [2]string{"", "disk full @13800000000 @+852-12345678，@manager7675 please look; @user_x"},
		},
		{
			name: "markdown mentions in the title do not count",
			msg: map[string]any{"msgtype": "markdown", "at": at,
				"markdown": map[string]any{"title": "@13900000000 @ops", "text": "### disk\n\n@ops"}},
			wantUserIDs:   []string{"ops"},
			wantMsgType:   "markdown",
			wantTitleText: [2]string{"@13900000000 @ops", "### disk\n\n@ops"},
		},
		{
			name: "actionCard",
			msg: map[string]any{"msgtype": "actionCard", "at": at,
				"actionCard": map[string]any{"title": "t", "text": "@13900000000 look", "singleTitle": "Open", "singleURL": "https://e.test"}},
			wantMobiles:   []string{"13900000000"},
			wantMsgType:   "actionCard",
			wantTitleText: [2]string{"t", "@13900000000 look"},
		},
		{
			name: "link cannot mention",
			msg: map[string]any{"msgtype": "link", "at": map[string]any{"atMobiles": []string{"13800000000"}, "isAtAll": true},
				"link": map[string]any{"title": "@13800000000", "text": "@13800000000", "messageUrl": "https://e.test"}},
			wantMsgType:   "link",
			wantTitleText: [2]string{"@13800000000", "@13800000000"},
		},
		{
			name: "feedCard cannot mention",
			msg: map[string]any{"msgtype": "feedCard", "at": map[string]any{"atUserIds": []string{"ops"}},
				"feedCard": map[string]any{"links": []any{
					map[string]any{"title": "a @ops", "messageURL": "https://e.test/1", "picURL": "https://e.test/p"},
					map[string]any{"title": "b", "messageURL": "https://e.test/2", "picURL": "https://e.test/p"},
				}}},
			wantMsgType:   "feedCard",
			wantTitleText: [2]string{"", "a @ops\nb"},
		},
		{
			name: "isAtAll needs nothing in the text",
			msg: map[string]any{"msgtype": "text", "at": map[string]any{"atMobiles": []string{"13800000000"}, "isAtAll": true},
				"text": map[string]any{"content": "everyone"}},
			wantAtAll:     true,
			wantMsgType:   "text",
			wantTitleText: [2]string{"", "everyone"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewDingTalk(DingTalkOptions{})
			f.AddRobot(testToken, RobotConfig{})
			body, err := json.Marshal(tt.msg)
			if err != nil {
				t.Fatal(err)
			}
			wantReply(t, send(t, f, call{body: string(body)}), 0, "ok")
			got := f.Accepted(testToken)
			if len(got) != 1 {
				t.Fatalf("accepted %d messages, want 1", len(got))
			}
			m := got[0]
			if diff := cmp.Diff(tt.wantMobiles, m.AtMobiles, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("AtMobiles (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantUserIDs, m.AtUserIDs, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("AtUserIDs (-want +got):\n%s", diff)
			}
			if m.AtAll != tt.wantAtAll {
				t.Errorf("AtAll = %t, want %t", m.AtAll, tt.wantAtAll)
			}
			if m.MsgType != tt.wantMsgType || m.Title != tt.wantTitleText[0] || m.Text != tt.wantTitleText[1] {
				t.Errorf("MsgType, Title, Text = %q, %q, %q; want %q, %q, %q",
					m.MsgType, m.Title, m.Text, tt.wantMsgType, tt.wantTitleText[0], tt.wantTitleText[1])
			}
			if string(m.Body) != string(body) {
				t.Errorf("Body = %s, want %s", m.Body, body)
			}
			if m.Payload["msgtype"] != tt.wantMsgType {
				t.Errorf("Payload[msgtype] = %v, want %q", m.Payload["msgtype"], tt.wantMsgType)
			}
		})
	}
}

func TestDingTalkMsgUUIDDedupe(t *testing.T) {
	clk := newClock(vectorTimestamp)
	f := NewDingTalk(DingTalkOptions{Now: clk.Now})
	f.AddRobot(testToken, RobotConfig{})
	f.AddRobot("other", RobotConfig{})
	withUUID := func(content, uuid string) string {
		return fmt.Sprintf(`{"msgtype":"text","text":{"content":%q},"msgUuid":%q}`, content, uuid)
	}

	wantReply(t, send(t, f, call{body: withUUID("first", "m-1")}), 0, "ok")
	// The retry of a send that timed out: answered ok, posted once.
	wantReply(t, send(t, f, call{body: withUUID("first", "m-1")}), 0, "ok")
	// The key is per robot.
	wantReply(t, send(t, f, call{target: "/robot/send?access_token=other", body: withUUID("first", "m-1")}), 0, "ok")

	// Repeats do not count toward the limit: 19 more distinct messages
	// and any number of repeats fit in the minute.
	for i := range 19 {
		wantReply(t, send(t, f, call{body: withUUID("next", fmt.Sprint("n-", i))}), 0, "ok")
		wantReply(t, send(t, f, call{body: withUUID("first", "m-1")}), 0, "ok")
	}
	wantReply(t, send(t, f, call{body: withUUID("one too many", "m-x")}), 130101, "send too fast, exceed 20 times per minute")

	got := f.Accepted(testToken)
	if len(got) != 20 {
		t.Fatalf("accepted %d messages, want 20", len(got))
	}
	if got[0].MsgUUID != "m-1" || got[0].Text != "first" {
		t.Errorf("first accepted = %q %q, want m-1 first", got[0].MsgUUID, got[0].Text)
	}
	var dups int
	for _, a := range f.Attempts(testToken) {
		if a.Duplicate {
			dups++
		}
	}
	if dups != 20 {
		t.Errorf("%d attempts marked Duplicate, want 20", dups)
	}
	if n := len(f.Accepted("other")); n != 1 {
		t.Errorf("other robot accepted %d, want 1", n)
	}
}

func TestDingTalkAttempts(t *testing.T) {
	clk := newClock(vectorTimestamp)
	f := NewDingTalk(DingTalkOptions{Now: clk.Now})
	f.AddRobot(testToken, RobotConfig{Keywords: []string{"[ALERT]"}})
	send(t, f, call{body: okText})
	clk.Advance(time.Second)
	send(t, f, call{body: textBody("x")})
	send(t, f, call{target: "/robot/send?access_token=nope", body: okText})
	send(t, f, call{target: "/robot/send", body: okText})

	t0 := time.UnixMilli(vectorTimestamp)
	want := []Attempt{
		{At: t0, RemoteIP: testRemoteIP, Status: 200, ErrCode: 0, ErrMsg: "ok"},
		{At: t0.Add(time.Second), RemoteIP: testRemoteIP, Status: 200, ErrCode: 310000, ErrMsg: oldKeywordErrMsg},
	}
	if diff := cmp.Diff(want, f.Attempts(testToken)); diff != "" {
		t.Errorf("Attempts(tok) (-want +got):\n%s", diff)
	}
	if got := f.Attempts("nope"); len(got) != 1 || got[0].ErrCode != 300005 {
		t.Errorf("Attempts(nope) = %+v, want one 300005", got)
	}
	if got := f.Attempts(""); len(got) != 1 || got[0].ErrCode != 40035 {
		t.Errorf(`Attempts("") = %+v, want one 40035`, got)
	}
}

func TestDingTalkAddRobotPanics(t *testing.T) {
	tests := []struct {
		name string
		r    RobotConfig
	}{
		{"11 keywords", RobotConfig{Keywords: strings.Split("a b c d e f g h i j k", " ")}},
		{"empty keyword", RobotConfig{Keywords: []string{"a", ""}}},
		{"bad IP", RobotConfig{IPAllow: []string{"10.0.0.256"}}},
		{"bad CIDR", RobotConfig{IPAllow: []string{"10.0.0.0/33"}}},
		{"IP range", RobotConfig{IPAllow: []string{"10.0.0.1-10.0.0.9"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("AddRobot(%+v) did not panic", tt.r)
				}
			}()
			NewDingTalk(DingTalkOptions{}).AddRobot(testToken, tt.r)
		})
	}
}

func TestDingTalkAddRobotReplaces(t *testing.T) {
	f := NewDingTalk(DingTalkOptions{})
	f.AddRobot(testToken, RobotConfig{})
	wantReply(t, send(t, f, call{body: okText}), 0, "ok")
	f.AddRobot(testToken, RobotConfig{Disabled: true})
	wantReply(t, send(t, f, call{body: okText}), 400102, "机器人已停用")
	if n := len(f.Accepted(testToken)); n != 1 {
		t.Errorf("accepted %d after re-adding, want the 1 from before", n)
	}
}

func TestNewDingTalkPanicsOnUnknownCodes(t *testing.T) {
	for _, opts := range []DingTalkOptions{{RateLimitCode: 45009}, {UnknownTokenCode: 93000}} {
		t.Run(fmt.Sprintf("%+v", opts), func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("NewDingTalk(%+v) did not panic", opts)
				}
			}()
			NewDingTalk(opts)
		})
	}
}

func TestDingTalkWebhookURL(t *testing.T) {
	f := NewDingTalk(DingTalkOptions{})
	for _, tt := range []struct{ base, token, want string }{
		{"http://127.0.0.1:1", "tok", "http://127.0.0.1:1/robot/send?access_token=tok"},
		{"http://127.0.0.1:1/", "a b&c", "http://127.0.0.1:1/robot/send?access_token=a+b%26c"},
	} {
		if got := f.WebhookURL(tt.base, tt.token); got != tt.want {
			t.Errorf("WebhookURL(%q, %q) = %q, want %q", tt.base, tt.token, got, tt.want)
		}
	}
}
