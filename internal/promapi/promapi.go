// Package promapi serves the read side of Prometheus's HTTP API
// (/api/v1/query, query_range, series, labels, label/{name}/values,
// metadata) over any storage.Queryable and PromQL engine, answering as
// Prometheus answers: the same parameters, the same JSON, the same
// error types and status codes. So Grafana, promtool and any Prometheus
// client can query Tocsin's embedded store.
//
// Paths are relative: the caller strips its prefix (Tocsin mounts the
// handler at /prometheus) and does the authentication. Not served:
// query_exemplars, format_query, parse_query, the status and admin
// endpoints, and the "stats" parameter (ignored).
package promapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

// MetadataSource gives metric metadata by metric family name: of one
// family, or of all when metric is "". *metricstore.Store is one.
type MetadataSource interface {
	Metadata(metric string) map[string]metadata.Metadata
}

// Options configure New. Queryable and Engine are required.
type Options struct {
	Queryable storage.Queryable
	Engine    promql.QueryEngine
	// Parser parses match[] selectors; it should be the engine's. Nil
	// means Prometheus's default parser.
	Parser parser.Parser
	// Metadata answers /api/v1/metadata; nil answers it with {}.
	Metadata MetadataSource
	// Now is the default time of an instant query; nil means time.Now.
	Now func() time.Time
	// Logger gets failures to write answers; nil discards them.
	Logger *slog.Logger
}

// Handler serves the API. Build it with New.
type Handler struct {
	opts Options
	mux  *http.ServeMux
}

// New returns the API handler.
func New(opts Options) *Handler {
	if opts.Parser == nil {
		opts.Parser = parser.NewParser(parser.Options{ExperimentalDurationExpr: true})
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Logger = opts.Logger.With("component", "promapi")
	h := &Handler{opts: opts, mux: http.NewServeMux()}
	// GET and POST (form) where Prometheus takes both; GET alone where
	// it does.
	for _, route := range []struct {
		path string
		post bool
		fn   endpoint
	}{
		{"/api/v1/query", true, h.query},
		{"/api/v1/query_range", true, h.queryRange},
		{"/api/v1/series", true, h.series},
		{"/api/v1/labels", true, h.labelNames},
		{"/api/v1/label/{name}/values", false, h.labelValues},
		{"/api/v1/metadata", false, h.metadata},
	} {
		h.mux.Handle("GET "+route.path, h.serve(route.fn))
		if route.post {
			h.mux.Handle("POST "+route.path, h.serve(route.fn))
		}
	}
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, r)
}

// An endpoint answers with its data already encoded as JSON: encoding
// must happen while the query or querier the data comes from is open.
type endpoint func(r *http.Request) (data []byte, warnings annotations.Annotations, err *apiError)

// Error types and their status codes, as Prometheus has them.
type errorType string

const (
	errorBadData  errorType = "bad_data"
	errorExec     errorType = "execution"
	errorTimeout  errorType = "timeout"
	errorCanceled errorType = "canceled"
	errorInternal errorType = "internal"
)

var errorStatus = map[errorType]int{
	errorBadData:  http.StatusBadRequest,
	errorExec:     http.StatusUnprocessableEntity,
	errorTimeout:  http.StatusServiceUnavailable,
	errorCanceled: 499, // client closed request
	errorInternal: http.StatusInternalServerError,
}

type apiError struct {
	typ errorType
	err error
}

func badData(err error) *apiError { return &apiError{errorBadData, err} }

// invalidParam is Prometheus's error for a parameter it cannot use.
func invalidParam(name string, err error) *apiError {
	return badData(fmt.Errorf("invalid parameter %q: %w", name, err))
}

// execError classifies a failed query or storage read.
func execError(err error) *apiError {
	var (
		canceled promql.ErrQueryCanceled
		timeout  promql.ErrQueryTimeout
		storErr  promql.ErrStorage
	)
	// In Prometheus's order: a storage error that wraps a cancellation
	// is a storage error.
	switch {
	case errors.As(err, &canceled):
		return &apiError{errorCanceled, err}
	case errors.As(err, &timeout):
		return &apiError{errorTimeout, err}
	case errors.As(err, &storErr):
		return &apiError{errorInternal, err}
	case errors.Is(err, context.Canceled):
		return &apiError{errorCanceled, err}
	}
	return &apiError{errorExec, err}
}

// errorResponse is Prometheus's envelope of an error, fields in its order.
type errorResponse struct {
	Status    string    `json:"status"`
	ErrorType errorType `json:"errorType"`
	Error     string    `json:"error"`
}

