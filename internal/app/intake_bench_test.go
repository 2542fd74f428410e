package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// alertBatch is a batch of n distinct alerts in Alertmanager's API v2 form,
// numbered from first: what Prometheus sends, 100 at a time by default.
func alertBatch(first, n int) []byte {
	now := time.Now().UTC().Format(time.RFC3339)
	alerts := make([]map[string]any, n)
	for i := range alerts {
		k := first + i
		alerts[i] = map[string]any{
			"labels": map[string]string{
				"alertname": fmt.Sprintf("BenchAlert%02d", k%50), "instance": fmt.Sprintf("10.0.%d.%d:9100", k/250%250, k%250),
				"job": "node", "severity": "warning", "team": "sre", "seq": fmt.Sprint(k),
			},
			"annotations":  map[string]string{"summary": "filesystem /data is 91% full", "runbook_url": "https://runbooks.example.com/disk"},
			"startsAt":     now,
			"generatorURL": "http://prometheus.example.com/graph?g0.expr=up",
		}
	}
	js, _ := json.Marshal(alerts)
	return js
}

// BenchmarkIntakeV2 measures POST /api/v2/alerts through the whole server,
// as issue 3's intake target states it: batches of 100 distinct alerts from
// 8 concurrent senders, each answered only once its alerts are durably
// committed to SQLite (synchronous=FULL). alerts/s is the figure.
func BenchmarkIntakeV2(b *testing.B) {
	tc := startTocsin(b, b.TempDir(), "--admin-token", testAdminToken)
	const batch = 100
	// The bodies are made before the clock starts: the senders are other
	// processes in real life, and this machine has only its two cores.
	bodies := make([][]byte, b.N)
	for i := range bodies {
		bodies[i] = alertBatch(i*batch, batch)
	}
	var next atomic.Int64
	b.SetParallelism(max(1, 8/runtimeProcs())) // 8 senders
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := bodies[next.Add(1)-1]
			benchDo(b, "POST", tc.base+"/api/v2/alerts", body, http.StatusOK)
		}
	})
	b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "alerts/s")
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }
