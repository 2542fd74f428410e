package notifytest

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// WeCom error codes the fake answers with (chat-apis §5.2, and WeCom's
// global code table for the image ones).
const (
	wecomOK           = 0
	wecomBusy         = -1    // system busy; the zero Fault
	wecomBadImageType = 40004 // 不合法的媒体文件类型: not JPG or PNG
	wecomBadMediaID   = 40007 // 不合法的媒体文件id
	wecomBadMsgType   = 40008 // 不合法的消息类型
	wecomBadImageSize = 40009 // 上传图片大小不是有效值
	wecomInvalidParam = 40058 // "… exceed max length …" and other bad parameters
	wecomEmpty        = 44004 // 文本消息content参数为空
	wecomBodyTooLarge = 45002 // 消息内容大小超过限制
	wecomArticles     = 45008 // 图文消息文章数量不符合
	wecomTooFast      = 45009 // api freq out of limit
	wecomBadKey       = 93000 // invalid webhook url
)

// WeCom's documented limits (chat-apis §5, §5.1).
const (
	wecomRateWindow  = time.Minute // the "per minute" of 20 per minute
	wecomLimit       = 20          // messages per key per window
	wecomTextMax     = 2048        // bytes of text.content
	wecomMarkdownMax = 4096        // bytes of markdown(_v2).content
	wecomMaxArticles = 8           // news articles
	wecomImageMax    = 2 << 20     // bytes of an image before base64
	wecomTitleMax    = 128         // bytes of a news title shown
	// wecomMaxBody bounds the request body the fake reads. WeCom
	// publishes no body limit; 4 MiB holds the largest legal message (a
	// 2 MB image in base64) with room to spare.
	wecomMaxBody = 4 << 20
)

// The group robot webhook's wire names.
const (
	wecomSendPath    = "/cgi-bin/webhook/send"
	wecomKeyParam    = "key"
	wecomContentType = "application/json"
	wecomMoreInfo    = "https://open.work.weixin.qq.com/devtool/query?e="
	// wecomWrongJSON starts an errmsg when WeCom could not read part of
	// the body as the JSON it expects and went on without it.
	wecomWrongJSON = "Warning: wrong json format. "
)

// WeComOptions configure a WeCom fake. The zero value is a fake that behaves
// like today's WeCom with the real clock.
type WeComOptions struct {
	// Now is the fake's clock: the rate limit is measured with it. Nil
	// means time.Now.
	Now func() time.Time
	// Limit is how many requests a robot may receive per rolling minute;
	// the ones after that are refused with 45009. Zero or less means 20.
	Limit int
}

// WeComRobotConfig is one group robot as WeCom knows it. WeCom robots have
// no security settings (no keyword, signature or IP list): the key in the
// URL is the only credential. The zero value is a working robot.
type WeComRobotConfig struct {
	// Removed answers every request with 93000, as WeCom does once the
	// robot is removed from its group and its key stops working. The
	// robot's history is kept for assertions.
	Removed bool
}

// WeComMessage is a message a WeCom robot accepted and would have posted.
type WeComMessage struct {
	At time.Time
	// MsgType is the body's msgtype: text, markdown, markdown_v2, image,
	// news, file, voice or template_card.
	MsgType string
	// Content is what the group reads: the content of text, markdown and
	// markdown_v2; the article titles of news, one per line, cut to the
	// 128 bytes WeCom shows; the main title, its description and the
	// subtitle of a template_card, one per line; empty for image.
	Content string
	// MentionedUserIDs, MentionedMobiles and MentionedAll are the mentions
	// that notify someone. A text message mentions through its
	// mentioned_list and mentioned_mobile_list, where "@all" means
	// everyone; a markdown message only through "<@userid>" written in its
	// content (WeCom ignores the lists there, and has no @all for
	// markdown). Other types mention nobody: markdown_v2 shows "<@…>" as
	// text.
	MentionedUserIDs []string
	MentionedMobiles []string
	MentionedAll     bool
	// Payload is the decoded JSON body; Body is the body as received.
	Payload map[string]any
	Body    []byte
}