// errTruncated is the warning of an answer cut to its limit parameter.
var errTruncated = errors.New("results truncated due to limit")

// Prometheus's caps on the annotations listed in one answer.
const maxWarnings, maxInfos = 10, 10

func (h *Handler) serve(fn endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var (
			data     []byte
			warnings annotations.Annotations
			apiErr   *apiError
		)
		if err := r.ParseForm(); err != nil {
			apiErr = badData(fmt.Errorf("error parsing form values: %w", err))
		} else {
			data, warnings, apiErr = fn(r)
		}
		status, body := http.StatusOK, []byte(nil)
		if apiErr == nil {
			body = successBody(data, warnings, r.FormValue("query"))
		} else {
			status = errorStatus[apiErr.typ]
			body, _ = json.Marshal(errorResponse{Status: "error", ErrorType: apiErr.typ, Error: apiErr.err.Error()}) // strings always encode
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if _, err := w.Write(body); err != nil {
			h.opts.Logger.Debug("writing answer", "path", r.URL.Path, "err", err)
		}
	})
}

// successBody wraps data, which is JSON already, in the envelope
// {"status":"success","data":…,"warnings":[…],"infos":[…]}; the lists
// only when not empty.
func successBody(data []byte, warnings annotations.Annotations, query string) []byte {
	warns, infos := warnings.AsStrings(query, maxWarnings, maxInfos)
	b := make([]byte, 0, len(data)+64)
	b = append(b, `{"status":"success","data":`...)
	b = append(b, data...)
	for _, list := range []struct {
		key  string
		msgs []string
	}{{"warnings", warns}, {"infos", infos}} {
		if len(list.msgs) == 0 {
			continue
		}
		j, _ := json.Marshal(list.msgs) // strings always encode
		b = append(b, `,"`+list.key+`":`...)
		b = append(b, j...)
	}
	return append(b, '}')
}

// query serves /api/v1/query: an instant query.
func (h *Handler) query(r *http.Request) ([]byte, annotations.Annotations, *apiError) {
	limit, err := parseLimit(r.FormValue("limit"))
	if err != nil {
		return nil, nil, invalidParam("limit", err)
	}
	ts, err := timeParam(r, "time", h.opts.Now())
	if err != nil {
		return nil, nil, invalidParam("time", err)
	}
	ctx, cancel, apiErr := withTimeout(r)
	if apiErr != nil {
		return nil, nil, apiErr
	}
	defer cancel()
	opts, err := queryOpts(r)
	if err != nil {
		return nil, nil, badData(err)
	}
	qry, err := h.opts.Engine.NewInstantQuery(ctx, h.opts.Queryable, opts, r.FormValue("query"), ts)
	if err != nil {
		return nil, nil, invalidParam("query", err)
	}
	defer qry.Close()
	return queryResult(qry.Exec(ctx), limit)
}

// queryRange serves /api/v1/query_range.
func (h *Handler) queryRange(r *http.Request) ([]byte, annotations.Annotations, *apiError) {
	limit, err := parseLimit(r.FormValue("limit"))
	if err != nil {
		return nil, nil, invalidParam("limit", err)
	}
	start, err := parseTime(r.FormValue("start"))
	if err != nil {
		return nil, nil, invalidParam("start", err)
	}
	end, err := parseTime(r.FormValue("end"))
	if err != nil {
		return nil, nil, invalidParam("end", err)
	}
	if end.Before(start) {
		return nil, nil, invalidParam("end", errors.New("end timestamp must not be before start time"))
	}
	step, err := parseDuration(r.FormValue("step"))
	if err != nil {
		return nil, nil, invalidParam("step", err)
	}
	if step <= 0 {
		return nil, nil, invalidParam("step", errors.New("zero or negative query resolution step widths are not accepted. Try a positive integer"))
	}
	// Prometheus's bound: 60s resolution for a week, 1h for a year.
	if end.Sub(start)/step > 11000 {
		return nil, nil, badData(errors.New("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"))
	}
	ctx, cancel, apiErr := withTimeout(r)
	if apiErr != nil {
		return nil, nil, apiErr
	}
	defer cancel()
	opts, err := queryOpts(r)
	if err != nil {
		return nil, nil, badData(err)
	}
	qry, err := h.opts.Engine.NewRangeQuery(ctx, h.opts.Queryable, opts, r.FormValue("query"), start, end, step)
	if err != nil {
		return nil, nil, invalidParam("query", err)
	}
	defer qry.Close()
	return queryResult(qry.Exec(ctx), limit)
}

