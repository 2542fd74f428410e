package notifytest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// The signing test vector of chat-apis §4.1, and what the DingTalk recipe
// (key = secret, message = timestamp and secret) makes of the same input.
const (
	larkVectorSecret   = "demo"
	larkVectorTS       = 1599360473
	larkVectorSign     = "l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8="
	larkDingTalkRecipe = "DkEDUyVoOOJ539qBvUgMyzkzIdRWlf4e/V3Rq+ONJnQ="
	larkToken          = "0b9f3a5e-7c1d-4e2f-8a6b-5d4c3b2a1f00"
	larkOKText         = `{"msg_type":"text","content":{"text":"[ALERT] disk full"}}`
)

// larkCall is one request to serve in-process; beyond body, the zero value
// is a JSON POST to larkToken's webhook from testRemoteIP.
type larkCall struct {
	method      string // default POST
	path        string // default the webhook of larkToken
	contentType string // default application/json; "-" sends none
	body        string
	remoteIP    string
}

// larkAnswer is what the fake answered.
type larkAnswer struct {
	status int
	code   int
	msg    string
	raw    map[string]any
}

// larkSend serves c on f and decodes the answer, failing the test unless
// it is JSON, as every Lark answer is.
func larkSend(t *testing.T, f *Lark, c larkCall) larkAnswer {
	t.Helper()
	if c.method == "" {
		c.method = http.MethodPost
	}
	if c.path == "" {
		c.path = larkHookPath + larkToken
	}
	req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
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
	if ct := rec.Header().Get("Content-Type"); ct != larkContentType {
		t.Fatalf("%s %s: Content-Type %q, want %q", c.method, c.path, ct, larkContentType)
	}
	a := larkAnswer{status: rec.Code}
	if err := json.Unmarshal(rec.Body.Bytes(), &a.raw); err != nil {
		t.Fatalf("%s %s: answer %q is not JSON: %v", c.method, c.path, rec.Body, err)
	}
	code, ok := a.raw["code"].(float64)
	if !ok {
		t.Fatalf("answer %s has no code", rec.Body)
	}
	a.code = int(code)
	a.msg, _ = a.raw["msg"].(string)
	if _, ok := a.raw["data"].(map[string]any); !ok {
		t.Errorf("answer %s has no data object", rec.Body)
	}
	return a
}

// larkWant checks an HTTP 200 answer's code and msg.
func larkWant(t *testing.T, got larkAnswer, code int, msg string) {
	t.Helper()
	if got.status != http.StatusOK || got.code != code || got.msg != msg {
		t.Errorf("answer = HTTP %d %d %q, want HTTP 200 %d %q", got.status, got.code, got.msg, code, msg)
	}
}

func larkWantOK(t *testing.T, got larkAnswer) {
	t.Helper()
	larkWant(t, got, 0, "success")
}

// larkWantIf checks for success if ok, else for the refusal code and msg.
func larkWantIf(t *testing.T, got larkAnswer, ok bool, code int, msg string) {
	t.Helper()
	if ok {
		larkWantOK(t, got)
	} else {
		larkWant(t, got, code, msg)
	}
}

// larkJSON encodes v, failing loudly: test bodies are always encodable.
func larkJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func larkText(text string) map[string]any {
	return map[string]any{"msg_type": "text", "content": map[string]any{"text": text}}
}

// larkSignBody adds a timestamp and signature made with secret at ts.
func larkSignBody(body map[string]any, secret string, ts int64) string {
	tsStr := strconv.FormatInt(ts, 10)
	body["timestamp"], body["sign"] = tsStr, larkSign(secret, tsStr)
	return larkJSON(body)
}

func larkAtVector() *clock { return newClock(larkVectorTS * 1000) }

func newLarkBot(opts LarkOptions, c LarkBotConfig) *Lark {
	f := NewLark(opts)
	f.AddBot(larkToken, c)
	return f
}

func TestLarkSignVector(t *testing.T) {
	ts := strconv.Itoa(larkVectorTS)
	if got := larkSign(larkVectorSecret, ts); got != larkVectorSign {
		t.Errorf("larkSign = %q, want %q", got, larkVectorSign)
	}
	// The DingTalk recipe on the same input gives the value chat-apis
	// lists as the mistake; the fake must refuse it (TestLarkSignature).
	if got := dingTalkSign(larkVectorSecret, ts); got != larkDingTalkRecipe {
		t.Errorf("DingTalk recipe = %q, want %q", got, larkDingTalkRecipe)
	}
}

