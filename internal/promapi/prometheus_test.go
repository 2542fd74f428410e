package promapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestSameAsPrometheus pushes the fixture to Tocsin and to a real
// Prometheus 3 (v0.315.0, the module Tocsin embeds) and checks that
// both answer every query alike: the same status, the same data byte
// for byte, the same errors, warnings and infos.
//
// The binary comes from $TOCSIN_PROMETHEUS or PATH; without one the
// test skips, unless TOCSIN_REQUIRE_TOOLS=1.
func TestSameAsPrometheus(t *testing.T) {
	prom := startPrometheus(t)
	ours := tocsinTarget(t)
	base := fixtureBase()
	pushFixture(t, prom, base)
	pushFixture(t, ours, base)

	sec := func(d time.Duration) string { return fmt.Sprint(base.Add(d).Unix()) }
	rangeQ := func(q string) url.Values {
		return url.Values{"query": {q}, "start": {sec(0)}, "end": {sec(30 * time.Minute)}, "step": {"60s"}}
	}
	instantQ := func(q string) url.Values {
		return url.Values{"query": {q}, "time": {sec(20*time.Minute + 7*time.Second)}}
	}
	for _, tc := range []struct {
		path  string
		query url.Values
	}{
		{"/api/v1/query_range", rangeQ(`http_requests_total`)},
		{"/api/v1/query_range", rangeQ(`rate(http_requests_total[2m])`)},
		{"/api/v1/query_range", rangeQ(`sum by (job) (increase(http_requests_total[5m]))`)},
		{"/api/v1/query_range", rangeQ(`histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[5m])))`)},
		{"/api/v1/query_range", rangeQ(`histogram_quantile(0.9, rate(checkout_duration_seconds_bucket[5m]))`)},
		{"/api/v1/query_range", rangeQ(`temperature_celsius`)},
		{"/api/v1/query_range", rangeQ(`max_over_time(rate(http_requests_total[1m])[5m:])`)},
		{"/api/v1/query_range", rangeQ(`{job="checkout"}`)},
		{"/api/v1/query_range", rangeQ(`rpc_latency_seconds`)},
		{"/api/v1/query_range", rangeQ(`rate(rpc_latency_seconds[5m])`)},
		{"/api/v1/query_range", rangeQ(`histogram_quantile(0.5, rate(rpc_latency_seconds[5m]))`)},
		{"/api/v1/query_range", rangeQ(`queue_depth / 0`)},
		{"/api/v1/query_range", rangeQ(`-queue_depth / 0`)},
		{"/api/v1/query_range", rangeQ(`visits_total * 1e-12`)},
		{"/api/v1/query_range", rangeQ(`queue_depth * 1e22`)},
		{"/api/v1/query_range", rangeQ(`label_replace(vector(1), "x", "<&>\"\n", "", "")`)},
		{"/api/v1/query_range", rangeQ(`time()`)},
		{"/api/v1/query_range", rangeQ(`rate(queue_depth[5m])`)},
		{"/api/v1/query_range", url.Values{"query": {`http_requests_total`}, "start": {sec(0) + ".5"}, "end": {sec(5 * time.Minute)}, "step": {"37.25"}, "limit": {"1"}}},
		{"/api/v1/query_range", url.Values{"query": {`queue_depth`}, "start": {base.Add(3 * time.Minute).Format(time.RFC3339)}, "end": {sec(10 * time.Minute)}, "step": {"1m"}, "lookback_delta": {"1s"}}},
		{"/api/v1/query", instantQ(`http_requests_total`)},
		{"/api/v1/query", instantQ(`sum(http_requests_total)`)},
		{"/api/v1/query", instantQ(`scalar(sum(queue_depth))`)},
		{"/api/v1/query", instantQ(`"a <string> & more"`)},
		{"/api/v1/query", instantQ(`rpc_latency_seconds`)},
		{"/api/v1/query", instantQ(`checkout_duration_seconds_bucket[1m]`)},
		{"/api/v1/query", instantQ(`topk(1, http_requests_total)`)},
		{"/api/v1/query", instantQ(`sum(`)},
		{"/api/v1/query", instantQ(`rate(http_requests_total)`)},
		{"/api/v1/query", instantQ(`http_requests_total + on(job) http_requests_total`)},
		{"/api/v1/query", url.Values{"query": {"1"}, "time": {"tomorrow"}}},
		{"/api/v1/query_range", url.Values{"query": {"1"}, "start": {sec(0)}, "end": {sec(time.Minute)}, "step": {"-1"}}},
		{"/api/v1/series", url.Values{"match[]": {`http_requests_total`}}},
		{"/api/v1/series", url.Values{"match[]": {`{job="api"}`, `{job="checkout"}`}, "start": {sec(0)}, "end": {sec(time.Hour)}}},
		{"/api/v1/series", url.Values{"match[]": {`{job=~".*"}`}}},
		{"/api/v1/series", url.Values{"match[]": {`{job="api"}`}, "limit": {"2"}}},
		{"/api/v1/series", nil},
		{"/api/v1/labels", nil},
		{"/api/v1/labels", url.Values{"match[]": {`{job="checkout"}`}}},
		{"/api/v1/labels", url.Values{"match[]": {`{job="api"}`, `visits_total`}, "limit": {"3"}}},
		{"/api/v1/label/job/values", nil},
		{"/api/v1/label/__name__/values", nil},
		{"/api/v1/label/instance/values", url.Values{"match[]": {`http_requests_total`}}},
		{"/api/v1/label/path/values", nil},
		{"/api/v1/label/team/values", nil},
	} {
		t.Run(tc.path+"?"+tc.query.Encode(), func(t *testing.T) {
			wantStatus, wantBody := getAPI(t, prom.api, tc.path, tc.query)
			gotStatus, gotBody := getAPI(t, ours.api, tc.path, tc.query)
			if gotStatus != wantStatus {
				t.Errorf("status %d, Prometheus %d", gotStatus, wantStatus)
			}
			want, got := parseAnswer(t, wantBody), parseAnswer(t, gotBody)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("answers differ (-Prometheus +Tocsin):\n%s", diff)
			}
		})
	}
}

