package dingtalkapp

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/notify/fit"
)

// DefaultTimeout bounds one request when Client.Timeout is zero.
const DefaultTimeout = notify.DefaultTimeout

// MaxUsersPerCall is how many users one batchSend call may name.
const MaxUsersPerCall = 20

// maxAnswer bounds how much of an answer is read; a real one is a few
// hundred bytes.
const maxAnswer = 64 << 10

// Client sends messages through DingTalk app robots. One Client serves
// every app, concurrently, and holds the one piece of state the API
// needs: each app's access token. The zero value is usable; a Client must
// not be copied after first use.
type Client struct {
	// HTTP is the shared client, from notify.NewHTTPClient; nil means one
	// notify.DefaultHTTPClient(), shared by the whole process.
	HTTP *http.Client
	// Now is the clock token lifetimes are measured with; nil means
	// time.Now.
	Now func() time.Time
	// Timeout bounds each request, token fetches included; zero means
	// DefaultTimeout.
	Timeout time.Duration

	mu     sync.Mutex // guards tokens and the entries in it
	tokens map[tokenKey]*tokenEntry
}

// Reasons a user named in a batch does not get the message though
// DingTalk accepted the call.
const (
	// ReasonInvalid: DingTalk listed the user in invalidStaffIdList.
	ReasonInvalid = "not a member of the organisation or not visible to the app"
	// ReasonFiltered: DingTalk listed the user in filteredStaffIdList,
	// which it does not document.
	ReasonFiltered = "filtered out by DingTalk, which does not say why"
)

// Report says what became of a 1:1 message, batch by batch.
type Report struct {
	// Batches are the batchSend calls, in order: the users, deduplicated,
	// MaxUsersPerCall at a time.
	Batches []Batch
	// Notes are Rendered.Notes: what DingTalk could not carry as asked.
	Notes []string
}

// Batch is one batchSend call and its answer.
type Batch struct {
	// UserIDs are the users the call was for.
	UserIDs []string
	// Attempted is false when the call was not made, because an earlier
	// batch failed in a way that would fail this one too (Err says how).
	Attempted bool
	// ProcessQueryKey identifies the accepted call, for DingTalk's read
	// status and recall APIs.
	ProcessQueryKey string
	// Refused are users DingTalk will not deliver to, with the reason.
	// Sending again does not help.
	Refused []RefusedUser
	// FlowControlled are users DingTalk skipped for now because of its
	// per-user flow control. The call succeeded for the others; send to
	// these again later, for this message only.
	FlowControlled []string
	// Err is why the call failed or was not made; nil when DingTalk
	// accepted it. With Action Retry, send to these users again later.
	Err *notify.Error
}

// RefusedUser is a user DingTalk would not deliver a message to.
type RefusedUser struct {
	UserID string
	Reason string
}

// Delivered returns the users DingTalk accepted the message for.
func (r Report) Delivered() []string {
	var out []string
	for _, b := range r.Batches {
		if b.Err != nil {
			continue
		}
		for _, u := range b.UserIDs {
			refused := slices.ContainsFunc(b.Refused, func(ru RefusedUser) bool { return ru.UserID == u })
			if !refused && !slices.Contains(b.FlowControlled, u) {
				out = append(out, u)
			}
		}
	}
	return out
}

// Refused returns every user DingTalk refused, with the reason.
func (r Report) Refused() []RefusedUser {
	var out []RefusedUser
	for _, b := range r.Batches {
		out = append(out, b.Refused...)
	}
	return out
}

// FlowControlled returns the users to send this message to again later
// because DingTalk's flow control skipped them.
func (r Report) FlowControlled() []string {
	var out []string
	for _, b := range r.Batches {
		out = append(out, b.FlowControlled...)
	}
	return out
}

// Failed returns the users of the batches that failed or were not sent;
// each batch's Err says why and whether to try again.
func (r Report) Failed() []string {
	var out []string
	for _, b := range r.Batches {
		if b.Err != nil {
			out = append(out, b.UserIDs...)
		}
	}
	return out
}

// batchSendRequest and batchSendAnswer are batchSend's JSON (chat-apis
// §2.2). Every field of the answer is optional.
type batchSendRequest struct {
	RobotCode string   `json:"robotCode"`
	UserIDs   []string `json:"userIds"`
	MsgKey    string   `json:"msgKey"`
	MsgParam  string   `json:"msgParam"`
}

type batchSendAnswer struct {
	ProcessQueryKey string   `json:"processQueryKey"`
	Invalid         []string `json:"invalidStaffIdList"`
	FlowControlled  []string `json:"flowControlledStaffIdList"`
	Filtered        []string `json:"filteredStaffIdList"`
}

