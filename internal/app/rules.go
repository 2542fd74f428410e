package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tocsinhq/tocsin/internal/config"
	"github.com/tocsinhq/tocsin/internal/datasource"
	"github.com/tocsinhq/tocsin/internal/dispatch"
	"github.com/tocsinhq/tocsin/internal/metricstore"
	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/promapi"
	"github.com/tocsinhq/tocsin/internal/ruler"
	"github.com/tocsinhq/tocsin/internal/store"
)

// rules is the embedded metric store and the rule evaluator.
type rules struct {
	metrics *metricstore.Store
	ruler   *ruler.Ruler
	// datasources queries external data sources: no overall timeout
	// (each source has its own) and no dial guard (data sources live on
	// private networks, and only admins name them).
	datasources *http.Client
	promAPI     http.Handler
	logger      *slog.Logger
	cancel      context.CancelFunc
	wg          sync.WaitGroup
}

// startRules opens the embedded metric store in <data-dir>/metrics, loads
// the rules and starts evaluating them; their alerts go to d. It runs
// until stop, which the server calls after the HTTP server has drained and
// before the pipeline stops.
func startRules(ctx context.Context, cfg config.Config, st store.Store, d *dispatch.Dispatcher, reg prometheus.Registerer, logger *slog.Logger) (*rules, error) {
	ms, err := metricstore.Open(filepath.Join(cfg.DataDir, "metrics"), metricstore.Options{
		Retention: cfg.MetricsRetention, Logger: logger.With("component", "metrics"), Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("open the metric store: %w", err)
	}
	r := &rules{metrics: ms, datasources: notify.NewHTTPClient(0, nil), logger: logger}
	r.promAPI = promapi.New(promapi.Options{Queryable: ms, Engine: ms.Engine(), Parser: ms.Parser(), Metadata: ms,
		Logger: logger.With("component", "promapi")})
	r.ruler = ruler.New(ruler.Options{
		Store:       st,
		Sink:        d,
		Embedded:    ruler.Engine{Engine: ms.Engine(), Queryable: ms},
		Datasource:  r.querier(st),
		Routes:      d.SetRuleRoutes,
		Concurrency: cfg.RuleConcurrency,
		ExternalURL: cfg.PublicURL,
		Logger:      logger.With("component", "ruler"),
		Now:         time.Now,
		Metrics:     ruler.NewMetrics(reg),
	})
	if err := r.ruler.Load(ctx); err != nil {
		ms.Close()
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel = cancel
	r.wg.Go(func() { _ = r.ruler.Run(runCtx) })
	return r, nil
}

// querier returns the Querier of a stored data source.
func (r *rules) querier(st store.Store) func(ctx context.Context, id string) (ruler.Querier, error) {
	return func(ctx context.Context, id string) (ruler.Querier, error) {
		src, err := st.GetDatasource(ctx, id)
		if err != nil {
			return nil, err
		}
		return datasource.NewClient(src, r.datasources), nil
	}
}

// changed reloads the rules after the API changed them or a data source.
func (r *rules) changed() {
	if err := r.ruler.Reload(context.Background()); err != nil {
		r.logger.Error("reloading rules failed", "err", err)
	}
}

func (r *rules) stop() error {
	r.cancel()
	r.wg.Wait()
	return r.metrics.Close()
}
