// Package metricstore is Tocsin's embedded time-series store: Prometheus's
// own TSDB in a directory, fed by Prometheus remote write and OTLP/HTTP
// metrics, queried through one shared PromQL engine. It keeps the metric
// metadata (type, help, unit) senders send, which the TSDB does not give
// back. Authentication is not its business: the caller mounts the ingest
// handlers behind its token check.
package metricstore

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/util/compression"
)

// Defaults for Options left zero.
const (
	// DefaultRetention is Prometheus's own default.
	DefaultRetention = 15 * 24 * time.Hour
	// DefaultOutOfOrderWindow lets in samples up to 30 minutes older than
	// the newest one of their series. Prometheus remote write keeps each
	// series in order, but OTLP senders do not: the OpenTelemetry
	// Collector retries a failed batch for up to 5 minutes while newer
	// batches go out, and a sender coming back from an outage flushes its
	// backlog behind what other replicas pushed meanwhile. 30 minutes
	// covers both with room to spare, and stays well inside the TSDB's
	// 2-hour head block, so late samples cost little memory.
	DefaultOutOfOrderWindow = 30 * time.Minute
)

// Query engine settings, Prometheus's defaults (--query.max-samples,
// --query.timeout, --query.lookback-delta, the global evaluation
// interval), so a query answers here as it would in Prometheus.
const (
	QueryMaxSamples    = 50_000_000
	QueryTimeout       = 2 * time.Minute
	QueryLookbackDelta = 5 * time.Minute
	// subqueryStep is the step of a subquery that names none, like
	// rate(x[5m])[30m:]: Prometheus uses its global evaluation interval.
	subqueryStep = time.Minute
)

// Options configure Open. The zero value is usable.
type Options struct {
	// Retention is how long samples are kept; 0 means DefaultRetention.
	Retention time.Duration
	// OutOfOrderWindow is how much older than its series' newest sample
	// a sample may be and still be stored; 0 means
	// DefaultOutOfOrderWindow, negative refuses every late sample.
	OutOfOrderWindow time.Duration
	// Logger gets the TSDB's, the engine's and the ingest handlers'
	// logs; nil discards them.
	Logger *slog.Logger
	// Registerer gets the TSDB's, engine's and handlers' metrics (the
	// usual prometheus_tsdb_*, prometheus_engine_*, prometheus_api_*
	// names); nil registers nothing. Two open Stores must not share one.
	Registerer prometheus.Registerer
}

// Store is the embedded metric store. It is a storage.Queryable and a
// storage.Appendable. Its methods are safe for concurrent use.
type Store struct {
	db     *tsdb.DB
	engine *promql.Engine
	parser parser.Parser
	meta   *metadataMap
	logger *slog.Logger
	reg    prometheus.Registerer

	write, otlp http.Handler // built once by Open
}

// Open opens (creating if need be) the store in dir. Only one process
// may have dir open: the TSDB holds a lock file there.
func Open(dir string, opts Options) (*Store, error) {
	if opts.Retention == 0 {
		opts.Retention = DefaultRetention
	}
	if opts.Retention < 0 {
		return nil, fmt.Errorf("metric store: retention must be positive, got %s", opts.Retention)
	}
	if opts.OutOfOrderWindow == 0 {
		opts.OutOfOrderWindow = DefaultOutOfOrderWindow
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "metricstore")

	meta, err := loadMetadata(filepath.Join(dir, metadataFile), logger)
	if err != nil {
		return nil, fmt.Errorf("metric store: %w", err)
	}

	db, err := tsdb.Open(dir, logger, opts.Registerer, tsdbOptions(opts), nil)
	if err != nil {
		return nil, fmt.Errorf("metric store: open %s: %w", dir, err)
	}

	p := parser.NewParser(parser.Options{
		// On by default since Prometheus 3.x: durations like [5m*2].
		ExperimentalDurationExpr: true,
	})
	engine := promql.NewEngine(promql.EngineOpts{
		Logger:        logger,
		Reg:           opts.Registerer,
		MaxSamples:    QueryMaxSamples,
		Timeout:       QueryTimeout,
		LookbackDelta: QueryLookbackDelta,
		NoStepSubqueryIntervalFn: func(int64) int64 {
			return subqueryStep.Milliseconds()
		},
		// Always on in Prometheus since v2.33.
		EnableAtModifier:     true,
		EnableNegativeOffset: true,
		Parser:               p,
	})
	s := &Store{db: db, engine: engine, parser: p, meta: meta, logger: logger, reg: opts.Registerer}
	s.buildHandlers()
	return s, nil
}

// tsdbOptions are Prometheus's defaults with opts' retention and
// out-of-order window, and blocks sized as Prometheus sizes them.
func tsdbOptions(opts Options) *tsdb.Options {
	o := tsdb.DefaultOptions()
	o.RetentionDuration = opts.Retention.Milliseconds()
	if opts.OutOfOrderWindow > 0 {
		o.OutOfOrderTimeWindow = opts.OutOfOrderWindow.Milliseconds()
	}
	// Like Prometheus: blocks grow by compaction up to a tenth of the
	// retention, at most 31 days, so retention drops data in tenths.
	maxBlock := min(opts.Retention/10, 31*24*time.Hour)
	o.MaxBlockDuration = max(maxBlock.Milliseconds(), o.MinBlockDuration)
	o.WALCompression = compression.Snappy
	return o
}

// Querier implements storage.Queryable over the samples in [mint, maxt]
// (milliseconds since the epoch).
func (s *Store) Querier(mint, maxt int64) (storage.Querier, error) {
	return s.db.Querier(mint, maxt)
}

// Appender implements storage.Appendable: it writes straight into the
// TSDB, for callers inside Tocsin and for tests and benchmarks that load
// data without HTTP.
func (s *Store) Appender(ctx context.Context) storage.Appender {
	return s.db.Appender(ctx)
}

// Engine is the PromQL engine every query on the store shares, so the
// limits above hold across all of them.
func (s *Store) Engine() *promql.Engine { return s.engine }

// Parser parses PromQL as the engine does.
func (s *Store) Parser() parser.Parser { return s.parser }

// Metadata returns the metadata of the named metric family, or of every
// family when metric is "". The map is the caller's.
func (s *Store) Metadata(metric string) map[string]metadata.Metadata {
	return s.meta.get(metric)
}

// Close flushes and closes the TSDB. Handlers must not be used after.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("metric store: close: %w", err)
	}
	return nil
}

// metricName is the __name__ label's name.
const metricName = model.MetricNameLabel
