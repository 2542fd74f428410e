package template

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the tests name zones; do not depend on the machine's database

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/notify"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

// t0 is 2026-11-21 10:01:05 in Shanghai; now is twelve minutes later.
var (
	t0  = time.Date(2026, 11, 21, 2, 1, 5, 0, time.UTC)
	now = t0.Add(12 * time.Minute)
)

func zone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func shanghai(t testing.TB) Options {
	return Options{Location: zone(t, "Asia/Shanghai"), PublicURL: "https://tocsin.example/", Now: now}
}

// mk builds an alert from label pairs and annotation pairs, its
// fingerprint and severity set as intake sets them.
func mk(labels, annotations []string, startsAt time.Time) alert.Alert {
	pairs := func(kv []string) alert.Labels {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return alert.FromMap(m)
	}
	a := alert.Alert{Labels: pairs(labels), Annotations: pairs(annotations), StartsAt: startsAt, Source: "alertmanager"}
	a.Fingerprint = a.Labels.Fingerprint()
	a.Severity = alert.ParseSeverity(a.Labels.Get("severity"))
	return a
}

func highCPU() alert.Alert {
	a := mk(
		[]string{"alertname", "HighCPU", "severity", "critical", "instance", "web-1:9100", "job", "node", "env", "prod", "team", "sre"},
		[]string{
			"summary", "CPU usage above 90% on web-1 for 5 minutes",
			"description", "User CPU at 93.2% (steal < 1%).\n\nTop process: java (pid 4121), started by deploy #812.",
			"runbook_url", "https://runbooks.example/HighCPU",
			"value", "93.2%",
		},
		t0)
	a.GeneratorURL = "http://prometheus.example:9090/graph?g0.expr=cpu_usage+%3E+0.9"
	return a
}

// cpuGroup is n HighCPU alerts on web-1 … web-n, started a minute apart.
func cpuGroup(n int) []alert.Alert {
	as := make([]alert.Alert, n)
	for i := range as {
		host := fmt.Sprintf("web-%d", i+1)
		as[i] = mk(
			[]string{"alertname", "HighCPU", "severity", "critical", "instance", host + ":9100", "job", "node", "env", "prod", "team", "sre"},
			[]string{"summary", fmt.Sprintf("CPU usage above 90%% on %s for 5 minutes", host), "runbook_url", "https://runbooks.example/HighCPU"},
			t0.Add(-time.Duration(i)*time.Minute))
		as[i].GeneratorURL = "http://prometheus.example:9090/graph?g0.expr=cpu_usage+%3E+0.9"
	}
	return as
}

// storm is n alerts under 50 alertnames, counts falling off from the
// first name to the last, a tenth resolved, started over the last 14 hours
// (so some the day before, in Shanghai), with summaries that differ per
// alert for most names and are shared for every third.
func storm(n int) []DigestItem {
	subjects := []string{"HostCPU", "HostMemory", "HostDisk", "HostNetwork", "KubePod", "KubeNode", "Postgres", "Redis", "Kafka", "Nginx"}
	kinds := []string{"High", "Saturated", "Errors", "Latency", "Down"}
	rng := rand.New(rand.NewPCG(1, 2))
	weights := make([]int, 50)
	total := 0
	for i := range weights {
		weights[i] = 50 - i
		total += weights[i]
	}
	items := make([]DigestItem, 0, n)
	for i := range weights {
		count := n * weights[i] / total
		if i == 0 {
			count += n - sumShares(n, weights, total)
		}
		name := subjects[i/5] + kinds[i%5]
		sev := []string{"critical", "warning", "warning", "info", "info"}[i%5]
		for j := range count {
			host := fmt.Sprintf("node-%03d.prod", j)
			labels := []string{"alertname", name, "severity", sev, "instance", host + ":9100", "job", "node", "env", "prod"}
			if i%7 == 0 {
				labels = append(labels, "cluster", fmt.Sprintf("prod-%c", 'a'+j%3))
			}
			sum := fmt.Sprintf("%s on %s: %d%% over threshold for %dm", name, host, 5+rng.IntN(90), 1+rng.IntN(30))
			if i%3 == 2 {
				sum = name + " on many nodes: check the shared backend"
			}
			a := mk(labels, []string{"summary", sum}, t0.Add(-time.Duration(rng.IntN(14*60))*time.Minute))
			status := alert.Firing
			if rng.IntN(10) == 0 {
				status = alert.Resolved
				a.EndsAt = a.StartsAt.Add(time.Duration(1+rng.IntN(60)) * time.Minute)
			}
			items = append(items, DigestItem{Alert: a, Status: status})
		}
	}
	rng.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
	return items
}

func sumShares(n int, weights []int, total int) int {
	s := 0
	for _, w := range weights {
		s += n * w / total
	}
	return s
}

// show writes messages as a golden file reads best: each message's
// title, status, buttons and alerts, then its text as sent.
func show(msgs ...notify.Message) []byte {
	var b strings.Builder
	for i, m := range msgs {
		if len(msgs) > 1 {
			fmt.Fprintf(&b, "=== message %d of %d ===\n", i+1, len(msgs))
		}
		fmt.Fprintf(&b, "Title: %s\nStatus: %s\n", m.Title, m.Status)
		for _, btn := range m.Buttons {
			fmt.Fprintf(&b, "Button: %s -> %s\n", btn.Title, btn.URL)
		}
		if len(m.Alerts) <= 20 {
			fps := make([]string, len(m.Alerts))
			for j, a := range m.Alerts {
				fps[j] = a.Fingerprint.String()
			}
			fmt.Fprintf(&b, "Alerts: %d [%s]\n", len(m.Alerts), strings.Join(fps, " "))
		} else {
			fmt.Fprintf(&b, "Alerts: %d\n", len(m.Alerts))
		}
		fmt.Fprintf(&b, "Text (%d bytes):\n%s\n", len(m.Text), m.Text)
	}
	return []byte(b.String())
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got), run go test -update if the change is right:\n%s", path, diff)
	}
}
