package notifytest

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// The DingTalk app API's paths the fake serves (chat-apis §2.1–§2.3).
const (
	DingTalkAppTokenPath     = "/v1.0/oauth2/accessToken"
	DingTalkAppBatchSendPath = "/v1.0/robot/oToMessages/batchSend"
	DingTalkAppGroupSendPath = "/v1.0/robot/groupMessages/send"
)

// The app API's documented limits and wire names (chat-apis §2, §7).
const (
	dingTalkAppTokenHeader = "x-acs-dingtalk-access-token"
	dingTalkAppExpireIn    = 7200 * time.Second
	dingTalkAppMaxUsers    = 20    // userIds per batchSend
	dingTalkAppMaxParam    = 15000 // bytes of a group message's msgParam
	// dingTalkAppMaxBody bounds what the fake reads of a request. DingTalk
	// documents no body limit for these APIs; this only keeps a runaway
	// client from filling the fake's memory.
	dingTalkAppMaxBody = 1 << 20
)

// dingTalkAppMsgKeys are DingTalk's 13 robot message templates (chat-apis
// §2.4). There is no sampleActionCard1.
var dingTalkAppMsgKeys = map[string]bool{
	"sampleText": true, "sampleMarkdown": true, "sampleImageMsg": true, "sampleLink": true,
	"sampleActionCard": true, "sampleActionCard2": true, "sampleActionCard3": true,
	"sampleActionCard4": true, "sampleActionCard5": true, "sampleActionCard6": true,
	"sampleAudio": true, "sampleFile": true, "sampleVideo": true,
}

// DingTalkAppOptions configure a DingTalk app API fake. The zero value is
// a fake with DingTalk's two-hour tokens and the real clock.
type DingTalkAppOptions struct {
	// Now is the fake's clock: token lifetimes are measured with it. Nil
	// means time.Now.
	Now func() time.Time
	// ExpireIn is how long a token lives; zero or less means 7200 s, as
	// DingTalk answers. The token endpoint reports it in whole seconds.
	ExpireIn time.Duration
}

// DingTalkAppFault is a failure the fake produces on purpose (see
// FailNext). Set at most one of Drop and Hang; with neither, the fake
// answers Status with DingTalk's {code, message, requestid} body when Code
// is set, or a plain-text body as a proxy or gateway would when it is not.
// The zero fault is a plain HTTP 500.
type DingTalkAppFault struct {
	// Drop closes the connection without an answer.
	Drop bool
	// Hang holds the request, unanswered, until the client gives up or
	// the server is closed.
	Hang bool
	// Status is the HTTP status; zero means 400 when Code is set, else
	// 500.
	Status int
	// Code and Message make a DingTalk error body: Code
	// "send.too.fast" with Status 0 is DingTalk's rate-limit refusal.
	Code    string
	Message string
}

// DingTalkAppMessage is a message the fake accepted for one user or one
// group.
type DingTalkAppMessage struct {
	At time.Time
	// ClientID is the app whose token sent it; RobotCode the robot the
	// request named.
	ClientID  string
	RobotCode string
	// MsgKey and MsgParam are as received; Param is MsgParam decoded,
	// shared by every record of the same call, not to be modified.
	MsgKey   string
	MsgParam string
	Param    map[string]any
	// ProcessQueryKey is what the call was answered with; the users of
	// one batchSend call share it.
	ProcessQueryKey string
}

// DingTalkAppCall is one request the fake answered.
type DingTalkAppCall struct {
	At   time.Time
	Path string
	// ClientID is the app the request was for: the appKey of a token
	// request, the owner of a valid access token otherwise; "" if none.
	ClientID string
	// Status is the HTTP status answered, 0 when a fault dropped or held
	// the request; Code is the error code answered, "" on success.
	Status int
	Code   string
	// UserIDs are a batchSend request's userIds as sent, if readable.
	UserIDs []string
	// Injected marks an answer chosen by a fault, not by the simulated
	// platform.
	Injected bool
}

