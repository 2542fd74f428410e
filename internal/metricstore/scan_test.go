package metricstore

import (
	"testing"

	"github.com/gogo/protobuf/proto"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/prompb"
)

// fullDecodeMetadata is what scanMetadata must agree with: the metadata
// of a fully decoded request, the last entry of a family winning.
func fullDecodeMetadata(req *prompb.WriteRequest) map[string]metadata.Metadata {
	var out map[string]metadata.Metadata
	for _, mm := range req.Metadata {
		if out == nil {
			out = map[string]metadata.Metadata{}
		}
		out[mm.MetricFamilyName] = metadata.Metadata{Type: metricType(mm.Type), Help: mm.Help, Unit: mm.Unit}
	}
	return out
}

func scanSeeds(t testing.TB) [][]byte {
	reqs := []*prompb.WriteRequest{
		{},
		{Timeseries: []prompb.TimeSeries{{
			Labels:  []prompb.Label{{Name: "__name__", Value: "up"}, {Name: "job", Value: "网站"}},
			Samples: []prompb.Sample{{Timestamp: 1, Value: 1}},
		}}},
		{Metadata: []prompb.MetricMetadata{
			{Type: prompb.MetricMetadata_COUNTER, MetricFamilyName: "a_total", Help: "A.", Unit: "seconds"},
			{Type: prompb.MetricMetadata_GAUGEHISTOGRAM, MetricFamilyName: "b"},
			{Type: prompb.MetricMetadata_MetricType(99), MetricFamilyName: "c", Help: "unknown type"},
			{Type: prompb.MetricMetadata_GAUGE, MetricFamilyName: "a_total", Help: "last wins"},
		}},
		{
			Timeseries: []prompb.TimeSeries{{Labels: []prompb.Label{{Name: "__name__", Value: "x"}}}},
			Metadata:   []prompb.MetricMetadata{{Type: prompb.MetricMetadata_SUMMARY, MetricFamilyName: "x"}},
		},
	}
	var seeds [][]byte
	for _, req := range reqs {
		data, err := proto.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, data)
	}
	// Unknown fields, a group, truncations.
	return append(seeds, []byte{0x38, 0x01}, []byte{0x23, 0x24}, []byte{0x1a, 0x05, 0x08}, []byte{0x0a})
}

func TestScanMetadata(t *testing.T) {
	for _, data := range scanSeeds(t)[:4] { // the well-formed ones
		var req prompb.WriteRequest
		if err := proto.Unmarshal(data, &req); err != nil {
			t.Fatal(err)
		}
		got, err := scanMetadata(data)
		if err != nil {
			t.Fatalf("scanMetadata(%x): %v", data, err)
		}
		if diff := cmp.Diff(fullDecodeMetadata(&req), got); diff != "" {
			t.Errorf("scanMetadata(%x) (-decode +scan):\n%s", data, diff)
		}
	}
	got, err := scanMetadata(scanSeeds(t)[2])
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]metadata.Metadata{
		"a_total": {Type: "gauge", Help: "last wins"},
		"b":       {Type: "gaugehistogram"},
		"c":       {Type: "unknown", Help: "unknown type"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("scanMetadata (-want +got):\n%s", diff)
	}
}

// FuzzScanMetadata checks scanMetadata against a full decode. On any
// bytes: no panic, and when both read them, the same metadata (the scan
// may refuse malformed input the lenient gogo decoder takes; such a
// request is stored without metadata). On a request a real encoder
// made from fuzzed fields: the scan reads it, with the same metadata.
func FuzzScanMetadata(f *testing.F) {
	for _, s := range scanSeeds(f) {
		f.Add(s, "a_total", "Help.", "seconds", int32(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, family, help, unit string, typ int32) {
		checkScan(t, data)

		req := &prompb.WriteRequest{
			Timeseries: []prompb.TimeSeries{{
				Labels:  []prompb.Label{{Name: "__name__", Value: family}, {Name: "help", Value: help}},
				Samples: []prompb.Sample{{Timestamp: int64(typ), Value: float64(len(data))}},
			}},
			Metadata: []prompb.MetricMetadata{{
				Type: prompb.MetricMetadata_MetricType(typ), MetricFamilyName: family, Help: help, Unit: unit,
			}},
		}
		encoded, err := proto.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := scanMetadata(encoded)
		if err != nil {
			t.Fatalf("scanMetadata of an encoded request: %v", err)
		}
		if diff := cmp.Diff(fullDecodeMetadata(req), got); diff != "" {
			t.Fatalf("scanMetadata of an encoded request (-want +got):\n%s", diff)
		}
	})
}

// checkScan checks scanMetadata against a full decode of data.
func checkScan(t *testing.T, data []byte) {
	got, scanErr := scanMetadata(data)
	var req prompb.WriteRequest
	if proto.Unmarshal(data, &req) != nil || scanErr != nil {
		return
	}
	if diff := cmp.Diff(fullDecodeMetadata(&req), got); diff != "" {
		t.Fatalf("scanMetadata(%x) differs from a full decode (-decode +scan):\n%s", data, diff)
	}
}
