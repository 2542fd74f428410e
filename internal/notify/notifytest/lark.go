package notifytest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Lark error codes the fake answers with (chat-apis §4.3).
const (
	larkOK           = 0
	larkBadRequest   = 9499     // malformed body, or over 20 KB
	larkThrottled    = 11232    // rate limited; the zero Fault
	larkBadToken     = 19001    // unknown webhook token
	larkDisabled     = 19007    // bot disabled
	larkBadSign      = 19021    // signature or timestamp
	larkIPRefused    = 19022    // IP not in the allowlist
	larkNoKeyword    = 19024    // no keyword in the message
	larkNotJSON      = 99991300 // the body is not JSON
	larkRouteUnknown = 99991201 // no such path (HTTP 404)
)

// Lark's messages for those codes, as observed (chat-apis §4.3).
const (
	larkMsgBadRequest = "Bad Request"
	larkMsgThrottled  = "frequency limited psm[lark.oapi.app_platform_runtime]appID[1500]"
	larkMsgBadToken   = "param invalid: incoming webhook access token invalid"
	larkMsgDisabled   = "Bot Not Enabled"
	larkMsgBadSign    = "sign match fail or timestamp is not within one hour from current time"
	larkMsgIPRefused  = "Ip Not Allowed"
	larkMsgNoKeyword  = "Key Words Not Found"
	larkMsgNotJSON    = "invalid request body: not json"
	larkMsgNoRoute    = "resource not find"
	// larkMsgNoCard is what Lark says to an interactive message that
	// puts its card in "content" (observed; the code is not, and the
	// fake uses 9499).
	larkMsgNoCard = "params error, unknown card value"
)

// Lark's documented limits (chat-apis §4, §4.1).
const (
	// larkMaxBody is "20 KB" read strictly: Lark does not say whether it
	// means 20,000 or 20,480 bytes, and the fake refuses what either
	// reading might.
	larkMaxBody     = 20000
	larkSignWindow  = 3600 // seconds either side of now
	larkPerSecond   = 5
	larkPerMinute   = 100
	larkMaxKeywords = 10
	larkMaxIPs      = 10
)

// The custom-bot webhook's wire names.
const (
	larkHookPath    = "/open-apis/bot/v2/hook/"
	larkContentType = "application/json; charset=utf-8"
)

// LarkOptions configure a Lark fake. The zero value is a fake that behaves
// like today's Lark with the real clock.
type LarkOptions struct {
	// Now is the fake's clock: signature windows and the rate limits are
	// measured with it. Nil means time.Now.
	Now func() time.Time
	// PerSecond and PerMinute are how many requests a bot may receive
	// per rolling second and per rolling minute. Zero or less means 5
	// and 100.
	PerSecond int
	PerMinute int
	// MaxBodyBytes is the largest request body accepted. Zero or less
	// means 20000. A test can set it lower to see how a client takes a
	// 9499 for a body it thought fitted.
	MaxBodyBytes int
	// BadRequestStatus is the HTTP status of a 9499 answer: 200 (the
	// default when zero) or 400, which some clients report seeing.
	// Clients must handle both.
	BadRequestStatus int
	// OmitLegacyFields leaves StatusCode and StatusMessage out of the
	// success answer, as newer servers do; by default it carries them
	// next to code, msg and data.
	OmitLegacyFields bool
}

// LarkBotConfig is one custom bot's security settings, as a group admin
// would set them in Lark. The zero value is an enabled bot with no
// security setting.
type LarkBotConfig struct {
	// Secret enables signature checking: every request body needs
	// "timestamp" (Unix seconds, a string or a number) and "sign" made
	// with it.
	Secret string
	// Keywords enables the keyword check: a message must contain one of
	// them (case-sensitive substring) in a text or title value. At most
	// 10, none empty.
	Keywords []string
	// IPAllow enables the IP check: the sender's address must equal one
	// of these IPs or fall in one of these CIDR prefixes. At most 10.
	IPAllow []string
	// Disabled answers every request with 19007.
	Disabled bool
}

// LarkMessage is a message a bot accepted and would have posted.
type LarkMessage struct {
	At time.Time
	// MsgType is the body's msg_type: text, post, interactive, image or
	// share_chat.
	MsgType string
	// Title and Text are what the group sees: a card's header title and
	// its text (markdown, plain text and button labels, one per line); a
	// post's title and its paragraphs, one per line, in the language
	// shown (zh_cn, else en_us, else ja_jp, else the first); for text, an
	// empty Title and the content. Mention tags are left as sent.
	Title string
	Text  string
	// AtIDs are the open IDs (or user IDs) mentioned where Lark turns a
	// mention into a notification: <at user_id="…"> tags in a text
	// message, at nodes in a post, <at id=…> tags in a card's markdown
	// and lark_md text. A tag anywhere else (a card's plain_text, say) is
	// shown as text and notifies nobody, so it is not listed. AtAll is
	// an @all in one of those places.
	AtIDs []string
	AtAll bool
	// Payload is the decoded JSON body; Body is the body as received.
	Payload map[string]any
	Body    []byte
}

