package metricstore

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// openStore opens a store in dir and closes it when the test ends,
// unless the test closed it itself.
func openStore(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() }) // a second Close only errors
	return s
}

// dump lists every sample of the series matching selector, one line
// per sample: "labels t v", series in label order.
func dump(t testing.TB, s *Store, selector string) string {
	t.Helper()
	ms, err := s.Parser().ParseMetricSelector(selector)
	if err != nil {
		t.Fatal(err)
	}
	q, err := s.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	var b strings.Builder
	set := q.Select(context.Background(), true, nil, ms...)
	for set.Next() {
		series := set.At()
		it := series.Iterator(nil)
		for typ := it.Next(); typ != chunkenc.ValNone; typ = it.Next() {
			switch typ {
			case chunkenc.ValFloat:
				ts, v := it.At()
				fmt.Fprintf(&b, "%s %d %g\n", series.Labels(), ts, v)
			default:
				ts, h := it.AtFloatHistogram(nil)
				fmt.Fprintf(&b, "%s %d %s\n", series.Labels(), ts, h)
			}
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := set.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// appendSamples appends v(i) at t0+i*step for i in [0, n) to ls.
func appendSamples(t testing.TB, app storage.Appendable, ls labels.Labels, t0 int64, step time.Duration, n int, v func(i int) float64) {
	t.Helper()
	a := app.Appender(context.Background())
	for i := range n {
		if _, err := a.Append(0, ls, t0+int64(i)*step.Milliseconds(), v(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
}

func TestRestartKeepsSamplesAndMetadata(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	ls := labels.FromStrings("__name__", "jvm_gc_full_count", "instance", "a")
	appendSamples(t, s, ls, 1_700_000_000_000, time.Minute, 3, func(i int) float64 { return float64(i * 10) })
	md := map[string]metadata.Metadata{"jvm_gc_full_count": {Type: model.MetricTypeCounter, Help: "Full GCs.", Unit: ""}}
	if err := s.meta.merge(md); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dir, Options{})
	want := `{__name__="jvm_gc_full_count", instance="a"} 1700000000000 0
{__name__="jvm_gc_full_count", instance="a"} 1700000060000 10
{__name__="jvm_gc_full_count", instance="a"} 1700000120000 20
`
	if diff := cmp.Diff(want, dump(t, s, `{__name__="jvm_gc_full_count"}`)); diff != "" {
		t.Errorf("samples after reopening (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(md, s.Metadata("")); diff != "" {
		t.Errorf("metadata after reopening (-want +got):\n%s", diff)
	}
}

// TestRegistersMetrics opens a store on a registry, as Tocsin does with
// its own: the TSDB's, engine's and both handlers' metrics register
// without clashing.
func TestRegistersMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	openStore(t, t.TempDir(), Options{Registerer: reg})
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"prometheus_api_otlp_appended_samples_without_metadata_total",
		"prometheus_api_remote_write_invalid_labels_samples_total",
		"prometheus_engine_queries",
		"prometheus_tsdb_head_series",
	}
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	for _, name := range want {
		if !slices.Contains(names, name) {
			t.Errorf("metric %s not registered; have %v", name, names)
		}
	}
}

func TestRetentionDropsOldBlocks(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{Retention: time.Hour})
	// Ten hours of one sample a minute from a block boundary. Head
	// compaction cuts 2-hour blocks while the head spans over 3 hours:
	// [0,2h) [2h,4h) [4h,6h) [6h,8h), leaving 8h-10h in the head.
	// Retention then drops the blocks that end more than an hour before
	// the newest block's end (8h): all but [6h,8h).
	const t0 = 1_700_006_400_000 // a multiple of 2h
	ls := labels.FromStrings("__name__", "up", "job", "api")
	appendSamples(t, s, ls, t0, time.Minute, 600, func(int) float64 { return 1 })
	if err := s.db.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}

	lines := strings.Split(strings.TrimSpace(dump(t, s, `up`)), "\n")
	first := fmt.Sprintf(`{__name__="up", job="api"} %d 1`, t0+6*time.Hour.Milliseconds())
	last := fmt.Sprintf(`{__name__="up", job="api"} %d 1`, t0+599*time.Minute.Milliseconds())
	if lines[0] != first || lines[len(lines)-1] != last || len(lines) != 240 {
		t.Errorf("after retention: %d samples from %q to %q, want 240 from %q to %q",
			len(lines), lines[0], lines[len(lines)-1], first, last)
	}
}

func TestOutOfOrderWindow(t *testing.T) {
	const t0 = 1_700_000_000_000
	ls := labels.FromStrings("__name__", "late", "job", "api")
	for _, tc := range []struct {
		name   string
		window time.Duration
		lag    time.Duration
		wantOK bool
	}{
		{"default window takes 20m late", 0, 20 * time.Minute, true},
		{"default window refuses 40m late", 0, 40 * time.Minute, false},
		{"negative window refuses any", -1, time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, t.TempDir(), Options{OutOfOrderWindow: tc.window})
			appendSamples(t, s, ls, t0, time.Minute, 1, func(int) float64 { return 1 })
			a := s.Appender(context.Background())
			_, err := a.Append(0, ls, t0-tc.lag.Milliseconds(), 2)
			if err == nil {
				err = a.Commit()
			} else {
				a.Rollback()
			}
			if (err == nil) != tc.wantOK {
				t.Errorf("appending %s late: err = %v, want ok = %v", tc.lag, err, tc.wantOK)
			}
		})
	}
}

func TestOpenRefusesBadMetadataFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, metadataFile), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "delete the file") {
		t.Errorf("Open with a broken metadata file: err = %v, want one saying to delete the file", err)
	}
}

func TestMetadataIsBounded(t *testing.T) {
	dir := t.TempDir()
	m, err := loadMetadata(filepath.Join(dir, metadataFile), discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	batch := map[string]metadata.Metadata{}
	for i := range maxMetadata + 5 {
		batch[fmt.Sprintf("m%05d", i)] = metadata.Metadata{Type: model.MetricTypeGauge}
	}
	if err := m.merge(batch); err != nil {
		t.Fatal(err)
	}
	if got := len(m.get("")); got != maxMetadata {
		t.Errorf("kept %d families, want the bound %d", got, maxMetadata)
	}

	// A known family still updates when the map is full; the help text
	// is cut on a rune boundary.
	var known string
	for name := range m.get("") {
		known = name
		break
	}
	long := strings.Repeat("网", maxHelpBytes) // 3 bytes each: 1024 cuts one
	wantHelp := long[:maxHelpBytes-1]
	if err := m.merge(map[string]metadata.Metadata{known: {Type: model.MetricTypeCounter, Help: long}}); err != nil {
		t.Fatal(err)
	}
	got := m.get(known)[known]
	if got.Type != model.MetricTypeCounter || got.Help != wantHelp {
		t.Errorf("updated %s to type %q, help of %d bytes; want counter, %d bytes", known, got.Type, len(got.Help), len(wantHelp))
	}

	reloaded, err := loadMetadata(filepath.Join(dir, metadataFile), discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m.get(""), reloaded.get("")); diff != "" {
		t.Errorf("file differs from memory (-memory +file):\n%s", diff)
	}
}
