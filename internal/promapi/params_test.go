package promapi

import (
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

func TestParseTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
		err  bool
	}{
		{in: "1435781451.781", want: time.UnixMilli(1435781451781)},
		{in: "1435781451", want: time.Unix(1435781451, 0)},
		{in: "1435781451.7815", want: time.UnixMilli(1435781451782)}, // rounded to the ms
		{in: "-1.5", want: time.UnixMilli(-1500)},
		{in: "2015-07-01T20:10:51.781Z", want: time.UnixMilli(1435781451781)},
		{in: "2015-07-01T22:10:51+02:00", want: time.Unix(1435781451, 0)},
		{in: minTimeFormatted, want: minTime},
		{in: maxTimeFormatted, want: maxTime},
		{in: "", err: true},
		{in: "yesterday", err: true},
		{in: "2015-07-01", err: true},
	} {
		got, err := parseTime(tc.in)
		if tc.err {
			if err == nil {
				t.Errorf("parseTime(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{in: "15", want: 15 * time.Second},
		{in: "0.5", want: 500 * time.Millisecond},
		{in: "1m30s", want: 90 * time.Second},
		{in: "1d", want: 24 * time.Hour},
		{in: "0", want: 0},
		{in: "1e30", err: true}, // overflows
		{in: "5 minutes", err: true},
		{in: "", err: true},
	} {
		got, err := parseDuration(tc.in)
		if tc.err {
			if err == nil {
				t.Errorf("parseDuration(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// FuzzParseTime: no input panics; any time in the years 1 to 9999, at
// millisecond precision, comes back from both its forms a client sends
// (float seconds, RFC 3339).
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"1435781451.781", "-1.5", "2015-07-01T20:10:51.781Z", minTimeFormatted, "NaN", "+Inf", "1e400", "0x1p-2"} {
		f.Add(s, int64(1435781451781))
	}
	f.Fuzz(func(t *testing.T, s string, ms int64) {
		parseTime(s)

		// Years 1 to 9999: what RFC 3339 can spell.
		ms = ms % 253402300799000
		if ms < -62135596800000 {
			ms = -ms
		}
		want := time.UnixMilli(ms).UTC()
		seconds := strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)
		for _, form := range []string{seconds, want.Format(time.RFC3339Nano)} {
			got, err := parseTime(form)
			if err != nil || !got.Equal(want) {
				t.Fatalf("parseTime(%q) = %v, %v; want %v", form, got, err, want)
			}
		}
	})
}

// FuzzParseDuration: no input panics; a duration in whole milliseconds
// comes back from its Prometheus form ("1h30m") and from float seconds.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"15", "1m30s", "1d", "-1", "1e30", "NaN", "1y2w3d4h5m6s7ms"} {
		f.Add(s, int64(90_000))
	}
	f.Fuzz(func(t *testing.T, s string, ms int64) {
		parseDuration(s)

		ms = ms % (100 * 365 * 24 * 3600 * 1000) // a century, well inside int64 ns
		if ms < 0 {
			ms = -ms
		}
		want := time.Duration(ms) * time.Millisecond
		forms := []string{model.Duration(want).String(), strconv.FormatFloat(want.Seconds(), 'f', -1, 64)}
		for _, form := range forms {
			got, err := parseDuration(form)
			if err != nil || got != want {
				t.Fatalf("parseDuration(%q) = %v, %v; want %v", form, got, err, want)
			}
		}
	})
}
