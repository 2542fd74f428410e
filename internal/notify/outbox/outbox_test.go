package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/channel"
	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/store"
	"github.com/tocsinhq/tocsin/internal/store/sqlite"
	"github.com/tocsinhq/tocsin/internal/store/storetest"
)

// t0 is the tests' clock at start, in whole milliseconds as the store keeps
// times.
var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// clock is a clock the test moves.
type clock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// sentPart is one part the fake platform accepted.
type sentPart struct {
	At    time.Time
	MsgID string
	Part  int // 1-based
	Text  string
}

// fakeSender is a platform client as the outbox sees one. It posts each
// message as Parts parts through notify.SendParts, so the outbox's
// PartGate is asked before each part as the real clients ask it (the
// generic webhook's client asks nothing: the worker does, per message). It
// records what it accepted at the clock's time, fails the posts it is told
// to, and refuses, as the platform would, a part beyond the platform's own
// limit.
type fakeSender struct {
	now func() time.Time
	// parts is how many parts each message is posted as; 1 when zero.
	parts int
	// limit parts per window is what the platform takes before it
	// throttles; 0 means no limit.
	limit  int
	window time.Duration

	mu       sync.Mutex // guards the fields below
	accepted []sentPart
	// refused counts parts refused for the platform's limit.
	refused int
	// fails are the outcomes of the next posts, in order; a nil entry
	// lets its post through.
	fails []error
	// early are the outcomes of the next Send calls before anything is
	// posted (a rendering that fails, say); a nil entry goes on.
	early []error
	// block, when set, holds every post until it is closed; entered is
	// told each time a post starts waiting.
	block   chan struct{}
	entered chan struct{}
	// reached are the Message.Reached of every Send call, in order.
	reached [][]string
}

func (f *fakeSender) Send(ctx context.Context, ch *channel.Channel, msg notify.Message) ([]string, error) {
	f.mu.Lock()
	f.reached = append(f.reached, msg.Reached)
	var early error
	if len(f.early) > 0 {
		early, f.early = f.early[0], f.early[1:]
	}
	n := max(1, f.parts)
	f.mu.Unlock()
	if early != nil {
		return nil, early
	}
	parts := make([]int, n)
	for i := range parts {
		parts[i] = i + 1
	}
	post := func(part int) error { return f.post(msg, part) }
	if ch.Kind == channel.KindWebhook {
		for _, p := range parts {
			if err := post(p); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}
	_, err := notify.SendParts(ctx, parts, nil, post)
	return nil, err
}

func (f *fakeSender) post(msg notify.Message, part int) error {
	if f.block != nil {
		f.entered <- struct{}{}
		<-f.block
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.fails) > 0 {
		err := f.fails[0]
		f.fails = f.fails[1:]
		if err != nil {
			return err
		}
	}
	now := f.now()
	if f.limit > 0 {
		n := 0
		for _, p := range f.accepted {
			if now.Sub(p.At) < f.window {
				n++
			}
		}
		if n >= f.limit {
			f.refused++
			return &notify.Error{Action: notify.Retry, Code: "rate-limited", Message: "the platform throttled the robot", RetryAfter: time.Minute}
		}
	}
	f.accepted = append(f.accepted, sentPart{At: now, MsgID: msg.ID, Part: part, Text: msg.Title + "\n" + msg.Text})
	return nil
}

func (f *fakeSender) sent() []sentPart {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.accepted)
}

func (f *fakeSender) refusals() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refused
}

func (f *fakeSender) failNext(errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fails = append(f.fails, errs...)
}

// rig is an outbox on a fresh SQLite store with a fake platform and a
// clock the test moves.
type rig struct {
	t     *testing.T
	st    *sqlite.DB
	clock *clock
	send  *fakeSender
	o     *Outbox
}

// fakeHost is where the test channels point: allowed, and not a
// platform's host, so any budget validates.
const fakeHost = "robot.test"

