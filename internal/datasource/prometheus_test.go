package datasource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/prompb"
	"golang.org/x/crypto/bcrypt"

	"github.com/tocsinhq/tocsin/internal/secret"
)

// prometheusBinary finds a Prometheus server: $TOCSIN_PROMETHEUS, or
// prometheus on PATH. Without one the test is skipped, unless
// TOCSIN_REQUIRE_TOOLS=1 says the run must not skip it.
func prometheusBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("TOCSIN_PROMETHEUS"); p != "" {
		return p
	}
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p
	}
	if os.Getenv("TOCSIN_REQUIRE_TOOLS") == "1" {
		t.Fatal("no Prometheus server: set TOCSIN_PROMETHEUS to its binary or put prometheus on PATH")
	}
	t.Skip("no Prometheus server (set TOCSIN_PROMETHEUS or put prometheus on PATH)")
	return ""
}

// promLog watches a Prometheus server's log for the address it listens
// on and for its readiness, keeping the log for failure messages.
type promLog struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	addr    string
	addrSet chan struct{} // closed once addr is known
	ready   chan struct{} // closed once the server serves requests
}

var listeningRE = regexp.MustCompile(`msg="Listening on".* address=(\S+)`)

func (l *promLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	start := l.buf.Len()
	l.buf.Write(p)
	for _, line := range strings.Split(l.buf.String()[start:], "\n") {
		if m := listeningRE.FindStringSubmatch(line); m != nil && l.addr == "" {
			l.addr = m[1]
			close(l.addrSet)
		}
		if strings.Contains(line, "Server is ready to receive web requests") {
			select {
			case <-l.ready:
			default:
				close(l.ready)
			}
		}
	}
	return len(p), nil
}

func (l *promLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// startPrometheus runs a Prometheus server on 127.0.0.1 with its remote
// write receiver on and basic auth required (user, password), and
// returns its URL once it is ready. The test's end stops it.
func startPrometheus(t *testing.T, user, password string) string {
	t.Helper()
	bin := prometheusBinary(t)
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"prometheus.yml": "global:\n  evaluation_interval: 1h\n",
		"web.yml":        fmt.Sprintf("basic_auth_users:\n  %s: %s\n", user, hash),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	log := &promLog{addrSet: make(chan struct{}), ready: make(chan struct{})}
	cmd := exec.CommandContext(t.Context(), bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--web.config.file="+filepath.Join(dir, "web.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:0",
		"--web.enable-remote-write-receiver",
		"--log.level=info",
	)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 20 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		// t.Context is cancelled by now, which interrupts the server.
		if err := <-exited; err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("prometheus exited: %v", err)
		}
	})
	select {
	case <-log.ready:
	case err := <-exited:
		exited <- err
		t.Fatalf("prometheus exited before it was ready: %v\n%s", err, log)
	case <-time.After(time.Minute):
		t.Fatalf("prometheus not ready within a minute:\n%s", log)
	}
	<-log.addrSet
	return "http://" + log.addr
}

// remoteWrite pushes series to a Prometheus server through its remote
// write receiver (protocol 1.0).
func remoteWrite(t *testing.T, base, user, password string, series []prompb.TimeSeries) {
	t.Helper()
	data, err := (&prompb.WriteRequest{Timeseries: series}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/api/v1/write", bytes.NewReader(snappy.Encode(nil, data)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	req.SetBasicAuth(user, password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer drainClose(resp.Body)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("remote write: HTTP %d", resp.StatusCode)
	}
}

