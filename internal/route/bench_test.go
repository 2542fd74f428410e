package route

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkRoute routes one alert through 100 policies of 3 matchers each
// (an equality, a regex and a negative match), matching only the last.
func BenchmarkRoute(b *testing.B) {
	policies := make([]Policy, 100)
	for i := range policies {
		policies[i] = Policy{
			ID: fmt.Sprintf("p%03d", i), Position: i,
			Matchers: ms(b, fmt.Sprintf(`team="team-%d", severity=~"critical|warning", env!="dev"`, i)),
		}
	}
	ls := labels("alertname", "DiskFull", "team", "team-99", "severity", "warning", "env", "prod", "instance", "db-1:9100", "job", "node")
	b.ReportAllocs()
	for b.Loop() {
		if got := Route(policies, ls); len(got) != 1 {
			b.Fatalf("routed to %d policies", len(got))
		}
	}
}

// BenchmarkSilenced checks one alert against 1,000 active silences of two
// matchers each, of which one matches.
func BenchmarkSilenced(b *testing.B) {
	silences := make([]Silence, 1000)
	for i := range silences {
		silences[i] = Silence{
			ID:       fmt.Sprintf("s%04d", i),
			Matchers: ms(b, fmt.Sprintf(`alertname="Alert%d", instance=~"db-.*"`, i)),
			StartsAt: t0, EndsAt: t0.Add(time.Hour),
		}
	}
	ls := labels("alertname", "Alert500", "team", "sre", "severity", "warning", "instance", "db-1:9100", "job", "node")
	now := t0.Add(time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		if got := Silenced(silences, ls, now); len(got) != 1 {
			b.Fatalf("silenced by %d", len(got))
		}
	}
}