// SendToUsers sends msg 1:1 to each of the DingTalk users (staff IDs),
// rendered by Render, in calls of at most MaxUsersPerCall users. Blank and
// repeated IDs are dropped. The Report tells, per call, who DingTalk
// refused, who its flow control skipped and which calls failed.
//
// A failure stops the calls that follow, which are reported as not
// attempted with the same error, since they would meet it too: a
// rate limit, a server or network fault, wrong credentials or robot code,
// a message DingTalk cannot read. The exception is a refusal of one
// call's user list, which says nothing about the others' (user-ids-invalid):
// the remaining calls still go.
//
// batchSend has no idempotency key (the webhook's msgUuid has no
// counterpart here): a call that timed out may have been delivered, and
// sending it again may deliver it twice. Tocsin prefers that to losing it.
//
// err is nil when every call was accepted, even if some users were
// refused or flow-controlled; otherwise it is the first failure. Either
// way the Report says who got the message, so that a retry goes only to
// Report.FlowControlled() and the users of batches whose Err says Retry,
// not to everyone again.
// Every error is a *notify.Error, free of the client secret and the
// access token.
func (c *Client) SendToUsers(ctx context.Context, app App, userIDs []string, msg notify.Message) (Report, error) {
	var rep Report
	for ids := range slices.Chunk(uniqueIDs(userIDs), MaxUsersPerCall) {
		rep.Batches = append(rep.Batches, Batch{UserIDs: ids})
	}
	failAll := func(e *notify.Error) (Report, error) {
		for i := range rep.Batches {
			rep.Batches[i].Err = e
		}
		return rep, e
	}
	if len(rep.Batches) == 0 {
		return rep, invalid("no-recipients", "the message has no DingTalk user to go to",
			"give the people to notify a DingTalk user ID (the staff ID from the address book)")
	}
	if err := app.check(); err != nil {
		return failAll(notify.AsError(err))
	}
	rd, err := Render(msg)
	if err != nil {
		return failAll(notify.AsError(err))
	}
	rep.Notes = rd.Notes

	var first, stop *notify.Error
	for i := range rep.Batches {
		b := &rep.Batches[i]
		if stop != nil {
			b.Err = stop
			continue
		}
		b.Attempted = true
		var a batchSendAnswer
		req := batchSendRequest{RobotCode: app.robotCode(), UserIDs: b.UserIDs, MsgKey: rd.MsgKey, MsgParam: rd.MsgParam}
		if e := c.call(ctx, app, batchSendPath, req, &a); e != nil {
			b.Err = e
			first = cmp.Or(first, e)
			if e.Code != userIDsRefused.Code {
				stop = e
			}
			continue
		}
		b.ProcessQueryKey, b.FlowControlled = a.ProcessQueryKey, a.FlowControlled
		for _, u := range a.Invalid {
			b.Refused = append(b.Refused, RefusedUser{UserID: u, Reason: ReasonInvalid})
		}
		for _, u := range a.Filtered {
			b.Refused = append(b.Refused, RefusedUser{UserID: u, Reason: ReasonFiltered})
		}
	}
	if first != nil {
		return rep, first
	}
	return rep, nil
}

// GroupReceipt says what became of a group message.
type GroupReceipt struct {
	// ProcessQueryKey identifies the message, for DingTalk's read status
	// and recall APIs.
	ProcessQueryKey string
	// Notes are Rendered.Notes, and one about mentions if msg had any.
	Notes []string
}

type groupSendRequest struct {
	RobotCode          string `json:"robotCode"`
	OpenConversationID string `json:"openConversationId"`
	MsgKey             string `json:"msgKey"`
	MsgParam           string `json:"msgParam"`
}

type groupSendAnswer struct {
	ProcessQueryKey string `json:"processQueryKey"`
}

// SendToGroup sends msg, rendered by Render, to the group
// openConversationID ("cid…") the app's robot is in.
//
// The app API's group messages have no way to mention anyone (there is no
// "at" field, and an "@name" written in the text notifies nobody), so
// msg.Mentions are not written and a note says who was not notified:
// send to them with SendToUsers. Every error is a *notify.Error, free of
// the client secret and the access token.
func (c *Client) SendToGroup(ctx context.Context, app App, openConversationID string, msg notify.Message) (GroupReceipt, error) {
	if err := app.check(); err != nil {
		return GroupReceipt{}, err
	}
	cid := strings.TrimSpace(openConversationID)
	if cid == "" {
		return GroupReceipt{}, invalid(conversationRefused.Code, "the channel names no group", conversationRefused.Hint)
	}
	rd, err := Render(msg)
	if err != nil {
		return GroupReceipt{}, err
	}
	rc := GroupReceipt{Notes: rd.Notes}
	if n := mentioned(msg.Mentions); n != "" {
		rc.Notes = append(rc.Notes, "mentions: DingTalk app robots cannot mention anyone in a group, so "+n+" not notified by name; send to them 1:1 instead")
	}
	var a groupSendAnswer
	req := groupSendRequest{RobotCode: app.robotCode(), OpenConversationID: cid, MsgKey: rd.MsgKey, MsgParam: rd.MsgParam}
	if e := c.call(ctx, app, groupSendPath, req, &a); e != nil {
		return rc, e
	}
	rc.ProcessQueryKey = a.ProcessQueryKey
	return rc, nil
}