func TestLarkSignature(t *testing.T) {
	const now = larkVectorTS
	with := func(fields map[string]any) string {
		body := larkText("[ALERT] disk full")
		for k, v := range fields {
			body[k] = v
		}
		return larkJSON(body)
	}
	signed := func(ts int64) string { return larkSignBody(larkText("x"), larkVectorSecret, ts) }
	tests := []struct {
		name string
		body string
		ok   bool
	}{
		{"vector", with(map[string]any{"timestamp": "1599360473", "sign": larkVectorSign}), true},
		{"timestamp as a number", with(map[string]any{"timestamp": 1599360473, "sign": larkVectorSign}), true},
		{"DingTalk recipe", with(map[string]any{"timestamp": "1599360473", "sign": larkDingTalkRecipe}), false},
		{"wrong secret", larkSignBody(larkText("x"), "other", now), false},
		{"sign for another timestamp", with(map[string]any{"timestamp": "1599360474", "sign": larkVectorSign}), false},
		{"timestamp in milliseconds", signed(now * 1000), false},
		{"no timestamp", with(map[string]any{"sign": larkVectorSign}), false},
		{"no sign", with(map[string]any{"timestamp": "1599360473"}), false},
		{"neither", larkOKText, false},
		{"timestamp not a number", with(map[string]any{"timestamp": "soon", "sign": larkVectorSign}), false},
		{"timestamp a fraction", with(map[string]any{"timestamp": 1599360473.5, "sign": larkVectorSign}), false},
		{"sign URL-encoded", with(map[string]any{"timestamp": "1599360473", "sign": "l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8%3D"}), false},
		{"exactly one hour old", signed(now - 3600), true},
		{"one hour and a second old", signed(now - 3601), false},
		{"exactly one hour ahead", signed(now + 3600), true},
		{"one hour and a second ahead", signed(now + 3601), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newLarkBot(LarkOptions{Now: larkAtVector().Now}, LarkBotConfig{Secret: larkVectorSecret})
			got := larkSend(t, f, larkCall{body: tt.body})
			larkWantIf(t, got, tt.ok, 19021, larkMsgBadSign)
		})
	}
}

func TestLarkKeywords(t *testing.T) {
	const kw = "[ALERT]"
	post := func(title string, nodes ...map[string]any) string {
		para := make([]any, len(nodes))
		for i, n := range nodes {
			para[i] = n
		}
		return larkJSON(map[string]any{"msg_type": "post", "content": map[string]any{"post": map[string]any{
			"zh_cn": map[string]any{"title": title, "content": []any{para}}}}})
	}
	textNode := func(s string) map[string]any { return map[string]any{"tag": "text", "text": s} }
	card := func(title string, elements ...map[string]any) string {
		els := make([]any, len(elements))
		for i, e := range elements {
			els[i] = e
		}
		return larkJSON(map[string]any{"msg_type": "interactive", "card": map[string]any{
			"schema": "2.0",
			"header": map[string]any{"title": map[string]any{"tag": "plain_text", "content": title}},
			"body":   map[string]any{"elements": els}}})
	}
	markdown := func(s string) map[string]any { return map[string]any{"tag": "markdown", "content": s} }
	button := func(label, url string) map[string]any {
		return map[string]any{"tag": "button", "text": map[string]any{"tag": "plain_text", "content": label},
			"behaviors": []any{map[string]any{"type": "open_url", "default_url": url}}}
	}
	tests := []struct {
		name string
		body string
		ok   bool
	}{
		{"text", larkOKText, true},
		{"text without", larkJSON(larkText("disk full")), false},
		{"case-sensitive", larkJSON(larkText("[alert] disk full")), false},
		{"post title", post("[ALERT] disk", textNode("full")), true},
		{"post text node", post("disk", textNode("full [ALERT]")), true},
		{"post link text", post("disk", map[string]any{"tag": "a", "text": "[ALERT]", "href": "https://e.test"}), true},
		{"post only in href", post("disk", map[string]any{"tag": "a", "text": "open", "href": "https://e.test/[ALERT]"}), false},
		{"post only in an at name", post("disk", map[string]any{"tag": "at", "user_id": "ou_1", "user_name": "[ALERT]"}), false},
		{"post split across nodes", post("disk", textNode("[AL"), textNode("ERT]")), false},
		{"card header", card("[ALERT] disk", markdown("full")), true},
		{"card markdown", card("disk", markdown("**[ALERT]** full")), true},
		{"card button label", card("disk", markdown("full"), button("[ALERT]", "https://e.test")), true},
		{"card only in a URL", card("disk", markdown("full"), button("Open", "https://e.test/[ALERT]")), false},
		{"card 1.0 lark_md", larkJSON(map[string]any{"msg_type": "interactive", "card": map[string]any{
			"elements": []any{map[string]any{"tag": "div", "text": map[string]any{"tag": "lark_md", "content": "[ALERT] full"}}}}}), true},
		{"image has no text", larkJSON(map[string]any{"msg_type": "image", "content": map[string]any{"image_key": "img_[ALERT]"}}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newLarkBot(LarkOptions{}, LarkBotConfig{Keywords: []string{"resolved", kw}})
			got := larkSend(t, f, larkCall{body: tt.body})
			larkWantIf(t, got, tt.ok, 19024, larkMsgNoKeyword)
		})
	}
}

