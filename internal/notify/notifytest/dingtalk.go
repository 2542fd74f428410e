package notifytest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DingTalk error codes the fake answers with (chat-apis §1.9).
const (
	dtOK              = 0
	dtBusy            = -1     // 系统繁忙; the zero Fault
	dtMissingParam    = 40035  // 缺少参数 access_token / json
	dtNeedPost        = 43002  // 需要POST请求
	dtBadContentType  = 43004  // 无效的HTTP HEADER Content-Type
	dtSecurity        = 310000 // IP, signature and keyword checks
	dtDisbanded       = 400013 // 群已被解散
	dtDisabled        = 400102 // 机器人已停用
	dtBadMessage      = 400105 // 不支持的消息类型
	dtTooLong         = 460101 // body over 20000 bytes
	dtTooFast         = 130101 // rate limited, the form seen in practice
	dtTooFastOfficial = 410100 // rate limited, the form in the official table
)

// DingTalk's documented limits (chat-apis §1.2, §1.3, §1.7, §1.8).
const (
	dingTalkMaxBody     = 20000            // bytes of request body
	dingTalkSignWindow  = time.Hour        // allowed |now − timestamp|
	dingTalkRateWindow  = time.Minute      // the "per minute" of 20 per minute
	dingTalkLimit       = 20               // sends per robot per window
	dingTalkBan         = 10 * time.Minute // block after exceeding the limit
	dingTalkMaxKeywords = 10               // keywords a robot may have
)

// The custom-robot webhook's wire names.
const (
	dingTalkSendPath    = "/robot/send"
	dingTalkTokenParam  = "access_token"
	dingTalkContentType = "application/json"
)

// DingTalkOptions configure a DingTalk fake. The zero value is a fake that
// behaves like today's DingTalk with the real clock.
type DingTalkOptions struct {
	// Now is the fake's clock: signature windows, the rate limit and
	// bans are measured with it. Nil means time.Now.
	Now func() time.Time
	// Limit is how many messages a robot may send per rolling minute;
	// the one after that is refused and starts a ban. Zero or less means
	// 20.
	Limit int
	// Ban is how long a robot that exceeded Limit is refused. Zero or
	// less means 10 minutes.
	Ban time.Duration
	// RateLimitCode is the errcode of a rate-limit refusal: 130101 (what
	// clients see in practice, the default when zero) or 410100 (what
	// the official table lists). Clients must handle both.
	RateLimitCode int
	// NewStyleErrors makes security and size refusals carry the newer
	// "description:…;solution:…" errmsgs instead of the older short
	// English ones. DingTalk changed the wording around 2022–2023; a
	// client must not depend on either.
	NewStyleErrors bool
	// UnknownTokenCode is the errcode for an access_token no robot has:
	// 300005 (current servers, the default when zero), 300001 (older
	// servers) or 400101 (the official table).
	UnknownTokenCode int
}

// RobotConfig is one custom robot's settings, as a group admin would set
// them in the DingTalk console. The zero value is an enabled robot with no
// security setting; real DingTalk insists on at least one, the fake does
// not, so tests that do not care about security stay short.
type RobotConfig struct {
	// Secret enables signing ("加签"): every request needs timestamp and
	// sign query parameters made with it. Real secrets start with "SEC".
	Secret string
	// Keywords enables the keyword check: a message must contain one of
	// them (case-sensitive substring) in a visible text field. At most 10,
	// none empty.
	Keywords []string
	// IPAllow enables the IP check: the sender's address must equal one
	// of these IPs or fall in one of these CIDR prefixes.
	IPAllow []string
	// Disabled answers every request with 400102 (robot stopped).
	Disabled bool
	// Disbanded answers every request with 400013 (group disbanded).
	Disbanded bool
}

// AcceptedMessage is a message a robot accepted and would have posted.
type AcceptedMessage struct {
	At time.Time
	// MsgType is the body's msgtype: text, markdown, link, actionCard or
	// feedCard.
	MsgType string
	// Title and Text are what the group sees: markdown, link and
	// actionCard title and text; for text messages Title is empty and
	// Text is the content; for feedCard Title is empty and Text is the
	// links' titles, one per line.
	Title string
	Text  string
	// Payload is the decoded JSON body; Body is the body as received.
	Payload map[string]any
	Body    []byte
	// MsgUUID is the body's msgUuid idempotency key, if any.
	MsgUUID string
	// AtMobiles and AtUserIDs are the mentions that really notify
	// someone: those listed in "at" whose "@<id>" is also written in the
	// text (DingTalk ignores the others). Always empty for link and
	// feedCard, which cannot mention. AtAll is "at.isAtAll", which needs
	// nothing in the text.
	AtMobiles []string
	AtUserIDs []string
	AtAll     bool
}

