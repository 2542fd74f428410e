package promapi

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

func encodeCases() []struct {
	name string
	v    parser.Value
} {
	odd := labels.FromStrings("__name__", "odd", "path", "/a?b=<c>&d=\"e\"\\", "team", "网站", "ctl", "tab\tnl\ncr\r\x01")
	plain := labels.FromStrings("__name__", "up", "job", "api")
	expo := &histogram.FloatHistogram{
		Schema: 0, ZeroThreshold: 0.001, ZeroCount: 2, Count: 12, Sum: 34.5,
		PositiveSpans:   []histogram.Span{{Offset: 0, Length: 2}, {Offset: 1, Length: 1}},
		PositiveBuckets: []float64{3, 0, 4},
		NegativeSpans:   []histogram.Span{{Offset: 0, Length: 1}},
		NegativeBuckets: []float64{3},
	}
	custom := &histogram.FloatHistogram{
		Schema: histogram.CustomBucketsSchema, Count: 6, Sum: 3.5,
		PositiveSpans:   []histogram.Span{{Offset: 0, Length: 3}},
		PositiveBuckets: []float64{3, 2, 1},
		CustomValues:    []float64{0.5, 1},
	}
	empty := &histogram.FloatHistogram{Count: 0, Sum: 0}
	return []struct {
		name string
		v    parser.Value
	}{
		{"empty vector", promql.Vector{}},
		{"vector", promql.Vector{
			{Metric: plain, T: 1435781451781, F: 1},
			{Metric: odd, T: 1435781451050, F: 123.456},
			{Metric: labels.EmptyLabels(), T: 1435781451000, F: math.NaN()},
			{Metric: plain, T: 5, F: math.Inf(1)},
			{Metric: plain, T: -1500, F: math.Inf(-1)},
			{Metric: plain, T: 1435781451100, F: 1e-7},
			{Metric: plain, T: 1435781451010, F: 1e21},
			{Metric: plain, T: 0, F: -0.000001},
			{Metric: plain, T: 1, F: 123456789012345678},
		}},
		{"vector of histograms", promql.Vector{
			{Metric: plain, T: 1435781451781, H: expo},
			{Metric: plain, T: 1435781451781, H: custom},
			{Metric: plain, T: 1435781451781, H: empty},
		}},
		{"empty matrix", promql.Matrix{}},
		{"matrix", promql.Matrix{
			{Metric: plain, Floats: []promql.FPoint{{T: 1000, F: 1}, {T: 16000, F: 2.5}}},
			{Metric: odd, Histograms: []promql.HPoint{{T: 1000, H: custom}}},
			{Metric: plain, Floats: []promql.FPoint{{T: 1000, F: 0}}, Histograms: []promql.HPoint{{T: 16000, H: expo}}},
		}},
		{"scalar", promql.Scalar{T: 1435781451781, V: 1e-7}},
		{"scalar NaN", promql.Scalar{T: 1435781451500, V: math.NaN()}},
		{"string", promql.String{T: 1435781451000, V: `a "<string>" & more`}},
	}
}

// TestEncodeGolden pins the encoding of every result type; the
// differential test against a real Prometheus checks the same bytes.
func TestEncodeGolden(t *testing.T) {
	var b strings.Builder
	for _, tc := range encodeCases() {
		data, err := appendQueryData(nil, tc.v)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !json.Valid(data) {
			t.Errorf("%s: invalid JSON: %s", tc.name, data)
		}
		fmt.Fprintf(&b, "%s\t%s\n", tc.name, data)
	}
	got := b.String()
	path := filepath.Join("testdata", "encode.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got), run go test -update if the change is right:\n%s", path, diff)
	}
}

// TestAppendStringDecodes checks the label string encoder against
// encoding/json's decoder on every byte value.
func TestAppendStringDecodes(t *testing.T) {
	var all []byte
	for c := range 0x80 {
		all = append(all, byte(c))
	}
	for _, s := range []string{"", "plain", string(all), "网站 <&> \u2028"} {
		var got string
		if err := json.Unmarshal(appendString(nil, s), &got); err != nil || got != s {
			t.Errorf("appendString(%q) decodes to %q, %v", s, got, err)
		}
	}
}
