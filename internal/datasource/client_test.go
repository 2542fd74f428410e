package datasource

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"

	"github.com/tocsinhq/tocsin/internal/secret"
)

// Client.Query is a rules.QueryFunc.
var _ rules.QueryFunc = (*Client)(nil).Query

// gcData is the fake's metrics: one sample a minute from 0 (the Unix
// epoch), b's going through NaN and both infinities.
const gcData = `
load 1m
  jvm_gc{instance="a", job="app"} 1 2 3 4 5 6 7 8 9 10
  jvm_gc{instance="b", job="app"} 10 NaN Inf -Inf 5 5 5 5 5 5
  up{instance="a", job="app"} 1x9
`

// at is a time n minutes and ms milliseconds after the fake's start.
func at(minutes, ms int) time.Time {
	return time.UnixMilli(int64(minutes)*60_000 + int64(ms)).UTC()
}

// show renders samples so cmp can compare them, NaN included: labels.Labels
// has unexported fields and NaN equals nothing.
func show(v promql.Vector) []string {
	out := make([]string, len(v))
	for i, s := range v {
		out[i] = fmt.Sprintf("%s @%d = %s", s.Metric, s.T, strconv.FormatFloat(s.F, 'g', -1, 64))
	}
	return out
}

func showMatrix(m promql.Matrix) []string {
	var out []string
	for _, s := range m {
		points := make([]string, len(s.Floats))
		for i, p := range s.Floats {
			points[i] = fmt.Sprintf("%d=%s", p.T, strconv.FormatFloat(p.F, 'g', -1, 64))
		}
		out = append(out, fmt.Sprintf("%s [%s] histograms=%d", s.Metric, strings.Join(points, " "), len(s.Histograms)))
	}
	return out
}

// asError returns err as *Error, failing the test if it is not one.
func asError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *datasource.Error", err, err)
	}
	return e
}

func TestQueryAnswersAsTheEngine(t *testing.T) {
	api := newPromAPI(t, gcData, at(9, 0))
	src, rec := serve(t, "prom", api)
	c := NewClient(src, nil)
	// What Prometheus's rule manager would get from the same engine.
	direct := rules.EngineQueryFunc(api.engine, api.store)
	for _, tc := range []struct {
		expr string
		t    time.Time
	}{
		{`jvm_gc`, at(0, 0)},
		{`jvm_gc{instance="b"}`, at(1, 781)}, // NaN
		{`jvm_gc{instance="b"}`, at(2, 1)},   // +Inf
		{`jvm_gc{instance="b"}`, at(3, 999)}, // -Inf
		{`sum by (job) (rate(jvm_gc{instance="a"}[5m]))`, at(7, 250)},
		{`jvm_gc > 100`, at(5, 0)}, // empty
		{`1/0`, at(4, 0)},
		{`-1/0`, at(4, 0)},
		{`0/0`, at(4, 0)},
		{`time()`, at(4, 123)},
		{`scalar(up)`, at(6, 0)},
		{`absent(nothing_here)`, at(6, 0)},
		{`label_replace(up, "note", "tab\there \"quoted\" ✓", "", "")`, at(6, 0)},
		{`jvm_gc{instance="a"} @ 120`, at(8, 0)},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			want, err := direct(t.Context(), tc.expr, tc.t)
			if err != nil {
				t.Fatalf("engine: %v", err)
			}
			got, err := c.Query(t.Context(), tc.expr, tc.t)
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			if diff := cmp.Diff(show(want), show(got)); diff != "" {
				t.Errorf("Query(%q) differs from the engine (-want +got):\n%s", tc.expr, diff)
			}
			req := rec.last(t)
			if req.Method != http.MethodPost || req.Path != "/api/v1/query" ||
				req.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
				t.Errorf("request %s %s with Content-Type %q, want a form POST to /api/v1/query", req.Method, req.Path, req.Header.Get("Content-Type"))
			}
			if q, ts := req.Form.Get("query"), req.Form.Get("time"); q != tc.expr || ts != formatTime(tc.t) {
				t.Errorf("form query=%q time=%q, want %q and %q", q, ts, tc.expr, formatTime(tc.t))
			}
		})
	}
}

