package template

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/notify"
)

func TestRenderGroupGolden(t *testing.T) {
	resolved := highCPU()
	resolved.EndsAt = t0.Add(43*time.Minute + 55*time.Second)

	twelve := cpuGroup(12)

	// Alertmanager grouped by namespace; three pods crash loop, one recovered.
	var pods []alert.Alert
	for i, pod := range []string{"checkout-7f9c-x2x1", "checkout-7f9c-k8p3", "ledger-55d-qq7", "ledger-55d-zz1"} {
		a := mk(
			[]string{"alertname", "KubePodCrashLooping", "severity", "warning", "namespace", "payments", "pod", pod, "container", strings.SplitN(pod, "-", 2)[0], "job", "kube-state-metrics", "cluster", "prod-sh"},
			[]string{"description", "Pod payments/" + pod + " is restarting 2.5 times / 10 minutes.\nLast state: OOMKilled.", "runbook_url", "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping"},
			t0.Add(-time.Duration(30+i*7)*time.Minute))
		a.GeneratorURL = "http://prometheus.example:9090/graph?g0.expr=kube_pod_container_status_waiting_reason"
		pods = append(pods, a)
	}
	pods[3].EndsAt = t0.Add(-5 * time.Minute)

	tests := []struct {
		name string
		g    Group
		o    Options
	}{
		{name: "single-firing", o: shanghai(t), g: Group{
			Policy: "sre-oncall", GroupLabels: alert.Labels{{Name: "alertname", Value: "HighCPU"}},
			Firing: []alert.Alert{highCPU()},
		}},
		{name: "single-resolved", o: shanghai(t), g: Group{
			Policy: "sre-oncall", GroupLabels: alert.Labels{{Name: "alertname", Value: "HighCPU"}},
			Resolved: []alert.Alert{resolved},
		}},
		{name: "group-12", o: shanghai(t), g: Group{
			Policy: "sre-oncall", GroupLabels: alert.Labels{{Name: "alertname", Value: "HighCPU"}, {Name: "env", Value: "prod"}},
			Firing: twelve,
		}},
		{name: "webhook-relay", o: Options{Location: zone(t, "Asia/Shanghai"), Now: now}, g: Group{
			GroupLabels: alert.Labels{{Name: "namespace", Value: "payments"}},
			Firing:      pods[:3], Resolved: pods[3:],
			ExternalURL: "http://alertmanager.example:9093/",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := RenderGroup(tt.g, tt.o)
			checkGroupMessage(t, tt.g, msg)
			golden(t, tt.name, show(msg))
		})
	}
}

// checkGroupMessage checks what RenderGroup promises of every message.
func checkGroupMessage(t *testing.T, g Group, msg notify.Message) {
	t.Helper()
	if msg.ID != "" {
		t.Errorf("ID = %q, want it left to the caller", msg.ID)
	}
	if diff := cmp.Diff(slices.Concat(g.Firing, g.Resolved), msg.Alerts); diff != "" {
		t.Errorf("Alerts (-want +got):\n%s", diff)
	}
	want := alert.Resolved
	if len(g.Firing) > 0 {
		want = alert.Firing
	}
	if msg.Status != want {
		t.Errorf("Status = %q, want %q", msg.Status, want)
	}
	if strings.Contains(msg.Title, "\n") || msg.Title == "" {
		t.Errorf("Title %q is not one line", msg.Title)
	}
	for _, b := range msg.Buttons {
		if b.Title == "" || b.URL == "" {
			t.Errorf("button %+v lacks a title or URL", b)
		}
	}
}