func TestLarkBodySize(t *testing.T) {
	// A text message of exactly n bytes of JSON.
	bodyOf := func(n int) string {
		b := larkJSON(larkText(""))
		return larkJSON(larkText(strings.Repeat("a", n-len(b))))
	}
	for _, tt := range []struct {
		size   int
		status int // BadRequestStatus
		ok     bool
	}{{20000, 0, true}, {20001, 0, false}, {20001, 400, false}} {
		t.Run(fmt.Sprint(tt.size, "/", tt.status), func(t *testing.T) {
			f := newLarkBot(LarkOptions{BadRequestStatus: tt.status}, LarkBotConfig{})
			body := bodyOf(tt.size)
			if len(body) != tt.size {
				t.Fatalf("test body is %d bytes, want %d", len(body), tt.size)
			}
			got := larkSend(t, f, larkCall{body: body})
			switch {
			case tt.ok:
				larkWantOK(t, got)
			case tt.status == 400:
				if got.status != 400 || got.code != 9499 || got.msg != larkMsgBadRequest {
					t.Errorf("answer = HTTP %d %d %q, want HTTP 400 9499 Bad Request", got.status, got.code, got.msg)
				}
			default:
				larkWant(t, got, 9499, larkMsgBadRequest)
			}
		})
	}
}

func TestLarkMessageShape(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		wantCode int
		wantMsg  string // "" means the code's usual message
	}{
		{"text", `{"msg_type":"text","content":{"text":"x"}}`, 0, ""},
		{"post", `{"msg_type":"post","content":{"post":{"zh_cn":{"title":"t","content":[[{"tag":"text","text":"x"},{"tag":"a","text":"l","href":"https://e.test"},{"tag":"at","user_id":"ou_1"}],[{"tag":"img","image_key":"img_1"}]]}}}}`, 0, ""},
		{"post without title", `{"msg_type":"post","content":{"post":{"en_us":{"content":[[{"tag":"text","text":"x"}]]}}}}`, 0, ""},
		{"post empty content", `{"msg_type":"post","content":{"post":{"zh_cn":{"title":"t","content":[]}}}}`, 0, ""},
		{"card 2.0", `{"msg_type":"interactive","card":{"schema":"2.0","header":{"title":{"tag":"plain_text","content":"t"},"template":"red"},"body":{"elements":[{"tag":"markdown","content":"x"}]}}}`, 0, ""},
		{"card 1.0", `{"msg_type":"interactive","card":{"config":{"wide_screen_mode":true},"elements":[{"tag":"div","text":{"tag":"lark_md","content":"x"}}]}}`, 0, ""},
		{"image", `{"msg_type":"image","content":{"image_key":"img_1"}}`, 0, ""},
		{"share_chat", `{"msg_type":"share_chat","content":{"share_chat_id":"oc_1"}}`, 0, ""},
		{"extra top-level field", `{"msg_type":"text","content":{"text":"x"},"uuid":"u"}`, 0, ""},

		{"empty body", ``, 99991300, ""},
		{"not JSON", `msg_type=text`, 99991300, ""},
		{"JSON array", `[{"msg_type":"text"}]`, 99991300, ""},
		{"JSON null", `null`, 99991300, ""},
		{"trailing garbage", `{"msg_type":"text","content":{"text":"x"}} x`, 99991300, ""},

		{"no msg_type", `{"content":{"text":"x"}}`, 9499, ""},
		{"unknown msg_type", `{"msg_type":"markdown","content":{"text":"x"}}`, 9499, ""},
		{"DingTalk's field name", `{"msgtype":"text","text":{"content":"x"}}`, 9499, ""},
		{"content as a JSON string", `{"msg_type":"text","content":"{\"text\":\"x\"}"}`, 9499, ""},
		{"text blank", `{"msg_type":"text","content":{"text":" \n"}}`, 9499, ""},
		{"text a number", `{"msg_type":"text","content":{"text":1}}`, 9499, ""},
		{"post missing", `{"msg_type":"post","content":{"text":"x"}}`, 9499, ""},
		{"post no language", `{"msg_type":"post","content":{"post":{}}}`, 9499, ""},
		{"post content not paragraphs", `{"msg_type":"post","content":{"post":{"zh_cn":{"content":[{"tag":"text","text":"x"}]}}}}`, 9499, ""},
		{"post unknown tag", `{"msg_type":"post","content":{"post":{"zh_cn":{"content":[[{"tag":"bold","text":"x"}]]}}}}`, 9499, ""},
		{"post a without href", `{"msg_type":"post","content":{"post":{"zh_cn":{"content":[[{"tag":"a","text":"x"}]]}}}}`, 9499, ""},
		{"post text not a string", `{"msg_type":"post","content":{"post":{"zh_cn":{"content":[[{"tag":"text","text":1}]]}}}}`, 9499, ""},
		{"post text blank", `{"msg_type":"post","content":{"post":{"zh_cn":{"content":[[{"tag":"at","user_id":"ou_1"},{"tag":"text","text":" "},{"tag":"at","user_id":"ou_2"}]]}}}}`, 0, ""},
		{"post at without user_id", `{"msg_type":"post","content":{"post":{"zh_cn":{"content":[[{"tag":"at","user_name":"x"}]]}}}}`, 9499, ""},
		{"post title a number", `{"msg_type":"post","content":{"post":{"zh_cn":{"title":1,"content":[]}}}}`, 9499, ""},
		{"interactive card in content", `{"msg_type":"interactive","content":{"text":"x"}}`, 9499, larkMsgNoCard},
		{"interactive card as a string", `{"msg_type":"interactive","card":"{}"}`, 9499, ""},
		{"interactive no card", `{"msg_type":"interactive"}`, 9499, ""},
		{"card 2.0 elements at top level", `{"msg_type":"interactive","card":{"schema":"2.0","elements":[{"tag":"markdown","content":"x"}]}}`, 9499, ""},
		{"card unknown schema", `{"msg_type":"interactive","card":{"schema":"3.0","body":{"elements":[]}}}`, 9499, ""},
		{"card element without tag", `{"msg_type":"interactive","card":{"elements":[{"content":"x"}]}}`, 9499, ""},
		{"card header title not text", `{"msg_type":"interactive","card":{"header":{"title":"t"},"elements":[]}}`, 9499, ""},
		{"image without key", `{"msg_type":"image","content":{}}`, 9499, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newLarkBot(LarkOptions{}, LarkBotConfig{})
			got := larkSend(t, f, larkCall{body: tt.body})
			msg := tt.wantMsg
			if msg == "" {
				msg = map[int]string{0: "success", 9499: larkMsgBadRequest, 99991300: larkMsgNotJSON}[tt.wantCode]
			}
			larkWant(t, got, tt.wantCode, msg)
			if n := len(f.Accepted(larkToken)); (tt.wantCode == 0) != (n == 1) {
				t.Errorf("accepted %d messages after code %d", n, got.code)
			}
		})
	}
}