// mentioned says in words who m mentions ("3 people were", "@all was"),
// or "" for nobody.
func mentioned(m notify.Mentions) string {
	n := len(m.Mobiles) + len(m.UserIDs) + len(m.People)
	switch {
	case m.All && n > 0:
		return fmt.Sprintf("@all and %d more were", n)
	case m.All:
		return "@all was"
	case n == 1:
		return "1 person was"
	case n > 1:
		return fmt.Sprintf("%d people were", n)
	}
	return ""
}

// call posts in to path with the app's access token and decodes the answer
// into out. When DingTalk refuses the token (expired early, revoked, or
// issued before the secret was reset), call drops it, fetches another and
// tries once more; a second refusal is the app's credentials' fault.
func (c *Client) call(ctx context.Context, app App, path string, in, out any) *notify.Error {
	for retried := false; ; retried = true {
		tok, err := c.token(ctx, app)
		if err != nil {
			return err
		}
		err = c.post(ctx, app, path, tok, in, out)
		if err == nil || err.Code != authFailed.Code || retried {
			return err
		}
		c.invalidate(app, tok)
	}
}

// post sends one request within the client's timeout: in as JSON, token
// (if any) in its header. A 2xx answer is decoded into out; anything else
// becomes a classified error, free of the secret and the token.
func (c *Client) post(ctx context.Context, app App, path, token string, in, out any) *notify.Error {
	hide := notify.Redactor{app.ClientSecret.Reveal(), token}
	body, err := marshal(in)
	if err != nil {
		return &notify.Error{Action: notify.Permanent, Code: "internal", Message: "the request does not encode as JSON: this is a bug in Tocsin", Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, app.baseURL()+path, bytes.NewReader(body))
	if err != nil {
		return invalidApp.With(0, "", hide.Err(err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set(tokenHeader, token)
	}
	resp, err := c.client().Do(req)
	if err != nil {
		return transport(err).With(0, "", hide.Err(err))
	}
	defer notify.DrainClose(resp.Body)
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return transport(err).With(0, "", hide.Err(fmt.Errorf("read the answer: %w", err)))
	}
	return read(resp.StatusCode, resp.Header, answer, out, path == tokenPath, hide)
}

// errorAnswer is the body of every refusal (chat-apis §2.5).
type errorAnswer struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"requestid"`
}

// read turns an answer into nil (2xx, decoded into out) or an error. A 2xx
// answer is quoted nowhere, as the token endpoint's carries the token.
// The app API's codes are strings, which notify.Error's PlatformCode (an
// int) cannot hold, so the code goes into Err with the HTTP status and
// DingTalk's request ID (which DingTalk support asks for); PlatformMessage
// is DingTalk's message as received.
func read(status int, h http.Header, body []byte, out any, fromToken bool, hide notify.Redactor) *notify.Error {
	if status >= 200 && status < 300 {
		if !isObject(body) || json.Unmarshal(body, out) != nil {
			return notDingTalk.With(0, "", fmt.Errorf("HTTP %d with %d bytes of %q", status, len(body), h.Get("Content-Type")))
		}
		return nil
	}
	var a errorAnswer
	_ = json.Unmarshal(body, &a) // without them, the status decides
	code := hide.Text(fit.Clean(a.Code))
	v := classify(status, a.Code, fromToken)
	detail := "HTTP " + strconv.Itoa(status)
	if code != "" {
		detail += ", code " + code
	}
	if id := cmp.Or(a.RequestID, h.Get("x-acs-request-id")); id != "" {
		detail += ", request ID " + hide.Text(fit.Clean(id))
	}
	e := v.With(0, hide.Text(fit.Clean(a.Message)), errors.New(detail))
	if d := notify.RetryAfter(h); d > 0 && e.Action == notify.Retry {
		e.RetryAfter = d
	}
	return e
}

var errNoToken = errors.New("the answer has no accessToken")

// isObject reports whether body is, at first sight, a JSON object: a 2xx
// "null" or "[]" decodes without error but is not DingTalk's.
func isObject(body []byte) bool {
	b := bytes.TrimLeft(body, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

// marshal encodes v without HTML escaping, as render does, so msgParam
// travels as written.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	return buf.Bytes(), err
}

// transport picks the verdict on a failure to get an answer at all.
func transport(err error) notify.Verdict {
	return notify.TransportVerdict(err, "DingTalk", addressRefused)
}

// uniqueIDs returns ids trimmed, without blanks or repeats, in order.
func uniqueIDs(ids []string) []string {
	out := make([]string, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if id = strings.TrimSpace(id); id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func (c *Client) client() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return notify.DefaultHTTPClient()
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}
