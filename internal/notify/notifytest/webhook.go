package notifytest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// The wire names of Tocsin's generic webhook (internal/notify/webhook's
// package doc is its specification).
const (
	webhookMessageIDHeader = "X-Tocsin-Message-Id"
	webhookTimestampHeader = "X-Tocsin-Timestamp"
	webhookSignatureHeader = "X-Tocsin-Signature"
	webhookSignaturePrefix = "sha256="
	webhookVersion         = "4" // Alertmanager's webhook payload version
)

// Defaults of WebhookOptions.
const (
	webhookTolerance = 5 * time.Minute
	// webhookMaxBody is nginx's default client_max_body_size, the limit
	// most receivers sit behind.
	webhookMaxBody = 1 << 20
)

// WebhookOptions configure a Webhook fake. The zero value accepts every
// well-formed notification, unsigned or not, on the real clock.
type WebhookOptions struct {
	// Now is the fake's clock, against which signature timestamps are
	// checked. Nil means time.Now.
	Now func() time.Time
	// Secret makes the fake require a valid signature on every request,
	// as a receiver configured with the channel's secret does. Empty
	// means signatures are recorded but not checked.
	Secret string
	// Tolerance is how far a signed timestamp may be from Now, either
	// way. Zero or less means 5 minutes.
	Tolerance time.Duration
	// MaxBody is the largest body accepted; a larger one is answered
	// 413. Zero or less means 1 MiB.
	MaxBody int
}

// WebhookFault is a failure the fake produces on purpose (see FailNext).
// Set at most one of Drop and Hang; with neither, the fake answers Status
// (503 when zero) with Body (the status text when empty) and, when set,
// a Retry-After header.
type WebhookFault struct {
	// Drop closes the connection without an answer.
	Drop bool
	// Hang holds the request, unanswered, until the client gives up or
	// the server is closed.
	Hang bool
	// Status is the HTTP status to answer.
	Status int
	// RetryAfter is the Retry-After header, verbatim: seconds ("30") or
	// an HTTP date, so that clients can be tested with either.
	RetryAfter string
	// Body is the answer's body.
	Body string
}

// WebhookRequest is one request the fake answered, as received.
type WebhookRequest struct {
	At     time.Time
	Method string
	// Target is the request URI: path and query. Any path is accepted,
	// so one fake can stand for several channels.
	Target string
	Header http.Header
	Body   []byte // at most MaxBody+1 bytes
	// MessageID is X-Tocsin-Message-Id. The fake deduplicates nothing:
	// that is the receiver's choice, and tests count the repeats.
	MessageID string
	// Signed reports whether both signature headers were present;
	// Verified whether they verified against the configured Secret.
	Signed   bool
	Verified bool
	// Notification is the decoded body; nil unless it is a well-formed
	// notification.
	Notification *WebhookNotification
	// Status is the HTTP status answered, 0 when a fault dropped or held
	// the request. Problem says why a request was refused ("" when it
	// was accepted or a fault chose the answer).
	Status  int
	Problem string
	// Injected marks an answer chosen by a WebhookFault.
	Injected bool
}

// WebhookNotification is a body as a receiver written for Alertmanager
// reads it, plus Tocsin's own part.
type WebhookNotification struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Alerts            []WebhookAlert    `json:"alerts"`
	// Tocsin is nil when the body has no "tocsin" object (a body from
	// Alertmanager itself).
	Tocsin *WebhookTocsin `json:"tocsin"`
}

// WebhookAlert is one alert of a notification.
type WebhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// WebhookTocsin is the "tocsin" object: the rendered message.
type WebhookTocsin struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Text    string `json:"text"`
	Buttons []struct {
		Title string `json:"title"`
		URL   string `json:"url"`
	} `json:"buttons"`
	Mentions []struct {
		Name           string `json:"name"`
		Mobile         string `json:"mobile"`
		Email          string `json:"email"`
		DingTalkUserID string `json:"dingtalkUserId"`
		LarkOpenID     string `json:"larkOpenId"`
		WeComUserID    string `json:"wecomUserId"`
	} `json:"mentions"`
	MentionAll bool `json:"mentionAll"`
}

// Webhook is a fake receiver for Tocsin's generic webhook: it takes
// POSTs on any path, checks them the way a careful receiver would, and
// records every request with its answer. It is safe for concurrent use.
//
// A request is checked in this order; the first failure is the answer:
// a queued fault (before anything else, the body read and recorded),
// method (405), body size (413), Content-Type application/json (415),
// then, with a Secret, the signature (401: headers missing, timestamp
// outside the tolerance, or signature wrong), then the body (400: not
// JSON, version not "4", status neither firing nor resolved, alerts
// missing, or an alert without labels, a firing or resolved status, or a
// fingerprint). A request that passes is answered 200 with an empty body.
type Webhook struct {
	now       func() time.Time
	secret    string
	tolerance time.Duration
	maxBody   int

	mu       sync.Mutex
	attempts []WebhookRequest
	faults   []WebhookFault // next first
}

// NewWebhook returns a fake receiver.
func NewWebhook(opts WebhookOptions) *Webhook {
	f := &Webhook{now: opts.Now, secret: opts.Secret, tolerance: opts.Tolerance, maxBody: opts.MaxBody}
	if f.now == nil {
		f.now = time.Now
	}
	if f.tolerance <= 0 {
		f.tolerance = webhookTolerance
	}
	if f.maxBody <= 0 {
		f.maxBody = webhookMaxBody
	}
	return f
}

// StartWebhook starts a fake receiver on a free port of 127.0.0.1. Close
// the Server when done; post to any path under its URL.
func StartWebhook(opts WebhookOptions) (*Webhook, *Server, error) {
	f := NewWebhook(opts)
	s, err := serve(f)
	if err != nil {
		return nil, nil, err
	}
	return f, s, nil
}

// Received returns the requests the fake accepted, oldest first.
func (f *Webhook) Received() []WebhookRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []WebhookRequest
	for _, a := range f.attempts {
		if !a.Injected && a.Status == http.StatusOK {
			out = append(out, a)
		}
	}
	return out
}

// Attempts returns every request the fake answered, oldest first,
// whatever the answer.
func (f *Webhook) Attempts() []WebhookRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.attempts)
}

// FailNext makes the next n requests fail with fault before any check
// runs. Faulted requests are recorded as attempts but not received. Calls
// queue up in order.
func (f *Webhook) FailNext(n int, fault WebhookFault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.faults = append(f.faults, fault)
	}
}

// ServeHTTP answers one request the way a careful receiver does.
func (f *Webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Read one byte past the limit: enough to tell an oversized body,
	// no more.
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(f.maxBody)+1))
	if err != nil {
		return // the client went away; there is nobody to answer
	}
	req := WebhookRequest{
		At:        f.now(),
		Method:    r.Method,
		Target:    r.URL.RequestURI(),
		Header:    r.Header.Clone(),
		Body:      body,
		MessageID: r.Header.Get(webhookMessageIDHeader),
		Signed:    r.Header.Get(webhookTimestampHeader) != "" && r.Header.Get(webhookSignatureHeader) != "",
	}
	if fault, ok := f.takeFault(); ok {
		f.fail(w, r, req, fault)
		return
	}
	req.Status, req.Problem = f.check(&req)
	f.record(req)
	if req.Status != http.StatusOK {
		http.Error(w, req.Problem, req.Status)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// check runs the checks in the order given in the Webhook type's doc
// comment, filling req's Verified and Notification as it goes.
func (f *Webhook) check(req *WebhookRequest) (status int, problem string) {
	if req.Method != http.MethodPost {
		return http.StatusMethodNotAllowed, "method " + req.Method + ": POST only"
	}
	if len(req.Body) > f.maxBody {
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", f.maxBody)
	}
	if mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q: want application/json", req.Header.Get("Content-Type"))
	}
	if f.secret != "" {
		if problem := f.verify(req.Header, req.Body, req.At); problem != "" {
			return http.StatusUnauthorized, problem
		}
		req.Verified = true
	}
	n, problem := parseWebhookNotification(req.Body)
	if problem != "" {
		return http.StatusBadRequest, problem
	}
	req.Notification = n
	return http.StatusOK, ""
}