func TestLarkRequestChecks(t *testing.T) {
	tests := []struct {
		name   string
		bot    LarkBotConfig
		call   larkCall
		status int
		code   int
		msg    string
	}{
		{"ok", LarkBotConfig{}, larkCall{body: larkOKText}, 200, 0, "success"},
		{"GET", LarkBotConfig{}, larkCall{method: http.MethodGet}, 404, 99991201, larkMsgNoRoute},
		{"other path", LarkBotConfig{}, larkCall{path: "/open-apis/bot/hook/" + larkToken, body: larkOKText}, 404, 99991201, larkMsgNoRoute},
		{"no token", LarkBotConfig{}, larkCall{path: larkHookPath, body: larkOKText}, 404, 99991201, larkMsgNoRoute},
		{"path past the token", LarkBotConfig{}, larkCall{path: larkHookPath + larkToken + "/x", body: larkOKText}, 404, 99991201, larkMsgNoRoute},
		{"unknown token", LarkBotConfig{}, larkCall{path: larkHookPath + "nope", body: larkOKText}, 200, 19001, larkMsgBadToken},
		{"disabled", LarkBotConfig{Disabled: true}, larkCall{body: larkOKText}, 200, 19007, larkMsgDisabled},
		{"disabled before anything else", LarkBotConfig{Disabled: true, Keywords: []string{"k"}}, larkCall{body: "not json"}, 200, 19007, larkMsgDisabled},
		{"text/plain", LarkBotConfig{}, larkCall{contentType: "text/plain", body: larkOKText}, 200, 99991300, larkMsgNotJSON},
		{"no Content-Type", LarkBotConfig{}, larkCall{contentType: "-", body: larkOKText}, 200, 99991300, larkMsgNotJSON},
		{"charset utf-8", LarkBotConfig{}, larkCall{contentType: "application/json; charset=UTF-8", body: larkOKText}, 200, 0, "success"},
		{"charset gbk", LarkBotConfig{}, larkCall{contentType: "application/json; charset=gbk", body: larkOKText}, 200, 99991300, larkMsgNotJSON},
		{"IP before signature", LarkBotConfig{IPAllow: []string{"10.0.0.1"}, Secret: "s"}, larkCall{body: larkOKText}, 200, 19022, larkMsgIPRefused},
		{"signature before shape", LarkBotConfig{Secret: "s"}, larkCall{body: `{"msg_type":"nope"}`}, 200, 19021, larkMsgBadSign},
		{"shape before keyword", LarkBotConfig{Keywords: []string{"k"}}, larkCall{body: `{"msg_type":"nope"}`}, 200, 9499, larkMsgBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newLarkBot(LarkOptions{}, tt.bot)
			got := larkSend(t, f, tt.call)
			if got.status != tt.status || got.code != tt.code || got.msg != tt.msg {
				t.Errorf("answer = HTTP %d %d %q, want HTTP %d %d %q", got.status, got.code, got.msg, tt.status, tt.code, tt.msg)
			}
		})
	}
}