func TestQueryRangeAnswersAsTheEngine(t *testing.T) {
	api := newPromAPI(t, gcData, at(9, 0))
	src, rec := serve(t, "prom", api)
	c := NewClient(src, nil)
	for _, tc := range []struct {
		expr       string
		start, end time.Time
		step       time.Duration
	}{
		{`jvm_gc`, at(0, 0), at(9, 0), time.Minute},
		{`rate(jvm_gc[2m])`, at(2, 500), at(9, 500), 30*time.Second + 500*time.Millisecond},
		{`1/0`, at(0, 0), at(2, 0), time.Minute}, // a scalar over time is a matrix too
		{`jvm_gc > 100`, at(0, 0), at(9, 0), time.Minute},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			q, err := api.engine.NewRangeQuery(t.Context(), api.store, nil, tc.expr, tc.start, tc.end, tc.step)
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			res := q.Exec(t.Context())
			want, err := res.Matrix()
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.QueryRange(t.Context(), tc.expr, tc.start, tc.end, tc.step)
			if err != nil {
				t.Fatalf("QueryRange: %v", err)
			}
			if diff := cmp.Diff(showMatrix(want), showMatrix(got)); diff != "" {
				t.Errorf("QueryRange(%q) differs from the engine (-want +got):\n%s", tc.expr, diff)
			}
			if req := rec.last(t); req.Path != "/api/v1/query_range" || req.Form.Get("step") != strconv.FormatFloat(tc.step.Seconds(), 'f', -1, 64) {
				t.Errorf("request to %s with step %q", req.Path, req.Form.Get("step"))
			}
		})
	}
}

func TestQueryRefusesResultsThatAreNotInstantVectors(t *testing.T) {
	src, _ := serve(t, "prom", newPromAPI(t, gcData, at(9, 0)))
	c := NewClient(src, nil)
	for expr, want := range map[string]string{
		`jvm_gc[2m]`: "range vector",
		`"hello"`:    "gives a string",
	} {
		_, err := c.Query(t.Context(), expr, at(5, 0))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `data source "prom"`) {
			t.Errorf("Query(%s) = %v, want an error naming the source and saying %q", expr, err, want)
		}
	}
	if _, err := c.QueryRange(t.Context(), `up`, at(0, 0), at(1, 0), 0); err == nil {
		t.Error("QueryRange with step 0 succeeded")
	}
}

func TestQueryRangeRefusesAnInstantAnswer(t *testing.T) {
	src, _ := serve(t, "odd", answer(200, "application/json", `{"status":"success","data":{"resultType":"vector","result":[]}}`))
	_, err := NewClient(src, nil).QueryRange(t.Context(), "up", at(0, 0), at(1, 0), time.Minute)
	if err == nil || !strings.Contains(err.Error(), "not a matrix") {
		t.Errorf("QueryRange = %v, want an error saying the answer is not a matrix", err)
	}
}

// requireAuth answers 401 with a web server's HTML page unless the
// request carries exactly the wanted Authorization and X-Scope-OrgID.
func requireAuth(authorization, org string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != authorization || r.Header.Get("X-Scope-OrgID") != org {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, "<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n<center><h1>401 Authorization Required</h1></center>\r\n</body>\r\n</html>\r\n")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func TestClientAuthenticates(t *testing.T) {
	const token = "glc_eyJvIjoiMTIzNDU2Nzg5MCJ9secret"
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("tenant-7:pa55:word"))
	for _, tc := range []struct {
		name          string
		source        Source
		authorization string
		org           string
	}{
		{"none", Source{}, "", ""},
		{"bearer", Source{BearerToken: secret.New(token)}, "Bearer " + token, ""},
		{"basic", Source{Username: "tenant-7", Password: secret.New("pa55:word")}, basic, ""},
		{"headers", Source{Headers: map[string]string{"X-Scope-OrgID": "team-a|team-b"}}, "", "team-a|team-b"},
		{"basic and headers", Source{Username: "tenant-7", Password: secret.New("pa55:word"), Headers: map[string]string{"x-scope-orgid": "t7"}}, basic, "t7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, rec := serve(t, "prom", requireAuth(tc.authorization, tc.org, newPromAPI(t, gcData, at(9, 0))))
			tc.source.Name, tc.source.URL = src.Name, src.URL
			c := NewClient(&tc.source, nil)
			if err := c.Check(t.Context()); err != nil {
				t.Fatalf("Check: %v", err)
			}
			if ua := rec.last(t).Header.Get("User-Agent"); ua != userAgent {
				t.Errorf("User-Agent %q, want %q", ua, userAgent)
			}

			// The same source without its credentials is refused, and
			// the error says so without quoting what it sent.
			bare := tc.source
			bare.BearerToken, bare.Username, bare.Password, bare.Headers = secret.String{}, "", secret.String{}, nil
			err := NewClient(&bare, nil).Check(t.Context())
			if tc.authorization == "" && tc.org == "" {
				if err != nil {
					t.Errorf("Check without credentials: %v", err)
				}
				return
			}
			e := asError(t, err)
			if e.Status != http.StatusUnauthorized || !strings.Contains(e.Error(), "401 Authorization Required") || !strings.Contains(e.Error(), "check the credentials") {
				t.Errorf("error %q, want HTTP 401, the page's title and a hint about credentials", e)
			}
		})
	}
}