// answer is an API answer as compared: data as its bytes, annotations
// sorted (Prometheus lists them in map order).
type answer struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
	Infos     []string        `json:"infos"`
}

func parseAnswer(t *testing.T, body []byte) answer {
	t.Helper()
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	slices.Sort(a.Warnings)
	slices.Sort(a.Infos)
	return a
}

// startPrometheus runs a Prometheus with remote write and OTLP
// receivers on a free port and stops it when the test ends.
func startPrometheus(t *testing.T) target {
	bin := os.Getenv("TOCSIN_PROMETHEUS")
	if bin == "" {
		bin, _ = exec.LookPath("prometheus")
	}
	if bin == "" {
		if os.Getenv("TOCSIN_REQUIRE_TOOLS") == "1" {
			t.Fatal("no prometheus binary: set TOCSIN_PROMETHEUS or put prometheus on PATH")
		}
		t.Skip("no prometheus binary (set TOCSIN_PROMETHEUS or put prometheus on PATH)")
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(config, []byte("global: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	log := &logWatch{ready: make(chan string, 1)}
	cmd := exec.Command(bin,
		"--config.file="+config,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:0",
		"--web.enable-remote-write-receiver",
		"--web.enable-otlp-receiver",
		"--log.format=json",
	)
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		<-exited
	})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	select {
	case addr := <-log.ready:
		base := "http://" + addr
		return target{write: base + "/api/v1/write", otlp: base + "/api/v1/otlp/v1/metrics", api: base}
	case err := <-exited:
		exited <- err // for the cleanup
		t.Fatalf("prometheus exited: %v\n%s", err, log.text())
	case <-ctx.Done():
		t.Fatalf("prometheus not ready within a minute:\n%s", log.text())
	}
	panic("unreachable")
}

// logWatch reads Prometheus's JSON log lines as they come and sends the
// listening address on ready once the server has said both where it
// listens and that it is ready (in either order: different goroutines
// log them).
type logWatch struct {
	ready chan string

	mu      sync.Mutex
	partial []byte
	lines   []string
	addr    string
	isReady bool
	sent    bool
}

func (w *logWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := w.partial[:i]
		w.partial = w.partial[i+1:]
		w.lines = append(w.lines, string(line))
		var entry struct{ Msg, Address string }
		if json.Unmarshal(line, &entry) != nil {
			continue
		}
		switch entry.Msg {
		case "Listening on":
			w.addr = entry.Address
		case "Server is ready to receive web requests.":
			w.isReady = true
		}
		if w.addr != "" && w.isReady && !w.sent {
			w.sent = true
			w.ready <- w.addr
		}
	}
}

func (w *logWatch) text() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprint(w.lines)
}
