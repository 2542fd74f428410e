package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tocsinhq/tocsin/internal/channel"
	"github.com/tocsinhq/tocsin/internal/config"
	"github.com/tocsinhq/tocsin/internal/dispatch"
	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/notify/outbox"
	"github.com/tocsinhq/tocsin/internal/route"
	"github.com/tocsinhq/tocsin/internal/store"
)

// pipeline is the running alert pipeline: the dispatcher and the outbox,
// each in a goroutine this owns.
type pipeline struct {
	dispatcher *dispatch.Dispatcher
	outbox     *outbox.Outbox
	logger     *slog.Logger
	cancel     context.CancelFunc
	wg         sync.WaitGroup
}

// startPipeline makes sure a default policy exists, loads the dispatcher's
// caches and starts the dispatcher and the outbox. They run until stop,
// which the server calls after the HTTP server has drained, so every
// accepted request has been answered before the pipeline stops.
func startPipeline(ctx context.Context, cfg config.Config, st store.Store, s *senders, reg prometheus.Registerer, logger *slog.Logger) (*pipeline, error) {
	if err := ensureDefaultPolicy(ctx, st, time.Now()); err != nil {
		return nil, err
	}
	p := &pipeline{logger: logger}
	p.outbox = outbox.New(outbox.Options{
		Store:       st,
		Sender:      outboxSender{s},
		Render:      outbox.DefaultRenderer{},
		Location:    cfg.Location,
		PublicURL:   cfg.PublicURL,
		SendTimeout: cfg.SendTimeout,
		Logger:      logger,
		Metrics:     outbox.NewMetrics(reg),
	})
	p.dispatcher = dispatch.New(dispatch.Options{
		Store:          st,
		Policies:       st.AllPolicies,
		Silences:       func(ctx context.Context, now time.Time) ([]route.Silence, error) { return activeSilences(ctx, st, now) },
		InhibitRules:   cfg.InhibitRules,
		ResolveTimeout: cfg.ResolveTimeout,
		Enqueued:       p.outbox.Wake,
		Logger:         logger,
		Metrics:        dispatch.NewMetrics(reg),
	})
	if err := p.dispatcher.Load(ctx); err != nil {
		return nil, err
	}
	reg.MustRegister(queueCollector{st})
	// The pipeline outlives the request context's cancellation until
	// stop: the HTTP server drains first.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.cancel = cancel
	p.wg.Go(func() { _ = p.dispatcher.Run(runCtx) })
	p.wg.Go(func() { _ = p.outbox.Run(runCtx) })
	return p, nil
}

func (p *pipeline) stop() error {
	p.cancel()
	p.wg.Wait()
	return nil
}

func (p *pipeline) silencesChanged() {
	if err := p.dispatcher.ReloadSilences(context.Background()); err != nil {
		p.logger.Error("reloading silences failed", "err", err)
	}
}

func (p *pipeline) policiesChanged() {
	if err := p.dispatcher.ReloadPolicies(context.Background()); err != nil {
		p.logger.Error("reloading policies failed", "err", err)
	}
}

func activeSilences(ctx context.Context, st store.Store, now time.Time) ([]route.Silence, error) {
	ss, err := st.ListSilences(ctx, store.SilenceFilter{EndsAfter: now})
	if err != nil {
		return nil, err
	}
	out := make([]route.Silence, len(ss))
	for i, s := range ss {
		out[i] = *s
	}
	return out, nil
}

// metaDefaultPolicy records that the default policy was created once, so
// one an operator deleted is not created again.
const metaDefaultPolicy = "default_policy_created"

// ensureDefaultPolicy creates, on the first start, the catch-all policy
// every alert reaches when nothing else matches: grouped by alertname,
// first notice 30s after a group's first alert, new alerts of a group at
// most a minute later, repeats every 4h. It has no targets until an
// operator adds one; meanwhile it keeps alerts unheard but stored.
func ensureDefaultPolicy(ctx context.Context, st store.Store, now time.Time) error {
	if _, err := st.Meta(ctx, metaDefaultPolicy); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("read meta: %w", err)
	}
	ps, err := st.AllPolicies(ctx)
	if err != nil {
		return fmt.Errorf("load policies: %w", err)
	}
	if len(ps) == 0 {
		p := &route.Policy{
			Name: "default", Position: 1000, GroupBy: []string{"alertname"},
			GroupWait: 30 * time.Second, GroupInterval: time.Minute, RepeatInterval: 4 * time.Hour,
			SendResolved: true, Mention: route.MentionNone,
		}
		if err := st.CreatePolicy(ctx, p, now); err != nil && !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("create the default policy: %w", err)
		}
	}
	if _, err := st.InitMeta(ctx, metaDefaultPolicy, now.UTC().Format(time.RFC3339)); err != nil {
		return fmt.Errorf("record the default policy: %w", err)
	}
	return nil
}

// outboxSender adapts the platform switch to the outbox.
type outboxSender struct{ s *senders }

func (o outboxSender) Send(ctx context.Context, ch *channel.Channel, msg notify.Message) ([]string, error) {
	rep, err := o.s.SendNow(ctx, ch, msg)
	return rep.Notes, err
}

// queueCollector exports each channel's queue depth and oldest age on
// every scrape, from the store, so every replica reports the shared queue.
type queueCollector struct{ st store.Store }

var (
	queueDepthDesc = prometheus.NewDesc("tocsin_outbox_queue_depth", "Deliveries queued or being sent, per channel.", []string{"channel"}, nil)
	queueAgeDesc   = prometheus.NewDesc("tocsin_outbox_oldest_age_seconds", "Age of the oldest delivery queued or being sent, per channel.", []string{"channel"}, nil)
)

func (queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDepthDesc
	ch <- queueAgeDesc
}

func (q queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stats, err := q.st.QueueStats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(queueDepthDesc, err)
		return
	}
	now := time.Now()
	for _, s := range stats {
		ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(s.Depth), s.ChannelID)
		ch <- prometheus.MustNewConstMetric(queueAgeDesc, prometheus.GaugeValue, now.Sub(s.Oldest).Seconds(), s.ChannelID)
	}
}