// Lark is a fake Lark (Feishu) custom-bot webhook: it serves
// POST /open-apis/bot/v2/hook/{token} the way open.feishu.cn does and
// records what each bot accepted. Add bots with AddBot; every other token
// is unknown. It is safe for concurrent use.
//
// A request is checked in this order; the first failure is the answer,
// with HTTP 200 unless noted: path and method (HTTP 404, 99991201), token
// known (19001), bot enabled (19007), rate limits (11232), body size
// (9499), Content-Type and JSON (99991300), then the bot's security
// settings — IP (19022), signature (19021) — then the message's shape
// (9499) and its keyword (19024), which needs the shape.
//
// Lark speaks of "requests" per second and per minute, so every request a
// known, enabled bot receives counts toward its limits, refused ones
// included, except those refused for the limits themselves: a client that
// retries a bad request burns its budget, but one that backs off after a
// throttle gets it back as the windows roll.
//
// Where Lark's behaviour is undocumented the fake picks the stricter
// reading, so a client that passes against it has no hidden dependence on
// leniency; each choice is noted where it is made.
type Lark struct {
	now              func() time.Time
	perSecond        int
	perMinute        int
	maxBody          int
	badRequestStatus int
	omitLegacy       bool

	mu     sync.Mutex
	bots   map[string]*larkBot
	ledger ledger // by token
}

// larkBot is one bot's configuration and history. Lark.mu guards it.
type larkBot struct {
	cfg   LarkBotConfig
	allow []netip.Prefix // cfg.IPAllow parsed; single IPs as /32 or /128
	// counted holds the times of requests that count toward the limits
	// within the last minute, oldest first.
	counted  []time.Time
	accepted []LarkMessage
}

// NewLark returns a fake with no bots. It panics if
// opts.BadRequestStatus is neither 200 nor 400, as that is a mistake in
// the test or command that built it.
func NewLark(opts LarkOptions) *Lark {
	f := &Lark{
		now:              opts.Now,
		perSecond:        opts.PerSecond,
		perMinute:        opts.PerMinute,
		maxBody:          opts.MaxBodyBytes,
		badRequestStatus: opts.BadRequestStatus,
		omitLegacy:       opts.OmitLegacyFields,
		bots:             make(map[string]*larkBot),
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.perSecond <= 0 {
		f.perSecond = larkPerSecond
	}
	if f.perMinute <= 0 {
		f.perMinute = larkPerMinute
	}
	if f.maxBody <= 0 {
		f.maxBody = larkMaxBody
	}
	switch f.badRequestStatus {
	case 0:
		f.badRequestStatus = http.StatusOK
	case http.StatusOK, http.StatusBadRequest:
	default:
		panic(fmt.Sprintf("notifytest: Lark BadRequestStatus %d is neither 200 nor 400", opts.BadRequestStatus))
	}
	return f
}

// StartLark starts a fake on a free port of 127.0.0.1. Close the Server
// when done; bots are added on the returned fake.
func StartLark(opts LarkOptions) (*Lark, *Server, error) {
	f := NewLark(opts)
	s, err := serve(f)
	if err != nil {
		return nil, nil, err
	}
	return f, s, nil
}

// WebhookURL returns the bot webhook for token on a fake served at base
// (a Server's URL), shaped like Lark's
// "https://open.feishu.cn/open-apis/bot/v2/hook/<token>".
func (f *Lark) WebhookURL(base, token string) string {
	return strings.TrimSuffix(base, "/") + larkHookPath + url.PathEscape(token)
}

// AddBot makes token a known bot with the settings c. Adding a token again
// replaces its settings and keeps its history, rate-limit state included.
// It panics on settings Lark would refuse: more than 10 keywords or IPs,
// an empty keyword, or an IPAllow entry that is neither an IP nor a CIDR
// prefix. (Lark also takes patterns like 123.12.1.*; write them as CIDR.)
func (f *Lark) AddBot(token string, c LarkBotConfig) {
	if len(c.Keywords) > larkMaxKeywords {
		panic(fmt.Sprintf("notifytest: Lark bot has %d keywords, at most %d allowed", len(c.Keywords), larkMaxKeywords))
	}
	if slices.Contains(c.Keywords, "") {
		panic("notifytest: Lark bot has an empty keyword")
	}
	if len(c.IPAllow) > larkMaxIPs {
		panic(fmt.Sprintf("notifytest: Lark bot has %d allowed IPs, at most %d allowed", len(c.IPAllow), larkMaxIPs))
	}
	allow := make([]netip.Prefix, 0, len(c.IPAllow))
	for _, s := range c.IPAllow {
		p, err := parseIPOrPrefix(s)
		if err != nil {
			panic(fmt.Sprintf("notifytest: Lark bot IPAllow: %v", err))
		}
		allow = append(allow, p)
	}
	c.Keywords = slices.Clone(c.Keywords)
	c.IPAllow = slices.Clone(c.IPAllow)

	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.bots[token]
	if b == nil {
		b = &larkBot{}
		f.bots[token] = b
	}
	b.cfg, b.allow = c, allow
}

// Accepted returns the messages the bot token accepted, oldest first.
func (f *Lark) Accepted(token string) []LarkMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	if b := f.bots[token]; b != nil {
		return slices.Clone(b.accepted)
	}
	return nil
}

