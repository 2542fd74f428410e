package notifytest

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const (
	wecomTestKey = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
	wecomOKText  = `{"msgtype":"text","text":{"content":"disk full"}}`
)

// wecomSend posts body for key to f in-process and returns the answer,
// failing the test unless it is HTTP 200 JSON, as every WeCom answer is.
func wecomSend(t *testing.T, f *WeCom, key, body string) wecomReply {
	t.Helper()
	target := "/cgi-bin/webhook/send?" + url.Values{"key": {key}}.Encode()
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	f.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("POST %s: HTTP status %d, want 200", target, rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("POST %s: Content-Type %q, want application/json", target, ct)
	}
	var reply wecomReply
	if err := json.Unmarshal(rec.Body.Bytes(), &reply); err != nil {
		t.Fatalf("POST %s: answer %q is not JSON: %v", target, rec.Body, err)
	}
	return reply
}

// wecomWant checks an answer: errcode 0 with "ok", or code with an errmsg
// that is msg followed by WeCom's suffix for a request from testRemoteIP.
func wecomWant(t *testing.T, got wecomReply, code int, msg string) {
	t.Helper()
	if code == 0 {
		if got != (wecomReply{0, "ok"}) {
			t.Errorf("answer = %+v, want 0 ok", got)
		}
		return
	}
	if got.ErrCode != code {
		t.Errorf("errcode = %d (%s), want %d", got.ErrCode, got.ErrMsg, code)
		return
	}
	rest, ok := strings.CutPrefix(got.ErrMsg, msg+", hint: [")
	if !ok {
		t.Errorf("errmsg = %q, want it to start %q, hint: [", got.ErrMsg, msg)
		return
	}
	hint, rest, _ := strings.Cut(rest, "]")
	if want := ", from ip: " + testRemoteIP + ", more info at https://open.work.weixin.qq.com/devtool/query?e=" + strconv.Itoa(code); rest != want || hint == "" {
		t.Errorf("errmsg suffix = [%s]%s, want [<hint>]%s", hint, rest, want)
	}
}

func newWeCom(opts WeComOptions) *WeCom {
	f := NewWeCom(opts)
	f.AddRobot(wecomTestKey, WeComRobotConfig{})
	return f
}

func wecomBody(msgType string, content map[string]any) string {
	b, err := json.Marshal(map[string]any{"msgtype": msgType, msgType: content})
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestWeComKeys(t *testing.T) {
	f := newWeCom(WeComOptions{})
	f.AddRobot("removed", WeComRobotConfig{Removed: true})
	tests := []struct {
		name, key string
		code      int
	}{
		{"known", wecomTestKey, 0},
		{"unknown", "0ec2sifa5aaa", 93000},
		{"missing", "", 93000},
		{"whole URL pasted as key", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=" + wecomTestKey, 93000},
		{"robot removed from its group", "removed", 93000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wecomWant(t, wecomSend(t, f, tt.key, wecomOKText), tt.code, "invalid webhook url")
		})
	}
	if n := len(f.Attempts("")); n != 1 {
		t.Errorf("requests without a key: %d attempts filed under \"\", want 1", n)
	}
}

func TestWeComUnknownPath(t *testing.T) {
	f := newWeCom(WeComOptions{})
	rec := httptest.NewRecorder()
	f.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/cgi-bin/webhook/upload_media?key="+wecomTestKey, strings.NewReader(wecomOKText)))
	if rec.Code != http.StatusNotFound {
		t.Errorf("status = %d, want 404", rec.Code)
	}
}

func TestWeComContentLimits(t *testing.T) {
	tests := []struct {
		msgType string
		unit    string // repeated to the size
		size    int
		ok      bool
	}{
		{"text", "a", 2048, true},
		{"text", "a", 2049, false},
		{"text", "告", 2046, true}, // 682 runes of 3 bytes
		{"text", "告", 2049, false},
		{"markdown", "a", 4096, true},
		{"markdown", "a", 4097, false},
		{"markdown", "🔥", 4096, true},
		{"markdown", "🔥", 4100, false},
		{"markdown_v2", "a", 4096, true},
		{"markdown_v2", "a", 4097, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d/%s", tt.msgType, tt.size, tt.unit), func(t *testing.T) {
			f := newWeCom(WeComOptions{})
			content := strings.Repeat(tt.unit, tt.size/len(tt.unit))
			if len(content) != tt.size {
				t.Fatalf("test content is %d bytes, want %d", len(content), tt.size)
			}
			got := wecomSend(t, f, wecomTestKey, wecomBody(tt.msgType, map[string]any{"content": content}))
			if tt.ok {
				wecomWant(t, got, 0, "")
				return
			}
			limit := map[string]int{"text": 2048, "markdown": 4096, "markdown_v2": 4096}[tt.msgType]
			wecomWant(t, got, 40058, fmt.Sprintf("%s.content exceed max length %d. invalid Request Parameter", tt.msgType, limit))
		})
	}
}