// WeCom is a fake WeCom (WeChat Work) group robot webhook: it serves
// POST /cgi-bin/webhook/send?key=… the way qyapi.weixin.qq.com does and
// records what each robot accepted. Add robots with AddRobot; every other
// key is unknown. It is safe for concurrent use.
//
// Every answer is HTTP 200 with {"errcode","errmsg"}; a refusal's errmsg
// ends in WeCom's ", hint: [...], from ip: ..., more info at
// https://open.work.weixin.qq.com/devtool/query?e=<code>". A request is
// checked in this order, the first failure being the answer: key known
// (93000), rate limit (45009), body size (45002), then the body: msgtype
// (40008), and the fields of that msgtype — empty content (44004), content
// too long (40058 "<type>.content exceed max length <n>. invalid Request
// Parameter"), article count (45008), images and media (40004, 40007,
// 40009) and other malformed fields (40058).
//
// WeCom counts every request to a robot toward its 20 a minute, refused
// ones included (chat-apis §5), so the rate limit is checked, and the
// request counted, before the body is read: a client that keeps retrying
// while limited stays limited until it pauses for a minute.
//
// Where WeCom's behaviour is undocumented the fake picks the stricter
// reading, so that a client passing against it does not depend on
// leniency; each choice is noted where it is made. Two checks it does not
// make, for want of a documented answer: the method (a GET reads as a body
// without msgtype) and the Content-Type (WeCom asks for application/json
// but names no refusal). It serves no upload_media, so file and voice
// messages always fail with 40007.
type WeCom struct {
	now   func() time.Time
	limit int

	mu     sync.Mutex
	robots map[string]*wecomRobot
	ledger ledger // by key
	seq    int    // numbers the hints of refusals
}

// wecomRobot is one robot's configuration and history. WeCom.mu guards it.
type wecomRobot struct {
	cfg WeComRobotConfig
	// counted holds the times of the requests within the last window,
	// oldest first.
	counted  []time.Time
	accepted []WeComMessage
}

// NewWeCom returns a fake with no robots.
func NewWeCom(opts WeComOptions) *WeCom {
	f := &WeCom{
		now:    opts.Now,
		limit:  opts.Limit,
		robots: make(map[string]*wecomRobot),
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.limit <= 0 {
		f.limit = wecomLimit
	}
	return f
}

// StartWeCom starts a fake on a free port of 127.0.0.1. Close the Server
// when done; robots are added on the returned fake.
func StartWeCom(opts WeComOptions) (*WeCom, *Server, error) {
	f := NewWeCom(opts)
	s, err := serve(f)
	if err != nil {
		return nil, nil, err
	}
	return f, s, nil
}

// WebhookURL returns the robot webhook for key on a fake served at base (a
// Server's URL), shaped like WeCom's
// "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…".
func (f *WeCom) WebhookURL(base, key string) string {
	return strings.TrimSuffix(base, "/") + wecomSendPath + "?" +
		url.Values{wecomKeyParam: {key}}.Encode()
}

// AddRobot makes key a known robot with the settings r. Adding a key again
// replaces its settings and keeps its history, rate-limit state included.
func (f *WeCom) AddRobot(key string, r WeComRobotConfig) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rb := f.robots[key]
	if rb == nil {
		rb = &wecomRobot{}
		f.robots[key] = rb
	}
	rb.cfg = r
}

// Accepted returns the messages the robot key accepted, oldest first.
func (f *WeCom) Accepted(key string) []WeComMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	if rb := f.robots[key]; rb != nil {
		return slices.Clone(rb.accepted)
	}
	return nil
}

// Attempts returns every request answered for key, oldest first, whatever
// the answer. Requests without a key are filed under "".
func (f *WeCom) Attempts(key string) []Attempt {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ledger.attemptsFor(key)
}

// FailNext makes the next n requests for key (known or not) fail with fault
// before any check runs. An ErrCode fault's errmsg gets WeCom's hint suffix,
// and the zero Fault is WeCom's "try again": errcode -1, system busy.
// Faulted requests are recorded as attempts but neither accepted nor
// counted toward the rate limit: they stand for failures in front of WeCom
// or for WeCom's own hiccups. Calls queue up in order.
func (f *WeCom) FailNext(key string, n int, fault Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ledger.failNext(key, n, fault)
}

