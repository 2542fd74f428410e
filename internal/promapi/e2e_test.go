package promapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	"github.com/golang/snappy"
	"github.com/google/go-cmp/cmp"
	config_util "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/storage/remote"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	"github.com/tocsinhq/tocsin/internal/metricstore"
	"github.com/tocsinhq/tocsin/internal/promapi"
)

// The fixture: points every 15s for 30 minutes from base, pushed by
// remote write (series, then metadata, as Prometheus sends them), OTLP
// protobuf (a gauge, a counter, a histogram, an exponential histogram)
// and OTLP JSON (a counter).
const (
	points = 121
	step   = 15 * time.Second
)

// target is where a test pushes and queries: Tocsin's handlers or a
// real Prometheus.
type target struct {
	write, otlp, api string // URLs
}

// tocsinTarget serves a fresh store's handlers where Tocsin mounts them.
func tocsinTarget(t *testing.T) target {
	s, err := metricstore.Open(t.TempDir(), metricstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	api := promapi.New(promapi.Options{Queryable: s, Engine: s.Engine(), Parser: s.Parser(), Metadata: s})
	mux := http.NewServeMux()
	mux.Handle("POST /api/v1/write", s.WriteHandler())
	mux.Handle("POST /v1/metrics", s.OTLPHandler())
	mux.Handle("/prometheus/", http.StripPrefix("/prometheus", api))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return target{write: srv.URL + "/api/v1/write", otlp: srv.URL + "/v1/metrics", api: srv.URL + "/prometheus"}
}

func remoteWriteFixture(base time.Time) []*prompb.WriteRequest {
	ts := func(i int) int64 { return base.Add(time.Duration(i) * step).UnixMilli() }
	series := func(v func(i int) float64, ls ...string) prompb.TimeSeries {
		s := prompb.TimeSeries{}
		for i := 0; i < len(ls); i += 2 {
			s.Labels = append(s.Labels, prompb.Label{Name: ls[i], Value: ls[i+1]})
		}
		for i := range points {
			s.Samples = append(s.Samples, prompb.Sample{Timestamp: ts(i), Value: v(i)})
		}
		return s
	}
	return []*prompb.WriteRequest{
		{Timeseries: []prompb.TimeSeries{
			series(func(i int) float64 { return float64(3 * i) },
				"__name__", "http_requests_total", "instance", "a", "job", "api", "path", `/a?b=<c>&d="e"`),
			series(func(i int) float64 { return float64(i % 60) }, // resets at i=60
				"__name__", "http_requests_total", "instance", "b", "job", "api", "team", "网站"),
			series(func(i int) float64 { return float64(i) }, "__name__", "request_duration_seconds_bucket", "job", "api", "le", "0.1"),
			series(func(i int) float64 { return float64(3 * i) }, "__name__", "request_duration_seconds_bucket", "job", "api", "le", "0.5"),
			series(func(i int) float64 { return float64(4 * i) }, "__name__", "request_duration_seconds_bucket", "job", "api", "le", "+Inf"),
			series(func(i int) float64 { return 0.7 * float64(i) }, "__name__", "request_duration_seconds_sum", "job", "api"),
			series(func(i int) float64 { return float64(4 * i) }, "__name__", "request_duration_seconds_count", "job", "api"),
			series(func(i int) float64 {
				if i == 10 {
					return math.NaN()
				}
				return 20 + float64(i%5)
			}, "__name__", "temperature_celsius", "job", "sensor"),
		}},
		{Metadata: []prompb.MetricMetadata{
			{Type: prompb.MetricMetadata_COUNTER, MetricFamilyName: "http_requests_total", Help: "Requests served."},
			{Type: prompb.MetricMetadata_HISTOGRAM, MetricFamilyName: "request_duration_seconds", Help: "Request latency.", Unit: "seconds"},
		}},
	}
}

// pushRemoteWrite sends reqs with Prometheus's own remote write client,
// the one promtool's push uses.
func pushRemoteWrite(t *testing.T, endpoint string, reqs []*prompb.WriteRequest) {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	c, err := remote.NewWriteClient("test", &remote.ClientConfig{
		URL: &config_util.URL{URL: u}, Timeout: model.Duration(30 * time.Second),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range reqs {
		data, err := proto.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Store(context.Background(), snappy.Encode(nil, data), 0); err != nil {
			t.Fatalf("remote write to %s: %v", endpoint, err)
		}
	}
}

func otlpProtoFixture(base time.Time) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "checkout")
	rm.Resource().Attributes().PutStr("service.instance.id", "pod-1")
	rm.Resource().Attributes().PutStr("deployment.environment", "prod") // goes to target_info
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	ts := func(i int) pcommon.Timestamp { return pcommon.NewTimestampFromTime(base.Add(time.Duration(i) * step)) }
	start := pcommon.NewTimestampFromTime(base.Add(-time.Minute))

	gauge := ms.AppendEmpty()
	gauge.SetName("queue.depth")
	gauge.SetDescription("Jobs waiting.")
	gauge.SetEmptyGauge()

	sum := ms.AppendEmpty()
	sum.SetName("orders.placed")
	sum.SetDescription("Orders placed.")
	sum.SetEmptySum().SetIsMonotonic(true)
	sum.Sum().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)

	hist := ms.AppendEmpty()
	hist.SetName("checkout.duration")
	hist.SetUnit("s")
	hist.SetEmptyHistogram().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)

	expo := ms.AppendEmpty()
	expo.SetName("rpc.latency")
	expo.SetUnit("s")
	expo.SetEmptyExponentialHistogram().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)

	for i := range points {
		g := gauge.Gauge().DataPoints().AppendEmpty()
		g.SetTimestamp(ts(i))
		g.SetDoubleValue(float64(i % 7))
		g.Attributes().PutStr("queue", "email")

		c := sum.Sum().DataPoints().AppendEmpty()
		c.SetStartTimestamp(start)
		c.SetTimestamp(ts(i))
		c.SetIntValue(int64(2 * i))

		h := hist.Histogram().DataPoints().AppendEmpty()
		h.SetStartTimestamp(start)
		h.SetTimestamp(ts(i))
		h.SetCount(uint64(6 * i))
		h.SetSum(3.5 * float64(i))
		h.ExplicitBounds().FromRaw([]float64{0.5, 1})
		h.BucketCounts().FromRaw([]uint64{uint64(3 * i), uint64(2 * i), uint64(i)})

		e := expo.ExponentialHistogram().DataPoints().AppendEmpty()
		e.SetStartTimestamp(start)
		e.SetTimestamp(ts(i))
		e.SetScale(0)
		e.SetZeroCount(uint64(i))
		e.Positive().SetOffset(0)
		e.Positive().BucketCounts().FromRaw([]uint64{uint64(i), uint64(2 * i)})
		e.SetCount(uint64(4 * i))
		e.SetSum(5 * float64(i))
	}
	return md
}

