package metricstore

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
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
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
	"github.com/prometheus/prometheus/storage/remote"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
)

// ingestServer serves the store's handlers where Tocsin mounts them.
func ingestServer(t testing.TB, s *Store) *httptest.Server {
	mux := http.NewServeMux()
	mux.Handle("/api/v1/write", s.WriteHandler())
	mux.Handle("/v1/metrics", s.OTLPHandler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// pushRemoteWrite sends req with Prometheus's own remote write client,
// the one promtool's push uses.
func pushRemoteWrite(t testing.TB, endpoint string, req *prompb.WriteRequest) error {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	c, err := remote.NewWriteClient("test", &remote.ClientConfig{
		URL:     &config_util.URL{URL: u},
		Timeout: model.Duration(30 * time.Second),
	})
	if err != nil {
		t.Fatal(err)
	}
	data, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Store(context.Background(), snappy.Encode(nil, data), 0)
	return err
}

func TestRemoteWriteStoresSamplesAndMetadata(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	srv := ingestServer(t, s)
	t0 := time.Now().Add(-time.Hour).Truncate(time.Minute).UnixMilli()

	series := []prompb.TimeSeries{{
		Labels:  []prompb.Label{{Name: "__name__", Value: "http_requests_total"}, {Name: "job", Value: "api"}},
		Samples: []prompb.Sample{{Timestamp: t0, Value: 1}, {Timestamp: t0 + 15_000, Value: 4}},
	}}
	// Prometheus sends metadata in requests of its own.
	meta := []prompb.MetricMetadata{{
		Type: prompb.MetricMetadata_COUNTER, MetricFamilyName: "http_requests_total", Help: "Requests served.",
	}}
	if err := pushRemoteWrite(t, srv.URL+"/api/v1/write", &prompb.WriteRequest{Timeseries: series}); err != nil {
		t.Fatal(err)
	}
	if err := pushRemoteWrite(t, srv.URL+"/api/v1/write", &prompb.WriteRequest{Metadata: meta}); err != nil {
		t.Fatal(err)
	}

	want := fmt.Sprintf(`{__name__="http_requests_total", job="api"} %d 1
{__name__="http_requests_total", job="api"} %d 4
`, t0, t0+15_000)
	if diff := cmp.Diff(want, dump(t, s, `http_requests_total`)); diff != "" {
		t.Errorf("stored samples (-want +got):\n%s", diff)
	}
	wantMeta := map[string]metadata.Metadata{
		"http_requests_total": {Type: model.MetricTypeCounter, Help: "Requests served."},
	}
	if diff := cmp.Diff(wantMeta, s.Metadata("")); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
}

func TestRefusedRemoteWriteKeepsNoMetadata(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	srv := ingestServer(t, s)
	future := time.Now().Add(time.Hour).UnixMilli() // refused: too far ahead
	err := pushRemoteWrite(t, srv.URL+"/api/v1/write", &prompb.WriteRequest{
		Timeseries: []prompb.TimeSeries{{
			Labels:  []prompb.Label{{Name: "__name__", Value: "up"}},
			Samples: []prompb.Sample{{Timestamp: future, Value: 1}},
		}},
		Metadata: []prompb.MetricMetadata{{Type: prompb.MetricMetadata_GAUGE, MetricFamilyName: "up"}},
	})
	if err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("push of a future sample: %v, want a 400", err)
	}
	if md := s.Metadata(""); len(md) != 0 {
		t.Errorf("a refused request left metadata %v", md)
	}
}

func TestRemoteWrite2StoresMetadata(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	srv := ingestServer(t, s)
	t0 := time.Now().Add(-time.Hour).UnixMilli()

	u, _ := url.Parse(srv.URL + "/api/v1/write")
	c, err := remote.NewWriteClient("test", &remote.ClientConfig{
		URL: &config_util.URL{URL: u}, Timeout: model.Duration(30 * time.Second),
		WriteProtoMsg: "io.prometheus.write.v2.Request",
	})
	if err != nil {
		t.Fatal(err)
	}
	// Symbols: "", then the strings the refs point to.
	req := &writev2.Request{
		Symbols: []string{"", "__name__", "queue_depth", "queue", "email", "Jobs waiting."},
		Timeseries: []writev2.TimeSeries{{
			LabelsRefs: []uint32{1, 2, 3, 4},
			Samples:    []writev2.Sample{{Value: 7, Timestamp: t0}},
			Metadata:   writev2.Metadata{Type: writev2.Metadata_METRIC_TYPE_GAUGE, HelpRef: 5},
		}},
	}
	data, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Store(context.Background(), snappy.Encode(nil, data), 0); err != nil {
		t.Fatal(err)
	}
	wantMeta := map[string]metadata.Metadata{
		"queue_depth": {Type: model.MetricTypeGauge, Help: "Jobs waiting."},
	}
	if diff := cmp.Diff(wantMeta, s.Metadata("queue_depth")); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
}

// otlpMetrics builds an export with a gauge, a monotonic sum and a
// histogram with explicit buckets, points at t.
func otlpMetrics(t time.Time) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "checkout")
	rm.Resource().Attributes().PutStr("service.instance.id", "pod-1")
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	ts := pcommon.NewTimestampFromTime(t)

	g := ms.AppendEmpty()
	g.SetName("queue.depth")
	g.SetDescription("Jobs waiting.")
	gp := g.SetEmptyGauge().DataPoints().AppendEmpty()
	gp.SetTimestamp(ts)
	gp.SetDoubleValue(7)
	gp.Attributes().PutStr("queue", "email")

	c := ms.AppendEmpty()
	c.SetName("orders.placed")
	c.SetDescription("Orders placed.")
	sum := c.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	cp := sum.DataPoints().AppendEmpty()
	cp.SetTimestamp(ts)
	cp.SetIntValue(42)

	h := ms.AppendEmpty()
	h.SetName("checkout.duration")
	h.SetUnit("s")
	hist := h.SetEmptyHistogram()
	hist.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	hp := hist.DataPoints().AppendEmpty()
	hp.SetTimestamp(ts)
	hp.SetCount(6)
	hp.SetSum(3.5)
	hp.ExplicitBounds().FromRaw([]float64{0.5, 1})
	hp.BucketCounts().FromRaw([]uint64{3, 2, 1})
	return md
}

