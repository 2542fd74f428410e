package app

import (
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkHeapPer100kActiveAlerts measures issue 3's memory figure: the
// Go heap, and the process's resident memory, that 100,000 active alerts
// add to a running Tocsin (SQLite), per alert. Tocsin keeps alerts in the
// database, not in memory, so what grows is caches. b.N is ignored beyond
// running once.
func BenchmarkHeapPer100kActiveAlerts(b *testing.B) {
	const total, batch = 100000, 500
	tc := startTocsin(b, b.TempDir(), "--admin-token", testAdminToken)
	bodies := make([][]byte, total/batch)
	for i := range bodies {
		bodies[i] = alertBatch(i*batch, batch)
	}
	heap0, rss0 := settledMemory()
	for b.Loop() {
		for _, body := range bodies {
			benchDo(b, "POST", tc.base+"/api/v2/alerts", body, http.StatusOK)
		}
	}
	// The alerts must be active and stored: the list says how many fire.
	_, page := callB(b, tc.base+"/api/v1/alerts?status=firing&limit=1")
	if page == "" {
		b.Fatal("no firing alerts listed")
	}
	heap1, rss1 := settledMemory()
	runtime.KeepAlive(bodies) // counted in both measurements, so in neither difference
	b.ReportMetric(float64(int64(heap1)-int64(heap0))/total, "heap-B/alert")
	b.ReportMetric(float64(int64(rss1)-int64(rss0))/total, "rss-B/alert")
}

// settledMemory returns the Go heap in use after a full collection, and the
// process's resident set size.
func settledMemory() (heap, rss uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	if data, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(data)); len(f) > 1 {
			pages, _ := strconv.ParseUint(f[1], 10, 64)
			rss = pages * uint64(os.Getpagesize())
		}
	}
	return m.HeapInuse, rss
}

func callB(b *testing.B, url string) (int, string) {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := benchClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, sb.String()
}