// verify checks the signature headers against the fake's secret at now,
// and says what is wrong, or "". Written from the webhook package doc,
// independently of the client: hex(HMAC-SHA256(secret, timestamp + "." +
// body)) after "sha256=", the timestamp in Unix seconds.
func (f *Webhook) verify(h http.Header, body []byte, now time.Time) string {
	ts, sig := h.Get(webhookTimestampHeader), h.Get(webhookSignatureHeader)
	if ts == "" || sig == "" {
		return "request not signed: " + webhookTimestampHeader + " and " + webhookSignatureHeader + " are required"
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "timestamp " + strconv.Quote(ts) + " is not Unix seconds"
	}
	if at := time.Unix(sec, 0); at.Before(now.Add(-f.tolerance)) || at.After(now.Add(f.tolerance)) {
		return fmt.Sprintf("timestamp %s is more than %v from the receiver's clock", ts, f.tolerance)
	}
	// Lower-case hex only, as documented: comparing the header text
	// catches a client that encodes differently.
	if !hmac.Equal([]byte(sig), []byte(f.sign(ts, body))) {
		return "signature does not verify"
	}
	return ""
}

// sign is the signature header value for body sent at timestamp ts.
func (f *Webhook) sign(ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(f.secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	return webhookSignaturePrefix + hex.EncodeToString(m.Sum(nil))
}

// parseWebhookNotification decodes body as a receiver written for
// Alertmanager would, and refuses what such a receiver could not use.
// Unknown fields are ignored, as they are by Alertmanager's receivers.
func parseWebhookNotification(body []byte) (*WebhookNotification, string) {
	var n WebhookNotification
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&n); err != nil {
		return nil, "body is not a notification: " + err.Error()
	}
	if dec.More() {
		return nil, "body holds more than one JSON value"
	}
	switch {
	case n.Version != webhookVersion:
		return nil, fmt.Sprintf("version %q: want %q", n.Version, webhookVersion)
	case !webhookStatus(n.Status):
		return nil, fmt.Sprintf("status %q: want firing or resolved", n.Status)
	case n.Alerts == nil:
		return nil, "alerts missing: want an array, empty for a test"
	}
	for i, a := range n.Alerts {
		if len(a.Labels) == 0 || !webhookStatus(a.Status) || a.Fingerprint == "" {
			return nil, fmt.Sprintf("alerts[%d]: want labels, a firing or resolved status and a fingerprint", i)
		}
	}
	return &n, ""
}

func webhookStatus(s string) bool { return s == "firing" || s == "resolved" }

func (f *Webhook) takeFault() (WebhookFault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.faults) == 0 {
		return WebhookFault{}, false
	}
	fault := f.faults[0]
	f.faults = f.faults[1:]
	return fault, true
}

// fail carries out fault. The attempt is recorded before a hang, so a
// test can see the request arrived while the client still waits.
func (f *Webhook) fail(w http.ResponseWriter, r *http.Request, req WebhookRequest, fault WebhookFault) {
	req.Injected = true
	switch {
	case fault.Drop:
		f.record(req)
		// net/http closes the connection without a response and does
		// not log this panic.
		panic(http.ErrAbortHandler)
	case fault.Hang:
		f.record(req)
		// The body is read, so net/http watches the connection and
		// cancels the context when the client hangs up.
		<-r.Context().Done()
	default:
		req.Status = fault.Status
		if req.Status == 0 {
			req.Status = http.StatusServiceUnavailable
		}
		f.record(req)
		if fault.RetryAfter != "" {
			w.Header().Set("Retry-After", fault.RetryAfter)
		}
		text := fault.Body
		if text == "" {
			text = http.StatusText(req.Status)
		}
		http.Error(w, text, req.Status)
	}
}

func (f *Webhook) record(req WebhookRequest) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts = append(f.attempts, req)
}