// DingTalkApp is a fake of the DingTalk app API at api.dingtalk.com: the
// access token endpoint, 1:1 robot messages (batchSend) and robot group
// messages, with apps, their robots, the organisation's users and groups
// added by the test. It records what each user and group received and
// every call it answered. It is safe for concurrent use.
//
// Every refusal is a non-2xx status (400 unless noted) with JSON
// {code, message, requestid} and the x-acs-request-id header. The token
// endpoint checks, in order: a JSON body (Missingbody), then the appKey
// and appSecret (invalidClientIdOrSecret). Within a token's lifetime it
// answers the same token and extends it, as DingTalk does. The message
// endpoints check, in order: the x-acs-dingtalk-access-token header
// (InvalidAuthentication, for a missing, unknown, revoked or expired
// token), a JSON body (Missingbody), the robotCode (empty, unknown, or
// another app's: invalidParameter.robotCode.*), the recipients (batchSend:
// 1 to 20 userIds, invalidParameter.userIds.empty/overMax; group: a known
// openConversationId, invalid.openConversationId, with the robot in it,
// invalidParameter.robotCode.notExsit), the msgKey (one of the 13,
// invalidParameter.msgKey.empty/invalid), and the msgParam (a string
// holding a JSON object, at most 15000 bytes for groups:
// invalidParameter.msgParam.invalid). batchSend then lists users the
// organisation does not have in invalidStaffIdList and flow-controlled
// users in flowControlledStaffIdList, and delivers to the rest.
//
// Unknown paths, and known ones with another method than POST, are 404
// InvalidAction.NotFound, as DingTalk's API gateway routes by both. Where
// DingTalk's codes and messages are not documented (the token endpoint's
// wrong-secret answer, the too-long msgParam, the robot not in the group)
// the fake uses the closest documented or observed one, noted where made.
type DingTalkApp struct {
	now      func() time.Time
	expireIn time.Duration

	mu      sync.Mutex
	apps    map[string]*dingTalkAppApp   // by client ID
	robots  map[string]string            // robot code → client ID
	tokens  map[string]*dingTalkAppToken // by access token
	fetches map[string]int               // token requests by appKey, known or not
	users   map[string]bool              // the organisation's staff IDs
	flow    map[string]bool              // users under flow control
	groups  map[string]map[string]bool   // openConversationId → robot codes in it
	byUser  map[string][]DingTalkAppMessage
	byGroup map[string][]DingTalkAppMessage
	calls   []DingTalkAppCall
	faults  map[string][]DingTalkAppFault // by path, next first
}

// dingTalkAppApp is one app. DingTalkApp.mu guards it.
type dingTalkAppApp struct {
	secret    string
	robotCode string
	token     string   // the token in force, "" if none
	issued    []string // every token issued, oldest first
}

type dingTalkAppToken struct {
	clientID string
	expires  time.Time
}