func TestWeComMessageShape(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\nnot really an image, but it starts like one")
	sum := md5.Sum(png)
	image := func(data []byte, md5hex string) string {
		return wecomBody("image", map[string]any{"base64": base64.StdEncoding.EncodeToString(data), "md5": md5hex})
	}
	articles := func(n int) string {
		var list []any
		for i := range n {
			list = append(list, map[string]any{"title": fmt.Sprint("t", i), "url": "https://e.test", "picurl": "https://e.test/p.png"})
		}
		return wecomBody("news", map[string]any{"articles": list})
	}
	card := func(edit func(c map[string]any)) string {
		c := map[string]any{
			"card_type":   "text_notice",
			"main_title":  map[string]any{"title": "Disk full", "desc": "web-1"},
			"card_action": map[string]any{"type": 1, "url": "https://e.test"},
		}
		if edit != nil {
			edit(c)
		}
		return wecomBody("template_card", c)
	}
	list := func(n int) []any { return make([]any, n) }

	tests := []struct {
		name string
		body string
		code int
		msg  string
	}{
		{"text", wecomOKText, 0, ""},
		{"markdown", `{"msgtype":"markdown","markdown":{"content":"**disk** <font color=\"warning\">full</font>"}}`, 0, ""},
		{"markdown_v2", `{"msgtype":"markdown_v2","markdown_v2":{"content":"| a | b |\n|---|---|"}}`, 0, ""},
		{"image", image(png, hex.EncodeToString(sum[:])), 0, ""},
		{"image md5 in upper case", image(png, strings.ToUpper(hex.EncodeToString(sum[:]))), 0, ""},
		{"news 1", articles(1), 0, ""},
		{"news 8", articles(8), 0, ""},
		{"template_card", card(nil), 0, ""},
		{"template_card subtitle only", card(func(c map[string]any) { delete(c, "main_title"); c["sub_title_text"] = "x" }), 0, ""},
		{"template_card mini program", card(func(c map[string]any) { c["card_action"] = map[string]any{"type": 2, "appid": "wx1"} }), 0, ""},
		{"template_card news_notice", card(func(c map[string]any) {
			c["card_type"] = "news_notice"
			c["card_image"] = map[string]any{"url": "https://e.test/p.png", "aspect_ratio": 2.25}
			c["vertical_content_list"] = list(4)
		}), 0, ""},

		{"empty body", ``, 40008, "Warning: wrong json format. invalid message type"},
		{"not JSON", `msgtype=text`, 40008, "Warning: wrong json format. invalid message type"},
		{"no msgtype", `{"text":{"content":"x"}}`, 40008, "invalid message type"},
		{"msgtype a number", `{"msgtype":1}`, 40008, "Warning: wrong json format. invalid message type"},
		{"unknown msgtype", `{"msgtype":"link","link":{"title":"x"}}`, 40008, "invalid message type"},
		{"msgtype in wrong case", `{"msgtype":"Markdown","Markdown":{"content":"x"}}`, 40008, "invalid message type"},

		{"text object missing", `{"msgtype":"text","markdown":{"content":"x"}}`, 44004, "empty content"},
		{"text content empty", `{"msgtype":"text","text":{"content":""}}`, 44004, "empty content"},
		{"markdown content blank", `{"msgtype":"markdown","markdown":{"content":" \n\t"}}`, 44004, "empty content"},
		{"content a number", `{"msgtype":"text","text":{"content":1}}`, 44004, "Warning: wrong json format. empty content"},
		{"text not an object", `{"msgtype":"text","text":"x"}`, 44004, "Warning: wrong json format. empty content"},
		{"mentioned_list a string", `{"msgtype":"text","text":{"content":"x","mentioned_list":"u1"}}`, 40058, "Warning: wrong json format. text.mentioned_list invalid. invalid Request Parameter"},
		{"mentioned_mobile_list numbers", `{"msgtype":"text","text":{"content":"x","mentioned_mobile_list":[13800001111]}}`, 40058, "Warning: wrong json format. text.mentioned_mobile_list invalid. invalid Request Parameter"},

		{"image not base64", `{"msgtype":"image","image":{"base64":"%%%","md5":"00"}}`, 40058, "image.base64 invalid. invalid Request Parameter"},
		{"image md5 mismatch", image(png, strings.Repeat("0", 32)), 40058, "image.md5 invalid. invalid Request Parameter"},
		{"image no md5", image(png, ""), 44004, "empty content"},
		{"image not JPG or PNG", image([]byte("GIF89a......"), "x"), 40004, "invalid media type"},
		{"image over 2 MB", image(append(png, make([]byte, 2<<20)...), "x"), 40009, "invalid image size"},

		{"news 0", articles(0), 45008, "invalid article count"},
		{"news 9", articles(9), 45008, "invalid article count"},
		{"news article without url", wecomBody("news", map[string]any{"articles": []any{map[string]any{"title": "t"}}}), 40058, "news.articles[0].url invalid. invalid Request Parameter"},
		{"news article not an object", wecomBody("news", map[string]any{"articles": []any{"t"}}), 40058, "Warning: wrong json format. news.articles[0].title invalid. invalid Request Parameter"},

		{"file", `{"msgtype":"file","file":{"media_id":"3a8asd892asd8asd"}}`, 40007, "invalid media_id"},
		{"voice", `{"msgtype":"voice","voice":{"media_id":"3a8asd892asd8asd"}}`, 40007, "invalid media_id"},

		{"template_card missing", `{"msgtype":"template_card"}`, 44004, "empty content"},
		{"template_card unknown type", card(func(c map[string]any) { c["card_type"] = "vote_interaction" }), 40058, "template_card.card_type invalid. invalid Request Parameter"},
		{"template_card no action", card(func(c map[string]any) { delete(c, "card_action") }), 40058, "template_card.card_action.type invalid. invalid Request Parameter"},
		{"template_card action without url", card(func(c map[string]any) { c["card_action"] = map[string]any{"type": 1} }), 40058, "template_card.card_action.url invalid. invalid Request Parameter"},
		{"template_card mini program without appid", card(func(c map[string]any) { c["card_action"] = map[string]any{"type": 2, "url": "https://e.test"} }), 40058, "template_card.card_action.appid invalid. invalid Request Parameter"},
		{"template_card no title", card(func(c map[string]any) { c["main_title"] = map[string]any{"desc": "x"} }), 40058, "template_card.main_title.title invalid. invalid Request Parameter"},
		{"template_card 7 horizontal", card(func(c map[string]any) { c["horizontal_content_list"] = list(7) }), 40058, "template_card.horizontal_content_list invalid. invalid Request Parameter"},
		{"template_card 4 jumps", card(func(c map[string]any) { c["jump_list"] = list(4) }), 40058, "template_card.jump_list invalid. invalid Request Parameter"},
		{"template_card 5 vertical", card(func(c map[string]any) { c["vertical_content_list"] = list(5) }), 40058, "template_card.vertical_content_list invalid. invalid Request Parameter"},
		{"template_card image too tall", card(func(c map[string]any) {
			c["card_image"] = map[string]any{"url": "https://e.test/p.png", "aspect_ratio": 1.2}
		}), 40058, "template_card.card_image.aspect_ratio invalid. invalid Request Parameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newWeCom(WeComOptions{})
			wecomWant(t, wecomSend(t, f, wecomTestKey, tt.body), tt.code, tt.msg)
			if n := len(f.Accepted(wecomTestKey)); (tt.code == 0) != (n == 1) {
				t.Errorf("accepted %d messages after this answer", n)
			}
		})
	}
}