// echoAuth answers with the request's Authorization header in its body,
// as a debugging proxy might: in an HTML page, or in a Prometheus error.
func echoAuth(envelope bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if envelope {
			writeAPIError(w, "bad_data", fmt.Errorf("token %q is not allowed here, nor %s", r.Header.Get("Authorization"), strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")))
			return
		}
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, "forbidden: %s", r.Header.Get("Authorization"))
	})
}

func TestErrorsNeverRevealSecrets(t *testing.T) {
	const token, password = "tok-0123456789abcdef", "hunter2-very-secret"
	for _, envelope := range []bool{false, true} {
		for _, s := range []Source{
			{BearerToken: secret.New(token)},
			{Username: "admin", Password: secret.New(password)},
		} {
			src, _ := serve(t, "prom", echoAuth(envelope))
			s.Name, s.URL = src.Name, src.URL
			_, err := NewClient(&s, nil).Query(t.Context(), "up", at(1, 0))
			if err == nil {
				t.Fatal("Query succeeded against a server refusing it")
			}
			msg := err.Error()
			for _, leak := range []string{token, password, base64.StdEncoding.EncodeToString([]byte("admin:" + password))} {
				if strings.Contains(msg, leak) {
					t.Errorf("error %q reveals %q", msg, leak)
				}
			}
			if !strings.Contains(msg, secret.Mask) {
				t.Errorf("error %q shows no mask where the secret was", msg)
			}
		}
	}
}