// Attempts returns every request answered for token, oldest first,
// whatever the answer; ErrCode and ErrMsg hold Lark's code and msg.
func (f *Lark) Attempts(token string) []Attempt {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ledger.attemptsFor(token)
}

// FailNext makes the next n requests for token (known or not) fail with
// fault before any check runs. A Fault's ErrCode and ErrMsg are Lark's
// code and msg, and the zero Fault is Lark's throttle, 11232. Faulted
// requests are recorded as attempts but neither accepted nor counted
// toward the rate limits. Calls queue up in order.
func (f *Lark) FailNext(token string, n int, fault Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ledger.failNext(token, n, fault)
}

// larkReply is one answer: its HTTP status and Lark's code and msg.
type larkReply struct {
	status int
	code   int
	msg    string
}

// ServeHTTP answers one request the way Lark does.
func (f *Lark) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.URL.Path, larkHookPath)
	if !ok || token == "" || strings.Contains(token, "/") {
		// Not a webhook at all: nothing to file it under.
		f.write(w, larkReply{http.StatusNotFound, larkRouteUnknown, larkMsgNoRoute})
		return
	}
	ip := remoteIP(r)
	if fault, ok := f.takeFault(token); ok {
		f.fail(w, r, token, ip, fault)
		return
	}
	// Read one byte past the limit: enough to tell an oversized body,
	// no more.
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(f.maxBody)+1))
	if err != nil {
		return // the client went away; there is nobody to answer
	}
	f.write(w, f.handle(larkRequest{
		method:      r.Method,
		token:       token,
		contentType: r.Header.Get("Content-Type"),
		ip:          ip,
		body:        body,
	}))
}

// write sends reply. A success carries data, and by default the legacy
// StatusCode and StatusMessage too; a refusal carries code, msg and data.
func (f *Lark) write(w http.ResponseWriter, reply larkReply) {
	var body any = struct {
		Code int      `json:"code"`
		Msg  string   `json:"msg"`
		Data struct{} `json:"data"`
	}{Code: reply.code, Msg: reply.msg}
	if reply.code == larkOK && !f.omitLegacy {
		body = struct {
			StatusCode    int      `json:"StatusCode"`
			StatusMessage string   `json:"StatusMessage"`
			Code          int      `json:"code"`
			Data          struct{} `json:"data"`
			Msg           string   `json:"msg"`
		}{StatusMessage: reply.msg, Msg: reply.msg}
	}
	w.Header().Set("Content-Type", larkContentType)
	w.WriteHeader(reply.status)
	_ = json.NewEncoder(w).Encode(body) // a failed write means the client left
}

func (f *Lark) takeFault(token string) (Fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ledger.takeFault(token)
}

// fail carries out fault. The attempt is recorded before a hang, so a test
// can see the request arrived while the client still waits.
func (f *Lark) fail(w http.ResponseWriter, r *http.Request, token string, ip netip.Addr, fault Fault) {
	a := Attempt{At: f.now(), RemoteIP: ipString(ip), Injected: true}
	reply := larkReply{http.StatusOK, fault.ErrCode, fault.ErrMsg}
	switch {
	case fault.Drop, fault.Hang: // no answer, so no status
	case fault.Status != 0:
		a.Status = fault.Status
	default:
		if reply.code == 0 && reply.msg == "" {
			reply.code, reply.msg = larkThrottled, larkMsgThrottled
		}
		a.Status, a.ErrCode, a.ErrMsg = reply.status, reply.code, reply.msg
	}
	f.mu.Lock()
	f.ledger.record(token, a)
	f.mu.Unlock()
	switch {
	case fault.Drop:
		// net/http closes the connection without a response and does
		// not log this panic.
		panic(http.ErrAbortHandler)
	case fault.Hang:
		// Read the whole body first: only then does net/http watch the
		// connection and cancel the context when the client hangs up.
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	case fault.Status != 0:
		http.Error(w, http.StatusText(fault.Status), fault.Status)
	default:
		f.write(w, reply)
	}
}