// TestRealPrometheus queries a real Prometheus server: the answers the
// fake imitates, from the source.
func TestRealPrometheus(t *testing.T) {
	const user, password = "tocsin", "pa55:word"
	base := startPrometheus(t, user, password)
	// A fixed start, minutes apart, so every answer is known.
	start := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	minute := func(n int) int64 { return start.Add(time.Duration(n) * time.Minute).UnixMilli() }
	floats := func(name, instance string, values ...float64) prompb.TimeSeries {
		ts := prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: name}, {Name: "instance", Value: instance}}}
		for i, v := range values {
			ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: minute(i), Value: v})
		}
		return ts
	}
	h := &histogram.Histogram{Schema: 0, Count: 4, Sum: 5, ZeroThreshold: 0.001,
		PositiveSpans: []histogram.Span{{Offset: 0, Length: 3}}, PositiveBuckets: []int64{1, 1, -1}}
	hist := prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: "tocsin_rpc_seconds"}}}
	for i := range 5 {
		hist.Histograms = append(hist.Histograms, prompb.FromIntHistogram(minute(i), h))
	}
	remoteWrite(t, base, user, password, []prompb.TimeSeries{
		floats("tocsin_gc", "a", 1, 2, 3, 4, 5),
		floats("tocsin_gc", "b", 10, math.NaN(), math.Inf(1), math.Inf(-1), 5),
		hist,
	})

	src := &Source{Name: "real-prom", URL: base + "/", Username: user, Password: secret.New(password)}
	if err := src.Validate(); err != nil {
		t.Fatal(err)
	}
	c := NewClient(src, nil)
	if err := c.Check(t.Context()); err != nil {
		t.Fatalf("Check: %v", err)
	}

	t.Run("instant", func(t *testing.T) {
		for _, tc := range []struct {
			expr string
			at   time.Time
			want []string
		}{
			{`tocsin_gc`, start.Add(time.Minute + 781*time.Millisecond), []string{
				fmt.Sprintf(`{__name__="tocsin_gc", instance="a"} @%d = 2`, minute(1)+781),
				fmt.Sprintf(`{__name__="tocsin_gc", instance="b"} @%d = NaN`, minute(1)+781),
			}},
			{`tocsin_gc{instance="b"} * 2`, start.Add(2 * time.Minute), []string{fmt.Sprintf(`{instance="b"} @%d = +Inf`, minute(2))}},
			{`tocsin_gc{instance="b"}`, start.Add(3 * time.Minute), []string{fmt.Sprintf(`{__name__="tocsin_gc", instance="b"} @%d = -Inf`, minute(3))}},
			{`1/0`, start, []string{fmt.Sprintf(`{} @%d = +Inf`, minute(0))}},
			{`histogram_count(tocsin_rpc_seconds)`, start.Add(4 * time.Minute), []string{fmt.Sprintf(`{} @%d = 4`, minute(4))}},
			{`tocsin_gc > 100`, start, []string{}},
		} {
			got, err := c.Query(t.Context(), tc.expr, tc.at)
			if err != nil {
				t.Errorf("Query(%s): %v", tc.expr, err)
				continue
			}
			if diff := cmp.Diff(tc.want, show(got)); diff != "" {
				t.Errorf("Query(%s) (-want +got):\n%s", tc.expr, diff)
			}
		}
	})

	t.Run("range", func(t *testing.T) {
		got, err := c.QueryRange(t.Context(), `tocsin_gc`, start, start.Add(4*time.Minute), 2*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			fmt.Sprintf(`{__name__="tocsin_gc", instance="a"} [%d=1 %d=3 %d=5] histograms=0`, minute(0), minute(2), minute(4)),
			fmt.Sprintf(`{__name__="tocsin_gc", instance="b"} [%d=10 %d=+Inf %d=5] histograms=0`, minute(0), minute(2), minute(4)),
		}
		if diff := cmp.Diff(want, showMatrix(got)); diff != "" {
			t.Errorf("QueryRange (-want +got):\n%s", diff)
		}
	})

	t.Run("errors", func(t *testing.T) {
		_, err := c.Query(t.Context(), `sum(tocsin_gc`, start)
		if e := asError(t, err); e.Status != 400 || !e.BadQuery() || !strings.Contains(e.Message, "parse error") {
			t.Errorf("bad query: %v", err)
		}
		_, err = c.Query(t.Context(), `label_replace(tocsin_gc, "instance", "same", "", "")`, start)
		if e := asError(t, err); e.Status != 422 || e.Type != "execution" {
			t.Errorf("execution error: %v", err)
		}
		_, err = c.Query(t.Context(), `tocsin_rpc_seconds`, start.Add(time.Minute))
		if !errors.Is(err, ErrHistogram) {
			t.Errorf("histogram: %v", err)
		}
		_, err = c.QueryRange(t.Context(), `tocsin_rpc_seconds`, start, start.Add(4*time.Minute), time.Minute)
		if !errors.Is(err, ErrHistogram) {
			t.Errorf("histogram range: %v", err)
		}
		_, err = c.Query(t.Context(), `tocsin_gc[2m]`, start.Add(2*time.Minute))
		if err == nil || !strings.Contains(err.Error(), "range vector") {
			t.Errorf("range vector: %v", err)
		}
	})

	t.Run("credentials", func(t *testing.T) {
		wrong := *src
		wrong.Password = secret.New("not-the-password")
		err := NewClient(&wrong, nil).Check(t.Context())
		if e := asError(t, err); e.Status != http.StatusUnauthorized || !strings.Contains(e.Message, "check the credentials") || strings.Contains(e.Error(), "not-the-password") {
			t.Errorf("wrong password: %v", err)
		}
	})

	t.Run("wrong base", func(t *testing.T) {
		wrong := *src
		wrong.URL += "/prometheus"
		err := NewClient(&wrong, nil).Check(t.Context())
		if e := asError(t, err); e.Status != http.StatusNotFound || !strings.Contains(e.Message, "check the URL") {
			t.Errorf("wrong base URL: %v", err)
		}
	})
}