// NewDingTalkApp returns a fake with no apps, users or groups.
func NewDingTalkApp(opts DingTalkAppOptions) *DingTalkApp {
	f := &DingTalkApp{
		now:      opts.Now,
		expireIn: opts.ExpireIn,
		apps:     make(map[string]*dingTalkAppApp),
		robots:   make(map[string]string),
		tokens:   make(map[string]*dingTalkAppToken),
		fetches:  make(map[string]int),
		users:    make(map[string]bool),
		flow:     make(map[string]bool),
		groups:   make(map[string]map[string]bool),
		byUser:   make(map[string][]DingTalkAppMessage),
		byGroup:  make(map[string][]DingTalkAppMessage),
		faults:   make(map[string][]DingTalkAppFault),
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.expireIn <= 0 {
		f.expireIn = dingTalkAppExpireIn
	}
	return f
}

// StartDingTalkApp starts a fake on a free port of 127.0.0.1; its Server's
// URL is the base URL to give a client in place of
// https://api.dingtalk.com. Close the Server when done.
func StartDingTalkApp(opts DingTalkAppOptions) (*DingTalkApp, *Server, error) {
	f := NewDingTalkApp(opts)
	s, err := serve(f)
	if err != nil {
		return nil, nil, err
	}
	return f, s, nil
}

// AddApp makes clientID an app with the secret and a robot, robotCode
// (empty means clientID, as DingTalk assigns an internal app's robot).
// Adding an app again replaces its secret and robot and keeps its token.
// It panics on what the DingTalk console would not allow: an empty client
// ID or secret, or a robot code another app's robot has.
func (f *DingTalkApp) AddApp(clientID, secret, robotCode string) {
	if clientID == "" || secret == "" {
		panic("notifytest: DingTalk app needs a client ID and a secret")
	}
	if robotCode == "" {
		robotCode = clientID
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if owner, ok := f.robots[robotCode]; ok && owner != clientID {
		panic(fmt.Sprintf("notifytest: DingTalk robot code %q belongs to app %q", robotCode, owner))
	}
	a := f.apps[clientID]
	if a == nil {
		a = &dingTalkAppApp{}
		f.apps[clientID] = a
	}
	delete(f.robots, a.robotCode)
	a.secret, a.robotCode = secret, robotCode
	f.robots[robotCode] = clientID
}

// AddUsers makes userIDs staff of the organisation, visible to every app.
func (f *DingTalkApp) AddUsers(userIDs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range userIDs {
		f.users[u] = true
	}
}

// AddGroup makes openConversationID a group with the robots robotCodes in
// it; adding it again adds the robots.
func (f *DingTalkApp) AddGroup(openConversationID string, robotCodes ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.groups[openConversationID]
	if g == nil {
		g = make(map[string]bool)
		f.groups[openConversationID] = g
	}
	for _, rc := range robotCodes {
		g[rc] = true
	}
}

// SetFlowControlled puts exactly userIDs under DingTalk's per-user flow
// control: batchSend lists them in flowControlledStaffIdList and delivers
// nothing to them. Calling it with none lifts flow control.
func (f *DingTalkApp) SetFlowControlled(userIDs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.flow)
	for _, u := range userIDs {
		f.flow[u] = true
	}
}

// RevokeTokens makes every token of the app invalid, as resetting its
// secret in the console does; the next token request gets a new one.
func (f *DingTalkApp) RevokeTokens(clientID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for tok, t := range f.tokens {
		if t.clientID == clientID {
			delete(f.tokens, tok)
		}
	}
	if a := f.apps[clientID]; a != nil {
		a.token = ""
	}
}

// TokenFetches returns how many token requests named clientID as their
// appKey, whatever the answer.
func (f *DingTalkApp) TokenFetches(clientID string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fetches[clientID]
}

// Tokens returns every token issued to the app, oldest first, so that a
// test can check where they show up.
func (f *DingTalkApp) Tokens(clientID string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if a := f.apps[clientID]; a != nil {
		return slices.Clone(a.issued)
	}
	return nil
}

// AcceptedByUser returns the 1:1 messages delivered to userID, oldest
// first.
func (f *DingTalkApp) AcceptedByUser(userID string) []DingTalkAppMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.byUser[userID])
}

// AcceptedInGroup returns the messages posted to the group, oldest first.
func (f *DingTalkApp) AcceptedInGroup(openConversationID string) []DingTalkAppMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.byGroup[openConversationID])
}

// Calls returns every request answered, oldest first.
func (f *DingTalkApp) Calls() []DingTalkAppCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// FailNext makes the next n requests to path (one of the DingTalkApp…Path
// constants) fail with fault before any check runs. Faulted requests are
// recorded as calls but deliver nothing and fetch no token. Calls queue
// up in order.
func (f *DingTalkApp) FailNext(path string, n int, fault DingTalkAppFault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.faults[path] = append(f.faults[path], fault)
	}
}

// dingTalkAppAnswer is the fake's decision on one request.
type dingTalkAppAnswer struct {
	status int
	body   any // encoded as JSON
	call   DingTalkAppCall
}