func TestLarkIPAllow(t *testing.T) {
	tests := []struct {
		name  string
		allow []string
		from  string
		ok    bool
	}{
		{"exact", []string{"10.0.0.1", "192.0.2.1"}, "192.0.2.1", true},
		{"not listed", []string{"10.0.0.1"}, "192.0.2.1", false},
		{"CIDR", []string{"192.0.2.0/24"}, "192.0.2.200", true},
		{"CIDR excludes", []string{"192.0.2.0/25"}, "192.0.2.200", false},
		{"IPv4-mapped sender", []string{"192.0.2.0/24"}, "::ffff:192.0.2.9", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newLarkBot(LarkOptions{}, LarkBotConfig{IPAllow: tt.allow})
			got := larkSend(t, f, larkCall{remoteIP: tt.from, body: larkOKText})
			larkWantIf(t, got, tt.ok, 19022, larkMsgIPRefused)
		})
	}
}

func TestLarkRateLimitPerSecond(t *testing.T) {
	clk := larkAtVector()
	f := newLarkBot(LarkOptions{Now: clk.Now}, LarkBotConfig{})
	for range 5 {
		larkWantOK(t, larkSend(t, f, larkCall{body: larkOKText}))
		clk.Advance(100 * time.Millisecond)
	}
	// Five within 500 ms: the sixth is refused, on HTTP 200.
	larkWant(t, larkSend(t, f, larkCall{body: larkOKText}), 11232, larkMsgThrottled)
	// A second after the first, one slot is free again, and only one.
	clk.Advance(500 * time.Millisecond)
	larkWantOK(t, larkSend(t, f, larkCall{body: larkOKText}))
	larkWant(t, larkSend(t, f, larkCall{body: larkOKText}), 11232, larkMsgThrottled)
	if n := len(f.Accepted(larkToken)); n != 6 {
		t.Errorf("accepted %d, want 6", n)
	}
}

func TestLarkRateLimitPerMinute(t *testing.T) {
	clk := larkAtVector()
	f := newLarkBot(LarkOptions{Now: clk.Now}, LarkBotConfig{})
	start := clk.Now()
	// Five a second for 20 seconds: 100, within both limits.
	for i := range 100 {
		larkWantOK(t, larkSend(t, f, larkCall{body: larkOKText}))
		if i%5 == 4 {
			clk.Advance(time.Second)
		}
	}
	// The second has room; the minute does not.
	larkWant(t, larkSend(t, f, larkCall{body: larkOKText}), 11232, larkMsgThrottled)
	clk.Advance(start.Add(time.Minute - time.Millisecond).Sub(clk.Now()))
	larkWant(t, larkSend(t, f, larkCall{body: larkOKText}), 11232, larkMsgThrottled)
	// A minute after the first five, exactly they have left the window.
	clk.Advance(time.Millisecond)
	for range 5 {
		larkWantOK(t, larkSend(t, f, larkCall{body: larkOKText}))
	}
	larkWant(t, larkSend(t, f, larkCall{body: larkOKText}), 11232, larkMsgThrottled)
}