func newRig(t *testing.T) *rig {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "tocsin.db"), storetest.NewBox(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := &clock{now: t0}
	s := &fakeSender{now: c.Now}
	o := New(Options{Store: st, Sender: s, Render: DefaultRenderer{}, Location: time.UTC,
		PublicURL: "https://tocsin.example.com", Now: c.Now, Metrics: NewMetrics(prometheus.NewRegistry())})
	return &rig{t: t, st: st, clock: c, send: s, o: o}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// channel stores a channel of kind named name on fakeHost, with the
// settings given on top of the kind's required ones.
func (r *rig) channel(kind channel.Kind, name string, settings map[string]any) *channel.Channel {
	r.t.Helper()
	s := map[string]any{}
	switch kind {
	case channel.KindDingTalkRobot:
		s["webhook_url"] = "http://" + fakeHost + "/robot/send?access_token=" + name
		s["keywords"] = []string{"alert"}
	case channel.KindLarkRobot:
		s["webhook_url"] = "http://" + fakeHost + "/open-apis/bot/v2/hook/" + name
	case channel.KindDingTalkApp:
		s["client_id"], s["client_secret"] = "dingapp0001", "app-secret"
		s["user_ids"], s["api_base_url"] = []string{"user0001", "user0002"}, "http://"+fakeHost
	case channel.KindWeComRobot:
		s["webhook_url"] = "http://" + fakeHost + "/cgi-bin/webhook/send?key=" + name
	case channel.KindWebhook:
		s["url"] = "http://" + fakeHost + "/hook/" + name
	default:
		r.t.Fatalf("no test channel of kind %s", kind)
	}
	maps.Copy(s, settings)
	data, err := json.Marshal(map[string]any{"name": name, "kind": kind, "settings": s})
	if err != nil {
		r.t.Fatal(err)
	}
	in, err := channel.Decode(data)
	if err != nil {
		r.t.Fatal(err)
	}
	allow, err := channel.ParseHostList(fakeHost)
	if err != nil {
		r.t.Fatal(err)
	}
	env := channel.Env{DingTalkRobotBase: mustURL("https://oapi.dingtalk.com"), LarkBase: mustURL("https://open.feishu.cn"),
		WeComBase: mustURL("https://qyapi.weixin.qq.com"), DingTalkAppBase: mustURL("https://api.dingtalk.com"), Allow: allow}
	ch, err := channel.Validate(in, env)
	if err != nil {
		r.t.Fatalf("channel %s: %v", name, err)
	}
	if err := r.st.CreateChannel(context.Background(), ch, r.clock.Now()); err != nil {
		r.t.Fatal(err)
	}
	return ch
}

func withBudget(messages int, per string) map[string]any {
	return map[string]any{"budget": map[string]any{"messages": messages, "per": per}}
}

// firing is a firing alert of DiskFull on instance inst.
func firing(inst string) alert.Alert {
	a := alert.Alert{
		Labels:      alert.FromMap(map[string]string{"alertname": "DiskFull", "instance": inst, "severity": "critical"}),
		Annotations: alert.FromMap(map[string]string{"summary": "disk almost full on " + inst}),
		StartsAt:    t0.Add(-time.Minute),
		Severity:    alert.Critical,
	}
	a.Fingerprint = a.Labels.Fingerprint()
	return a
}

// longSummary is a summary of some 250 bytes, unlike any other's, so a
// digest cannot shorten it.
func longSummary(i int) alert.Labels {
	return alert.FromMap(map[string]string{"summary": strings.Repeat(fmt.Sprintf("vol%04d ", i), 30)})
}

// resolved is firing(inst) resolved a second before t0.
func resolved(inst string) alert.Alert {
	a := firing(inst)
	a.EndsAt = t0.Add(-time.Second)
	return a
}

// enqueue stores a delivery of c to the channel, of kind (group when "").
func (r *rig) enqueue(channelID, kind string, c Content) *store.Delivery {
	r.t.Helper()
	raw, err := c.Encode()
	if err != nil {
		r.t.Fatal(err)
	}
	if kind == "" {
		kind = store.KindGroup
	}
	d := &store.Delivery{ChannelID: channelID, Kind: kind, GroupKey: "g", Content: raw, Alerts: c.Fingerprints()}
	if err := r.st.EnqueueDeliveries(context.Background(), []*store.Delivery{d}, r.clock.Now()); err != nil {
		r.t.Fatal(err)
	}
	return d
}

func group(alerts ...alert.Alert) Content {
	return Content{Policy: "sre", GroupLabels: alert.FromMap(map[string]string{"alertname": "DiskFull"}), Firing: alerts}
}

func (r *rig) delivery(id string) *store.Delivery {
	r.t.Helper()
	d, err := r.st.GetDelivery(context.Background(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	return d
}

// settle runs the channel's worker step after step, as its loop does when
// woken, until it would sleep with the clock where it is, and returns how
// long it would sleep.
func (r *rig) settle(channelID string) time.Duration {
	r.t.Helper()
	w := &worker{o: r.o, channelID: channelID}
	for range 1000 {
		wait, err := w.step(context.Background())
		if err != nil {
			r.t.Fatalf("step: %v", err)
		}
		if wait > 0 {
			return wait
		}
	}
	r.t.Fatal("the worker kept stepping without ever waiting")
	return 0
}

// runUntilSent settles the channel and moves the clock to when the worker
// would wake next, until every delivery given is sent, failing the test if
// that takes more than rounds wakes.
func (r *rig) runUntilSent(channelID string, rounds int, ids ...string) {
	r.t.Helper()
	for range rounds {
		wait := r.settle(channelID)
		done := true
		for _, id := range ids {
			done = done && r.delivery(id).Status == store.DeliverySent
		}
		if done {
			return
		}
		r.clock.Advance(wait)
	}
	r.t.Fatalf("not all of %v sent after %d wakes", ids, rounds)
}

// runUntilQuiet settles the channel and moves the clock to when the worker
// would wake next, until nothing of the channel is queued, failing the
// test if that takes more than rounds wakes.
func (r *rig) runUntilQuiet(channelID string, rounds int) {
	r.t.Helper()
	for range rounds {
		wait := r.settle(channelID)
		qs, err := r.st.QueueStats(context.Background())
		if err != nil {
			r.t.Fatal(err)
		}
		if !slices.ContainsFunc(qs, func(q store.QueueStat) bool { return q.ChannelID == channelID }) {
			return
		}
		r.clock.Advance(wait)
	}
	r.t.Fatalf("the queue of %s still not empty after %d wakes", channelID, rounds)
}

// start runs the outbox until the test ends.
func (r *rig) start() {
	r.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.o.Run(ctx) }()
	r.t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			r.t.Error("the outbox did not stop within 10s of its context ending")
		}
	})
}