func TestWeComBodyTooLarge(t *testing.T) {
	f := newWeCom(WeComOptions{})
	body := wecomBody("text", map[string]any{"content": strings.Repeat("a", 4<<20)})
	wecomWant(t, wecomSend(t, f, wecomTestKey, body), 45002, "content size out of limit")
}

func TestWeComAccepted(t *testing.T) {
	long := strings.Repeat("告", 50) // 150 bytes: shown cut to 128
	tests := []struct {
		name string
		body string
		want WeComMessage
	}{
		{
			name: "text mentions by lists",
			body: `{"msgtype":"text","text":{"content":"disk full <@ignored>","mentioned_list":["wangqing","","wangqing","lisi"],"mentioned_mobile_list":["13800001111","+852-12345678"]}}`,
			want: WeComMessage{MsgType: "text", Content: "disk full <@ignored>",
				MentionedUserIDs: []string{"wangqing", "lisi"}, MentionedMobiles: []string{"13800001111", "+852-12345678"}},
		},
		{
			name: "text @all in the mobile list",
			body: `{"msgtype":"text","text":{"content":"everyone","mentioned_mobile_list":["@all"]}}`,
			want: WeComMessage{MsgType: "text", Content: "everyone", MentionedAll: true},
		},
		{
			name: "markdown mentions only as written",
			body: `{"msgtype":"markdown","markdown":{"content":"**disk** <@wangqing> <@li.si@corp> <@wangqing> @zhangsan <@>","mentioned_list":["zhangsan","@all"],"mentioned_mobile_list":["13800001111"]}}`,
			want: WeComMessage{MsgType: "markdown", Content: "**disk** <@wangqing> <@li.si@corp> <@wangqing> @zhangsan <@>",
				MentionedUserIDs: []string{"wangqing", "li.si@corp"}},
		},
		{
			name: "markdown_v2 cannot mention",
			body: `{"msgtype":"markdown_v2","markdown_v2":{"content":"<@wangqing>"},"mentioned_list":["wangqing"]}`,
			want: WeComMessage{MsgType: "markdown_v2", Content: "<@wangqing>"},
		},
		{
			name: "news titles as shown",
			body: wecomBody("news", map[string]any{"articles": []any{
				map[string]any{"title": "first", "url": "https://e.test/1"},
				map[string]any{"title": long, "description": "d", "url": "https://e.test/2"},
			}}),
			want: WeComMessage{MsgType: "news", Content: "first\n" + strings.Repeat("告", 42)},
		},
		{
			name: "template_card text",
			body: `{"msgtype":"template_card","template_card":{"card_type":"text_notice","main_title":{"title":"Disk full","desc":"web-1"},"sub_title_text":"since 09:00","card_action":{"type":1,"url":"https://e.test"}}}`,
			want: WeComMessage{MsgType: "template_card", Content: "Disk full\nweb-1\nsince 09:00"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock(vectorTimestamp)
			f := newWeCom(WeComOptions{Now: clk.Now})
			wecomWant(t, wecomSend(t, f, wecomTestKey, tt.body), 0, "")
			got := f.Accepted(wecomTestKey)
			if len(got) != 1 {
				t.Fatalf("accepted %d messages, want 1", len(got))
			}
			tt.want.At = clk.Now()
			tt.want.Body = []byte(tt.body)
			if diff := cmp.Diff(tt.want, got[0], cmpopts.EquateEmpty(), cmpopts.IgnoreFields(WeComMessage{}, "Payload")); diff != "" {
				t.Errorf("accepted (-want +got):\n%s", diff)
			}
			if got[0].Payload["msgtype"] != tt.want.MsgType {
				t.Errorf("Payload[msgtype] = %v, want %q", got[0].Payload["msgtype"], tt.want.MsgType)
			}
		})
	}
}