func TestOTLPStoresProtobufAndJSON(t *testing.T) {
	for _, tc := range []struct {
		contentType string
		encode      func(pmetricotlp.ExportRequest) ([]byte, error)
	}{
		{"application/x-protobuf", pmetricotlp.ExportRequest.MarshalProto},
		{"application/json", pmetricotlp.ExportRequest.MarshalJSON},
		{"application/json; charset=utf-8", pmetricotlp.ExportRequest.MarshalJSON},
	} {
		t.Run(tc.contentType, func(t *testing.T) {
			s := openStore(t, t.TempDir(), Options{})
			srv := ingestServer(t, s)
			at := time.Now().Add(-time.Minute).Truncate(time.Second)
			body, err := tc.encode(pmetricotlp.NewExportRequestFromMetrics(otlpMetrics(at)))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.Post(srv.URL+"/v1/metrics", tc.contentType, bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, msg)
			}

			ms := at.UnixMilli()
			want := strings.ReplaceAll(`{__name__="checkout_duration_seconds_bucket", instance="pod-1", job="checkout", le="+Inf"} T 6
{__name__="checkout_duration_seconds_bucket", instance="pod-1", job="checkout", le="0.5"} T 3
{__name__="checkout_duration_seconds_bucket", instance="pod-1", job="checkout", le="1"} T 5
{__name__="checkout_duration_seconds_count", instance="pod-1", job="checkout"} T 6
{__name__="checkout_duration_seconds_sum", instance="pod-1", job="checkout"} T 3.5
{__name__="orders_placed_total", instance="pod-1", job="checkout"} T 42
{__name__="queue_depth", instance="pod-1", job="checkout", queue="email"} T 7
`, "T", fmt.Sprint(ms))
			if diff := cmp.Diff(want, dump(t, s, `{job="checkout"}`)); diff != "" {
				t.Errorf("stored samples (-want +got):\n%s", diff)
			}
			wantMeta := map[string]metadata.Metadata{
				"checkout_duration_seconds": {Type: model.MetricTypeHistogram, Unit: "seconds"},
				"orders_placed_total":       {Type: model.MetricTypeCounter, Help: "Orders placed."},
				"queue_depth":               {Type: model.MetricTypeGauge, Help: "Jobs waiting."},
			}
			if diff := cmp.Diff(wantMeta, s.Metadata("")); diff != "" {
				t.Errorf("metadata (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOTLPTakesGzip(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	srv := ingestServer(t, s)
	body, err := pmetricotlp.NewExportRequestFromMetrics(otlpMetrics(time.Now().Add(-time.Minute))).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	status, msg := post(t, srv.URL+"/v1/metrics", "application/x-protobuf", "gzip", gzipped(t, body))
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, msg)
	}
	if got := dump(t, s, `orders_placed_total`); !strings.HasSuffix(got, " 42\n") {
		t.Errorf("stored %q, want the counter at 42", got)
	}
}

func gzipped(t testing.TB, data []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed) // the level is valid
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// post sends body and returns the status and the answer's text.
func post(t testing.TB, url, contentType, encoding string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(msg))
}

func TestIngestRefusesBadInput(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	srv := ingestServer(t, s)
	now := time.Now()

	okSeries := func(ts int64) []byte {
		data, err := proto.Marshal(&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
			Labels:  []prompb.Label{{Name: "__name__", Value: "up"}},
			Samples: []prompb.Sample{{Timestamp: ts, Value: 1}},
		}}})
		if err != nil {
			t.Fatal(err)
		}
		return snappy.Encode(nil, data)
	}
	// The newest sample goes in first, so the next case is too old.
	if status, msg := post(t, srv.URL+"/api/v1/write", "application/x-protobuf", "snappy", okSeries(now.UnixMilli())); status != http.StatusNoContent {
		t.Fatalf("status %d: %s", status, msg)
	}
	huge := bytes.Repeat([]byte{0}, MaxDecodedBytes+1)

	for _, tc := range []struct {
		name                  string
		path, ctype, encoding string
		body                  []byte
		wantStatus            int
		wantMsg               string
	}{
		{"remote write not snappy", "/api/v1/write", "application/x-protobuf", "snappy", []byte("plain text"),
			400, "remote write refused: body is not snappy-compressed (remote write needs the snappy block format): snappy: corrupt input"},
		{"remote write not protobuf", "/api/v1/write", "application/x-protobuf", "snappy", snappy.Encode(nil, []byte("\xff\xff\xff")),
			400, "remote write refused: unexpected EOF"},
		{"remote write wrong content type", "/api/v1/write", "application/json", "snappy", okSeries(now.UnixMilli()),
			415, "expected application/x-protobuf as the first (media) part"},
		{"remote write gzip", "/api/v1/write", "application/x-protobuf", "gzip", okSeries(now.UnixMilli()),
			415, "gzip encoding (compression) is not accepted by this server"},
		{"remote write too old", "/api/v1/write", "application/x-protobuf", "snappy", okSeries(now.Add(-2 * time.Hour).UnixMilli()),
			400, "remote write refused: too old sample"},
		{"remote write too far ahead", "/api/v1/write", "application/x-protobuf", "snappy", okSeries(now.Add(time.Hour).UnixMilli()),
			400, "remote write refused: out of bounds: timestamp is too far in the future"},
		{"remote write snappy bomb", "/api/v1/write", "application/x-protobuf", "snappy", snappy.Encode(nil, huge),
			413, "remote write refused: body decompresses to more than the 33554432 bytes allowed"},
		{"remote write too large", "/api/v1/write", "application/x-protobuf", "snappy", make([]byte, MaxBodyBytes+1),
			413, fmt.Sprintf("request body is larger than the %d bytes allowed", MaxBodyBytes)},
		{"otlp no content type", "/v1/metrics", "", "", []byte("{}"),
			415, "Content-Type must be application/x-protobuf or application/json"},
		{"otlp bad json", "/v1/metrics", "application/json", "", []byte(`{"resourceMetrics": 7}`),
			400, "OTLP metrics refused: "},
		{"otlp bad protobuf", "/v1/metrics", "application/x-protobuf", "", []byte("\xff\xff\xff"),
			400, "OTLP metrics refused: "},
		{"otlp bad gzip", "/v1/metrics", "application/x-protobuf", "gzip", []byte("not gzip"),
			400, "body is not gzip-compressed as Content-Encoding says"},
		{"otlp gzip bomb", "/v1/metrics", "application/x-protobuf", "gzip", gzipped(t, huge),
			413, fmt.Sprintf("body decompresses to more than the %d bytes allowed", MaxDecodedBytes)},
		{"otlp brotli", "/v1/metrics", "application/x-protobuf", "br", []byte("x"),
			415, `Content-Encoding "br" is not supported`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, msg := post(t, srv.URL+tc.path, tc.ctype, tc.encoding, tc.body)
			if status != tc.wantStatus || !strings.Contains(msg, tc.wantMsg) {
				t.Errorf("got %d %q, want %d with %q", status, msg, tc.wantStatus, tc.wantMsg)
			}
		})
	}

	for _, path := range []string{"/api/v1/write", "/v1/metrics"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
			t.Errorf("GET %s: %d, Allow %q; want 405, POST", path, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
	if got := dump(t, s, "up"); strings.Count(got, "\n") != 1 {
		t.Errorf("refused requests stored samples:\n%s", got)
	}
}