func TestRenderGroupTitles(t *testing.T) {
	cpu := cpuGroup(5)
	disk := mk([]string{"alertname", "DiskFull", "severity", "warning", "instance", "db-1:9100"}, []string{"summary", "Disk / is 97% full"}, t0)
	oom := mk([]string{"alertname", "OOMKilled", "severity", "warning", "instance", "db-2:9100"}, nil, t0)
	tests := []struct {
		name string
		g    Group
		want string
	}{
		{"one firing", Group{Firing: cpu[:1]}, "[FIRING] HighCPU (critical) on web-1:9100"},
		{"one resolved", Group{Resolved: cpu[:1]}, "[RESOLVED] HighCPU (critical) on web-1:9100"},
		{"many firing", Group{Firing: cpu}, "[FIRING 5] HighCPU (critical)"},
		{"many resolved", Group{Resolved: cpu}, "[RESOLVED 5] HighCPU (critical)"},
		{"mixed", Group{Firing: cpu[:3], Resolved: cpu[3:]}, "[FIRING 3, RESOLVED 2] HighCPU (critical)"},
		{"severity of the firing ones", Group{Firing: []alert.Alert{disk}, Resolved: cpu[:1]}, "[FIRING 1, RESOLVED 1] DiskFull, HighCPU (warning)"},
		{"grouped by alertname", Group{GroupLabels: alert.Labels{{Name: "alertname", Value: "Storage"}}, Firing: []alert.Alert{disk, oom}}, "[FIRING 2] Storage (warning)"},
		{"names counted", Group{Firing: []alert.Alert{cpu[0], cpu[1], disk, oom}}, "[FIRING 4] HighCPU, DiskFull +1 (critical)"},
		{"no alertname", Group{Policy: "catch-all", Firing: []alert.Alert{mk([]string{"job", "x"}, nil, t0), mk([]string{"job", "y"}, nil, t0)}}, "[FIRING 2] catch-all"},
		{"empty", Group{Policy: "sre"}, "[RESOLVED] sre"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := RenderGroup(tt.g, shanghai(t))
			if msg.Title != tt.want {
				t.Errorf("Title = %q, want %q", msg.Title, tt.want)
			}
			checkGroupMessage(t, tt.g, msg)
		})
	}
}

// TestRenderGroupFirstLines checks the order a phone reader needs: the
// name, severity and summary, where and since when, before anything else,
// and the labels last.
func TestRenderGroupFirstLines(t *testing.T) {
	msg := RenderGroup(Group{Firing: []alert.Alert{highCPU()}}, shanghai(t))
	lines := strings.Split(msg.Text, "\n")
	want := []string{
		"### 🔥 FIRING · HighCPU (critical)",
		"",
		"**CPU usage above 90% on web-1 for 5 minutes**",
		"",
		"- **Where**: instance=web-1:9100 · job=node",
		"- **Since**: 2026-11-21 10:01:05 CST (12m ago)",
	}
	if diff := cmp.Diff(want, lines[:len(want)]); diff != "" {
		t.Errorf("first lines (-want +got):\n%s", diff)
	}
	if last := lines[len(lines)-1]; last != "**Labels**: env=prod · team=sre" {
		t.Errorf("last line = %q, want the remaining labels", last)
	}
	resolved := highCPU()
	resolved.EndsAt = t0.Add(time.Hour)
	msg = RenderGroup(Group{Resolved: []alert.Alert{resolved}}, shanghai(t))
	if !strings.HasPrefix(msg.Text, "### ✅ RESOLVED · HighCPU (critical)") {
		t.Errorf("resolved text starts %q", strings.SplitN(msg.Text, "\n", 2)[0])
	}
}

func TestSummary(t *testing.T) {
	tests := []struct {
		name        string
		annotations []string
		want        string
	}{
		{"summary first", []string{"summary", "  Disk\nfull ", "description", "d", "message", "m"}, "Disk full"},
		{"description's first line", []string{"description", "\n\n  Disk is full.\nMore detail."}, "Disk is full."},
		{"message", []string{"message", "Instance i-123 stopped"}, "Instance i-123 stopped"},
		{"blank summary skipped", []string{"summary", " ", "message", "m"}, "m"},
		{"none", []string{"runbook_url", "https://x"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Summary(mk([]string{"alertname", "A"}, tt.annotations, t0)); got != tt.want {
				t.Errorf("Summary = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestGroupDescriptionFromSummarySource shows the description's other
// lines when its first line is the summary, not the same line twice.
func TestGroupDescriptionFromSummarySource(t *testing.T) {
	a := mk([]string{"alertname", "A"}, []string{"description", "First line.\nSecond line.\n\nThird line."}, t0)
	msg := RenderGroup(Group{Firing: []alert.Alert{a}}, shanghai(t))
	if strings.Count(msg.Text, "First line.") != 1 {
		t.Errorf("the summary line appears more than once:\n%s", msg.Text)
	}
	if !strings.Contains(msg.Text, "> Second line.\n> Third line.") {
		t.Errorf("the rest of the description is not quoted:\n%s", msg.Text)
	}
}

func TestRenderGroupLinks(t *testing.T) {
	a := highCPU()
	tests := []struct {
		name string
		o    Options
		g    Group
		want []notify.Button
	}{
		{"public URL", Options{PublicURL: "https://tocsin.example/"}, Group{Firing: []alert.Alert{a}}, []notify.Button{
			{Title: "Details", URL: "https://tocsin.example/alerts/" + a.Fingerprint.String()},
			{Title: "Source", URL: a.GeneratorURL},
			{Title: "Runbook", URL: "https://runbooks.example/HighCPU"},
		}},
		{"no public URL", Options{}, Group{Firing: []alert.Alert{a}}, []notify.Button{
			{Title: "Details", URL: a.GeneratorURL},
			{Title: "Runbook", URL: "https://runbooks.example/HighCPU"},
		}},
		{"relay", Options{}, Group{Firing: []alert.Alert{a}, ExternalURL: "http://am:9093"}, []notify.Button{
			{Title: "Details", URL: a.GeneratorURL},
			{Title: "Runbook", URL: "https://runbooks.example/HighCPU"},
			{Title: "Alertmanager", URL: "http://am:9093/#/alerts?filter=%7Balertname%3D%22HighCPU%22%2Cenv%3D%22prod%22%2Cinstance%3D%22web-1%3A9100%22%2Cjob%3D%22node%22%2Cseverity%3D%22critical%22%2Cteam%3D%22sre%22%7D"},
		}},
		{"group", Options{PublicURL: "https://tocsin.example"}, Group{Firing: cpuGroup(3), ExternalURL: "http://am:9093", GroupLabels: alert.Labels{{Name: "alertname", Value: "HighCPU"}}}, []notify.Button{
			{Title: "Runbook", URL: "https://runbooks.example/HighCPU"},
			{Title: "All alerts", URL: "https://tocsin.example/alerts?status=firing"},
			{Title: "Alertmanager", URL: "http://am:9093/#/alerts?filter=%7Balertname%3D%22HighCPU%22%7D"},
		}},
		{"no links", Options{}, Group{Firing: []alert.Alert{mk([]string{"alertname", "A"}, nil, t0)}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := RenderGroup(tt.g, tt.o)
			if diff := cmp.Diff(tt.want, msg.Buttons); diff != "" {
				t.Errorf("buttons (-want +got):\n%s", diff)
			}
		})
	}
	// In a list each alert links to its own page.
	msg := RenderGroup(Group{Firing: cpuGroup(3)}, Options{PublicURL: "https://tocsin.example"})
	for _, a := range cpuGroup(3) {
		if !strings.Contains(msg.Text, "(https://tocsin.example/alerts/"+a.Fingerprint.String()+")") {
			t.Errorf("no link to %s in:\n%s", a.Fingerprint, msg.Text)
		}
	}
}

// TestRenderGroupLong lists at most groupListMax alerts of a status and
// counts the rest.
func TestRenderGroupLong(t *testing.T) {
	as := cpuGroup(groupListMax + 7)
	msg := RenderGroup(Group{Firing: as}, shanghai(t))
	if got := strings.Count(msg.Text, "\n- [web-"); got != groupListMax {
		t.Errorf("%d alerts listed, want %d", got, groupListMax)
	}
	if !strings.Contains(msg.Text, "- … and 7 more · [see all](https://tocsin.example/alerts?status=firing)") {
		t.Errorf("the rest is not counted:\n%s", msg.Text)
	}
	if len(msg.Alerts) != len(as) {
		t.Errorf("Alerts has %d, want all %d", len(msg.Alerts), len(as))
	}
}

// TestTimesInZone renders the same alert for channels in different zones.
func TestTimesInZone(t *testing.T) {
	a := highCPU() // 02:01:05 UTC
	a.EndsAt = t0.Add(90 * time.Minute)
	tests := []struct {
		zone       string
		since, end string
		clock      string // in a list, and in a digest
		header     string // a digest's "times in"
	}{
		{"Asia/Shanghai", "2026-11-21 10:01:05 CST", "2026-11-21 11:31:05 CST", "10:01", "CST (UTC+08:00)"},
		{"America/New_York", "2026-11-20 21:01:05 EST", "2026-11-20 22:31:05 EST", "21:01", "EST (UTC-05:00)"},
		{"Asia/Dubai", "2026-11-21 06:01:05 +04:00", "2026-11-21 07:31:05 +04:00", "06:01", "UTC+04:00"},
		{"", "2026-11-21 02:01:05 UTC", "2026-11-21 03:31:05 UTC", "02:01", "UTC"},
	}
	for _, tt := range tests {
		t.Run(tt.zone, func(t *testing.T) {
			o := Options{Now: now}
			if tt.zone != "" {
				o.Location = zone(t, tt.zone)
			}
			msg := RenderGroup(Group{Resolved: []alert.Alert{a}}, o)
			for _, want := range []string{"- **Fired**: " + tt.since, "- **Resolved**: " + tt.end + " (after 1h 30m)"} {
				if !strings.Contains(msg.Text, want) {
					t.Errorf("no %q in:\n%s", want, msg.Text)
				}
			}
			msg = RenderGroup(Group{Firing: []alert.Alert{a, cpuGroup(2)[1]}}, o)
			if !strings.Contains(msg.Text, "since "+tt.clock+" ") {
				t.Errorf("no %q in:\n%s", "since "+tt.clock, msg.Text)
			}
			msgs, _ := RenderDigest([]DigestItem{{Alert: a, Status: alert.Firing}, {Alert: cpuGroup(2)[1], Status: alert.Firing}}, o, DigestLimits{})
			if !strings.Contains(msgs[0].Text, "times in "+tt.header+"\n") || !strings.Contains(msgs[0].Text, " · "+tt.clock+"\n") {
				t.Errorf("no %q or %q in:\n%s", tt.header, tt.clock, msgs[0].Text)
			}
		})
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second:                    "0s",
		45 * time.Second:                "45s",
		12*time.Minute + 59*time.Second: "12m",
		3 * time.Hour:                   "3h",
		3*time.Hour + 5*time.Minute:     "3h 5m",
		52 * time.Hour:                  "2d 4h",
		48 * time.Hour:                  "2d",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestClock shows the date only when it is not the reader's today.
func TestClock(t *testing.T) {
	o := shanghai(t)
	for at, want := range map[time.Time]string{
		t0:                      "10:01",
		t0.Add(-10 * time.Hour): "00:01",
		t0.Add(-11 * time.Hour): "11-20 23:01",
		{}:                      "",
	} {
		if got := o.Clock(at); got != want {
			t.Errorf("Clock(%v) = %q, want %q", at, got, want)
		}
	}
	if got := (Options{Location: o.Location}).Clock(t0); got != "11-21 10:01" {
		t.Errorf("without a Now, Clock = %q, want the date shown", got)
	}
}
