package route

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// parseDuration reads a Go duration ("90s", "1h30m", "1.5h") or a
// Prometheus one, which adds days and weeks ("1d", "2w", "1d12h"), since
// people coming from Alertmanager write repeat_interval: 1d.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	var total time.Duration
	rest := s
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		j := i
		for j < len(rest) && rest[j] >= 'a' && rest[j] <= 'z' {
			j++
		}
		unit := map[string]time.Duration{
			"ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour,
			"d": 24 * time.Hour, "w": 7 * 24 * time.Hour,
		}[rest[i:j]]
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		if i == 0 || unit == 0 || err != nil {
			return 0, fmt.Errorf("%q is not a duration: write a number and a unit, such as 30s, 5m, 4h or 1d", s)
		}
		if n > int64(math.MaxInt64/unit) || total > math.MaxInt64-time.Duration(n)*unit {
			return 0, errors.New("the duration is too long")
		}
		total += time.Duration(n) * unit
		rest = rest[j:]
	}
	if s == "" {
		return 0, errors.New("the duration is empty")
	}
	return total, nil
}

// formatDuration renders d the short way people write it: "30s", "5m",
// "4h", "1d", "1h30m". parseDuration reads it back.
func formatDuration(d time.Duration) string {
	if d <= 0 || d%time.Millisecond != 0 {
		return d.String() // "0s", negatives, sub-millisecond precision
	}
	var b strings.Builder
	for _, u := range []struct {
		name string
		d    time.Duration
	}{{"w", 7 * 24 * time.Hour}, {"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}} {
		if n := d / u.d; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			d -= n * u.d
		}
	}
	return b.String()
}

// ParseDuration reads a duration as policies write them: Prometheus style
// ("30s", "5m", "1h30m", "1d", "1w").
func ParseDuration(s string) (time.Duration, error) { return parseDuration(s) }

// FormatDuration writes d in the shortest form ParseDuration reads.
func FormatDuration(d time.Duration) string { return formatDuration(d) }