// TestWeComRateLimit: 20 requests a rolling minute per key, every request
// counted, refused ones included, so that a client must pause a whole
// minute after a refusal.
func TestWeComRateLimit(t *testing.T) {
	clk := newClock(vectorTimestamp)
	f := newWeCom(WeComOptions{Now: clk.Now})
	f.AddRobot("other", WeComRobotConfig{})
	start := clk.Now()

	// 15 good messages and 5 bad ones within 40 s: all count.
	for i := range 20 {
		body := wecomOKText
		if i%4 == 3 {
			body = `{"msgtype":"text","text":{"content":""}}`
		}
		if got := wecomSend(t, f, wecomTestKey, body); got.ErrCode == 45009 {
			t.Fatalf("request %d refused as too fast: %+v", i+1, got)
		}
		clk.Advance(2 * time.Second)
	}
	wecomWant(t, wecomSend(t, f, wecomTestKey, wecomOKText), 45009, "api freq out of limit")
	// The limit is per key.
	wecomWant(t, wecomSend(t, f, "other", wecomOKText), 0, "")

	// A minute after the first request, it no longer counts, but the
	// refused request in between took its place.
	clk.Advance(start.Add(time.Minute).Sub(clk.Now()))
	wecomWant(t, wecomSend(t, f, wecomTestKey, wecomOKText), 45009, "api freq out of limit")

	// A minute after the last refusal, everything before it has aged out.
	clk.Advance(time.Minute)
	for range 20 {
		wecomWant(t, wecomSend(t, f, wecomTestKey, wecomOKText), 0, "")
	}
	wecomWant(t, wecomSend(t, f, wecomTestKey, wecomOKText), 45009, "api freq out of limit")

	if n := len(f.Accepted(wecomTestKey)); n != 35 {
		t.Errorf("accepted %d, want 35", n)
	}
}

