package promapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/promql"

	"github.com/tocsinhq/tocsin/internal/metricstore"
)

// t0 is the test data's first timestamp, in milliseconds.
const t0 = 1_700_000_000_000

// newTestAPI serves the API over a store holding, every 15s for 5
// minutes from t0: http_requests_total{job="api",instance="a"} rising
// by 1 a step and {instance="b"} by 2, and queue_depth{job="worker"} at 7.
func newTestAPI(t *testing.T, configure func(*Options)) http.Handler {
	t.Helper()
	s, err := metricstore.Open(t.TempDir(), metricstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	app := s.Appender(context.Background())
	for i := range 21 {
		ts := t0 + int64(i)*15_000
		for _, add := range []struct {
			ls labels.Labels
			v  float64
		}{
			{labels.FromStrings("__name__", "http_requests_total", "job", "api", "instance", "a"), float64(i)},
			{labels.FromStrings("__name__", "http_requests_total", "job", "api", "instance", "b"), float64(2 * i)},
			{labels.FromStrings("__name__", "queue_depth", "job", "worker"), 7},
		} {
			if _, err := app.Append(0, add.ls, ts, add.v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	opts := Options{
		Queryable: s,
		Engine:    s.Engine(),
		Parser:    s.Parser(),
		Metadata: fakeMetadata{
			"http_requests_total": {Type: model.MetricTypeCounter, Help: "Requests."},
			"queue_depth":         {Type: model.MetricTypeGauge, Help: "Jobs waiting.", Unit: "jobs"},
		},
		Now: func() time.Time { return time.UnixMilli(t0 + 60_000) },
	}
	if configure != nil {
		configure(&opts)
	}
	return New(opts)
}

type fakeMetadata map[string]metadata.Metadata

func (f fakeMetadata) Metadata(metric string) map[string]metadata.Metadata {
	out := map[string]metadata.Metadata{}
	for name, md := range f {
		if metric == "" || metric == name {
			out[name] = md
		}
	}
	return out
}

// get serves a GET of path?query and returns the status and body.
func get(t *testing.T, h http.Handler, path string, query url.Values) (int, string) {
	t.Helper()
	return do(t, h, httptest.NewRequest(http.MethodGet, path+"?"+query.Encode(), nil))
}

func do(t *testing.T, h http.Handler, r *http.Request) (int, string) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	body, _ := io.ReadAll(w.Result().Body)
	if ct := w.Header().Get("Content-Type"); w.Code != http.StatusMethodNotAllowed && w.Code != http.StatusNotFound && ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	return w.Code, string(body)
}

func TestAnswers(t *testing.T) {
	h := newTestAPI(t, nil)
	for _, tc := range []struct {
		name  string
		path  string
		query url.Values
		want  string
	}{
		{"instant query at time", "/api/v1/query",
			url.Values{"query": {`http_requests_total{instance="b"}`}, "time": {"1700000060"}},
			`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"http_requests_total","instance":"b","job":"api"},"value":[1700000060,"8"]}]}}`},
		{"instant query defaults to now", "/api/v1/query",
			url.Values{"query": {`sum(http_requests_total)`}},
			`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000060,"12"]}]}}`},
		{"instant query limit", "/api/v1/query",
			url.Values{"query": {`http_requests_total`}, "time": {"1700000060"}, "limit": {"1"}},
			`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"http_requests_total","instance":"a","job":"api"},"value":[1700000060,"4"]}]},"warnings":["results truncated due to limit"]}`},
		{"scalar", "/api/v1/query",
			url.Values{"query": {`scalar(queue_depth) / 0`}, "time": {"2023-11-14T22:14:20.5Z"}},
			`{"status":"success","data":{"resultType":"scalar","result":[1700000060.5,"+Inf"]}}`},
		{"range query", "/api/v1/query_range",
			url.Values{"query": {`rate(http_requests_total[1m])`}, "start": {"1700000060"}, "end": {"1700000090"}, "step": {"15s"}},
			`{"status":"success","data":{"resultType":"matrix","result":[` +
				`{"metric":{"instance":"a","job":"api"},"values":[[1700000060,"0.06666666666666665"],[1700000075,"0.06666666666666665"],[1700000090,"0.06666666666666665"]]},` +
				`{"metric":{"instance":"b","job":"api"},"values":[[1700000060,"0.1333333333333333"],[1700000075,"0.1333333333333333"],[1700000090,"0.1333333333333333"]]}]}}`},
		{"range query with lookback_delta", "/api/v1/query_range",
			url.Values{"query": {`queue_depth`}, "start": {"1700000300"}, "end": {"1700000330"}, "step": {"15"}, "lookback_delta": {"20s"}},
			`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"queue_depth","job":"worker"},"values":[[1700000300,"7"],[1700000315,"7"]]}]}}`},
		{"info annotation", "/api/v1/query",
			url.Values{"query": {`rate(queue_depth[1m])`}, "time": {"1700000060"}},
			`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"worker"},"value":[1700000060,"0"]}]},"infos":["PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"queue_depth\" (1:6)"]}`},
		{"series", "/api/v1/series",
			url.Values{"match[]": {`{job="worker"}`, `http_requests_total{instance="a"}`}},
			`{"status":"success","data":[{"__name__":"http_requests_total","instance":"a","job":"api"},{"__name__":"queue_depth","job":"worker"}]}`},
		{"series out of range", "/api/v1/series",
			url.Values{"match[]": {`queue_depth`}, "start": {"1600000000"}, "end": {"1600000001"}},
			`{"status":"success","data":[]}`},
		{"labels", "/api/v1/labels", nil,
			`{"status":"success","data":["__name__","instance","job"]}`},
		{"labels matching", "/api/v1/labels", url.Values{"match[]": {`queue_depth`}},
			`{"status":"success","data":["__name__","job"]}`},
		{"labels limit", "/api/v1/labels", url.Values{"limit": {"2"}},
			`{"status":"success","data":["__name__","instance"],"warnings":["results truncated due to limit"]}`},
		{"label values", "/api/v1/label/job/values", nil,
			`{"status":"success","data":["api","worker"]}`},
		{"label values of two matchers", "/api/v1/label/__name__/values", url.Values{"match[]": {`{instance="b"}`, `{job="worker"}`}},
			`{"status":"success","data":["http_requests_total","queue_depth"]}`},
		{"label values escaped name", "/api/v1/label/U__job/values", nil,
			`{"status":"success","data":["api","worker"]}`},
		{"label values of no label", "/api/v1/label/nope/values", nil,
			`{"status":"success","data":[]}`},
		{"metadata", "/api/v1/metadata", nil,
			`{"status":"success","data":{"http_requests_total":[{"type":"counter","unit":"","help":"Requests."}],"queue_depth":[{"type":"gauge","unit":"jobs","help":"Jobs waiting."}]}}`},
		{"metadata of one", "/api/v1/metadata", url.Values{"metric": {"queue_depth"}, "limit_per_metric": {"1"}},
			`{"status":"success","data":{"queue_depth":[{"type":"gauge","unit":"jobs","help":"Jobs waiting."}]}}`},
		{"metadata limit", "/api/v1/metadata", url.Values{"limit": {"1"}},
			`{"status":"success","data":{"http_requests_total":[{"type":"counter","unit":"","help":"Requests."}]}}`},
		{"metadata limit 0", "/api/v1/metadata", url.Values{"limit": {"0"}},
			`{"status":"success","data":{}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := get(t, h, tc.path, tc.query)
			if status != http.StatusOK {
				t.Errorf("status %d, want 200", status)
			}
			if diff := cmp.Diff(tc.want, body); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPostForm(t *testing.T) {
	h := newTestAPI(t, nil)
	form := url.Values{"query": {`sum(queue_depth)`}, "time": {"1700000060"}}
	r := httptest.NewRequest(http.MethodPost, "/api/v1/query", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	status, body := do(t, h, r)
	_, want := get(t, h, "/api/v1/query", form)
	if status != http.StatusOK || body != want {
		t.Errorf("POST answered %d %s, want 200 %s", status, body, want)
	}
}

func TestErrors(t *testing.T) {
	h := newTestAPI(t, nil)
	tiny := newTestAPI(t, func(o *Options) {
		o.Engine = promql.NewEngine(promql.EngineOpts{MaxSamples: 1, Timeout: time.Minute, Parser: o.Parser})
	})
	for _, tc := range []struct {
		name       string
		h          http.Handler
		path       string
		query      url.Values
		wantStatus int
		wantType   string
		wantError  string
	}{
		{"no query", h, "/api/v1/query", nil,
			400, "bad_data", `invalid parameter "query": unknown position: parse error: no expression found in input`},
		{"bad query", h, "/api/v1/query", url.Values{"query": {"sum("}},
			400, "bad_data", `invalid parameter "query": 1:5: parse error: unclosed left parenthesis`},
		{"bad time", h, "/api/v1/query", url.Values{"query": {"1"}, "time": {"noon"}},
			400, "bad_data", `invalid parameter "time": invalid time value for 'time': cannot parse "noon" to a valid timestamp`},
		{"bad limit", h, "/api/v1/query", url.Values{"query": {"1"}, "limit": {"-1"}},
			400, "bad_data", `invalid parameter "limit": limit must be non-negative`},
		{"bad timeout", h, "/api/v1/query", url.Values{"query": {"1"}, "timeout": {"soon"}},
			400, "bad_data", `invalid parameter "timeout": cannot parse "soon" to a valid duration`},
		{"bad lookback", h, "/api/v1/query", url.Values{"query": {"1"}, "lookback_delta": {"x"}},
			400, "bad_data", `error parsing lookback delta duration: cannot parse "x" to a valid duration`},
		{"no start", h, "/api/v1/query_range", url.Values{"query": {"1"}},
			400, "bad_data", `invalid parameter "start": cannot parse "" to a valid timestamp`},
		{"end before start", h, "/api/v1/query_range", url.Values{"query": {"1"}, "start": {"10"}, "end": {"5"}, "step": {"1"}},
			400, "bad_data", `invalid parameter "end": end timestamp must not be before start time`},
		{"zero step", h, "/api/v1/query_range", url.Values{"query": {"1"}, "start": {"0"}, "end": {"5"}, "step": {"0"}},
			400, "bad_data", `invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer`},
		{"too many points", h, "/api/v1/query_range", url.Values{"query": {"1"}, "start": {"0"}, "end": {"11001"}, "step": {"1"}},
			400, "bad_data", `exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)`},
		{"too many samples", tiny, "/api/v1/query_range", url.Values{"query": {"http_requests_total"}, "start": {"1700000000"}, "end": {"1700000060"}, "step": {"15"}},
			422, "execution", `query processing would load too many samples into memory in query execution`},
		{"timed out", h, "/api/v1/query_range", url.Values{"query": {"http_requests_total"}, "start": {"1700000000"}, "end": {"1700000060"}, "step": {"15"}, "timeout": {"0"}},
			503, "timeout", `query timed out in query execution`},
		{"series without match", h, "/api/v1/series", nil,
			400, "bad_data", `no match[] parameter provided`},
		{"series matching everything", h, "/api/v1/series", url.Values{"match[]": {`{job=~".*"}`}},
			400, "bad_data", `invalid parameter "match[]": match[] must contain at least one non-empty matcher`},
		{"labels bad matcher", h, "/api/v1/labels", url.Values{"match[]": {`{job=}`}},
			400, "bad_data", `1:6: parse error: unexpected "}" in label matching, expected string`},
		{"labels bad start", h, "/api/v1/labels", url.Values{"start": {"x"}},
			400, "bad_data", `invalid parameter "start": invalid time value for 'start': cannot parse "x" to a valid timestamp`},
		{"label values bad name", h, "/api/v1/label/%ff/values", nil,
			400, "bad_data", `invalid label name: "\xff"`},
		{"metadata bad limit", h, "/api/v1/metadata", url.Values{"limit": {"x"}},
			400, "bad_data", `limit must be a number`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := get(t, tc.h, tc.path, tc.query)
			var got struct{ Status, ErrorType, Error string }
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("%s: %v", body, err)
			}
			if status != tc.wantStatus || got.Status != "error" || got.ErrorType != tc.wantType || got.Error != tc.wantError {
				t.Errorf("got %d %s\nwant %d errorType %q error %q", status, body, tc.wantStatus, tc.wantType, tc.wantError)
			}
		})
	}
}

func TestCanceledRequest(t *testing.T) {
	h := newTestAPI(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	q := url.Values{"query": {"http_requests_total"}, "start": {"1700000000"}, "end": {"1700000060"}, "step": {"15"}}
	r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/v1/query_range?"+q.Encode(), nil)
	status, body := do(t, h, r)
	if status != 499 || !strings.Contains(body, `"errorType":"canceled"`) {
		t.Errorf("got %d %s, want 499 canceled", status, body)
	}
}

func TestMethodsAndPaths(t *testing.T) {
	h := newTestAPI(t, nil)
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodPost, "/api/v1/labels", 200},
		{http.MethodPost, "/api/v1/label/job/values", 405}, // GET only, as in Prometheus
		{http.MethodPost, "/api/v1/metadata", 405},
		{http.MethodDelete, "/api/v1/query", 405},
		{http.MethodGet, "/api/v1/query_exemplars", 404},
		{http.MethodGet, "/prometheus/api/v1/query", 404}, // the prefix is the caller's to strip
	} {
		status, _ := do(t, h, httptest.NewRequest(tc.method, tc.path, nil))
		if status != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, status, tc.want)
		}
	}
}