// withTimeout bounds the request's context by its timeout parameter.
func withTimeout(r *http.Request) (context.Context, context.CancelFunc, *apiError) {
	to := r.FormValue("timeout")
	if to == "" {
		return r.Context(), func() {}, nil
	}
	d, err := parseDuration(to)
	if err != nil {
		return nil, nil, invalidParam("timeout", err)
	}
	ctx, cancel := context.WithTimeout(r.Context(), d)
	return ctx, cancel, nil
}

// queryOpts reads lookback_delta, which overrides the engine's.
func queryOpts(r *http.Request) (promql.QueryOpts, error) {
	var lookback time.Duration
	if s := r.FormValue("lookback_delta"); s != "" {
		d, err := parseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("error parsing lookback delta duration: %w", err)
		}
		lookback = d
	}
	return promql.NewPrometheusQueryOpts(false, lookback), nil
}

// queryResult encodes res, cut to limit series (0: all) with a warning
// when cut.
func queryResult(res *promql.Result, limit int) ([]byte, annotations.Annotations, *apiError) {
	if res.Err != nil {
		return nil, nil, execError(res.Err)
	}
	warnings := res.Warnings
	if limit > 0 {
		cut := false
		switch v := res.Value.(type) {
		case promql.Matrix:
			if len(v) > limit {
				res.Value, cut = v[:limit], true
			}
		case promql.Vector:
			if len(v) > limit {
				res.Value, cut = v[:limit], true
			}
		}
		if cut {
			warnings.Add(errTruncated)
		}
	}
	data, err := appendQueryData(nil, res.Value)
	if err != nil {
		return nil, nil, &apiError{errorInternal, err}
	}
	return data, warnings, nil
}

// series serves /api/v1/series: the label sets of the series matching
// any match[] selector in [start, end].
func (h *Handler) series(r *http.Request) ([]byte, annotations.Annotations, *apiError) {
	if len(r.Form["match[]"]) == 0 {
		return nil, nil, badData(errors.New("no match[] parameter provided"))
	}
	p, apiErr := h.parseLookup(r, true)
	if apiErr != nil {
		return nil, nil, apiErr
	}
	q, err := h.opts.Queryable.Querier(timestamp.FromTime(p.start), timestamp.FromTime(p.end))
	if err != nil {
		return nil, nil, execError(err)
	}
	defer q.Close()

	ctx := r.Context()
	hints := &storage.SelectHints{
		Start: timestamp.FromTime(p.start),
		End:   timestamp.FromTime(p.end),
		Func:  "series", // no samples needed
		Limit: hintLimit(p.limit),
	}
	var set storage.SeriesSet
	if len(p.sets) == 1 {
		set = q.Select(ctx, false, hints, p.sets[0]...)
	} else {
		// Merging needs each set sorted; it drops duplicates.
		all := make([]storage.SeriesSet, len(p.sets))
		for i, ms := range p.sets {
			all[i] = q.Select(ctx, true, hints, ms...)
		}
		set = storage.NewMergeSeriesSet(all, 0, storage.ChainedSeriesMerge)
	}
	var list []labels.Labels
	for set.Next() {
		if len(list)%128 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, nil, execError(err)
			}
		}
		list = append(list, set.At().Labels())
		if p.limit > 0 && len(list) > p.limit {
			list = list[:p.limit]
			warnings := set.Warnings()
			warnings.Add(errTruncated)
			return appendLabelsList(nil, list), warnings, nil
		}
	}
	if err := set.Err(); err != nil {
		return nil, nil, execError(err)
	}
	return appendLabelsList(nil, list), set.Warnings(), nil
}

// labelNames serves /api/v1/labels.
func (h *Handler) labelNames(r *http.Request) ([]byte, annotations.Annotations, *apiError) {
	return h.lookupStrings(r, func(ctx context.Context, q storage.Querier, hints *storage.LabelHints, ms []*labels.Matcher) ([]string, annotations.Annotations, error) {
		return q.LabelNames(ctx, hints, ms...)
	})
}