// Attempt is one request the fake answered for a token.
type Attempt struct {
	At       time.Time
	RemoteIP string
	// Status is the HTTP status answered: 200 unless a Fault said
	// otherwise, 0 when a Fault held or dropped the request.
	Status int
	// ErrCode and ErrMsg are the body's errcode and errmsg when Status
	// is 200.
	ErrCode int
	ErrMsg  string
	// Duplicate marks a request accepted as a repeat of an earlier
	// msgUuid: answered ok, not recorded again.
	Duplicate bool
	// Injected marks an answer chosen by a Fault, not by the simulated
	// platform.
	Injected bool
}

// Fault is a failure the fake produces on purpose (see FailNext). Set at
// most one of Drop, Hang and Status; with none of them the fake answers
// HTTP 200 with ErrCode and ErrMsg, and the zero Fault is DingTalk's own
// "try again": errcode -1, 系统繁忙.
type Fault struct {
	// Drop closes the connection without an answer.
	Drop bool
	// Hang holds the request, unanswered, until the client gives up or
	// the server is closed.
	Hang bool
	// Status answers with this HTTP status and a plain-text body, as a
	// proxy or load balancer in front of DingTalk would.
	Status int
	// ErrCode and ErrMsg make an HTTP 200 answer with this errcode and
	// errmsg.
	ErrCode int
	ErrMsg  string
}

// DingTalk is a fake DingTalk custom-robot webhook: it serves
// POST /robot/send?access_token=… the way oapi.dingtalk.com does and
// records what each robot accepted. Add robots with AddRobot; every other
// token is unknown. It is safe for concurrent use.
//
// A request is checked in this order; the first failure is the answer:
// method (43002), access_token present (40035) and known (300005),
// group disbanded (400013), robot disabled (400102), ban in force
// (rate-limit code), Content-Type (43004), body size (460101), then the
// robot's security settings — IP, signature, keyword (310000) — with the
// body's JSON (40035) and message shape (400105) checked before the
// keyword, which needs them. An accepted message repeating an earlier
// msgUuid is answered ok and not recorded again. Otherwise it counts
// toward the rate limit and, if within it, is recorded.
//
// Where DingTalk's behaviour is undocumented the fake picks the stricter
// reading, so a client that passes against it has no hidden dependence on
// leniency; each choice is noted where it is made.
type DingTalk struct {
	now           func() time.Time
	limit         int
	ban           time.Duration
	rateLimitCode int
	newStyle      bool
	unknownCode   int

	mu     sync.Mutex
	robots map[string]*dingTalkRobot
	ledger ledger // by access_token
}

// dingTalkRobot is one robot's configuration and history. DingTalk.mu
// guards it.
type dingTalkRobot struct {
	cfg   RobotConfig
	allow []netip.Prefix // cfg.IPAllow parsed; single IPs as /32

	// counted holds the times of sends that counted toward the limit
	// within the last window, oldest first.
	counted  []time.Time
	banUntil time.Time
	uuids    map[string]bool // msgUuids of accepted messages
	accepted []AcceptedMessage
}