func TestWeComRateLimitOption(t *testing.T) {
	f := newWeCom(WeComOptions{Now: newClock(vectorTimestamp).Now, Limit: 2})
	wecomWant(t, wecomSend(t, f, wecomTestKey, wecomOKText), 0, "")
	wecomWant(t, wecomSend(t, f, wecomTestKey, wecomOKText), 0, "")
	wecomWant(t, wecomSend(t, f, wecomTestKey, wecomOKText), 45009, "api freq out of limit")
}

// TestWeComUnknownKeysDoNotCount: requests that name no robot count toward
// no robot's limit.
func TestWeComUnknownKeysDoNotCount(t *testing.T) {
	f := newWeCom(WeComOptions{Now: newClock(vectorTimestamp).Now})
	for range 30 {
		wecomWant(t, wecomSend(t, f, "nope", wecomOKText), 93000, "invalid webhook url")
	}
	for range 20 {
		wecomWant(t, wecomSend(t, f, wecomTestKey, wecomOKText), 0, "")
	}
}

func TestWeComAttempts(t *testing.T) {
	clk := newClock(vectorTimestamp)
	f := newWeCom(WeComOptions{Now: clk.Now})
	ok := wecomSend(t, f, wecomTestKey, wecomOKText)
	clk.Advance(time.Second)
	bad := wecomSend(t, f, wecomTestKey, `{"msgtype":"link"}`)
	again := wecomSend(t, f, wecomTestKey, `{"msgtype":"link"}`)

	t0 := time.UnixMilli(vectorTimestamp)
	want := []Attempt{
		{At: t0, RemoteIP: testRemoteIP, Status: 200, ErrCode: 0, ErrMsg: ok.ErrMsg},
		{At: t0.Add(time.Second), RemoteIP: testRemoteIP, Status: 200, ErrCode: 40008, ErrMsg: bad.ErrMsg},
		{At: t0.Add(time.Second), RemoteIP: testRemoteIP, Status: 200, ErrCode: 40008, ErrMsg: again.ErrMsg},
	}
	if diff := cmp.Diff(want, f.Attempts(wecomTestKey)); diff != "" {
		t.Errorf("Attempts (-want +got):\n%s", diff)
	}
	// Each refusal has its own hint, for WeCom's support to find it by.
	if bad.ErrMsg == again.ErrMsg {
		t.Errorf("two refusals share the errmsg %q: the hint should differ", bad.ErrMsg)
	}
}

func TestWeComAddRobotReplaces(t *testing.T) {
	f := newWeCom(WeComOptions{})
	wecomWant(t, wecomSend(t, f, wecomTestKey, wecomOKText), 0, "")
	f.AddRobot(wecomTestKey, WeComRobotConfig{Removed: true})
	wecomWant(t, wecomSend(t, f, wecomTestKey, wecomOKText), 93000, "invalid webhook url")
	f.AddRobot(wecomTestKey, WeComRobotConfig{})
	wecomWant(t, wecomSend(t, f, wecomTestKey, wecomOKText), 0, "")
	if n := len(f.Accepted(wecomTestKey)); n != 2 {
		t.Errorf("accepted %d, want the 2 from before and after", n)
	}
}

func TestWeComWebhookURL(t *testing.T) {
	f := NewWeCom(WeComOptions{})
	for _, tt := range []struct{ base, key, want string }{
		{"http://127.0.0.1:1", "k-1", "http://127.0.0.1:1/cgi-bin/webhook/send?key=k-1"},
		{"http://127.0.0.1:1/", "a b&c", "http://127.0.0.1:1/cgi-bin/webhook/send?key=a+b%26c"},
	} {
		if got := f.WebhookURL(tt.base, tt.key); got != tt.want {
			t.Errorf("WebhookURL(%q, %q) = %q, want %q", tt.base, tt.key, got, tt.want)
		}
	}
}

