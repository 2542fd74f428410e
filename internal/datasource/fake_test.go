package datasource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/storage"
)

// promAPI is a fake Prometheus query API: it evaluates queries with a
// real PromQL engine over a test storage and answers the way
// Prometheus's web/api/v1 does (the envelope, the error types and their
// HTTP statuses, the time parameters), so the client is tested against
// what Prometheus really sends.
type promAPI struct {
	engine *promql.Engine
	store  storage.Queryable
	// now is the time of a query that gives none.
	now time.Time
}

// newPromAPI loads data (promqltest's "load" syntax) into a fresh test
// storage and returns an API over it.
func newPromAPI(t *testing.T, data string, now time.Time) *promAPI {
	t.Helper()
	return &promAPI{
		engine: newEngine(t, 10*time.Second),
		store:  promqltest.LoadedStorage(t, data),
		now:    now,
	}
}

func newEngine(t *testing.T, timeout time.Duration) *promql.Engine {
	return promqltest.NewTestEngineWithOpts(t, promql.EngineOpts{
		MaxSamples:    1e6,
		Timeout:       timeout,
		LookbackDelta: 5 * time.Minute,
		// On in Prometheus 3, as the server sets them.
		EnableAtModifier:     true,
		EnableNegativeOffset: true,
		Parser:               parser.NewParser(promqltest.TestParserOpts),
	})
}

func (a *promAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeAPIError(w, "bad_data", fmt.Errorf("error parsing form values: %w", err))
		return
	}
	var (
		q   promql.Query
		err error
	)
	switch r.URL.Path {
	case "/api/v1/query":
		ts := a.now
		if r.Form.Get("time") != "" {
			if ts, err = parsePromTime(r.Form.Get("time")); err != nil {
				writeAPIError(w, "bad_data", fmt.Errorf("invalid parameter \"time\": %w", err))
				return
			}
		}
		q, err = a.engine.NewInstantQuery(r.Context(), a.store, nil, r.Form.Get("query"), ts)
	case "/api/v1/query_range":
		start, err1 := parsePromTime(r.Form.Get("start"))
		end, err2 := parsePromTime(r.Form.Get("end"))
		step, err3 := strconv.ParseFloat(r.Form.Get("step"), 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			writeAPIError(w, "bad_data", err)
			return
		}
		q, err = a.engine.NewRangeQuery(r.Context(), a.store, nil, r.Form.Get("query"), start, end, time.Duration(step*float64(time.Second)))
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		writeAPIError(w, "bad_data", fmt.Errorf("invalid parameter \"query\": %w", err))
		return
	}
	defer q.Close()
	res := q.Exec(r.Context())
	if res.Err != nil {
		writeAPIError(w, errorType(res.Err), res.Err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"status": "success",
		"data":   map[string]any{"resultType": res.Value.Type(), "result": res.Value},
	})
}

// parsePromTime reads a time parameter as Prometheus's parseTime does:
// Unix seconds, possibly with decimals, or RFC 3339.
func parsePromTime(s string) (time.Time, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec, ns := math.Modf(f)
		ns = math.Round(ns*1000) / 1000
		return time.Unix(int64(sec), int64(ns*float64(time.Second))).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", s)
}

// errorType maps an engine error as web/api/v1's returnAPIError does.
func errorType(err error) string {
	var (
		canceled promql.ErrQueryCanceled
		timeout  promql.ErrQueryTimeout
		storage  promql.ErrStorage
	)
	switch {
	case errors.As(err, &canceled), errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &timeout):
		return "timeout"
	case errors.As(err, &storage):
		return "internal"
	}
	return "execution"
}

// writeAPIError answers as web/api/v1's respondError, with its statuses.
func writeAPIError(w http.ResponseWriter, typ string, err error) {
	status := map[string]int{
		"bad_data": http.StatusBadRequest, "execution": http.StatusUnprocessableEntity,
		"canceled": 499 /* client closed request */, "timeout": http.StatusServiceUnavailable,
		"internal": http.StatusInternalServerError, "unavailable": http.StatusServiceUnavailable,
	}[typ]
	writeJSON(w, status, map[string]any{"status": "error", "errorType": typ, "error": err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// recorded is what a fake saw of one request.
type recorded struct {
	Method, Path string
	Header       http.Header
	Form         url.Values
}

// recorder remembers every request before passing it on.
type recorder struct {
	next http.Handler

	mu   sync.Mutex
	seen []recorded
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	rec.mu.Lock()
	rec.seen = append(rec.seen, recorded{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Form: r.PostForm})
	rec.mu.Unlock()
	rec.next.ServeHTTP(w, r)
}

func (rec *recorder) last(t *testing.T) recorded {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.seen) == 0 {
		t.Fatal("the fake saw no request")
	}
	return rec.seen[len(rec.seen)-1]
}

// serve starts h on 127.0.0.1, recording its requests, and returns a
// source named name pointing at it.
func serve(t *testing.T, name string, h http.Handler) (*Source, *recorder) {
	t.Helper()
	rec := &recorder{next: h}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return &Source{Name: name, URL: srv.URL}, rec
}

func promqlParser() parser.Parser { return parser.NewParser(promqltest.TestParserOpts) }

func (rec *recorder) count() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.seen)
}

// answer is a canned answer: a status, a content type ("" for none) and
// a body.
func answer(status int, contentType, body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	})
}