// TestLarkRefusalsCount: requests refused for what they hold count toward
// the limits; requests refused for the limits do not.
func TestLarkRefusalsCount(t *testing.T) {
	clk := larkAtVector()
	f := newLarkBot(LarkOptions{Now: clk.Now}, LarkBotConfig{Keywords: []string{"[ALERT]"}})
	for range 5 {
		larkWant(t, larkSend(t, f, larkCall{body: larkJSON(larkText("no keyword"))}), 19024, larkMsgNoKeyword)
	}
	larkWant(t, larkSend(t, f, larkCall{body: larkOKText}), 11232, larkMsgThrottled)
	clk.Advance(time.Second)
	// Hammering while throttled costs nothing: only the five sends of
	// each second count.
	for range 19 {
		for range 5 {
			larkWantOK(t, larkSend(t, f, larkCall{body: larkOKText}))
		}
		for range 3 {
			larkWant(t, larkSend(t, f, larkCall{body: larkOKText}), 11232, larkMsgThrottled)
		}
		clk.Advance(time.Second)
	}
	// 5 refusals and 95 sends counted: the second is fresh, the minute
	// is full.
	if n := len(f.Accepted(larkToken)); n != 95 {
		t.Errorf("accepted %d, want 95", n)
	}
	larkWant(t, larkSend(t, f, larkCall{body: larkOKText}), 11232, larkMsgThrottled)
}

func TestLarkRateLimitPerBot(t *testing.T) {
	f := NewLark(LarkOptions{Now: larkAtVector().Now, PerSecond: 1})
	f.AddBot("a", LarkBotConfig{})
	f.AddBot("b", LarkBotConfig{})
	larkWantOK(t, larkSend(t, f, larkCall{path: larkHookPath + "a", body: larkOKText}))
	larkWantOK(t, larkSend(t, f, larkCall{path: larkHookPath + "b", body: larkOKText}))
	larkWant(t, larkSend(t, f, larkCall{path: larkHookPath + "a", body: larkOKText}), 11232, larkMsgThrottled)
}

func TestLarkMentions(t *testing.T) {
	tests := []struct {
		name      string
		body      map[string]any
		wantIDs   []string
		wantAll   bool
		wantTitle string
		wantText  string
	}{
		{
			name:     "text",
			body:     larkText(`disk full <at user_id="ou_a">Ann</at> <at user_id=ou_b>Bo</at> <at user_id="ou_a">Ann</at> <at user_id="all">所有人</at>`),
			wantIDs:  []string{"ou_a", "ou_b"},
			wantAll:  true,
			wantText: `disk full <at user_id="ou_a">Ann</at> <at user_id=ou_b>Bo</at> <at user_id="ou_a">Ann</at> <at user_id="all">所有人</at>`,
		},
		{
			name:     "text: unclosed, defused and card-style tags do not mention",
			body:     larkText("<\u200bat user_id=\"ou_y\">Y</at>, <at id=ou_z></at>, <at user_id=\"ou_x\">X"),
			wantText: "<\u200bat user_id=\"ou_y\">Y</at>, <at id=ou_z></at>, <at user_id=\"ou_x\">X",
		},
		{
			name: "post",
			body: map[string]any{"msg_type": "post", "content": map[string]any{"post": map[string]any{
				"en_us": map[string]any{"title": "en", "content": []any{[]any{map[string]any{"tag": "at", "user_id": "ou_en"}}}},
				"zh_cn": map[string]any{"title": "disk", "content": []any{
					[]any{map[string]any{"tag": "text", "text": "full "}, map[string]any{"tag": "a", "text": "graph", "href": "https://e.test"}},
					[]any{map[string]any{"tag": "at", "user_id": "ou_a", "user_name": "Ann"}, map[string]any{"tag": "at", "user_id": "all"}},
					[]any{map[string]any{"tag": "text", "text": `<at user_id="ou_t">T</at>`}},
				}}}}},
			wantIDs:   []string{"ou_a"},
			wantAll:   true,
			wantTitle: "disk",
			wantText:  "full graph\n@Ann@all\n" + `<at user_id="ou_t">T</at>`,
		},
		{
			name: "card: markdown mentions, plain text does not",
			body: map[string]any{"msg_type": "interactive", "card": map[string]any{
				"schema": "2.0",
				"header": map[string]any{"title": map[string]any{"tag": "plain_text", "content": "<at id=ou_h></at> disk"}, "template": "red"},
				"body": map[string]any{"elements": []any{
					map[string]any{"tag": "markdown", "content": "**full** <at id=ou_a></at> <at id=\"ou_b\"></at> <at id=all></at>"},
					map[string]any{"tag": "button", "text": map[string]any{"tag": "plain_text", "content": "<at id=ou_c></at>"},
						"behaviors": []any{map[string]any{"type": "open_url", "default_url": "https://e.test"}}},
				}}}},
			wantIDs:   []string{"ou_a", "ou_b"},
			wantAll:   true,
			wantTitle: "<at id=ou_h></at> disk",
			wantText:  "**full** <at id=ou_a></at> <at id=\"ou_b\"></at> <at id=all></at>\n<at id=ou_c></at>",
		},
		{
			name: "card 1.0: lark_md mentions",
			body: map[string]any{"msg_type": "interactive", "card": map[string]any{
				"elements": []any{map[string]any{"tag": "div", "text": map[string]any{"tag": "lark_md", "content": "<at id=ou_d></at> look"}}}}},
			wantIDs:  []string{"ou_d"},
			wantText: "<at id=ou_d></at> look",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newLarkBot(LarkOptions{}, LarkBotConfig{})
			body := larkJSON(tt.body)
			larkWantOK(t, larkSend(t, f, larkCall{body: body}))
			got := f.Accepted(larkToken)
			if len(got) != 1 {
				t.Fatalf("accepted %d messages, want 1", len(got))
			}
			m := got[0]
			if diff := cmp.Diff(tt.wantIDs, m.AtIDs, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("AtIDs (-want +got):\n%s", diff)
			}
			if m.AtAll != tt.wantAll {
				t.Errorf("AtAll = %t, want %t", m.AtAll, tt.wantAll)
			}
			if m.Title != tt.wantTitle || m.Text != tt.wantText {
				t.Errorf("Title, Text = %q, %q\nwant          %q, %q", m.Title, m.Text, tt.wantTitle, tt.wantText)
			}
			if string(m.Body) != body || m.Payload["msg_type"] != tt.body["msg_type"] {
				t.Errorf("Body, Payload = %s, %v; want the request's", m.Body, m.Payload)
			}
		})
	}
}

