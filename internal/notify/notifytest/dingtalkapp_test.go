package notifytest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const (
	appClientID  = "dingappkey0001"
	appSecret    = "app-secret-0123456789abcdef"
	appRobotCode = "dingrobot0001"
	appGroup     = "cid6KeBBLoveMJOGXoYKF5x7EeiodoA=="
)

// appReply is what a test saw of one answer.
type appReply struct {
	status int
	header http.Header
	body   map[string]any
}

func (r appReply) code() string {
	s, _ := r.body["code"].(string)
	return s
}

// appDo serves one request on f in-process. contentType "" means
// application/json; token "" sends no token header.
func appDo(t *testing.T, f *DingTalkApp, method, path, token, contentType, body string) appReply {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType == "" {
		contentType = "application/json"
	}
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("x-acs-dingtalk-access-token", token)
	}
	rec := httptest.NewRecorder()
	f.ServeHTTP(rec, req)
	r := appReply{status: rec.Code, header: rec.Header()}
	if err := json.Unmarshal(rec.Body.Bytes(), &r.body); err != nil {
		t.Fatalf("%s %s: answer %q is not a JSON object: %v", method, path, rec.Body, err)
	}
	return r
}

func appJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// appToken fetches a token for the test app.
func appToken(t *testing.T, f *DingTalkApp) string {
	t.Helper()
	r := appDo(t, f, "POST", DingTalkAppTokenPath, "", "", appJSON(map[string]string{"appKey": appClientID, "appSecret": appSecret}))
	tok, _ := r.body["accessToken"].(string)
	if r.status != 200 || tok == "" {
		t.Fatalf("token: %d %v", r.status, r.body)
	}
	return tok
}

// newAppFake is a fake with the test app, users u1…u3 and a group the
// robot is in.
func newAppFake(clk *clock) *DingTalkApp {
	f := NewDingTalkApp(DingTalkAppOptions{Now: clk.Now})
	f.AddApp(appClientID, appSecret, appRobotCode)
	f.AddUsers("u1", "u2", "u3")
	f.AddGroup(appGroup, appRobotCode)
	return f
}