func TestTimeoutNamesSourceAndTimeout(t *testing.T) {
	arrived := make(chan struct{}, 1)
	stall := func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
	}
	// stallBody sends the headers and the start of the body, then stops.
	stallBody := func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[`)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}
	for name, h := range map[string]http.HandlerFunc{"no headers": stall, "half a body": stallBody} {
		t.Run(name, func(t *testing.T) {
			src, rec := serve(t, "slow-prom", h)
			src.Timeout = 50 * time.Millisecond
			_, err := NewClient(src, nil).Query(t.Context(), "up", at(1, 0))
			<-arrived
			e := asError(t, err)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
			}
			if msg := e.Error(); !strings.Contains(msg, `data source "slow-prom"`) || !strings.Contains(msg, "timeout of 50ms") {
				t.Errorf("error %q does not name the source and its timeout", msg)
			}
			if got := rec.last(t).Form.Get("timeout"); got != "50ms" {
				t.Errorf("timeout parameter %q, want 50ms: the data source should stop when Tocsin does", got)
			}
		})
	}

	t.Run("caller gives up", func(t *testing.T) {
		src, _ := serve(t, "slow-prom", http.HandlerFunc(stall))
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			<-arrived
			cancel()
		}()
		_, err := NewClient(src, nil).Query(ctx, "up", at(1, 0))
		if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "timeout") {
			t.Errorf("error %v, want one wrapping context.Canceled that blames no timeout", err)
		}
	})
}

func TestPrometheusErrorEnvelopes(t *testing.T) {
	api := newPromAPI(t, gcData, at(9, 0))
	// An engine whose every query times out, as Prometheus's does when
	// a query outlives --query.timeout.
	hurried := &promAPI{engine: newEngine(t, time.Nanosecond), store: api.store, now: api.now}
	for _, tc := range []struct {
		name    string
		h       http.Handler
		expr    string
		status  int
		typ     string
		message string
	}{
		{"parse error", api, `sum(jvm_gc`, 400, "bad_data", `invalid parameter "query": 1:11: parse error`},
		{"execution", api, `label_replace(jvm_gc, "instance", "same", "", "")`, 422, "execution", "vector cannot contain metrics with the same labelset"},
		{"engine timeout", hurried, `jvm_gc`, 503, "timeout", "query timed out"},
		{"unavailable", answer(503, "application/json", `{"status":"error","errorType":"unavailable","error":"no StoreAPIs matched for this query"}`), `up`, 503, "unavailable", "no StoreAPIs matched"},
		{"victoriametrics", answer(422, "application/json", `{"status":"error","errorType":"422","error":"error when executing query=\"up\": cannot find timeseries"}`), `up`, 422, "422", "cannot find timeseries"},
		{"error without message", answer(500, "application/json", `{"status":"error","errorType":"internal"}`), `up`, 500, "internal", "gave no error message"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, _ := serve(t, "prom", tc.h)
			_, err := NewClient(src, nil).Query(t.Context(), tc.expr, at(5, 0))
			e := asError(t, err)
			if e.Status != tc.status || e.Type != tc.typ || !strings.Contains(e.Message, tc.message) || e.Source != "prom" {
				t.Errorf("error %#v, want status %d, type %s, a message with %q", e, tc.status, tc.typ, tc.message)
			}
			if want := fmt.Sprintf(`data source "prom": HTTP %d %s: `, tc.status, tc.typ); !strings.HasPrefix(e.Error(), want) {
				t.Errorf("error %q does not start %q", e, want)
			}
			if e.BadQuery() != (tc.typ == TypeBadData) {
				t.Errorf("BadQuery() = %v for type %s", e.BadQuery(), tc.typ)
			}
		})
	}
}

func TestAnswersThatAreNotPrometheusJSON(t *testing.T) {
	for _, tc := range []struct {
		name   string
		h      http.Handler
		status int
		want   []string
	}{
		{"login page", answer(200, "text/html; charset=utf-8", "<!DOCTYPE html>\n<html>\n  <head><title>Sign in · Grafana</title></head>\n<body>"+strings.Repeat("x", 500)),
			200, []string{"not Prometheus JSON (text/html; charset=utf-8)", `it starts "<!DOCTYPE html> <html> <head><title>Sign in · Grafana</title></head>`, "…"}},
		{"proxy error", answer(502, "text/plain", "Bad Gateway\n"), 502, []string{"HTTP 502", `"Bad Gateway"`}},
		{"empty", answer(504, "", ""), 504, []string{"HTTP 504", "(no content type) and empty"}},
		{"gateway JSON", answer(401, "application/json", `{"message":"invalid API key"}`), 401, []string{`"{\"message\":\"invalid API key\"}"`, "check the credentials"}},
		{"success without data", answer(200, "application/json", `{"status":"success"}`), 200, []string{"not a valid Prometheus query result"}},
		{"success on an error status", answer(500, "application/json", `{"status":"success","data":{"resultType":"vector","result":[]}}`), 500, []string{"HTTP 500", "not Prometheus JSON"}},
		{"bad sample", answer(200, "application/json", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"one"]}]}}`), 200, []string{`sample value "one" is not a number`}},
		{"binary", answer(200, "application/octet-stream", "\x00\x01\xff\xfe\x1b[31mred"), 200, []string{"it starts \"\uFFFD [31mred\""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, _ := serve(t, "prom", tc.h)
			_, err := NewClient(src, nil).Query(t.Context(), "up", at(1, 0))
			e := asError(t, err)
			if e.Status != tc.status || e.Type != "" {
				t.Errorf("status %d type %q, want %d and none", e.Status, e.Type, tc.status)
			}
			for _, w := range tc.want {
				if !strings.Contains(e.Error(), w) {
					t.Errorf("error %q lacks %q", e, w)
				}
			}
		})
	}
}

func TestWrongBaseURL(t *testing.T) {
	src, _ := serve(t, "mimir", newPromAPI(t, gcData, at(9, 0)))
	src.URL += "/prometheus" // as for Mimir, but this API is at the root
	err := NewClient(src, nil).Check(t.Context())
	if e := asError(t, err); e.Status != 404 || !strings.Contains(e.Message, "check the URL") {
		t.Errorf("error %q, want HTTP 404 and a hint to check the URL", e)
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	src, rec := serve(t, "prom", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://sso.example/login?session=abcdefghijklmnopqrstuvwxyz", http.StatusFound)
	}))
	hc := &http.Client{}
	_, err := NewClient(src, hc).Query(t.Context(), "up", at(1, 0))
	e := asError(t, err)
	if e.Status != http.StatusFound || !strings.Contains(e.Message, "https://sso.example/login") || strings.Contains(e.Message, "abcdefghijklmnop") {
		t.Errorf("error %q, want HTTP 302 naming where it leads, its query masked", e)
	}
	if n := rec.count(); n != 1 {
		t.Errorf("%d requests, want 1: the redirect was followed", n)
	}
	if hc.CheckRedirect != nil {
		t.Error("NewClient changed the caller's http.Client")
	}
}

func TestNativeHistogramsAreRefused(t *testing.T) {
	api := newPromAPI(t, `