// dingTalkAppError is the body of every refusal. The field order is the
// one observed (satorijs/satori#240).
type dingTalkAppError struct {
	Code      string `json:"code"`
	RequestID string `json:"requestid"`
	Message   string `json:"message"`
}

// refuse is an error answer; the request ID is filled in when written.
func (f *DingTalkApp) refuse(status int, code, message string) dingTalkAppAnswer {
	return dingTalkAppAnswer{status: status, body: &dingTalkAppError{Code: code, Message: message}, call: DingTalkAppCall{Status: status, Code: code}}
}

func (f *DingTalkApp) invalidParam(code, message string) dingTalkAppAnswer {
	return f.refuse(http.StatusBadRequest, code, message)
}

// ServeHTTP answers one request the way api.dingtalk.com does.
func (f *DingTalkApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	known := path == DingTalkAppTokenPath || path == DingTalkAppBatchSendPath || path == DingTalkAppGroupSendPath
	if !known || r.Method != http.MethodPost {
		a := f.refuse(http.StatusNotFound, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
		a.call.Path = path
		f.write(w, a, dingTalkAppRequestID())
		return
	}
	if fault, ok := f.takeFault(path); ok {
		f.fail(w, r, fault)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, dingTalkAppMaxBody))
	if err != nil {
		return // the client went away; there is nobody to answer
	}
	var a dingTalkAppAnswer
	if path == DingTalkAppTokenPath {
		a = f.issueToken(r.Header.Get("Content-Type"), body)
	} else {
		a = f.send(path, r.Header.Get(dingTalkAppTokenHeader), r.Header.Get("Content-Type"), body)
	}
	a.call.Path = path
	f.write(w, a, dingTalkAppRequestID())
}

// write answers a and records the call, stamped with the fake's clock.
func (f *DingTalkApp) write(w http.ResponseWriter, a dingTalkAppAnswer, requestID string) {
	if e, ok := a.body.(*dingTalkAppError); ok {
		e.RequestID = requestID
	}
	f.record(a.call)
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.Header().Set("x-acs-request-id", requestID)
	w.Header().Set("x-acs-trace-id", dingTalkAppRandom(16))
	w.WriteHeader(a.status)
	_ = json.NewEncoder(w).Encode(a.body) // a failed write means the client left
}

func (f *DingTalkApp) record(c DingTalkAppCall) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c.At.IsZero() {
		c.At = f.now()
	}
	f.calls = append(f.calls, c)
}

func (f *DingTalkApp) takeFault(path string) (DingTalkAppFault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.faults[path]
	if len(q) == 0 {
		return DingTalkAppFault{}, false
	}
	f.faults[path] = q[1:]
	return q[0], true
}

// fail carries out fault. The call is recorded before a hang, so a test
// can see the request arrived while the client still waits.
func (f *DingTalkApp) fail(w http.ResponseWriter, r *http.Request, fault DingTalkAppFault) {
	c := DingTalkAppCall{Path: r.URL.Path, Injected: true}
	switch {
	case fault.Drop:
		f.record(c)
		panic(http.ErrAbortHandler) // net/http closes the connection quietly
	case fault.Hang:
		f.record(c)
		// Only once the body is read does net/http watch the connection
		// and end the context when the client hangs up.
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	case fault.Code != "":
		c.Status = cmp.Or(fault.Status, http.StatusBadRequest)
		c.Code = fault.Code
		f.write(w, dingTalkAppAnswer{status: c.Status, body: &dingTalkAppError{Code: fault.Code, Message: fault.Message}, call: c}, dingTalkAppRequestID())
	default:
		c.Status = cmp.Or(fault.Status, http.StatusInternalServerError)
		f.record(c)
		http.Error(w, http.StatusText(c.Status), c.Status)
	}
}