func TestLarkSuccessShape(t *testing.T) {
	for _, omit := range []bool{false, true} {
		t.Run(fmt.Sprint("omit=", omit), func(t *testing.T) {
			f := newLarkBot(LarkOptions{OmitLegacyFields: omit}, LarkBotConfig{})
			got := larkSend(t, f, larkCall{body: larkOKText})
			want := map[string]any{"code": 0.0, "msg": "success", "data": map[string]any{}}
			if !omit {
				want["StatusCode"], want["StatusMessage"] = 0.0, "success"
			}
			if diff := cmp.Diff(want, got.raw); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
	// Refusals never carry the legacy fields.
	f := newLarkBot(LarkOptions{}, LarkBotConfig{Disabled: true})
	got := larkSend(t, f, larkCall{body: larkOKText})
	want := map[string]any{"code": 19007.0, "msg": larkMsgDisabled, "data": map[string]any{}}
	if diff := cmp.Diff(want, got.raw); diff != "" {
		t.Errorf("refusal (-want +got):\n%s", diff)
	}
}

func TestLarkAttempts(t *testing.T) {
	clk := larkAtVector()
	f := newLarkBot(LarkOptions{Now: clk.Now}, LarkBotConfig{Keywords: []string{"[ALERT]"}})
	larkSend(t, f, larkCall{body: larkOKText})
	clk.Advance(time.Second)
	larkSend(t, f, larkCall{body: larkJSON(larkText("x"))})
	larkSend(t, f, larkCall{path: larkHookPath + "nope", body: larkOKText})
	larkSend(t, f, larkCall{path: "/elsewhere", body: larkOKText})

	t0 := time.Unix(larkVectorTS, 0)
	want := []Attempt{
		{At: t0, RemoteIP: testRemoteIP, Status: 200, ErrCode: 0, ErrMsg: "success"},
		{At: t0.Add(time.Second), RemoteIP: testRemoteIP, Status: 200, ErrCode: 19024, ErrMsg: larkMsgNoKeyword},
	}
	if diff := cmp.Diff(want, f.Attempts(larkToken)); diff != "" {
		t.Errorf("Attempts (-want +got):\n%s", diff)
	}
	if got := f.Attempts("nope"); len(got) != 1 || got[0].ErrCode != 19001 {
		t.Errorf("Attempts(nope) = %+v, want one 19001", got)
	}
	if got := f.Attempts(""); len(got) != 0 {
		t.Errorf(`Attempts("") = %+v; a path that is no webhook is no bot's attempt`, got)
	}
}

// larkPost sends body to url over the network and returns the HTTP status
// and Lark's code.
func larkPost(ctx context.Context, client *http.Client, url, body string) (status, code int, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, 0, err
	}
	var a struct{ Code int }
	_ = json.Unmarshal(b, &a) // a Fault's plain-text answer has no code
	return resp.StatusCode, a.Code, nil
}

func startLark(t *testing.T, opts LarkOptions) (*Lark, string) {
	t.Helper()
	f, srv, err := StartLark(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("URL = %q, want a 127.0.0.1 address", srv.URL)
	}
	f.AddBot(larkToken, LarkBotConfig{})
	return f, f.WebhookURL(srv.URL, larkToken)
}

func TestStartLarkFaults(t *testing.T) {
	f, url := startLark(t, LarkOptions{})
	client := &http.Client{Timeout: 5 * time.Second}

	f.FailNext(larkToken, 1, Fault{Status: http.StatusBadGateway})
	f.FailNext(larkToken, 1, Fault{})
	f.FailNext(larkToken, 1, Fault{ErrCode: 19036, ErrMsg: "The message exceeds the size limit of 30KB"})
	f.FailNext(larkToken, 1, Fault{Drop: true})
	f.FailNext("other", 1, Fault{}) // another token's faults stay with it

	for i, want := range []struct{ status, code int }{{502, 0}, {200, 11232}, {200, 19036}} {
		status, code, err := larkPost(t.Context(), client, url, larkOKText)
		if err != nil || status != want.status || code != want.code {
			t.Errorf("request %d: got %d %d %v, want %d %d", i, status, code, err, want.status, want.code)
		}
	}
	if _, _, err := larkPost(t.Context(), client, url, larkOKText); err == nil {
		t.Error("dropped request: got an answer, want a transport error")
	}
	if status, code, err := larkPost(t.Context(), client, url, larkOKText); err != nil || status != 200 || code != 0 {
		t.Errorf("after the faults: got %d %d %v, want 200 0", status, code, err)
	}
	if n := len(f.Accepted(larkToken)); n != 1 {
		t.Errorf("accepted %d, want 1", n)
	}
	var injected []int
	for _, a := range f.Attempts(larkToken) {
		if a.Injected {
			injected = append(injected, a.ErrCode)
		}
	}
	if want := []int{0, 11232, 19036, 0}; !slices.Equal(injected, want) {
		t.Errorf("injected attempts' codes = %v, want %v", injected, want)
	}
}

func TestLarkHangEndsWithClient(t *testing.T) {
	f, url := startLark(t, LarkOptions{})
	f.FailNext(larkToken, 1, Fault{Hang: true})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, _, err := larkPost(ctx, http.DefaultClient, url, larkOKText); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hung request: err = %v, want deadline exceeded", err)
	}
	// The cleanup's Close returning proves the handler let go.
}

func TestLarkAddBotPanics(t *testing.T) {
	tests := []struct {
		name string
		c    LarkBotConfig
	}{
		{"11 keywords", LarkBotConfig{Keywords: strings.Split("a b c d e f g h i j k", " ")}},
		{"empty keyword", LarkBotConfig{Keywords: []string{"a", ""}}},
		{"11 IPs", LarkBotConfig{IPAllow: strings.Split("1.0.0.1 1.0.0.2 1.0.0.3 1.0.0.4 1.0.0.5 1.0.0.6 1.0.0.7 1.0.0.8 1.0.0.9 1.0.0.10 1.0.0.11", " ")}},
		{"bad IP", LarkBotConfig{IPAllow: []string{"10.0.0.256"}}},
		{"wildcard", LarkBotConfig{IPAllow: []string{"10.0.0.*"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("AddBot(%+v) did not panic", tt.c)
				}
			}()
			NewLark(LarkOptions{}).AddBot(larkToken, tt.c)
		})
	}
}