load 1m
  rpc_seconds{job="api"} {{schema:0 sum:5 count:4 buckets:[1 2 1]}}x5
`, at(5, 0))
	src, _ := serve(t, "prom", api)
	c := NewClient(src, nil)
	_, err := c.Query(t.Context(), `rpc_seconds`, at(3, 0))
	if !errors.Is(err, ErrHistogram) || !strings.Contains(err.Error(), `{__name__="rpc_seconds", job="api"}`) || !strings.Contains(err.Error(), "histogram_quantile()") {
		t.Errorf("Query = %v, want ErrHistogram naming the series and the way out", err)
	}
	if _, err := c.QueryRange(t.Context(), `rpc_seconds`, at(0, 0), at(4, 0), time.Minute); !errors.Is(err, ErrHistogram) {
		t.Errorf("QueryRange = %v, want ErrHistogram", err)
	}
	got, err := c.Query(t.Context(), `histogram_count(rpc_seconds)`, at(3, 0))
	if err != nil || len(got) != 1 || got[0].F != 4 {
		t.Errorf("histogram_count = %v, %v; want one sample 4", show(got), err)
	}
}

func TestAnswerSizeIsBounded(t *testing.T) {
	src, _ := serve(t, "prom", newPromAPI(t, gcData, at(9, 0)))
	c := NewClient(src, nil)
	c.maxAnswer = 100
	_, err := c.Query(t.Context(), "jvm_gc", at(5, 0))
	if err == nil || !strings.Contains(err.Error(), "larger than 100 bytes") {
		t.Errorf("Query = %v, want an error about the answer's size", err)
	}
	c.maxAnswer = 1000
	if _, err := c.Query(t.Context(), "jvm_gc", at(5, 0)); err != nil {
		t.Errorf("Query within the bound: %v", err)
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    http.Handler
		ok   bool
	}{
		{"prometheus", newPromAPI(t, gcData, at(9, 0)), true},
		// VictoriaMetrics answers a constant with a vector.
		{"vector", answer(200, "application/json", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1786000000,"1"]}]}}`), true},
		{"empty vector", answer(200, "application/json", `{"status":"success","data":{"resultType":"vector","result":[]}}`), false},
		{"wrong value", answer(200, "application/json", `{"status":"success","data":{"resultType":"scalar","result":[1786000000,"2"]}}`), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, rec := serve(t, "prom", tc.h)
			err := NewClient(src, nil).Check(t.Context())
			if (err == nil) != tc.ok {
				t.Errorf("Check = %v, want ok %v", err, tc.ok)
			}
			if form := rec.last(t).Form; form.Get("query") != "1" || form.Has("time") {
				t.Errorf("Check sent %v, want query=1 and no time (the data source's own)", form)
			}
		})
	}
}

// TestRuleEvaluation runs a Prometheus alerting rule with a Client as
// its QueryFunc, as the evaluator may.
func TestRuleEvaluation(t *testing.T) {
	src, _ := serve(t, "prom", newPromAPI(t, gcData, at(9, 0)))
	c := NewClient(src, nil)
	expr, err := promqlParser().ParseExpr(`jvm_gc > 5`)
	if err != nil {
		t.Fatal(err)
	}
	rule := rules.NewAlertingRule("HighGC", expr, 0, 0, labels.FromStrings("severity", "warning"), labels.EmptyLabels(), labels.EmptyLabels(), "", false, nil)
	if _, err := rule.Eval(t.Context(), 0, at(9, 0), c.Query, nil, 0); err != nil {
		t.Fatalf("Eval: %v", err)
	}
	var got []string
	for _, a := range rule.ActiveAlerts() {
		got = append(got, fmt.Sprintf("%s %s = %g", a.State, a.Labels, a.Value))
	}
	want := []string{`firing {alertname="HighGC", instance="a", job="app", severity="warning"} = 10`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("active alerts (-want +got):\n%s", diff)
	}
}

func TestFormatTime(t *testing.T) {
	for in, want := range map[time.Time]string{
		time.UnixMilli(1435781451781): "1435781451.781",
		time.UnixMilli(1435781451000): "1435781451.000",
		time.UnixMilli(5):             "0.005",
		time.UnixMilli(-1500):         "-1.500",
		time.Unix(10, 999_999_999):    "10.999", // sub-millisecond is dropped, as Prometheus does
	} {
		if got := formatTime(in); got != want {
			t.Errorf("formatTime(%d ms) = %q, want %q", in.UnixMilli(), got, want)
		}
	}
}