// issueToken answers a token request.
func (f *DingTalkApp) issueToken(contentType string, body []byte) dingTalkAppAnswer {
	var req struct {
		AppKey    string `json:"appKey"`
		AppSecret string `json:"appSecret"`
	}
	// A form-encoded request is refused as if it had no body at all
	// (aliyun/alibabacloud-php-sdk#36).
	if !dingTalkAppJSON(contentType, body, &req) {
		return f.refuse(http.StatusBadRequest, "Missingbody", "body is mandatory for this action.")
	}
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fetches[req.AppKey]++
	a := f.apps[req.AppKey]
	if a == nil || req.AppSecret != a.secret {
		// The code real DingTalk answers (seen in
		// DingTalk-Real-AI/dingtalk-workspace-cli#919); the message is a
		// guess.
		ans := f.refuse(http.StatusBadRequest, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
		ans.call.ClientID = req.AppKey
		return ans
	}
	// Within its lifetime the same token comes back, extended
	// ("有效期内重复获取会返回相同的结果并自动续期").
	t := f.tokens[a.token]
	if t == nil || !now.Before(t.expires) {
		delete(f.tokens, a.token)
		a.token = dingTalkAppRandom(16)
		a.issued = append(a.issued, a.token)
		t = &dingTalkAppToken{clientID: req.AppKey}
		f.tokens[a.token] = t
	}
	t.expires = now.Add(f.expireIn)
	return dingTalkAppAnswer{
		status: http.StatusOK,
		body: map[string]any{
			"accessToken": a.token,
			"expireIn":    int64(f.expireIn / time.Second),
		},
		call: DingTalkAppCall{At: now, Status: http.StatusOK, ClientID: req.AppKey},
	}
}

// dingTalkAppSendRequest is the union of batchSend's and group send's
// fields. The recipients are kept raw so that a wrong type is told apart
// from an absent field.
type dingTalkAppSendRequest struct {
	RobotCode          string          `json:"robotCode"`
	UserIDs            json.RawMessage `json:"userIds"`
	OpenConversationID string          `json:"openConversationId"`
	MsgKey             string          `json:"msgKey"`
	MsgParam           json.RawMessage `json:"msgParam"`
}

// send answers a batchSend or group message request, all under one lock
// so concurrent requests see a consistent organisation.
func (f *DingTalkApp) send(path, token, contentType string, body []byte) dingTalkAppAnswer {
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	ans := f.decideSend(path, token, contentType, body, now)
	ans.call.At = now
	return ans
}

// decideSend runs the checks in the order given in the DingTalkApp doc
// comment and, if all pass, delivers. f.mu is held.
func (f *DingTalkApp) decideSend(path, token, contentType string, body []byte, now time.Time) dingTalkAppAnswer {
	t := f.tokens[token]
	if token == "" || t == nil || !now.Before(t.expires) {
		// Observed with HTTP 400 (satorijs/satori#240).
		return f.refuse(http.StatusBadRequest, "InvalidAuthentication", "不合法的access_token")
	}
	clientID := t.clientID
	ans := func(a dingTalkAppAnswer) dingTalkAppAnswer {
		a.call.ClientID = clientID
		return a
	}
	var req dingTalkAppSendRequest
	if !dingTalkAppJSON(contentType, body, &req) {
		return ans(f.refuse(http.StatusBadRequest, "Missingbody", "body is mandatory for this action."))
	}
	switch owner, known := f.robots[req.RobotCode]; {
	case req.RobotCode == "":
		return ans(f.invalidParam("invalidParameter.robotCode.empty", "robotCode is empty"))
	case !known:
		return ans(f.invalidParam("invalidParameter.robotCode.notExsit", "robot 不存在"))
	case owner != clientID:
		return ans(f.invalidParam("invalidParameter.robotCode.auth", "This app's appkey does not match the bot's robotCode"))
	}

	var userIDs []string
	if path == DingTalkAppBatchSendPath {
		switch {
		case len(req.UserIDs) > 0 && json.Unmarshal(req.UserIDs, &userIDs) != nil:
			return ans(f.invalidParam("invalidParameter.param.invalid", "userIds must be an array of strings"))
		case len(userIDs) == 0:
			return ans(f.invalidParam("invalidParameter.userIds.empty", "userIds is empty"))
		case len(userIDs) > dingTalkAppMaxUsers:
			return ans(f.invalidParam("invalidParameter.userIds.overMax", fmt.Sprintf("userIds exceeds %d", dingTalkAppMaxUsers)))
		}
	} else {
		group, known := f.groups[req.OpenConversationID]
		switch {
		case !known:
			return ans(f.invalidParam("invalid.openConversationId", "openConversationId 不合法"))
		case !group[req.RobotCode]:
			// Not documented; DingTalk answers the robot's absence from the
			// group like an unknown robot ("robot 不存在", chat-apis §2.3).
			return ans(f.invalidParam("invalidParameter.robotCode.notExsit", "robot 不存在"))
		}
	}

	switch {
	case req.MsgKey == "":
		return ans(f.invalidParam("invalidParameter.msgKey.empty", "msgKey is empty"))
	case !dingTalkAppMsgKeys[req.MsgKey]:
		return ans(f.invalidParam("invalidParameter.msgKey.invalid", "msgKey is invalid"))
	}
	// msgParam is JSON text inside a JSON string. The fake does not check
	// its fields against the msgKey: clients disagree on some names
	// (chat-apis §2.4), and recording what came lets a test check them.
	var msgParam string
	var param map[string]any
	if json.Unmarshal(req.MsgParam, &msgParam) != nil || json.Unmarshal([]byte(msgParam), &param) != nil || param == nil {
		return ans(f.invalidParam("invalidParameter.msgParam.invalid", "msgParam must be in JSON format"))
	}
	if path == DingTalkAppGroupSendPath && len(msgParam) > dingTalkAppMaxParam {
		// The limit is documented, its error code is not.
		return ans(f.invalidParam("invalidParameter.msgParam.invalid", fmt.Sprintf("msgParam must not exceed %d bytes", dingTalkAppMaxParam)))
	}

	msg := DingTalkAppMessage{At: now, ClientID: clientID, RobotCode: req.RobotCode, MsgKey: req.MsgKey,
		MsgParam: msgParam, Param: param, ProcessQueryKey: dingTalkAppRandom(24)}
	if path == DingTalkAppGroupSendPath {
		f.byGroup[req.OpenConversationID] = append(f.byGroup[req.OpenConversationID], msg)
		return ans(dingTalkAppAnswer{status: http.StatusOK, body: map[string]any{"processQueryKey": msg.ProcessQueryKey},
			call: DingTalkAppCall{Status: http.StatusOK}})
	}
	invalid, flowControlled := []string{}, []string{}
	seen := make(map[string]bool, len(userIDs))
	for _, u := range userIDs {
		switch {
		case seen[u]:
		case !f.users[u]:
			invalid = append(invalid, u)
		case f.flow[u]:
			flowControlled = append(flowControlled, u)
		default:
			f.byUser[u] = append(f.byUser[u], msg)
		}
		seen[u] = true
	}
	return ans(dingTalkAppAnswer{
		status: http.StatusOK,
		body: map[string]any{
			"processQueryKey":           msg.ProcessQueryKey,
			"invalidStaffIdList":        invalid,
			"flowControlledStaffIdList": flowControlled,
		},
		call: DingTalkAppCall{Status: http.StatusOK, UserIDs: userIDs},
	})
}

// dingTalkAppJSON decodes a request body sent as application/json into v,
// reporting false for another content type or a body that is not a JSON
// object.
func dingTalkAppJSON(contentType string, body []byte, v any) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/json" {
		return false
	}
	trimmed := bytes.TrimSpace(body)
	return len(trimmed) > 0 && trimmed[0] == '{' && json.Unmarshal(trimmed, v) == nil
}

// dingTalkAppRandom returns n random bytes in hex: tokens, query keys,
// trace IDs.
func dingTalkAppRandom(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// dingTalkAppRequestID returns a request ID shaped like DingTalk's, an
// upper-case UUID.
func dingTalkAppRequestID() string {
	h := strings.ToUpper(dingTalkAppRandom(16))
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