func TestLarkAddBotReplaces(t *testing.T) {
	f := newLarkBot(LarkOptions{}, LarkBotConfig{})
	larkWantOK(t, larkSend(t, f, larkCall{body: larkOKText}))
	f.AddBot(larkToken, LarkBotConfig{Disabled: true})
	larkWant(t, larkSend(t, f, larkCall{body: larkOKText}), 19007, larkMsgDisabled)
	if n := len(f.Accepted(larkToken)); n != 1 {
		t.Errorf("accepted %d after re-adding, want the 1 from before", n)
	}
}

func TestNewLarkPanicsOnBadStatus(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewLark with BadRequestStatus 500 did not panic")
		}
	}()
	NewLark(LarkOptions{BadRequestStatus: 500})
}

func TestLarkWebhookURL(t *testing.T) {
	f := NewLark(LarkOptions{})
	for _, tt := range []struct{ base, token, want string }{
		{"http://127.0.0.1:1", "tok", "http://127.0.0.1:1/open-apis/bot/v2/hook/tok"},
		{"http://127.0.0.1:1/", "a b/c", "http://127.0.0.1:1/open-apis/bot/v2/hook/a%20b%2Fc"},
	} {
		if got := f.WebhookURL(tt.base, tt.token); got != tt.want {
			t.Errorf("WebhookURL(%q, %q) = %q, want %q", tt.base, tt.token, got, tt.want)
		}
	}
}