// waitFor polls cond until it holds or 10 seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// maxInWindow returns the most parts accepted within any window.
func maxInWindow(parts []sentPart, window time.Duration) int {
	most := 0
	for i := range parts {
		n := 0
		for _, p := range parts[i:] {
			if p.At.Sub(parts[i].At) < window {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

func results(d *store.Delivery) []string {
	var out []string
	for _, a := range d.AttemptLog {
		out = append(out, a.Result)
	}
	return out
}

func TestQueuedDeliveryIsSentAndRecorded(t *testing.T) {
	r := newRig(t)
	ch := r.channel(channel.KindDingTalkRobot, "oncall", nil)
	first := r.enqueue(ch.ID, "", group(firing("node-1"), firing("node-2")))
	r.start() // finds what was queued before it started
	waitFor(t, "the queued delivery is sent", func() bool { return r.delivery(first.ID).Status == store.DeliverySent })

	// Enqueued while running: the outbox hears of it through Wake.
	second := r.enqueue(ch.ID, "", group(firing("node-3")))
	r.o.Wake([]string{ch.ID})
	waitFor(t, "the delivery enqueued later is sent", func() bool { return r.delivery(second.ID).Status == store.DeliverySent })

	got := r.delivery(first.ID)
	want := []store.Attempt{{N: 1, At: t0, Result: "sent", Parts: 1}}
	if diff := cmp.Diff(want, got.AttemptLog); diff != "" {
		t.Errorf("attempts (-want +got):\n%s", diff)
	}
	if got.Attempts != 1 || !got.SentAt.Equal(t0) || got.PartsSent != 1 || got.LastCode != "" {
		t.Errorf("sent delivery: attempts %d, sent at %v, parts sent %d, last code %q", got.Attempts, got.SentAt, got.PartsSent, got.LastCode)
	}
	sent := r.send.sent()
	if len(sent) != 2 || sent[0].MsgID != first.ID || sent[1].MsgID != second.ID {
		t.Fatalf("the platform got %+v, want the two deliveries' messages in order", sent)
	}
	for _, inst := range []string{"node-1", "node-2"} {
		if !strings.Contains(sent[0].Text, inst) {
			t.Errorf("the first message does not name %s:\n%s", inst, sent[0].Text)
		}
	}
}

func TestRetryableFailureIsRetriedLater(t *testing.T) {
	r := newRig(t)
	ch := r.channel(channel.KindDingTalkRobot, "oncall", nil)
	d := r.enqueue(ch.ID, "", group(firing("node-1")))
	r.send.failNext(&notify.Error{Action: notify.Retry, Code: "network", Message: "could not reach DingTalk", Err: errors.New("connection refused")})

	wait := r.settle(ch.ID)
	got := r.delivery(d.ID)
	if got.Status != store.DeliveryQueued {
		t.Fatalf("status %s, want queued for a retry", got.Status)
	}
	// The first backoff is 2s with ±20% jitter.
	if delay := got.NextAttemptAt.Sub(t0); delay < 1600*time.Millisecond || delay > 2400*time.Millisecond {
		t.Errorf("next attempt %v after the failure, want 2s ± 20%%", delay)
	}
	if wait != got.NextAttemptAt.Sub(t0) {
		t.Errorf("the worker sleeps %v, want until the next attempt, %v", wait, got.NextAttemptAt.Sub(t0))
	}
	want := []store.Attempt{{N: 1, At: t0, Result: "retry", Code: "network", Message: "could not reach DingTalk: connection refused", Parts: 0}}
	if diff := cmp.Diff(want, got.AttemptLog); diff != "" {
		t.Errorf("attempts (-want +got):\n%s", diff)
	}
	if got.LastCode != "network" || got.LastMessage != "could not reach DingTalk: connection refused" {
		t.Errorf("last code %q, message %q", got.LastCode, got.LastMessage)
	}

	// Not before its time.
	r.clock.Advance(got.NextAttemptAt.Sub(t0) - time.Millisecond)
	r.settle(ch.ID)
	if n := len(r.send.sent()); n != 0 {
		t.Fatalf("sent %d messages before the next attempt was due", n)
	}
	r.clock.Advance(time.Millisecond)
	r.settle(ch.ID)
	got = r.delivery(d.ID)
	if got.Status != store.DeliverySent || got.Attempts != 2 || len(r.send.sent()) != 1 {
		t.Errorf("after the retry: status %s, %d attempts, %d messages sent; want sent once on attempt 2", got.Status, got.Attempts, len(r.send.sent()))
	}
	if diff := cmp.Diff([]string{"retry", "sent"}, results(got)); diff != "" {
		t.Errorf("attempt results (-want +got):\n%s", diff)
	}
}

func TestPermanentFailureFailsWithMessageAndHint(t *testing.T) {
	r := newRig(t)
	ch := r.channel(channel.KindDingTalkRobot, "oncall", nil)
	d := r.enqueue(ch.ID, "", group(firing("node-1")))
	r.send.failNext(&notify.Error{Action: notify.Permanent, Code: "keyword-missing", PlatformCode: 310000,
		PlatformMessage: "关键词不匹配", Message: "the message lacks the robot's keyword",
		Hint: "add the keyword set on the robot to the channel's keywords"})

	r.settle(ch.ID)
	got := r.delivery(d.ID)
	if got.Status != store.DeliveryFailed || got.LastCode != "keyword-missing" || got.LastPlatformCode != 310000 {
		t.Fatalf("status %s, code %q, platform code %d; want failed, keyword-missing, 310000", got.Status, got.LastCode, got.LastPlatformCode)
	}
	for _, want := range []string{"the message lacks the robot's keyword", "关键词不匹配", "add the keyword set on the robot"} {
		if !strings.Contains(got.LastMessage, want) {
			t.Errorf("last message %q lacks %q", got.LastMessage, want)
		}
	}
	if len(got.AttemptLog) != 1 || got.AttemptLog[0].Result != "failed" || got.AttemptLog[0].Message != got.LastMessage {
		t.Errorf("attempts %+v, want one failed with the message", got.AttemptLog)
	}
	// Failed for good: never tried again.
	r.clock.Advance(time.Hour)
	r.settle(ch.ID)
	if got := r.delivery(d.ID); got.Attempts != 1 || len(r.send.sent()) != 0 {
		t.Errorf("a failed delivery was tried again: %d attempts, %d sent", got.Attempts, len(r.send.sent()))
	}
}

func TestPlatformBanPausesTheChannel(t *testing.T) {
	r := newRig(t)
	ch := r.channel(channel.KindDingTalkRobot, "oncall", nil)
	a := r.enqueue(ch.ID, "", group(firing("node-1")))
	b := r.enqueue(ch.ID, "", group(firing("node-2")))
	r.send.failNext(&notify.Error{Action: notify.Retry, Code: "rate-limited", PlatformCode: 130101,
		Message: "DingTalk throttled the robot", RetryAfter: 30 * time.Second})

	wait := r.settle(ch.ID)
	until, reason, err := r.st.ChannelPause(context.Background(), ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !until.Equal(t0.Add(30*time.Second)) || reason != "DingTalk throttled the robot" {
		t.Errorf("channel pause: until %v (%q), want %v", until, reason, t0.Add(30*time.Second))
	}
	if wait != 30*time.Second {
		t.Errorf("the worker sleeps %v, want the 30s of the ban", wait)
	}
	if got := r.delivery(a.ID); got.Status != store.DeliveryQueued || results(got)[0] != "paused" {
		t.Errorf("the throttled delivery: %s %v, want queued after a paused attempt", got.Status, results(got))
	}
	if got := r.delivery(b.ID); got.Status != store.DeliveryQueued || got.Attempts != 0 {
		t.Errorf("the other delivery: %s after %d attempts, want queued and untried", got.Status, got.Attempts)
	}

	r.clock.Advance(29 * time.Second)
	if wait := r.settle(ch.ID); wait != time.Second {
		t.Errorf("1s before the ban ends the worker sleeps %v, want 1s", wait)
	}
	if n := len(r.send.sent()); n != 0 {
		t.Fatalf("%d messages sent during the ban", n)
	}
	r.clock.Advance(time.Second)
	r.settle(ch.ID)
	for _, id := range []string{a.ID, b.ID} {
		if got := r.delivery(id); got.Status != store.DeliverySent {
			t.Errorf("delivery %s is %s after the ban, want sent", id, got.Status)
		}
	}
	for _, p := range r.send.sent() {
		if p.At.Before(until) {
			t.Errorf("a message went out at %v, during the ban", p.At)
		}
	}
}

// TestBudgetSpreadsPartsOverWindows: a message of five parts on a budget of
// two per second goes out two parts at a time, waiting for the budget in
// between, never provoking the platform.
func TestBudgetSpreadsPartsOverWindows(t *testing.T) {
	r := newRig(t)
	ch := r.channel(channel.KindDingTalkRobot, "oncall", withBudget(2, "1s"))
	r.send.parts, r.send.limit, r.send.window = 5, 2, time.Second
	d := r.enqueue(ch.ID, "", group(firing("node-1")))

	r.settle(ch.ID)
	if n := len(r.send.sent()); n != 2 {
		t.Fatalf("%d parts sent in the first window, want the budget's 2", n)
	}
	got := r.delivery(d.ID)
	if got.Status != store.DeliveryQueued || got.PartsSent != 2 || got.LastCode != "budget-wait" {
		t.Fatalf("after the first window: %s, %d parts sent, code %q; want queued after 2 parts, budget-wait", got.Status, got.PartsSent, got.LastCode)
	}
	r.runUntilSent(ch.ID, 20, d.ID)

	sent := r.send.sent()
	var parts []int
	for _, p := range sent {
		parts = append(parts, p.Part)
	}
	if diff := cmp.Diff([]int{1, 2, 3, 4, 5}, parts); diff != "" {
		t.Errorf("parts posted (-want +got): %s", diff)
	}
	if n := maxInWindow(sent, time.Second); n > 2 {
		t.Errorf("%d parts within one second, budget 2", n)
	}
	if n := r.send.refusals(); n != 0 {
		t.Errorf("the platform refused %d parts", n)
	}
	got = r.delivery(d.ID)
	if diff := cmp.Diff([]string{"budget", "budget", "sent"}, results(got)); diff != "" {
		t.Errorf("attempt results (-want +got): %s", diff)
	}
	var perAttempt []int
	for _, a := range got.AttemptLog {
		perAttempt = append(perAttempt, a.Parts)
	}
	if diff := cmp.Diff([]int{2, 2, 1}, perAttempt); diff != "" {
		t.Errorf("parts per attempt (-want +got): %s", diff)
	}
}

// TestBudgetHoldsDeliveriesBack: deliveries that cannot be merged wait for
// the budget, untried, rather than being refused.
func TestBudgetHoldsDeliveriesBack(t *testing.T) {
	r := newRig(t)
	ch := r.channel(channel.KindDingTalkRobot, "oncall", withBudget(2, "1s"))
	r.send.limit, r.send.window = 2, time.Second
	var ids []string
	for i := range 5 {
		// Digests are never merged again.
		c := Content{Digest: true, DigestMessages: 1, Firing: []alert.Alert{firing(fmt.Sprintf("node-%d", i))}}
		ids = append(ids, r.enqueue(ch.ID, store.KindDigest, c).ID)
	}
	wait := r.settle(ch.ID)
	if n := len(r.send.sent()); n != 2 {
		t.Fatalf("%d messages sent at once, want the budget's 2", n)
	}
	// The window, widened by the default margin of 1s.
	if wait != 2*time.Second {
		t.Errorf("the worker sleeps %v, want 2s, until the budget frees", wait)
	}
	for _, id := range ids[2:] {
		if got := r.delivery(id); got.Status != store.DeliveryQueued || got.Attempts != 0 {
			t.Errorf("delivery %s: %s after %d attempts, want queued and untried", id, got.Status, got.Attempts)
		}
	}
	r.runUntilSent(ch.ID, 20, ids...)
	sent := r.send.sent()
	if len(sent) != 5 || maxInWindow(sent, time.Second) > 2 || r.send.refusals() != 0 {
		t.Errorf("%d messages, at most %d within a second, %d refused; want 5, 2, 0", len(sent), maxInWindow(sent, time.Second), r.send.refusals())
	}
}

// TestDigestCarriesEveryAlert: when more is due than the budget has room
// for, the due deliveries become one digest carrying every alert.
func TestDigestCarriesEveryAlert(t *testing.T) {
	r := newRig(t)
	ch := r.channel(channel.KindDingTalkRobot, "oncall", withBudget(3, "1m"))
	var (
		originals []string
		want      []alert.Fingerprint
		insts     []string
	)
	for i := range 10 {
		inst := fmt.Sprintf("node-%02d", i)
		c := group(firing(inst))
		if i == 9 {
			inst = "node-gone"
			c = Content{Policy: "sre", Resolved: []alert.Alert{resolved(inst)}}
		}
		d := r.enqueue(ch.ID, "", c)
		originals = append(originals, d.ID)
		want = append(want, d.Alerts...)
		insts = append(insts, inst)
	}
	slices.Sort(want)

	r.settle(ch.ID)
	ds, _, err := r.st.ListDeliveries(context.Background(), store.DeliveryFilter{ChannelID: ch.ID, Status: store.DeliverySent})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Kind != store.KindDigest {
		t.Fatalf("sent %+v, want one digest", ds)
	}
	dg := ds[0]
	got := slices.Clone(dg.Alerts)
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the digest's alerts (-want +got):\n%s", diff)
	}
	for _, id := range originals {
		if d := r.delivery(id); d.Status != store.DeliveryMerged || d.DigestID != dg.ID {
			t.Errorf("delivery %s: %s into %q, want merged into %s", id, d.Status, d.DigestID, dg.ID)
		}
	}
	sent := r.send.sent()
	if len(sent) == 0 || len(sent) > 3 {
		t.Fatalf("the digest took %d messages, want 1 to the budget's 3", len(sent))
	}
	var text strings.Builder
	for _, p := range sent {
		text.WriteString(p.Text)
	}
	for _, inst := range insts {
		if !strings.Contains(text.String(), inst) {
			t.Errorf("the digest does not name %s:\n%s", inst, text.String())
		}
	}
}

// TestLargeDigestStaysWithinBudget: a storm too big for one message is
// digested into no more messages than one window of the budget allows,
// and accounts for every alert, counting what it cannot list.
func TestLargeDigestStaysWithinBudget(t *testing.T) {
	r := newRig(t)
	ch := r.channel(channel.KindDingTalkRobot, "oncall", withBudget(3, "1m"))
	r.send.limit, r.send.window = 3, time.Minute
	const n = 400
	for i := range n {
		a := firing(fmt.Sprintf("node-%03d", i))
		a.Annotations = longSummary(i)
		r.enqueue(ch.ID, "", group(a))
	}
	r.settle(ch.ID)
	sent := r.send.sent()
	if len(sent) < 2 || len(sent) > 3 {
		t.Fatalf("the digest took %d messages, want 2 or 3: more than one message's worth, no more than the budget", len(sent))
	}
	if r.send.refusals() != 0 {
		t.Errorf("the platform refused %d messages", r.send.refusals())
	}
	if last := sent[len(sent)-1].Text; !strings.Contains(last, fmt.Sprintf("%d alerts", n)) {
		t.Errorf("the digest's last message does not account for all %d alerts:\n%s", n, last)
	}
	ds, _, err := r.st.ListDeliveries(context.Background(), store.DeliveryFilter{ChannelID: ch.ID, Status: store.DeliveryQueued})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 0 {
		t.Errorf("%d deliveries still queued after the digest", len(ds))
	}
}

// TestDigestWaitsForBudgetRatherThanCounting: a digest to a platform with
// small messages, made when little of the budget is free, takes the
// messages it needs to list every alert, the ones not free yet waiting
// for the budget, rather than listing a few and counting the rest.
func TestDigestWaitsForBudgetRatherThanCounting(t *testing.T) {
	r := newRig(t)
	ch := r.channel(channel.KindWeComRobot, "wecom", withBudget(20, "1m"))
	// 15 of the 20 were spent just before.
	var spent []sentPart
	for range 15 {
		if ok, _, err := r.st.ReserveSend(context.Background(), ch.ID, t0, 20, time.Minute+time.Second); err != nil || !ok {
			t.Fatalf("reserve: %v %v", ok, err)
		}
		spent = append(spent, sentPart{At: t0})
	}
	const n = 1000
	for i := range n {
		r.enqueue(ch.ID, "", group(firing(fmt.Sprintf("node-%04d", i))))
	}
	r.runUntilQuiet(ch.ID, 20)
	sent := r.send.sent()
	if len(sent) <= 5 {
		t.Fatalf("the digest took %d messages; listing %d alerts takes more than the 5 free", len(sent), n)
	}
	var text strings.Builder
	for _, p := range sent {
		text.WriteString(p.Text)
	}
	for i := range n {
		if inst := fmt.Sprintf("node-%04d", i); !strings.Contains(text.String(), inst) {
			t.Fatalf("the digest does not name %s", inst)
		}
	}
	if most := maxInWindow(append(spent, sent...), time.Minute); most > 20 {
		t.Errorf("%d messages within a minute, budget 20", most)
	}
}

// TestRetryGoesOnlyToTheRecipientsNotReached: a message that reached some
// of its recipients before failing for the others (a DingTalk app robot's
// flow-controlled members) tells its retry, even after a restart, whom to
// leave out, and is never merged into a digest that would reach them
// again.
func TestRetryGoesOnlyToTheRecipientsNotReached(t *testing.T) {
	r := newRig(t)
	ch := r.channel(channel.KindDingTalkApp, "app", withBudget(1, "1s"))
	d := r.enqueue(ch.ID, "", group(firing("node-1")))
	r.send.early = []error{&notify.Error{Action: notify.Retry, Code: "flow-controlled",
		Message: "DingTalk's flow control held the message back from user0002", Reached: []string{"user:user0001"}}}
	r.settle(ch.ID)
	got := r.delivery(d.ID)
	if got.Status != store.DeliveryQueued || got.LastCode != "flow-controlled" {
		t.Fatalf("after reaching some: %s, %q; want queued for a retry", got.Status, got.LastCode)
	}
	later := []string{r.enqueue(ch.ID, "", group(firing("node-2"))).ID, r.enqueue(ch.ID, "", group(firing("node-3"))).ID}

	// A restarted outbox on the same store.
	r.o = New(Options{Store: r.st, Sender: r.send, Render: DefaultRenderer{}, Location: time.UTC, Now: r.clock.Now})
	r.clock.Advance(got.NextAttemptAt.Sub(t0))
	for range 20 {
		r.clock.Advance(r.settle(ch.ID))
		if got := r.delivery(d.ID); got.Status != store.DeliveryQueued {
			break
		}
	}
	if got := r.delivery(d.ID); got.Status != store.DeliverySent {
		t.Errorf("the retried delivery is %s, want sent (not merged into a digest: user0001 would get it twice)", got.Status)
	}
	r.send.mu.Lock()
	reached := slices.Clone(r.send.reached)
	r.send.mu.Unlock()
	if len(reached) < 2 || reached[0] != nil || !slices.Equal(reached[1], []string{"user:user0001"}) {
		t.Errorf("recipients passed as reached, per send: %q; want none, then user:user0001", reached)
	}
	r.runUntilQuiet(ch.ID, 20)
	for _, id := range later {
		if got := r.delivery(id); got.Status != store.DeliveryMerged && got.Status != store.DeliverySent {
			t.Errorf("a later delivery is %s", got.Status)
		}
	}
}

// TestSplitMessageResumesAtTheFailedPart: a message posted in three parts
// that fails at the second resumes there, without posting the first again.
func TestSplitMessageResumesAtTheFailedPart(t *testing.T) {
	r := newRig(t)
	ch := r.channel(channel.KindDingTalkRobot, "oncall", nil)
	r.send.parts = 3
	r.send.failNext(nil, &notify.Error{Action: notify.Retry, Code: "server-error", Message: "DingTalk answered 502"})
	d := r.enqueue(ch.ID, "", group(firing("node-1")))

	r.settle(ch.ID)
	got := r.delivery(d.ID)
	if got.Status != store.DeliveryQueued || got.PartsSent != 1 {
		t.Fatalf("after part 2 failed: %s with %d parts sent, want queued with 1", got.Status, got.PartsSent)
	}
	if a := got.AttemptLog[0]; a.Result != "retry" || a.Parts != 1 {
		t.Errorf("first attempt: %s with %d parts, want retry with the 1 part that went out", a.Result, a.Parts)
	}
	r.runUntilSent(ch.ID, 5, d.ID)
	var parts []int
	for _, p := range r.send.sent() {
		parts = append(parts, p.Part)
	}
	if diff := cmp.Diff([]int{1, 2, 3}, parts); diff != "" {
		t.Errorf("parts posted (-want +got): %s", diff)
	}
	got = r.delivery(d.ID)
	if got.PartsSent != 3 || got.AttemptLog[1].Parts != 2 {
		t.Errorf("after the retry: %d parts sent, %d in the second attempt; want 3 and 2", got.PartsSent, got.AttemptLog[1].Parts)
	}
}

// TestFailureBeforePostingKeepsEarlierMessages: when the second message of
// a digest fails before any of it is posted (its rendering, say), the
// first, delivered, is not sent again.
func TestFailureBeforePostingKeepsEarlierMessages(t *testing.T) {
	r := newRig(t)
	ch := r.channel(channel.KindDingTalkRobot, "oncall", nil)
	var alerts []alert.Alert
	for i := range 1000 {
		a := firing(fmt.Sprintf("node-%04d", i))
		a.Annotations = longSummary(i)
		alerts = append(alerts, a)
	}
	d := r.enqueue(ch.ID, store.KindDigest, Content{Digest: true, DigestMessages: 2, Firing: alerts})
	r.send.early = []error{nil, &notify.Error{Action: notify.Retry, Code: "internal", Message: "sending failed"}}

	r.settle(ch.ID)
	if got := r.delivery(d.ID); got.PartsSent != 1 {
		t.Fatalf("after the second message failed unposted: %d parts sent, want 1", got.PartsSent)
	}
	r.runUntilSent(ch.ID, 5, d.ID)
	var ids []string
	for _, p := range r.send.sent() {
		ids = append(ids, p.MsgID)
	}
	if diff := cmp.Diff([]string{d.ID + "-1", d.ID + "-2"}, ids); diff != "" {
		t.Errorf("messages posted (-want +got): %s", diff)
	}
}

// TestWebhookDigestResumesAtTheFailedMessage: for a kind whose client does
// not consult the gate, the worker asks it per message.
func TestWebhookDigestResumesAtTheFailedMessage(t *testing.T) {
	r := newRig(t)
	ch := r.channel(channel.KindWebhook, "receiver", nil)
	var alerts []alert.Alert
	for i := range 4000 {
		a := firing(fmt.Sprintf("node-%04d", i))
		a.Annotations = longSummary(i)
		alerts = append(alerts, a)
	}
	d := r.enqueue(ch.ID, store.KindDigest, Content{Digest: true, DigestMessages: 3, Firing: alerts})
	r.send.failNext(nil, &notify.Error{Action: notify.Retry, Code: "server-error", Message: "the receiver answered 503"})

	r.settle(ch.ID)
	if got := r.delivery(d.ID); got.PartsSent != 1 || got.AttemptLog[0].Parts != 1 {
		t.Fatalf("after message 2 failed: %d parts sent, %d this attempt; want 1 and 1", got.PartsSent, got.AttemptLog[0].Parts)
	}
	r.runUntilSent(ch.ID, 5, d.ID)
	var ids []string
	for _, p := range r.send.sent() {
		ids = append(ids, p.MsgID)
	}
	if diff := cmp.Diff([]string{d.ID + "-1", d.ID + "-2", d.ID + "-3"}, ids); diff != "" {
		t.Errorf("messages posted (-want +got): %s", diff)
	}
}

// TestSecondBudgetSpendsNoFirst: Lark's per-second limit stopping a
// message does not spend the channel's own budget on a message never
// posted.
func TestSecondBudgetSpendsNoFirst(t *testing.T) {
	r := newRig(t)
	ch := r.channel(channel.KindLarkRobot, "lark", withBudget(6, "10s"))
	r.send.parts = 8
	d := r.enqueue(ch.ID, "", group(firing("node-1")))
	r.runUntilSent(ch.ID, 20, d.ID)
	sent := r.send.sent()
	if len(sent) != 8 {
		t.Fatalf("%d parts posted, want 8", len(sent))
	}
	// 5 at once (Lark's 5 per second), the 6th once that second (and the
	// margin) passed, the rest when the 10s window (and the margin) did.
	window := t0.Add(11 * time.Second)
	n := 0
	for _, p := range sent {
		if p.At.Before(window) {
			n++
		}
	}
	if n != 6 {
		t.Errorf("%d parts posted in the first 10s window, want the budget's 6", n)
	}
	if maxInWindow(sent, 10*time.Second) > 6 || maxInWindow(sent, time.Second) > 5 {
		t.Errorf("over budget: %d in 10s, %d in 1s", maxInWindow(sent, 10*time.Second), maxInWindow(sent, time.Second))
	}
}

func TestDeletedOrDisabledChannelBuriesItsDeliveries(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	gone := r.channel(channel.KindDingTalkRobot, "gone", nil)
	off := r.channel(channel.KindDingTalkRobot, "off", nil)
	a := r.enqueue(gone.ID, "", group(firing("node-1")))
	b := r.enqueue(off.ID, "", group(firing("node-2")))
	if err := r.st.DeleteChannel(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	off.Enabled = false
	if err := r.st.UpdateChannel(ctx, off, r.clock.Now()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		channel, delivery, why string
	}{
		{gone.ID, a.ID, "deleted"},
		{off.ID, b.ID, "disabled"},
	} {
		r.settle(c.channel)
		got := r.delivery(c.delivery)
		if got.Status != store.DeliveryDead || got.LastCode != "channel-unavailable" || !strings.Contains(got.LastMessage, c.why) {
			t.Errorf("delivery to the %s channel: %s, %q, %q; want dead, channel-unavailable, saying %s", c.why, got.Status, got.LastCode, got.LastMessage, c.why)
		}
		if diff := cmp.Diff([]string{"dead"}, results(got)); diff != "" {
			t.Errorf("attempts (-want +got): %s", diff)
		}
	}
	if n := len(r.send.sent()); n != 0 {
		t.Errorf("%d messages sent to channels that cannot send", n)
	}
}

// TestShutdownRecordsTheSendInFlight: a send under way when the outbox is
// stopped is given its time to finish, and its outcome is recorded.
func TestShutdownRecordsTheSendInFlight(t *testing.T) {
	r := newRig(t)
	ch := r.channel(channel.KindDingTalkRobot, "oncall", nil)
	d := r.enqueue(ch.ID, "", group(firing("node-1")))
	r.send.block, r.send.entered = make(chan struct{}), make(chan struct{}, 1)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.o.Run(ctx) }()
	select {
	case <-r.send.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the send never started")
	}
	cancel()
	close(r.send.block)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the outbox did not stop")
	}
	if got := r.delivery(d.ID); got.Status != store.DeliverySent || len(got.AttemptLog) != 1 {
		t.Errorf("the delivery sent during shutdown is %s with %d attempts recorded, want sent with 1", got.Status, len(got.AttemptLog))
	}
}