// NewDingTalk returns a fake with no robots. It panics if
// opts.RateLimitCode or opts.UnknownTokenCode is not one DingTalk uses, as
// that is a mistake in the test or command that built it.
func NewDingTalk(opts DingTalkOptions) *DingTalk {
	f := &DingTalk{
		now:           opts.Now,
		limit:         opts.Limit,
		ban:           opts.Ban,
		rateLimitCode: opts.RateLimitCode,
		newStyle:      opts.NewStyleErrors,
		unknownCode:   opts.UnknownTokenCode,
		robots:        make(map[string]*dingTalkRobot),
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.limit <= 0 {
		f.limit = dingTalkLimit
	}
	if f.ban <= 0 {
		f.ban = dingTalkBan
	}
	switch f.rateLimitCode {
	case 0:
		f.rateLimitCode = dtTooFast
	case dtTooFast, dtTooFastOfficial:
	default:
		panic(fmt.Sprintf("notifytest: DingTalk RateLimitCode %d is neither 130101 nor 410100", opts.RateLimitCode))
	}
	switch f.unknownCode {
	case 0:
		f.unknownCode = 300005
	case 300005, 300001, 400101:
	default:
		panic(fmt.Sprintf("notifytest: DingTalk UnknownTokenCode %d is not 300005, 300001 or 400101", opts.UnknownTokenCode))
	}
	return f
}

// StartDingTalk starts a fake on a free port of 127.0.0.1. Close the
// Server when done; robots are added on the returned fake.
func StartDingTalk(opts DingTalkOptions) (*DingTalk, *Server, error) {
	f := NewDingTalk(opts)
	s, err := serve(f)
	if err != nil {
		return nil, nil, err
	}
	return f, s, nil
}

// WebhookURL returns the robot webhook for token on a fake served at base
// (a Server's URL), shaped like DingTalk's
// "https://oapi.dingtalk.com/robot/send?access_token=…".
func (f *DingTalk) WebhookURL(base, token string) string {
	return strings.TrimSuffix(base, "/") + dingTalkSendPath + "?" +
		url.Values{dingTalkTokenParam: {token}}.Encode()
}

// AddRobot makes token a known robot with the settings r. Adding a token
// again replaces its settings and keeps its history, rate-limit state
// included. It panics on settings the DingTalk console would refuse: more
// than 10 keywords, an empty keyword, or an IPAllow entry that is neither
// an IP nor a CIDR prefix.
func (f *DingTalk) AddRobot(token string, r RobotConfig) {
	if len(r.Keywords) > dingTalkMaxKeywords {
		panic(fmt.Sprintf("notifytest: DingTalk robot has %d keywords, at most %d allowed", len(r.Keywords), dingTalkMaxKeywords))
	}
	if slices.Contains(r.Keywords, "") {
		panic("notifytest: DingTalk robot has an empty keyword")
	}
	allow := make([]netip.Prefix, 0, len(r.IPAllow))
	for _, s := range r.IPAllow {
		p, err := parseIPOrPrefix(s)
		if err != nil {
			panic(fmt.Sprintf("notifytest: DingTalk robot IPAllow: %v", err))
		}
		allow = append(allow, p)
	}
	r.Keywords = slices.Clone(r.Keywords)
	r.IPAllow = slices.Clone(r.IPAllow)

	f.mu.Lock()
	defer f.mu.Unlock()
	rb := f.robots[token]
	if rb == nil {
		rb = &dingTalkRobot{uuids: make(map[string]bool)}
		f.robots[token] = rb
	}
	rb.cfg, rb.allow = r, allow
}

func parseIPOrPrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Accepted returns the messages the robot token accepted, oldest first.
func (f *DingTalk) Accepted(token string) []AcceptedMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	if rb := f.robots[token]; rb != nil {
		return slices.Clone(rb.accepted)
	}
	return nil
}

// Attempts returns every request answered for token, oldest first,
// whatever the answer. Requests without an access_token are filed under "".
func (f *DingTalk) Attempts(token string) []Attempt {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ledger.attemptsFor(token)
}

// FailNext makes the next n requests for token (known or not) fail with
// fault before any check runs. Faulted requests are recorded as attempts
// but neither accepted nor counted toward the rate limit. Calls queue up
// in order.
func (f *DingTalk) FailNext(token string, n int, fault Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ledger.failNext(token, n, fault)
}

// dingTalkReply is the JSON body of every DingTalk answer.
type dingTalkReply struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// ServeHTTP answers one request the way DingTalk does.
func (f *DingTalk) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != dingTalkSendPath {
		http.NotFound(w, r)
		return
	}
	query := r.URL.Query()
	token := query.Get(dingTalkTokenParam)
	ip := remoteIP(r)

	if fault, ok := f.takeFault(token); ok {
		f.fail(w, r, token, ip, fault)
		return
	}
	// Read one byte past the limit: enough to tell an oversized body,
	// no more.
	body, err := io.ReadAll(io.LimitReader(r.Body, dingTalkMaxBody+1))
	if err != nil {
		return // the client went away; there is nobody to answer
	}
	reply := f.handle(dingTalkRequest{
		method:      r.Method,
		token:       token,
		query:       query,
		contentType: r.Header.Get("Content-Type"),
		ip:          ip,
		body:        body,
	})
	writeDingTalkReply(w, reply)
}

func writeDingTalkReply(w http.ResponseWriter, reply dingTalkReply) {
	w.Header().Set("Content-Type", dingTalkContentType)
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(reply) // a failed write means the client left
}