// larkRequest is what the fake looks at in a request.
type larkRequest struct {
	method      string
	token       string
	contentType string
	ip          netip.Addr
	body        []byte // at most maxBody+1 bytes
}

// handle decides the answer to req, updates the bot's state and records
// the attempt, all under one lock so concurrent sends see consistent rate
// limits.
func (f *Lark) handle(req larkRequest) larkReply {
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	reply := f.decide(req, now)
	f.ledger.record(req.token, Attempt{
		At:       now,
		RemoteIP: ipString(req.ip),
		Status:   reply.status,
		ErrCode:  reply.code,
		ErrMsg:   reply.msg,
	})
	return reply
}

// decide runs the checks in the order given in the Lark type's doc comment
// and, if all pass, accepts the message. f.mu is held.
func (f *Lark) decide(req larkRequest, now time.Time) larkReply {
	ok := func(code int, msg string) larkReply { return larkReply{http.StatusOK, code, msg} }
	badRequest := func(msg string) larkReply { return larkReply{f.badRequestStatus, larkBadRequest, msg} }

	// Lark routes POST only; anything else finds no resource.
	if req.method != http.MethodPost {
		return larkReply{http.StatusNotFound, larkRouteUnknown, larkMsgNoRoute}
	}
	b := f.bots[req.token]
	if b == nil {
		return ok(larkBadToken, larkMsgBadToken)
	}
	if b.cfg.Disabled {
		return ok(larkDisabled, larkMsgDisabled)
	}
	if !b.admit(now, f.perSecond, f.perMinute) {
		return ok(larkThrottled, larkMsgThrottled)
	}
	if len(req.body) > f.maxBody {
		return badRequest(larkMsgBadRequest)
	}
	// Lark does not document its Content-Type rule; the fake wants JSON
	// in UTF-8, as Lark's API guide asks of every request.
	var payload map[string]any
	if !isJSONContentType(req.contentType) || json.Unmarshal(req.body, &payload) != nil || payload == nil {
		return ok(larkNotJSON, larkMsgNotJSON)
	}
	if len(b.allow) > 0 && !ipAllowed(b.allow, req.ip) {
		return ok(larkIPRefused, larkMsgIPRefused)
	}
	if b.cfg.Secret != "" && !larkSigned(b.cfg.Secret, payload, now) {
		return ok(larkBadSign, larkMsgBadSign)
	}
	msg, errMsg, valid := parseLarkMessage(payload)
	if !valid {
		return badRequest(errMsg)
	}
	if len(b.cfg.Keywords) > 0 && !containsKeyword(msg.keywordFields, b.cfg.Keywords) {
		return ok(larkNoKeyword, larkMsgNoKeyword)
	}
	b.accepted = append(b.accepted, msg.accepted(now, payload, req.body))
	return ok(larkOK, "success")
}

// admit counts a request toward the bot's limits if it is within them.
// Both windows roll: a request counts for exactly one second, and one
// minute, after it was made.
func (b *larkBot) admit(now time.Time, perSecond, perMinute int) bool {
	b.counted = slices.DeleteFunc(b.counted, func(t time.Time) bool { return now.Sub(t) >= time.Minute })
	lastSecond := 0
	for _, t := range b.counted {
		if now.Sub(t) < time.Second {
			lastSecond++
		}
	}
	if lastSecond >= perSecond || len(b.counted) >= perMinute {
		return false
	}
	b.counted = append(b.counted, now)
	return true
}

// larkSigned checks the body's timestamp and sign. The timestamp may be a
// string or a number of Unix seconds (clients send both and Lark takes
// both); the signature is computed over its decimal form as sent. Exactly
// an hour away is still in time.
func larkSigned(secret string, payload map[string]any, now time.Time) bool {
	sign, _ := payload["sign"].(string)
	var ts string
	switch v := payload["timestamp"].(type) {
	case string:
		ts = v
	case float64:
		if v != math.Trunc(v) || math.Abs(v) > 1<<53 {
			return false
		}
		ts = strconv.FormatInt(int64(v), 10)
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sign == "" {
		return false
	}
	if d := now.Unix() - secs; d > larkSignWindow || d < -larkSignWindow {
		return false
	}
	return hmac.Equal([]byte(sign), []byte(larkSign(secret, ts)))
}

// larkSign is Lark's custom-bot signature (chat-apis §4.1):
// base64(HMAC-SHA256(key = timestamp+"\n"+secret, message = empty)). It is
// written here from the documentation, independently of Tocsin's client.
func larkSign(secret, timestamp string) string {
	m := hmac.New(sha256.New, []byte(timestamp+"\n"+secret))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