// startWeCom starts a fake with one robot and closes it at the end of the
// test.
func startWeCom(t *testing.T, opts WeComOptions) (*WeCom, string) {
	t.Helper()
	f, srv, err := StartWeCom(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	f.AddRobot(wecomTestKey, WeComRobotConfig{})
	return f, f.WebhookURL(srv.URL, wecomTestKey)
}

func TestStartWeCom(t *testing.T) {
	f, url := startWeCom(t, WeComOptions{})
	// post decodes DingTalk's {errcode, errmsg}, which is WeCom's too.
	status, reply, err := post(t.Context(), http.DefaultClient, url, wecomOKText)
	if err != nil || status != 200 || reply.ErrCode != 0 || reply.ErrMsg != "ok" {
		t.Fatalf("post = %d %+v %v, want 200 ok", status, reply, err)
	}
	if got := f.Accepted(wecomTestKey); len(got) != 1 || got[0].Content != "disk full" {
		t.Fatalf("Accepted = %+v, want the one message", got)
	}
	if a := f.Attempts(wecomTestKey); len(a) != 1 || a[0].RemoteIP != "127.0.0.1" {
		t.Errorf("Attempts = %+v, want one from 127.0.0.1", a)
	}
	status, reply, err = post(t.Context(), http.DefaultClient, url+"x", wecomOKText)
	if err != nil || status != 200 || reply.ErrCode != 93000 || !strings.Contains(reply.ErrMsg, "from ip: 127.0.0.1,") {
		t.Errorf("unknown key = %d %+v %v, want 200 with 93000 from 127.0.0.1", status, reply, err)
	}
}

func TestWeComFaults(t *testing.T) {
	f, url := startWeCom(t, WeComOptions{})
	client := &http.Client{Timeout: 5 * time.Second}

	f.FailNext(wecomTestKey, 2, Fault{Status: http.StatusBadGateway})
	f.FailNext(wecomTestKey, 1, Fault{})
	f.FailNext(wecomTestKey, 1, Fault{ErrCode: 45033, ErrMsg: "api concurrent out of limit"})
	f.FailNext(wecomTestKey, 1, Fault{Drop: true})
	f.FailNext("other", 1, Fault{}) // another key's faults stay with it

	for i, want := range []struct {
		status int
		code   int
		msg    string
	}{
		{502, 0, ""},
		{502, 0, ""},
		{200, -1, "system busy, hint: ["},
		{200, 45033, "api concurrent out of limit, hint: ["},
	} {
		status, reply, err := post(t.Context(), client, url, wecomOKText)
		if err != nil || status != want.status || reply.ErrCode != want.code || !strings.HasPrefix(reply.ErrMsg, want.msg) {
			t.Errorf("request %d: got %d %+v %v, want %d %d %q…", i, status, reply, err, want.status, want.code, want.msg)
		}
	}
	if _, _, err := post(t.Context(), client, url, wecomOKText); err == nil {
		t.Error("dropped request: got an answer, want a transport error")
	}
	// Faults used up: the robot works again, and faults did not count
	// toward the limit.
	for range 20 {
		if status, reply, err := post(t.Context(), client, url, wecomOKText); err != nil || status != 200 || reply.ErrCode != 0 {
			t.Fatalf("after faults: got %d %+v %v, want 200 ok", status, reply, err)
		}
	}

	var injected []int
	for _, a := range f.Attempts(wecomTestKey) {
		if a.Injected {
			injected = append(injected, a.Status)
		}
	}
	if want := []int{502, 502, 200, 200, 0}; !slices.Equal(injected, want) {
		t.Errorf("injected attempt statuses = %v, want %v", injected, want)
	}
}

func TestWeComHangEndsWithClient(t *testing.T) {
	f, url := startWeCom(t, WeComOptions{})
	f.FailNext(wecomTestKey, 1, Fault{Hang: true})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, _, err := post(ctx, http.DefaultClient, url, wecomOKText); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hung request: err = %v, want deadline exceeded", err)
	}
	// The cleanup's Close returning proves the handler let go.
}

func TestWeComConcurrentSends(t *testing.T) {
	f, url := startWeCom(t, WeComOptions{Now: newClock(vectorTimestamp).Now})
	client := &http.Client{Timeout: 10 * time.Second}
	const senders = 50
	var wg sync.WaitGroup
	codes := make(chan int, senders)
	for range senders {
		wg.Go(func() {
			_, reply, err := post(t.Context(), client, url, wecomOKText)
			if err != nil {
				t.Error(err)
				return
			}
			codes <- reply.ErrCode
		})
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[0] != 20 || count[45009] != senders-20 {
		t.Errorf("answers by errcode = %v, want 20 ok and %d rate-limited", count, senders-20)
	}
	if n := len(f.Accepted(wecomTestKey)); n != 20 {
		t.Errorf("accepted %d, want 20", n)
	}
}