func otlpJSONFixture(base time.Time) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "shop")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("visits")
	m.SetEmptySum().SetIsMonotonic(true)
	m.Sum().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for i := range points {
		p := m.Sum().DataPoints().AppendEmpty()
		p.SetTimestamp(pcommon.NewTimestampFromTime(base.Add(time.Duration(i) * step)))
		p.SetDoubleValue(float64(5 * i))
	}
	return md
}

func pushOTLP(t *testing.T, endpoint, contentType string, md pmetric.Metrics) {
	t.Helper()
	req := pmetricotlp.NewExportRequestFromMetrics(md)
	var (
		body []byte
		err  error
	)
	if contentType == "application/json" {
		body, err = req.MarshalJSON()
	} else {
		body, err = req.MarshalProto()
	}
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(endpoint, contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("OTLP %s to %s: %d %s", contentType, endpoint, resp.StatusCode, msg)
	}
}

// pushFixture sends the whole fixture to tg.
func pushFixture(t *testing.T, tg target, base time.Time) {
	pushRemoteWrite(t, tg.write, remoteWriteFixture(base))
	pushOTLP(t, tg.otlp, "application/x-protobuf", otlpProtoFixture(base))
	pushOTLP(t, tg.otlp, "application/json", otlpJSONFixture(base))
}

// fixtureBase is when the fixture starts: recent enough that senders'
// "too far in the past" and "in the future" checks pass.
func fixtureBase() time.Time {
	return time.Now().Add(-40 * time.Minute).Truncate(time.Minute)
}

// getAPI GETs path?query from the API at base and returns the status
// and body.
func getAPI(t *testing.T, base, path string, query url.Values) (int, []byte) {
	t.Helper()
	resp, err := http.Get(base + path + "?" + query.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// TestPushThenQueryRange pushes with a remote write client and OTLP in
// protobuf and JSON, then checks query_range answers exactly.
func TestPushThenQueryRange(t *testing.T) {
	tg := tocsinTarget(t)
	base := fixtureBase()
	pushFixture(t, tg, base)

	sec := func(d time.Duration) string { return fmt.Sprint(base.Add(d).Unix()) }
	matrix := func(series ...string) string {
		return `{"status":"success","data":{"resultType":"matrix","result":[` + strings.Join(series, ",") + `]}}`
	}
	values := func(vs ...string) string {
		// At base+60s, +90s and +120s: points 4, 6 and 8.
		return fmt.Sprintf(`"values":[[%s,"%s"],[%s,"%s"],[%s,"%s"]]`,
			sec(60*time.Second), vs[0], sec(90*time.Second), vs[1], sec(120*time.Second), vs[2])
	}
	for _, tc := range []struct {
		query, want string
	}{
		{`http_requests_total{instance="a"}`, matrix(
			`{"metric":{"__name__":"http_requests_total","instance":"a","job":"api","path":"/a?b=<c>&d=\"e\""},` + values("12", "18", "24") + `}`)},
		{`queue_depth`, matrix(
			`{"metric":{"__name__":"queue_depth","instance":"pod-1","job":"checkout","queue":"email"},` + values("4", "6", "1") + `}`)},
		{`orders_placed_total`, matrix(
			`{"metric":{"__name__":"orders_placed_total","instance":"pod-1","job":"checkout"},` + values("8", "12", "16") + `}`)},
		{`checkout_duration_seconds_bucket{le="0.5"}`, matrix(
			`{"metric":{"__name__":"checkout_duration_seconds_bucket","instance":"pod-1","job":"checkout","le":"0.5"},` + values("12", "18", "24") + `}`)},
		{`visits_total`, matrix(
			`{"metric":{"__name__":"visits_total","job":"shop"},` + values("20", "30", "40") + `}`)},
		{`target_info`, matrix(
			`{"metric":{"__name__":"target_info","deployment_environment":"prod","instance":"pod-1","job":"checkout"},` + values("1", "1", "1") + `}`)},
	} {
		q := url.Values{"query": {tc.query}, "start": {sec(60 * time.Second)}, "end": {sec(120 * time.Second)}, "step": {"30s"}}
		status, body := getAPI(t, tg.api, "/api/v1/query_range", q)
		if status != http.StatusOK {
			t.Errorf("%s: status %d: %s", tc.query, status, body)
		}
		if diff := cmp.Diff(tc.want, string(body)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.query, diff)
		}
	}

	status, body := getAPI(t, tg.api, "/api/v1/metadata", url.Values{"metric": {"http_requests_total"}})
	want := `{"status":"success","data":{"http_requests_total":[{"type":"counter","unit":"","help":"Requests served."}]}}`
	if status != http.StatusOK || string(body) != want {
		t.Errorf("metadata: %d %s, want %s", status, body, want)
	}
}
