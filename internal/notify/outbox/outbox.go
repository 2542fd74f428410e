// Package outbox sends what the dispatcher enqueued: one worker per channel
// claims due deliveries, renders them in the channel's style and time zone,
// spends the channel's send budget one platform message at a time before
// sending it, and records the platform's answer. When more waits than the
// budget allows, the waiting deliveries are merged into a digest; when the
// platform bans the channel anyway, the channel pauses for the ban with
// everything kept queued. Retryable failures back off with jitter; a split
// message resumes after the parts already delivered.
package outbox

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/tocsinhq/tocsin/internal/channel"
	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/store"
)

// Store is what the outbox reads and writes.
type Store interface {
	store.Pipeline
	GetChannel(ctx context.Context, id string) (*channel.Channel, error)
}

// Sender sends one message to a channel through its platform's client,
// honouring the notify.PartGate in ctx.
type Sender interface {
	Send(ctx context.Context, ch *channel.Channel, msg notify.Message) (notes []string, err error)
}

// Options are the outbox's dependencies.
type Options struct {
	Store  Store
	Sender Sender
	Render Renderer
	// Location is the server's time zone, for channels that set none.
	Location *time.Location
	// PublicURL is the base of links in messages.
	PublicURL string
	// SendTimeout bounds one attempt (every part of it).
	SendTimeout time.Duration
	// BudgetMargin widens every budget window, so the platform, whose
	// clock starts when our request arrives, never sees one message too
	// many in its window. 1s when zero.
	BudgetMargin time.Duration
	Logger       *slog.Logger
	Now          func() time.Time
	Metrics      *Metrics
}

// Outbox runs the channel workers.
type Outbox struct {
	opts Options
	log  *slog.Logger

	mu      sync.Mutex // guards workers and ctx
	workers map[string]*worker
	ctx     context.Context // Run's; nil before Run and after it returns
	wg      sync.WaitGroup
}

// New returns an outbox; Run starts it.
func New(opts Options) *Outbox {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	if opts.SendTimeout <= 0 {
		opts.SendTimeout = 30 * time.Second
	}
	if opts.BudgetMargin <= 0 {
		opts.BudgetMargin = time.Second
	}
	return &Outbox{opts: opts, log: opts.Logger.With("component", "outbox"), workers: map[string]*worker{}}
}

// Run starts a worker for every channel with something queued, and one for
// each channel Wake names later, and returns when ctx ends and every worker
// has stopped. A send in progress is given its timeout to finish.
func (o *Outbox) Run(ctx context.Context) error {
	o.mu.Lock()
	o.ctx = ctx
	o.mu.Unlock()
	ids, err := o.opts.Store.QueuedChannels(ctx)
	if err != nil {
		o.log.Error("reading the queue failed; workers start as deliveries arrive", "err", err)
	}
	o.Wake(ids)
	<-ctx.Done()
	o.mu.Lock()
	o.ctx = nil
	o.mu.Unlock()
	o.wg.Wait()
	return nil
}

// Wake tells the workers of these channels that deliveries are waiting,
// starting workers as needed.
func (o *Outbox) Wake(channelIDs []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ctx == nil {
		return // not running: Run reads the queue when it starts
	}
	for _, id := range channelIDs {
		w := o.workers[id]
		if w == nil {
			w = &worker{o: o, channelID: id, wake: make(chan struct{}, 1)}
			o.workers[id] = w
			ctx := o.ctx
			o.wg.Go(func() { w.run(ctx) })
		}
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// worker sends one channel's deliveries, one at a time, oldest first.
type worker struct {
	o         *Outbox
	channelID string
	wake      chan struct{}
}

// idle is how long a worker with nothing queued sleeps before it looks
// again unwoken (deliveries enqueued by another replica).
const idle = time.Minute

func (w *worker) run(ctx context.Context) {
	log := w.o.log.With("channel", w.channelID)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-timer.C:
		}
		wait, err := w.step(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Error("outbox step failed; trying again shortly", "err", err)
			wait = 2 * time.Second
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// budget is one limit a channel sends under.
type budget struct {
	key    string
	limit  int
	window time.Duration
}

// budgets returns the limits ch sends under: its own or its platform's,
// plus Lark's per-second limit.
func budgets(ch *channel.Channel) []budget {
	b := channel.DefaultBudget(ch.Kind)
	if o := settingsBudget(ch.Settings); o != nil {
		b = *o
	}
	var out []budget
	if b.Messages > 0 && b.PerDuration() > 0 {
		out = append(out, budget{key: ch.ID, limit: b.Messages, window: b.PerDuration()})
	}
	if ch.Kind == channel.KindLarkRobot {
		out = append(out, budget{key: ch.ID + "/1s", limit: 5, window: time.Second})
	}
	// Shortest window first: the gate reserves the budgets in turn and
	// cannot give a reservation back, so when a later budget refuses, the
	// part never posted stays counted in the earlier ones. Counted in the
	// shortest window it frees soonest; counted in a channel's minute it
	// would cost a message the platform allows.
	slices.SortStableFunc(out, func(a, b budget) int { return cmp.Compare(a.window, b.window) })
	return out
}

func settingsBudget(s channel.Settings) *channel.Budget {
	switch s := s.(type) {
	case *channel.DingTalkRobot:
		return s.Budget
	case *channel.DingTalkApp:
		return s.Budget
	case *channel.LarkRobot:
		return s.Budget
	case *channel.WeComRobot:
		return s.Budget
	case *channel.Webhook:
		return s.Budget
	}
	return nil
}

// maxDigestMessages bounds the text one digest may carry: as much as this
// many of DingTalk's largest messages.
const maxDigestMessages = 8

// digestMessages is how many messages a digest to ch may take: no more than
// one window of its tightest budget allows, and no more text than
// maxDigestMessages of DingTalk's, so a platform with smaller messages
// (WeCom's 4 KB) gets more of them. It is not bounded by what the budget
// has free when the digest is made: the parts beyond that wait for the
// budget, as a split message's do, rather than the digest counting alerts
// it could have listed a few seconds later.
func digestMessages(ch *channel.Channel, bs []budget) int {
	n := maxDigestMessages * digestLimits(channel.KindDingTalkRobot, 1).MaxBytes / digestLimits(ch.Kind, 1).MaxBytes
	n = max(n, maxDigestMessages)
	for _, b := range bs {
		n = min(n, b.limit)
	}
	return max(1, n)
}

// step sends the channel's next delivery, or digests its queue, and says
// how long to wait before the next step (0: at once).
func (w *worker) step(ctx context.Context) (time.Duration, error) {
	o := w.o
	now := o.opts.Now()
	ch, err := o.opts.Store.GetChannel(ctx, w.channelID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	until, _, err := o.opts.Store.ChannelPause(ctx, w.channelID)
	if err != nil {
		return 0, err
	}
	if until.After(now) {
		return until.Sub(now), nil
	}
	due, next, err := o.opts.Store.DueDeliveries(ctx, w.channelID, now, 1000)
	if err != nil {
		return 0, err
	}
	o.opts.Metrics.queued(w.channelID, due, now)
	if len(due) == 0 {
		if next.IsZero() {
			return idle, nil
		}
		return min(idle, next.Sub(now)), nil
	}
	if ch == nil || !ch.Enabled {
		why := "the channel was deleted"
		if ch != nil {
			why = "the channel is disabled; enable it and send again"
		}
		return 0, w.bury(ctx, due, why, now)
	}
	bs := budgets(ch)
	d := due[0]
	if left, free, err := w.left(ctx, bs, now); err != nil {
		return 0, err
	} else if left == 0 {
		o.opts.Metrics.budgetWait(w.channelID)
		return free.Sub(now), nil
	} else if len(bs) > 0 && mergeable(d) {
		var merge []*store.Delivery
		for _, x := range due {
			if mergeable(x) {
				merge = append(merge, x)
			}
		}
		if len(merge) > 1 && len(merge) > left {
			if d, err = w.digest(ctx, merge, digestMessages(ch, bs), now); err != nil {
				return 0, err
			}
		}
	}
	return 0, w.send(ctx, ch, bs, d)
}

// mergeable reports whether d may go into a digest: not a digest itself,
// and nothing of it sent yet, to anyone.
func mergeable(d *store.Delivery) bool {
	return d.Kind != store.KindDigest && d.PartsSent == 0 && !reachedSome(d)
}

// reachedSome reports whether an earlier attempt at d reached some of its
// recipients; merged into a digest, they would get it again. Only a
// delivery attempted before is read.
func reachedSome(d *store.Delivery) bool {
	if d.Attempts == 0 {
		return false
	}
	c, err := DecodeContent(d.Content)
	return err != nil || len(c.Reached) > 0
}

// left returns how many messages every budget still allows now, and, when
// none, when one frees.
func (w *worker) left(ctx context.Context, bs []budget, now time.Time) (int, time.Time, error) {
	left := -1
	var free time.Time
	for _, b := range bs {
		window := b.window + w.o.opts.BudgetMargin
		n, oldest, err := w.o.opts.Store.BudgetSpent(ctx, b.key, now, window)
		if err != nil {
			return 0, time.Time{}, err
		}
		l := max(0, b.limit-n)
		if left < 0 || l < left {
			left = l
		}
		if l == 0 && oldest.Add(window).After(free) {
			free = oldest.Add(window)
		}
	}
	if left < 0 {
		left = 1 << 30 // no budget: a platform with no limit
	}
	return left, free, nil
}

// digest merges deliveries into one digest delivery of at most messages
// messages, committed in their place.
func (w *worker) digest(ctx context.Context, ds []*store.Delivery, messages int, now time.Time) (*store.Delivery, error) {
	cs := make([]*Content, 0, len(ds))
	ids := make([]string, 0, len(ds))
	for _, d := range ds {
		c, err := DecodeContent(d.Content)
		if err != nil {
			return nil, fmt.Errorf("delivery %s: %w", d.ID, err)
		}
		cs = append(cs, c)
		ids = append(ids, d.ID)
	}
	c := merge(cs)
	c.DigestMessages = max(1, messages)
	raw, err := c.Encode()
	if err != nil {
		return nil, err
	}
	dg := &store.Delivery{ChannelID: w.channelID, Kind: store.KindDigest, Content: raw, Alerts: c.Fingerprints()}
	if err := w.o.opts.Store.MergeDeliveries(ctx, dg, ids, now); err != nil {
		return nil, err
	}
	w.o.opts.Metrics.digested(w.channelID, len(ds))
	w.o.log.Info("storm: merged queued deliveries into a digest", "channel", w.channelID, "deliveries", len(ds), "alerts", len(dg.Alerts), "digest", dg.ID)
	return dg, nil
}

// bury marks deliveries that no channel can send.
func (w *worker) bury(ctx context.Context, ds []*store.Delivery, why string, now time.Time) error {
	for _, d := range ds {
		n, err := w.o.opts.Store.StartSend(ctx, d.ID, now)
		if err != nil {
			return err
		}
		if err := w.o.opts.Store.FinishSend(ctx, d.ID, store.SendOutcome{Attempt: n, At: now, Status: store.DeliveryDead,
			Result: "dead", PartsSent: d.PartsSent, Code: "channel-unavailable", Message: why}); err != nil {
			return err
		}
		w.o.opts.Metrics.result(w.channelID, "dead", "channel-unavailable", 0)
	}
	return nil
}

// errBudget stops a send whose budget ran out between parts.
type errBudget struct{ free time.Time }

func (e *errBudget) Error() string { return "send budget spent until " + e.free.Format(time.RFC3339) }

// gate spends budget before each part and skips the parts an earlier
// attempt delivered.
type gate struct {
	w      *worker
	bs     []budget
	skip   int
	passed int // parts delivered or allowed to post, this attempt and before
	posted int // parts this attempt allowed to post
	now    func() time.Time
	// pending is set while the part last allowed to post is not known to
	// have gone out: a client asks again only after a part went out, and
	// a Send that returns nil delivered all it was allowed.
	pending bool
}

func (g *gate) Before(ctx context.Context) error {
	g.pending = false
	if g.passed < g.skip {
		g.passed++
		return notify.ErrPartSent
	}
	now := g.now()
	for _, b := range g.bs {
		ok, free, err := g.w.o.opts.Store.ReserveSend(ctx, b.key, now, b.limit, b.window+g.w.o.opts.BudgetMargin)
		if err != nil {
			return err
		}
		if !ok {
			return &errBudget{free: free}
		}
	}
	g.passed++
	g.posted++
	g.pending = true
	return nil
}

// failed takes back the part last allowed, when the send failed before
// that part went out: it was not delivered, and the retry posts it.
func (g *gate) failed() {
	if g.pending {
		g.pending = false
		g.passed--
		g.posted--
	}
}

// usesParts reports whether a kind's client consults the PartGate itself;
// for the others the worker asks it once per message.
func usesParts(k channel.Kind) bool {
	switch k {
	case channel.KindDingTalkRobot, channel.KindLarkRobot, channel.KindWeComRobot:
		return true
	}
	return false
}

// send makes one attempt at a delivery and records its outcome.
func (w *worker) send(ctx context.Context, ch *channel.Channel, bs []budget, d *store.Delivery) error {
	o := w.o
	start := o.opts.Now()
	c, err := DecodeContent(d.Content)
	if err != nil {
		return w.finish(ctx, d, 0, start, &notify.Error{Action: notify.Permanent, Code: "corrupt-delivery", Message: err.Error()}, nil, nil, nil)
	}
	attempt, err := o.opts.Store.StartSend(ctx, d.ID, start)
	if err != nil {
		return err
	}
	msgs := o.opts.Render.Render(ch, d, c, o.location(ch), o.opts.PublicURL)
	g := &gate{w: w, bs: bs, skip: d.PartsSent, now: o.opts.Now}
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.opts.SendTimeout)
	defer cancel()
	sendCtx = notify.WithPartGate(sendCtx, g)
	var (
		notes    []string
		failedAt int // the message that failed
	)
	for i, msg := range msgs {
		if !usesParts(ch.Kind) {
			if err = g.Before(sendCtx); errors.Is(err, notify.ErrPartSent) {
				err = nil
				continue
			} else if err != nil {
				break
			}
		}
		if i == c.ReachedMessage {
			msg.Reached = c.Reached
		}
		var n []string
		n, err = o.opts.Sender.Send(sendCtx, ch, msg)
		notes = append(notes, n...)
		if err != nil {
			g.failed()
			failedAt = i
			break
		}
		g.pending = false
	}
	// A message that reached some of its recipients before failing for
	// the others goes, on the retry, to the others only.
	var content json.RawMessage
	if e, ok := errors.AsType[*notify.Error](err); ok && e.Action == notify.Retry && len(e.Reached) > 0 {
		c.Reached, c.ReachedMessage = e.Reached, failedAt
		raw, encErr := c.Encode()
		if encErr != nil {
			o.log.Error("recording who was reached failed; the retry goes to everyone", "delivery", d.ID, "err", encErr)
		}
		content = raw
	}
	// The attempt's outcome is recorded even when ctx ended meanwhile
	// (shutting down): the send was given its time to finish, and what
	// it did must not be lost.
	recCtx, cancelRec := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancelRec()
	return w.finish(recCtx, d, attempt, start, err, g, notes, content)
}

// recordTimeout bounds recording an attempt's outcome once ctx has ended.
const recordTimeout = 10 * time.Second

func (o *Outbox) location(ch *channel.Channel) *time.Location {
	if ch.Timezone != "" {
		if loc, err := time.LoadLocation(ch.Timezone); err == nil {
			return loc
		}
	}
	return o.opts.Location
}

// Backoff bounds.
const (
	backoffBase = 2 * time.Second
	backoffCap  = 5 * time.Minute
)

// backoff is the wait before attempt n+1: doubling from backoffBase to
// backoffCap, with ±20% jitter so channels that failed together do not
// retry together.
func backoff(n int) time.Duration {
	d := backoffCap
	if n < 20 {
		d = min(backoffCap, backoffBase<<(n-1))
	}
	j := float64(d) * (0.8 + 0.4*rand.Float64())
	return time.Duration(j)
}

// finish records the outcome of an attempt.
// content, when set, is the delivery's content as the retry needs it.
func (w *worker) finish(ctx context.Context, d *store.Delivery, attempt int, start time.Time, err error, g *gate, notes []string, content json.RawMessage) error {
	o := w.o
	now := o.opts.Now()
	out := store.SendOutcome{Attempt: attempt, At: now, PartsSent: d.PartsSent, Notes: notes, Content: content}
	if g != nil {
		out.PartsSent, out.PartsThisAttempt = g.passed, g.posted
	}
	var eb *errBudget
	switch {
	case err == nil:
		out.Status, out.Result = store.DeliverySent, "sent"
		o.opts.Metrics.sent(w.channelID, d, now)
	case errors.As(err, &eb):
		out.Status, out.Result, out.NextAttemptAt = store.DeliveryQueued, "budget", eb.free
		out.Code, out.Message = "budget-wait", "the channel's send budget is spent; the rest follows when it frees"
		o.opts.Metrics.budgetWait(w.channelID)
	default:
		e := notify.AsError(err)
		out.Code, out.PlatformCode, out.Message = e.Code, e.PlatformCode, e.Error()
		if e.Hint != "" {
			out.Message += ". " + e.Hint
		}
		switch e.Action {
		case notify.Retry:
			out.Status, out.Result = store.DeliveryQueued, "retry"
			wait := max(backoff(max(1, attempt)), e.RetryAfter)
			out.NextAttemptAt = now.Add(wait)
			if e.RetryAfter > 0 {
				// A throttle or ban: the whole channel waits, so nothing
				// else of it provokes the platform meanwhile.
				out.Result = "paused"
				if perr := o.opts.Store.PauseChannel(ctx, w.channelID, now.Add(e.RetryAfter), e.Message); perr != nil {
					return perr
				}
				o.log.Warn("platform throttled the channel; pausing it", "channel", w.channelID, "for", e.RetryAfter, "code", e.Code)
			}
		default:
			out.Status, out.Result = store.DeliveryFailed, "failed"
			o.log.Error("delivery failed for good", "channel", w.channelID, "delivery", d.ID, "code", e.Code, "err", out.Message)
		}
	}
	o.opts.Metrics.result(w.channelID, out.Result, out.Code, out.PlatformCode)
	return o.opts.Store.FinishSend(ctx, d.ID, out)
}