// remoteIP is the sender's address as DingTalk's IP check sees it: the
// TCP peer, IPv4-mapped addresses unmapped. Invalid: r.RemoteAddr is not an
// address (a handler called outside an HTTP server, say).
func remoteIP(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

func (f *DingTalk) takeFault(token string) (Fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ledger.takeFault(token)
}

// fail carries out fault. The attempt is recorded before a hang, so a
// test can see the request arrived while the client still waits.
func (f *DingTalk) fail(w http.ResponseWriter, r *http.Request, token string, ip netip.Addr, fault Fault) {
	a := Attempt{At: f.now(), RemoteIP: ipString(ip), Injected: true}
	switch {
	case fault.Drop:
		f.record(token, a)
		// net/http closes the connection without a response and does
		// not log this panic.
		panic(http.ErrAbortHandler)
	case fault.Hang:
		f.record(token, a)
		// Read the whole body first: only then does net/http watch the
		// connection and cancel the context when the client hangs up.
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	case fault.Status != 0:
		a.Status = fault.Status
		f.record(token, a)
		http.Error(w, http.StatusText(fault.Status), fault.Status)
	default:
		reply := dingTalkReply{ErrCode: fault.ErrCode, ErrMsg: fault.ErrMsg}
		if reply == (dingTalkReply{}) {
			reply = dingTalkReply{ErrCode: dtBusy, ErrMsg: "系统繁忙"}
		}
		a.Status, a.ErrCode, a.ErrMsg = http.StatusOK, reply.ErrCode, reply.ErrMsg
		f.record(token, a)
		writeDingTalkReply(w, reply)
	}
}

func (f *DingTalk) record(token string, a Attempt) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ledger.record(token, a)
}

func ipString(ip netip.Addr) string {
	if !ip.IsValid() {
		return ""
	}
	return ip.String()
}

// dingTalkRequest is what the fake looks at in a request.
type dingTalkRequest struct {
	method      string
	token       string
	query       url.Values
	contentType string
	ip          netip.Addr
	body        []byte // at most dingTalkMaxBody+1 bytes
}

// handle decides the answer to req, updates the robot's state and records
// the attempt, all under one lock so concurrent sends see a consistent
// rate limit.
func (f *DingTalk) handle(req dingTalkRequest) dingTalkReply {
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	reply, dup := f.decide(req, now)
	f.ledger.record(req.token, Attempt{
		At:        now,
		RemoteIP:  ipString(req.ip),
		Status:    http.StatusOK,
		ErrCode:   reply.ErrCode,
		ErrMsg:    reply.ErrMsg,
		Duplicate: dup,
	})
	return reply
}

// decide runs the checks in the order given in the DingTalk type's doc
// comment and, if all pass, accepts the message. dup reports an accepted msgUuid repeat.
// f.mu is held.
func (f *DingTalk) decide(req dingTalkRequest, now time.Time) (reply dingTalkReply, dup bool) {
	if req.method != http.MethodPost {
		return dingTalkReply{dtNeedPost, "需要POST请求"}, false
	}
	if req.token == "" {
		return dingTalkReply{dtMissingParam, "缺少参数 access_token"}, false
	}
	rb := f.robots[req.token]
	if rb == nil {
		msg := "token is not exist"
		if f.unknownCode == 400101 {
			msg = "access_token不存在"
		}
		return dingTalkReply{f.unknownCode, msg}, false
	}
	if rb.cfg.Disbanded {
		return dingTalkReply{dtDisbanded, "群已被解散"}, false
	}
	if rb.cfg.Disabled {
		return dingTalkReply{dtDisabled, "机器人已停用"}, false
	}
	// A banned robot refuses everything, whatever is wrong with the
	// request; the ban does not grow with further attempts (the docs say
	// "限流10分钟" and nothing about extensions).
	if now.Before(rb.banUntil) {
		return f.tooFast(), false
	}
	if !isJSONContentType(req.contentType) {
		return dingTalkReply{dtBadContentType, "无效的HTTP HEADER Content-Type"}, false
	}
	// The errmsg says "body": the whole request body counts, not a field.
	if len(req.body) > dingTalkMaxBody {
		return f.style(dtTooLong, "message too long, exceed 20000 bytes",
			"description: body 大小不合法;solution:请保持大小在 20000bytes 以内;"), false
	}
	if len(rb.allow) > 0 && !ipAllowed(rb.allow, req.ip) {
		return f.style(dtSecurity, fmt.Sprintf("ip %s not in whitelist", ipString(req.ip)),
			"description:ip 不在白名单中;solution:请联系对应群的管理员，设置机器人安全ip地址段"), false
	}
	if rb.cfg.Secret != "" {
		if reply, ok := f.checkSign(rb.cfg.Secret, req.query, now); !ok {
			return reply, false
		}
	}
	msg, reply, ok := parseDingTalkMessage(req.body)
	if !ok {
		return reply, false
	}
	if len(rb.cfg.Keywords) > 0 && !containsKeyword(msg.keywordFields, rb.cfg.Keywords) {
		return f.style(dtSecurity, "keywords not in content",
			"description:关键词不匹配;solution:请联系群管理员查看此机器人的关键词，并在发送的信息中包含此关键词;"), false
	}
	// msgUuid exists so that a retry after a timeout does not post
	// twice: the repeat is answered ok, and as nothing is posted it does
	// not count toward the limit either. The window is undocumented; the
	// fake remembers every msgUuid for the robot's lifetime.
	if msg.uuid != "" && rb.uuids[msg.uuid] {
		return dingTalkReply{dtOK, "ok"}, true
	}
	// Only sends that passed every check count toward the limit: the
	// docs speak of "messages sent", and a refused request sends none.
	// The window is rolling: a send counts for exactly one window after
	// it was made.
	rb.counted = slices.DeleteFunc(rb.counted, func(t time.Time) bool {
		return now.Sub(t) >= dingTalkRateWindow
	})
	if len(rb.counted) >= f.limit {
		rb.banUntil = now.Add(f.ban)
		// The ban outlasts the window; start afresh after it.
		rb.counted = rb.counted[:0]
		return f.tooFast(), false
	}
	rb.counted = append(rb.counted, now)
	if msg.uuid != "" {
		rb.uuids[msg.uuid] = true
	}
	rb.accepted = append(rb.accepted, msg.accepted(now, req.body))
	return dingTalkReply{dtOK, "ok"}, false
}

// style picks the errmsg in the style the fake was asked for.
func (f *DingTalk) style(code int, oldMsg, newMsg string) dingTalkReply {
	if f.newStyle {
		return dingTalkReply{code, newMsg}
	}
	return dingTalkReply{code, oldMsg}
}

func (f *DingTalk) tooFast() dingTalkReply {
	if f.rateLimitCode == dtTooFastOfficial {
		return dingTalkReply{dtTooFastOfficial, "发送速度太快而限流"}
	}
	return dingTalkReply{dtTooFast, fmt.Sprintf("send too fast, exceed %d times per minute", f.limit)}
}

// isJSONContentType accepts application/json with no charset or UTF-8:
// DingTalk requires UTF-8 bodies.
func isJSONContentType(v string) bool {
	mt, params, err := mime.ParseMediaType(v)
	if err != nil || mt != dingTalkContentType {
		return false
	}
	cs, ok := params["charset"]
	return !ok || strings.EqualFold(cs, "utf-8")
}

func ipAllowed(allow []netip.Prefix, ip netip.Addr) bool {
	return slices.ContainsFunc(allow, func(p netip.Prefix) bool { return p.Contains(ip) })
}

// checkSign verifies DingTalk's "加签" parameters. A missing timestamp or
// sign is "sign not match" (observed with the timestamp left out); a
// timestamp that is not a number or is more than an hour away from now,
// either way, is "invalid timestamp".
func (f *DingTalk) checkSign(secret string, q url.Values, now time.Time) (dingTalkReply, bool) {
	mismatch := f.style(dtSecurity, "sign not match",
		"description:机器人发送签名不匹配;solution:请确认签名和生成签名的时间戳必须都放在调用的网址中，请确认机器人的密钥加密和填写正确;")
	expired := f.style(dtSecurity, "invalid timestamp",
		"description:机器人发送签名过期;solution:签名生成时间和发送时间请保持在 timestampms 以内;")

	ts, sign := q.Get("timestamp"), q.Get("sign")
	if ts == "" || sign == "" {
		return mismatch, false
	}
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return expired, false
	}
	// Compared in whole milliseconds, the unit of the timestamp: exactly
	// one hour away is still in time.
	window := dingTalkSignWindow.Milliseconds()
	if nowMS := now.UnixMilli(); ms < nowMS-window || ms > nowMS+window {
		return expired, false
	}
	// q holds sign URL-decoded exactly once, as DingTalk decodes it: a
	// client that encodes twice, or not at all ("+" becomes a space),
	// fails here just as it would against DingTalk.
	if !hmac.Equal([]byte(sign), []byte(dingTalkSign(secret, ts))) {
		return mismatch, false
	}
	return dingTalkReply{}, true
}

// dingTalkSign is DingTalk's custom-robot signature (chat-apis §1.3):
// base64(HMAC-SHA256(key=secret, message=timestamp+"\n"+secret)). It is
// written here from the documentation, independently of Tocsin's client.
func dingTalkSign(secret, timestamp string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp + "\n" + secret))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// containsKeyword reports whether any keyword is in any field. Fields are
// searched one by one, so a keyword split across two fields does not match.
func containsKeyword(fields, keywords []string) bool {
	for _, field := range fields {
		for _, kw := range keywords {
			if strings.Contains(field, kw) {
				return true
			}
		}
	}
	return false
}
