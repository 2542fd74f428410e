package metricstore

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
)

// Batch shape of the ingest benchmarks: 1,000 series of 10 samples, the
// samples 15s apart.
const (
	benchSeries  = 1000
	benchSamples = 10
	benchStep    = 15 * time.Second
)

// benchBody is a snappy-compressed remote write 1.0 request of
// benchSeries series with benchSamples samples each from t0, plus one
// metadata entry per metric family if withMeta (ten families).
func benchBody(b *testing.B, t0 time.Time, withMeta bool) []byte {
	req := &prompb.WriteRequest{Timeseries: make([]prompb.TimeSeries, benchSeries)}
	for i := range req.Timeseries {
		ts := &req.Timeseries[i]
		ts.Labels = []prompb.Label{
			{Name: "__name__", Value: fmt.Sprintf("bench_metric_%d_total", i%10)},
			{Name: "instance", Value: fmt.Sprintf("host-%03d:9100", i/10)},
			{Name: "job", Value: "node"},
		}
		ts.Samples = make([]prompb.Sample, benchSamples)
		for j := range ts.Samples {
			ts.Samples[j] = prompb.Sample{Timestamp: t0.Add(time.Duration(j) * benchStep).UnixMilli(), Value: float64(i + j)}
		}
	}
	if withMeta {
		for i := range 10 {
			req.Metadata = append(req.Metadata, prompb.MetricMetadata{
				Type: prompb.MetricMetadata_COUNTER, MetricFamilyName: fmt.Sprintf("bench_metric_%d_total", i), Help: "Benchmark counter.",
			})
		}
	}
	data, err := proto.Marshal(req)
	if err != nil {
		b.Fatal(err)
	}
	return snappy.Encode(nil, data)
}

// BenchmarkRemoteWrite posts remote write batches through HTTP into the
// store, each batch later in time than the one before, and reports the
// ingest rate in samples/s.
func BenchmarkRemoteWrite(b *testing.B) {
	for _, withMeta := range []bool{false, true} {
		b.Run(fmt.Sprintf("metadata=%v", withMeta), func(b *testing.B) {
			s := openStore(b, b.TempDir(), Options{})
			srv := ingestServer(b, s)
			// Every batch must be newer than the last and none ahead of
			// now: start far enough back for b.N batches.
			batchSpan := benchSamples * benchStep
			t0 := time.Now().Add(-time.Duration(b.N) * batchSpan)
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				body := benchBody(b, t0.Add(time.Duration(i)*batchSpan), withMeta)
				b.StartTimer()
				status, msg := post(b, srv.URL+"/api/v1/write", "application/x-protobuf", "snappy", body)
				if status != http.StatusNoContent {
					b.Fatalf("status %d: %s", status, msg)
				}
			}
			b.ReportMetric(float64(b.N*benchSeries*benchSamples)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

// BenchmarkV1Metadata is what keeping 1.0 metadata costs every remote
// write request: a second snappy decode and a scan of the top-level
// fields, on the benchmark's batch.
func BenchmarkV1Metadata(b *testing.B) {
	body := benchBody(b, time.Now(), true)
	n, _ := snappy.DecodedLen(body)
	b.SetBytes(int64(n))
	for b.Loop() {
		md, err := v1Metadata(body)
		if err != nil || len(md) != 10 {
			b.Fatalf("v1Metadata: %d families, %v", len(md), err)
		}
	}
}