var appRequestID = regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$`)

// wantAppError checks a refusal: its status, its code, and the request ID
// in both the body and the header.
func wantAppError(t *testing.T, r appReply, status int, code string) {
	t.Helper()
	if r.status != status || r.code() != code {
		t.Errorf("answer = %d %v, want %d %s", r.status, r.body, status, code)
	}
	id, _ := r.body["requestid"].(string)
	if !appRequestID.MatchString(id) || r.header.Get("x-acs-request-id") != id {
		t.Errorf("requestid %q, header %q: want the same upper-case UUID", id, r.header.Get("x-acs-request-id"))
	}
	if msg, _ := r.body["message"].(string); msg == "" {
		t.Errorf("answer %v has no message", r.body)
	}
}

func TestDingTalkAppToken(t *testing.T) {
	clk := newClock(vectorTimestamp)
	f := newAppFake(clk)
	creds := func(key, secret string) string {
		return appJSON(map[string]string{"appKey": key, "appSecret": secret})
	}

	t.Run("form-encoded", func(t *testing.T) {
		r := appDo(t, f, "POST", DingTalkAppTokenPath, "", "application/x-www-form-urlencoded", "appKey="+appClientID+"&appSecret="+appSecret)
		wantAppError(t, r, 400, "Missingbody")
	})
	t.Run("not an object", func(t *testing.T) {
		wantAppError(t, appDo(t, f, "POST", DingTalkAppTokenPath, "", "", `["x"]`), 400, "Missingbody")
	})
	t.Run("wrong secret", func(t *testing.T) {
		wantAppError(t, appDo(t, f, "POST", DingTalkAppTokenPath, "", "", creds(appClientID, "nope")), 400, "invalidClientIdOrSecret")
	})
	t.Run("unknown app", func(t *testing.T) {
		wantAppError(t, appDo(t, f, "POST", DingTalkAppTokenPath, "", "", creds("dingother", appSecret)), 400, "invalidClientIdOrSecret")
	})

	r := appDo(t, f, "POST", DingTalkAppTokenPath, "", "application/json; charset=utf-8", creds(appClientID, appSecret))
	first, _ := r.body["accessToken"].(string)
	if r.status != 200 || first == "" || r.body["expireIn"] != 7200.0 {
		t.Fatalf("token answer = %d %v, want an accessToken and expireIn 7200", r.status, r.body)
	}
	// Inside its lifetime the same token comes back, and lives on from
	// then: two hours after the first fetch it is still good.
	clk.Advance(time.Hour)
	if again := appToken(t, f); again != first {
		t.Errorf("second fetch = %q, want the same token %q", again, first)
	}
	clk.Advance(90 * time.Minute)
	wantAppStatus(t, appDo(t, f, "POST", DingTalkAppBatchSendPath, first, "", appBatch(appRobotCode, []string{"u1"})), 200)
	// Once expired it is refused, and a fetch gives a new one.
	clk.Advance(31 * time.Minute)
	wantAppError(t, appDo(t, f, "POST", DingTalkAppBatchSendPath, first, "", appBatch(appRobotCode, []string{"u1"})), 400, "InvalidAuthentication")
	third := appToken(t, f)
	if third == first {
		t.Error("a fetch after expiry returned the expired token")
	}
	if diff := cmp.Diff([]string{first, third}, f.Tokens(appClientID)); diff != "" {
		t.Errorf("Tokens (-want +got):\n%s", diff)
	}
	// Every request naming the app counts, refused ones included.
	if n := f.TokenFetches(appClientID); n != 4 {
		t.Errorf("TokenFetches = %d, want 4 (1 refused, 3 issued)", n)
	}
}

func TestDingTalkAppExpireInOption(t *testing.T) {
	clk := newClock(vectorTimestamp)
	f := NewDingTalkApp(DingTalkAppOptions{Now: clk.Now, ExpireIn: 90 * time.Second})
	f.AddApp(appClientID, appSecret, "")
	r := appDo(t, f, "POST", DingTalkAppTokenPath, "", "", appJSON(map[string]string{"appKey": appClientID, "appSecret": appSecret}))
	if r.body["expireIn"] != 90.0 {
		t.Errorf("expireIn = %v, want 90", r.body["expireIn"])
	}
	tok := r.body["accessToken"].(string)
	f.AddUsers("u1")
	// An empty robot code is the client ID.
	clk.Advance(89 * time.Second)
	wantAppStatus(t, appDo(t, f, "POST", DingTalkAppBatchSendPath, tok, "", appBatch(appClientID, []string{"u1"})), 200)
	clk.Advance(time.Second)
	wantAppError(t, appDo(t, f, "POST", DingTalkAppBatchSendPath, tok, "", appBatch(appClientID, []string{"u1"})), 400, "InvalidAuthentication")
}

func wantAppStatus(t *testing.T, r appReply, status int) {
	t.Helper()
	if r.status != status {
		t.Errorf("answer = %d %v, want %d", r.status, r.body, status)
	}
}

func appBatch(robotCode string, userIDs []string) string {
	return appJSON(map[string]any{"robotCode": robotCode, "userIds": userIDs, "msgKey": "sampleMarkdown",
		"msgParam": `{"title":"CPU high","text":"### CPU high\n\nweb-1"}`})
}

func appGroupSend(cid, msgParam string) string {
	return appJSON(map[string]any{"robotCode": appRobotCode, "openConversationId": cid, "msgKey": "sampleMarkdown", "msgParam": msgParam})
}

func TestDingTalkAppAuthentication(t *testing.T) {
	clk := newClock(vectorTimestamp)
	f := newAppFake(clk)
	f.AddApp("dingother", "other-secret", "")
	tok := appToken(t, f)
	otherTok := appDo(t, f, "POST", DingTalkAppTokenPath, "", "", appJSON(map[string]string{"appKey": "dingother", "appSecret": "other-secret"})).body["accessToken"].(string)
	f.RevokeTokens("dingother")

	for _, path := range []string{DingTalkAppBatchSendPath, DingTalkAppGroupSendPath} {
		body := appBatch(appRobotCode, []string{"u1"})
		if path == DingTalkAppGroupSendPath {
			body = appGroupSend(appGroup, `{"title":"t","text":"x"}`)
		}
		for name, token := range map[string]string{"missing": "", "unknown": "0123456789abcdef", "revoked": otherTok} {
			t.Run(path+"/"+name, func(t *testing.T) {
				wantAppError(t, appDo(t, f, "POST", path, token, "", body), 400, "InvalidAuthentication")
			})
		}
		// Authentication comes first: a token error hides a bad body.
		wantAppError(t, appDo(t, f, "POST", path, "", "text/plain", "x"), 400, "InvalidAuthentication")
		wantAppStatus(t, appDo(t, f, "POST", path, tok, "", body), 200)
	}
}

func TestDingTalkAppBatchSendChecks(t *testing.T) {
	f := newAppFake(newClock(vectorTimestamp))
	f.AddApp("dingother", "other-secret", "dingotherrobot")
	tok := appToken(t, f)
	var many []string
	for i := range 21 {
		many = append(many, fmt.Sprint("u", i))
	}
	body := func(change func(m map[string]any)) string {
		m := map[string]any{"robotCode": appRobotCode, "userIds": []string{"u1"}, "msgKey": "sampleMarkdown", "msgParam": `{"title":"t","text":"x"}`}
		change(m)
		return appJSON(m)
	}
	tests := []struct {
		name        string
		contentType string
		body        string
		code        string
	}{
		{"form body", "application/x-www-form-urlencoded", "robotCode=" + appRobotCode, "Missingbody"},
		{"not JSON", "", "{", "Missingbody"},
		{"no robotCode", "", body(func(m map[string]any) { delete(m, "robotCode") }), "invalidParameter.robotCode.empty"},
		{"unknown robotCode", "", body(func(m map[string]any) { m["robotCode"] = "dingnobody" }), "invalidParameter.robotCode.notExsit"},
		{"another app's robot", "", body(func(m map[string]any) { m["robotCode"] = "dingotherrobot" }), "invalidParameter.robotCode.auth"},
		{"no userIds", "", body(func(m map[string]any) { delete(m, "userIds") }), "invalidParameter.userIds.empty"},
		{"empty userIds", "", body(func(m map[string]any) { m["userIds"] = []string{} }), "invalidParameter.userIds.empty"},
		{"21 userIds", "", body(func(m map[string]any) { m["userIds"] = many }), "invalidParameter.userIds.overMax"},
		{"userIds a string", "", body(func(m map[string]any) { m["userIds"] = "u1,u2" }), "invalidParameter.param.invalid"},
		{"no msgKey", "", body(func(m map[string]any) { delete(m, "msgKey") }), "invalidParameter.msgKey.empty"},
		{"unknown msgKey", "", body(func(m map[string]any) { m["msgKey"] = "markdown" }), "invalidParameter.msgKey.invalid"},
		{"sampleActionCard1", "", body(func(m map[string]any) { m["msgKey"] = "sampleActionCard1" }), "invalidParameter.msgKey.invalid"},
		{"no msgParam", "", body(func(m map[string]any) { delete(m, "msgParam") }), "invalidParameter.msgParam.invalid"},
		{"msgParam an object", "", body(func(m map[string]any) { m["msgParam"] = map[string]string{"title": "t", "text": "x"} }), "invalidParameter.msgParam.invalid"},
		{"msgParam not JSON", "", body(func(m map[string]any) { m["msgParam"] = "title: t" }), "invalidParameter.msgParam.invalid"},
		{"msgParam an array", "", body(func(m map[string]any) { m["msgParam"] = `["t"]` }), "invalidParameter.msgParam.invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantAppError(t, appDo(t, f, "POST", DingTalkAppBatchSendPath, tok, tt.contentType, tt.body), 400, tt.code)
		})
	}
	if got := f.AcceptedByUser("u1"); len(got) != 0 {
		t.Errorf("refused requests delivered %d messages", len(got))
	}
	// 20 is allowed, and 1:1 messages have no msgParam limit of their own.
	f.AddUsers(many...)
	long := appJSON(map[string]string{"title": "t", "text": strings.Repeat("x", 20000)})
	wantAppStatus(t, appDo(t, f, "POST", DingTalkAppBatchSendPath, tok, "", body(func(m map[string]any) {
		m["userIds"], m["msgParam"] = many[:20], long
	})), 200)
}

func TestDingTalkAppBatchSendDelivers(t *testing.T) {
	clk := newClock(vectorTimestamp)
	f := newAppFake(clk)
	f.SetFlowControlled("u2", "nobody")
	tok := appToken(t, f)
	const param = `{"title":"CPU high","text":"### CPU high\n\nweb-1"}`

	r := appDo(t, f, "POST", DingTalkAppBatchSendPath, tok, "", appBatch(appRobotCode, []string{"u1", "ghost", "u2", "u3", "u1"}))
	wantAppStatus(t, r, 200)
	key, _ := r.body["processQueryKey"].(string)
	if key == "" {
		t.Errorf("no processQueryKey in %v", r.body)
	}
	if diff := cmp.Diff([]any{"ghost"}, r.body["invalidStaffIdList"]); diff != "" {
		t.Errorf("invalidStaffIdList (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{"u2"}, r.body["flowControlledStaffIdList"]); diff != "" {
		t.Errorf("flowControlledStaffIdList (-want +got):\n%s", diff)
	}
	want := DingTalkAppMessage{At: clk.Now(), ClientID: appClientID, RobotCode: appRobotCode, MsgKey: "sampleMarkdown",
		MsgParam: param, Param: map[string]any{"title": "CPU high", "text": "### CPU high\n\nweb-1"}, ProcessQueryKey: key}
	for _, u := range []string{"u1", "u3"} {
		if diff := cmp.Diff([]DingTalkAppMessage{want}, f.AcceptedByUser(u)); diff != "" {
			t.Errorf("AcceptedByUser(%s) (-want +got):\n%s", u, diff)
		}
	}
	for _, u := range []string{"u2", "ghost"} {
		if got := f.AcceptedByUser(u); len(got) != 0 {
			t.Errorf("AcceptedByUser(%s) = %d messages, want none", u, len(got))
		}
	}

	// Lifting flow control lets u2 receive; an answer always has both
	// lists, empty or not.
	f.SetFlowControlled()
	r = appDo(t, f, "POST", DingTalkAppBatchSendPath, tok, "", appBatch(appRobotCode, []string{"u2"}))
	if diff := cmp.Diff(map[string]any{"processQueryKey": r.body["processQueryKey"], "invalidStaffIdList": []any{}, "flowControlledStaffIdList": []any{}}, r.body); diff != "" {
		t.Errorf("answer (-want +got):\n%s", diff)
	}
	if n := len(f.AcceptedByUser("u2")); n != 1 {
		t.Errorf("u2 got %d messages after flow control lifted, want 1", n)
	}

	calls := f.Calls()
	var sends [][]string
	for _, c := range calls {
		if c.Path == DingTalkAppBatchSendPath {
			sends = append(sends, c.UserIDs)
			if c.ClientID != appClientID || c.Status != 200 || c.Code != "" {
				t.Errorf("call %+v, want an accepted call from the app", c)
			}
		}
	}
	if diff := cmp.Diff([][]string{{"u1", "ghost", "u2", "u3", "u1"}, {"u2"}}, sends); diff != "" {
		t.Errorf("batchSend calls' users (-want +got):\n%s", diff)
	}
}

func TestDingTalkAppGroupSend(t *testing.T) {
	f := newAppFake(newClock(vectorTimestamp))
	f.AddGroup("cidempty")
	tok := appToken(t, f)
	// A msgParam of exactly the limit, and one byte more.
	param := func(n int) string {
		return appJSON(map[string]string{"text": strings.Repeat("告", n/3) + strings.Repeat("x", n%3), "title": "t"})
	}
	atLimit := param(dingTalkAppMaxParam - len(param(0)))
	overLimit := param(dingTalkAppMaxParam - len(param(0)) + 1)
	if len(atLimit) != dingTalkAppMaxParam || len(overLimit) != dingTalkAppMaxParam+1 {
		t.Fatalf("test msgParams are %d and %d bytes", len(atLimit), len(overLimit))
	}

	tests := []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"unknown group", appGroupSend("cidnowhere", `{"title":"t","text":"x"}`), 400, "invalid.openConversationId"},
		{"no group", appGroupSend("", `{"title":"t","text":"x"}`), 400, "invalid.openConversationId"},
		{"robot not in group", appGroupSend("cidempty", `{"title":"t","text":"x"}`), 400, "invalidParameter.robotCode.notExsit"},
		{"msgParam over 15000 bytes", appGroupSend(appGroup, overLimit), 400, "invalidParameter.msgParam.invalid"},
		{"msgParam of 15000 bytes", appGroupSend(appGroup, atLimit), 200, ""},
		{"sampleText", strings.Replace(appGroupSend(appGroup, `{"content":"x"}`), "sampleMarkdown", "sampleText", 1), 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := appDo(t, f, "POST", DingTalkAppGroupSendPath, tok, "", tt.body)
			if tt.code != "" {
				wantAppError(t, r, tt.status, tt.code)
				return
			}
			wantAppStatus(t, r, tt.status)
			if key, _ := r.body["processQueryKey"].(string); key == "" || len(r.body) != 1 {
				t.Errorf("answer %v, want just a processQueryKey", r.body)
			}
		})
	}
	got := f.AcceptedInGroup(appGroup)
	if len(got) != 2 || got[0].MsgParam != atLimit || got[1].MsgKey != "sampleText" || got[1].Param["content"] != "x" {
		t.Errorf("AcceptedInGroup = %d messages, want the two accepted", len(got))
	}
	if n := len(f.AcceptedInGroup("cidempty")); n != 0 {
		t.Errorf("the group without the robot got %d messages", n)
	}
}

func TestDingTalkAppNotFound(t *testing.T) {
	f := newAppFake(newClock(vectorTimestamp))
	wantAppError(t, appDo(t, f, "GET", DingTalkAppTokenPath, "", "", ""), 404, "InvalidAction.NotFound")
	wantAppError(t, appDo(t, f, "POST", "/v1.0/robot/oToMessages/batchsend", "", "", "{}"), 404, "InvalidAction.NotFound")
	if c := f.Calls(); len(c) != 2 || c[0].Status != 404 || c[1].Path != "/v1.0/robot/oToMessages/batchsend" {
		t.Errorf("Calls = %+v, want both 404s", c)
	}
}

func TestDingTalkAppAddAppPanics(t *testing.T) {
	tests := []struct {
		name string
		add  func(f *DingTalkApp)
	}{
		{"no client ID", func(f *DingTalkApp) { f.AddApp("", "s", "") }},
		{"no secret", func(f *DingTalkApp) { f.AddApp("a", "", "") }},
		{"robot code taken", func(f *DingTalkApp) { f.AddApp("a", "s", "r"); f.AddApp("b", "s", "r") }},
		{"client ID taken as a robot code", func(f *DingTalkApp) { f.AddApp("a", "s", "b"); f.AddApp("b", "s", "") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("did not panic")
				}
			}()
			tt.add(NewDingTalkApp(DingTalkAppOptions{}))
		})
	}
}

func TestDingTalkAppAddAppReplaces(t *testing.T) {
	f := newAppFake(newClock(vectorTimestamp))
	tok := appToken(t, f)
	f.AddApp(appClientID, "new-secret", "dingrobot0002")
	// The old robot code is free again, the token still works with the
	// new robot, and the old secret no longer gets a token.
	f.AddApp("dingother", "s", appRobotCode)
	wantAppStatus(t, appDo(t, f, "POST", DingTalkAppBatchSendPath, tok, "", appBatch("dingrobot0002", []string{"u1"})), 200)
	wantAppError(t, appDo(t, f, "POST", DingTalkAppBatchSendPath, tok, "", appBatch(appRobotCode, []string{"u1"})), 400, "invalidParameter.robotCode.auth")
	wantAppError(t, appDo(t, f, "POST", DingTalkAppTokenPath, "", "", appJSON(map[string]string{"appKey": appClientID, "appSecret": appSecret})), 400, "invalidClientIdOrSecret")
}

// appPost sends body to url over the network and returns the status and
// the decoded answer, if it is JSON.
func appPost(ctx context.Context, url, token, body string) (int, map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("x-acs-dingtalk-access-token", token)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m) // a plain-text fault has no JSON
	return resp.StatusCode, m, err
}

func TestDingTalkAppFaults(t *testing.T) {
	f, srv, err := StartDingTalkApp(DingTalkAppOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	f.AddApp(appClientID, appSecret, appRobotCode)
	f.AddUsers("u1")
	creds := appJSON(map[string]string{"appKey": appClientID, "appSecret": appSecret})

	f.FailNext(DingTalkAppTokenPath, 1, DingTalkAppFault{})
	f.FailNext(DingTalkAppTokenPath, 1, DingTalkAppFault{Code: "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", Message: "qps", Status: 403})
	f.FailNext(DingTalkAppBatchSendPath, 1, DingTalkAppFault{Code: "send.too.fast", Message: "too fast"})
	f.FailNext(DingTalkAppBatchSendPath, 1, DingTalkAppFault{Status: 502})
	f.FailNext(DingTalkAppBatchSendPath, 1, DingTalkAppFault{Drop: true})
	f.FailNext(DingTalkAppBatchSendPath, 1, DingTalkAppFault{Hang: true})

	status, _, err := appPost(t.Context(), srv.URL+DingTalkAppTokenPath, "", creds)
	if err != nil || status != 500 {
		t.Errorf("zero fault: %d %v, want 500", status, err)
	}
	status, body, err := appPost(t.Context(), srv.URL+DingTalkAppTokenPath, "", creds)
	if err != nil || status != 403 || body["code"] != "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi" || body["requestid"] == "" {
		t.Errorf("coded fault: %d %v %v, want 403 with the code", status, body, err)
	}
	if n := f.TokenFetches(appClientID); n != 0 {
		t.Errorf("faulted token requests counted as %d fetches, want 0", n)
	}
	_, body, err = appPost(t.Context(), srv.URL+DingTalkAppTokenPath, "", creds)
	tok, _ := body["accessToken"].(string)
	if err != nil || tok == "" {
		t.Fatalf("token after faults: %v %v", body, err)
	}

	send := srv.URL + DingTalkAppBatchSendPath
	batch := appBatch(appRobotCode, []string{"u1"})
	// Faults come before authentication: no token needed.
	status, body, err = appPost(t.Context(), send, "", batch)
	if err != nil || status != 400 || body["code"] != "send.too.fast" {
		t.Errorf("rate-limit fault: %d %v %v, want 400 send.too.fast", status, body, err)
	}
	if status, _, err = appPost(t.Context(), send, tok, batch); err != nil || status != 502 {
		t.Errorf("status fault: %d %v, want 502", status, err)
	}
	if _, _, err = appPost(t.Context(), send, tok, batch); err == nil {
		t.Error("dropped request got an answer, want a transport error")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, _, err = appPost(ctx, send, tok, batch); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hung request: err = %v, want deadline exceeded", err)
	}
	if status, _, err = appPost(t.Context(), send, tok, batch); err != nil || status != 200 {
		t.Errorf("after the faults: %d %v, want 200", status, err)
	}
	if n := len(f.AcceptedByUser("u1")); n != 1 {
		t.Errorf("u1 got %d messages, want 1", n)
	}

	var got []DingTalkAppCall
	for _, c := range f.Calls() {
		got = append(got, DingTalkAppCall{Path: c.Path, Status: c.Status, Code: c.Code, Injected: c.Injected})
	}
	tp, bp := DingTalkAppTokenPath, DingTalkAppBatchSendPath
	want := []DingTalkAppCall{
		{Path: tp, Status: 500, Injected: true},
		{Path: tp, Status: 403, Code: "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", Injected: true},
		{Path: tp, Status: 200},
		{Path: bp, Status: 400, Code: "send.too.fast", Injected: true},
		{Path: bp, Status: 502, Injected: true},
		{Path: bp, Injected: true},
		{Path: bp, Injected: true},
		{Path: bp, Status: 200},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Calls (-want +got):\n%s", diff)
	}
}