// wecomReply is the JSON body of every WeCom answer.
type wecomReply struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// ServeHTTP answers one request the way WeCom does.
func (f *WeCom) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != wecomSendPath {
		http.NotFound(w, r)
		return
	}
	key := r.URL.Query().Get(wecomKeyParam)
	ip := remoteIP(r)
	if fault, ok := f.takeFault(key); ok {
		f.fail(w, r, key, ip, fault)
		return
	}
	// Read one byte past the limit: enough to tell an oversized body. A
	// GET has no body; WeCom's lenient reading makes that a message
	// without a msgtype (40008), so the method is not checked apart.
	body, err := io.ReadAll(io.LimitReader(r.Body, wecomMaxBody+1))
	if err != nil {
		return // the client went away; there is nobody to answer
	}
	writeWeComReply(w, f.handle(key, ip, body))
}

func writeWeComReply(w http.ResponseWriter, reply wecomReply) {
	w.Header().Set("Content-Type", wecomContentType)
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(reply) // a failed write means the client left
}

func (f *WeCom) takeFault(key string) (Fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ledger.takeFault(key)
}

// fail carries out fault. The attempt is recorded before a hang, so a test
// can see the request arrived while the client still waits.
func (f *WeCom) fail(w http.ResponseWriter, r *http.Request, key string, ip netip.Addr, fault Fault) {
	now := f.now()
	a := Attempt{At: now, RemoteIP: ipString(ip), Injected: true}
	var reply wecomReply
	switch {
	case fault.Drop, fault.Hang: // no answer, so no status
	case fault.Status != 0:
		a.Status = fault.Status
	default:
		code, msg := fault.ErrCode, fault.ErrMsg
		if code == 0 && msg == "" {
			code, msg = wecomBusy, "system busy"
		}
		f.mu.Lock()
		reply = f.refuse(code, msg, ip, now)
		f.mu.Unlock()
		a.Status, a.ErrCode, a.ErrMsg = http.StatusOK, reply.ErrCode, reply.ErrMsg
	}
	f.record(key, a)
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
		writeWeComReply(w, reply)
	}
}

func (f *WeCom) record(key string, a Attempt) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ledger.record(key, a)
}

// handle decides the answer to one request, updates the robot's state and
// records the attempt, all under one lock so that concurrent sends see a
// consistent rate limit.
func (f *WeCom) handle(key string, ip netip.Addr, body []byte) wecomReply {
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	reply := f.decide(key, ip, body, now)
	f.ledger.record(key, Attempt{
		At:       now,
		RemoteIP: ipString(ip),
		Status:   http.StatusOK,
		ErrCode:  reply.ErrCode,
		ErrMsg:   reply.ErrMsg,
	})
	return reply
}

// decide runs the checks in the order given in the WeCom type's doc comment
// and, if all pass, accepts the message. f.mu is held.
func (f *WeCom) decide(key string, ip netip.Addr, body []byte, now time.Time) wecomReply {
	// A missing key, a wrong one and one whose robot was removed all
	// look the same to WeCom: the URL names no robot.
	rb := f.robots[key]
	if rb == nil || rb.cfg.Removed {
		return f.refuse(wecomBadKey, "invalid webhook url", ip, now)
	}
	rb.counted = slices.DeleteFunc(rb.counted, func(t time.Time) bool {
		return now.Sub(t) >= wecomRateWindow
	})
	over := len(rb.counted) >= f.limit
	rb.counted = append(rb.counted, now)
	if over {
		return f.refuse(wecomTooFast, "api freq out of limit", ip, now)
	}
	if len(body) > wecomMaxBody {
		return f.refuse(wecomBodyTooLarge, "content size out of limit", ip, now)
	}
	msg, code, errmsg := parseWeComMessage(body)
	if code != wecomOK {
		return f.refuse(code, errmsg, ip, now)
	}
	rb.accepted = append(rb.accepted, msg.accepted(now, body))
	return wecomReply{wecomOK, "ok"}
}

// refuse builds a refusal with WeCom's errmsg suffix: a hint WeCom's support
// can look the request up by, the address the request came from, and the
// page explaining the code. The hint's shape ("<unix time>_<n>_<32 hex
// digits>") follows observed answers; its content is the fake's own.
// f.mu is held.
func (f *WeCom) refuse(code int, msg string, ip netip.Addr, now time.Time) wecomReply {
	f.seq++
	sum := sha256.Sum256([]byte(strconv.Itoa(f.seq) + "/" + now.String()))
	hint := fmt.Sprintf("%d_%d_%x", now.Unix(), f.seq, sum[:16])
	return wecomReply{code, fmt.Sprintf("%s, hint: [%s], from ip: %s, more info at %s%d",
		msg, hint, ipString(ip), wecomMoreInfo, code)}
}