// labelValues serves /api/v1/label/{name}/values.
func (h *Handler) labelValues(r *http.Request) ([]byte, annotations.Annotations, *apiError) {
	name := r.PathValue("name")
	if strings.HasPrefix(name, "U__") {
		name = model.UnescapeName(name, model.ValueEncodingEscaping)
	}
	if !model.UTF8Validation.IsValidLabelName(name) {
		return nil, nil, badData(fmt.Errorf("invalid label name: %q", name))
	}
	return h.lookupStrings(r, func(ctx context.Context, q storage.Querier, hints *storage.LabelHints, ms []*labels.Matcher) ([]string, annotations.Annotations, error) {
		return q.LabelValues(ctx, name, hints, ms...)
	})
}

// lookupFunc looks label names or values up in q.
type lookupFunc func(ctx context.Context, q storage.Querier, hints *storage.LabelHints, ms []*labels.Matcher) ([]string, annotations.Annotations, error)

// lookupStrings answers the label endpoints: it reads limit, start, end
// and match[], runs lookup over [start, end] once with no matchers or
// once per matcher set, and encodes the union, sorted, cut to limit (0:
// all) with a warning if cut.
func (h *Handler) lookupStrings(r *http.Request, lookup lookupFunc) ([]byte, annotations.Annotations, *apiError) {
	p, apiErr := h.parseLookup(r, false)
	if apiErr != nil {
		return nil, nil, apiErr
	}
	q, err := h.opts.Queryable.Querier(timestamp.FromTime(p.start), timestamp.FromTime(p.end))
	if err != nil {
		return nil, nil, execError(err)
	}
	defer q.Close()

	hints := &storage.LabelHints{Limit: hintLimit(p.limit)}
	sets := p.sets
	if len(sets) == 0 {
		sets = [][]*labels.Matcher{nil}
	}
	var warnings annotations.Annotations
	union := map[string]struct{}{}
	for _, ms := range sets {
		vals, w, err := lookup(r.Context(), q, hints, ms)
		if err != nil {
			return nil, nil, execError(err)
		}
		warnings.Merge(w)
		for _, v := range vals {
			union[v] = struct{}{}
		}
	}
	vals := slices.Sorted(maps.Keys(union))
	if vals == nil {
		vals = []string{}
	}
	if p.limit > 0 && len(vals) > p.limit {
		vals = vals[:p.limit]
		warnings.Add(errTruncated)
	}
	data, err := json.Marshal(vals)
	if err != nil {
		return nil, nil, &apiError{errorInternal, err}
	}
	return data, warnings, nil
}

// lookupParams are the parameters of series and label lookups.
type lookupParams struct {
	limit      int // 0: none
	start, end time.Time
	sets       [][]*labels.Matcher // match[], parsed
}

// parseLookup reads limit, start and end (all time when absent) and
// match[]. A bad match[] is reported as Prometheus reports it: named by
// the series endpoint (named), bare by the label endpoints.
func (h *Handler) parseLookup(r *http.Request, named bool) (lookupParams, *apiError) {
	var (
		p   lookupParams
		err error
	)
	if p.limit, err = parseLimit(r.FormValue("limit")); err != nil {
		return p, invalidParam("limit", err)
	}
	if p.start, err = timeParam(r, "start", minTime); err != nil {
		return p, invalidParam("start", err)
	}
	if p.end, err = timeParam(r, "end", maxTime); err != nil {
		return p, invalidParam("end", err)
	}
	if p.sets, err = parseMatchers(h.opts.Parser, r.Form["match[]"]); err != nil {
		if named {
			return p, invalidParam("match[]", err)
		}
		return p, badData(err)
	}
	return p, nil
}

// metadata serves /api/v1/metadata: {"family":[{"type","unit","help"}]}.
// The store keeps one entry per family, so limit_per_metric, checked
// for form, never cuts anything; limit cuts families in name order.
func (h *Handler) metadata(r *http.Request) ([]byte, annotations.Annotations, *apiError) {
	limit := -1
	if s := r.FormValue("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, nil, badData(errors.New("limit must be a number"))
		}
		limit = n
	}
	if s := r.FormValue("limit_per_metric"); s != "" {
		if _, err := strconv.Atoi(s); err != nil {
			return nil, nil, badData(errors.New("limit_per_metric must be a number"))
		}
	}
	out := map[string][]metadata.Metadata{}
	if h.opts.Metadata != nil {
		all := h.opts.Metadata.Metadata(r.FormValue("metric"))
		for _, name := range slices.Sorted(maps.Keys(all)) {
			if limit >= 0 && len(out) >= limit {
				break
			}
			out[name] = []metadata.Metadata{all[name]}
		}
	}
	data, err := json.Marshal(out)
	if err != nil {
		return nil, nil, &apiError{errorInternal, err}
	}
	return data, nil, nil
}
