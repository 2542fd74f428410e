package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tocsinhq/tocsin/internal/notify/notifytest"
)

// BenchmarkLatencyIntakeToRobot measures issue 3's latency: alerts at 100
// per second, each its own group (group_by "..."), group_wait 0 and a
// budget far from spent, from the moment POST /api/v2/alerts answers to the
// moment the DingTalk-compatible robot receives the message naming the
// alert. It reports the 50th and 99th percentiles and the worst; b.N is the
// number of alerts.
func BenchmarkLatencyIntakeToRobot(b *testing.B) {
	fake, srv, err := notifytest.StartDingTalk(notifytest.DingTalkOptions{Limit: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	fake.AddRobot(robotToken, notifytest.RobotConfig{Secret: robotSec, Keywords: []string{"alert"}})
	tc := startTocsin(b, b.TempDir(), "--admin-token", testAdminToken, "--allow-hosts", strings.TrimPrefix(srv.URL, "http://"))
	chBody := channelBody("latency", fake.WebhookURL(srv.URL, robotToken), map[string]any{"budget": map[string]any{"messages": 1000000, "per": "1m"}})
	benchDo(b, "POST", tc.base+"/api/v1/channels", mustJSON(chBody), http.StatusCreated)
	benchDo(b, "PUT", tc.base+"/api/v1/policies/default", mustJSON(map[string]any{
		"name": "default", "position": 1000, "targets": map[string]any{"channels": []string{"latency"}},
		"group_by": []string{"..."}, "group_wait": "0s", "group_interval": "1m",
	}), http.StatusOK)

	answered := make([]time.Time, b.N)
	tick := time.NewTicker(10 * time.Millisecond) // 100 alerts/s
	defer tick.Stop()
	b.ResetTimer()
	for i := range b.N {
		<-tick.C
		body := fmt.Sprintf(`[{"labels":{"alertname":"Latency","instance":"lat-%06d","severity":"critical"},"annotations":{"summary":"probe %d"}}]`, i, i)
		benchDo(b, "POST", tc.base+"/api/v2/alerts", []byte(body), http.StatusOK)
		answered[i] = time.Now()
	}
	received := make([]time.Time, b.N)
	deadline := time.Now().Add(30 * time.Second)
	for missing := b.N; missing > 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		missing = 0
		for _, m := range fake.Accepted(robotToken) {
			var i int
			if _, err := fmt.Sscanf(m.Title[strings.Index(m.Title, "lat-")+4:], "%06d", &i); err == nil && i < b.N && received[i].IsZero() {
				received[i] = m.At
			}
		}
		for _, r := range received {
			if r.IsZero() {
				missing++
			}
		}
	}
	b.StopTimer()
	lat := make([]time.Duration, 0, b.N)
	for i, r := range received {
		if r.IsZero() {
			b.Fatalf("alert %d never reached the robot", i)
		}
		lat = append(lat, r.Sub(answered[i]))
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(1), "max-ms")
}

func mustJSON(v any) []byte {
	js, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return js
}
