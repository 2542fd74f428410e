package webhook

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/intake"
	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/notify/notifytest"
	"github.com/tocsinhq/tocsin/internal/secret"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

// testNow is when the test messages are sent: after the resolved alert
// ended, while the firing one still fires.
var testNow = time.Date(2026, 8, 21, 1, 30, 0, 0, time.UTC)

func testTarget() Target {
	return Target{
		URL:         secret.NewURL("https://hooks.example/tocsin?token=" + testToken),
		Receiver:    "sre-oncall",
		GroupKey:    `{}/{team="sre"}:{alertname="HighCPU"}`,
		GroupLabels: alert.Labels{{Name: "alertname", Value: "HighCPU"}},
		ExternalURL: "https://tocsin.example",
	}
}

func cpuAlert(host string) alert.Alert {
	ls := alert.Labels{
		{Name: "alertname", Value: "HighCPU"},
		{Name: "instance", Value: host},
		{Name: "severity", Value: "critical"},
		{Name: "team", Value: "sre"},
	}
	return alert.Alert{
		Fingerprint: ls.Fingerprint(),
		Labels:      ls,
		Annotations: alert.Labels{
			{Name: "runbook_url", Value: "https://runbooks.example/cpu"},
			{Name: "summary", Value: "CPU above 90% on " + host + ` ("steal" < 5% & load > 8)`},
		},
		// In Shanghai time, to show that times go out in UTC.
		StartsAt:     time.Date(2026, 8, 21, 9, 0, 0, 0, time.FixedZone("CST", 8*3600)),
		GeneratorURL: "https://prometheus.example/graph?g0.expr=cpu%3E0.9",
		Severity:     alert.Critical,
		Source:       "rule",
	}
}

func firingMessage() notify.Message {
	resolved := cpuAlert("web-2")
	resolved.EndsAt = testNow.Add(-time.Minute)
	return notify.Message{
		ID:    "d41d8cd9",
		Title: "[FIRING:1] HighCPU",
		Text:  "#### HighCPU on web-1\n\n**Severity**: critical\n\n> CPU above 90% for 5 minutes",
		Buttons: []notify.Button{
			{Title: "Details", URL: "https://tocsin.example/alerts/42"},
			{Title: "Claim", URL: "https://tocsin.example/alerts/42/claim?sig=abc&exp=1"},
		},
		Mentions: notify.Mentions{
			People: []notify.Person{
				{Name: "Li Lei", Mobile: "13800000000", DingTalkUserID: "manager7675", Email: "lilei@example.com"},
				{Name: "Han Meimei", LarkOpenID: "ou_7d8a6e6df7621556ce0d21922b676706"},
			},
			Mobiles: []string{"13900000000"}, // DingTalk's own list: not for a webhook
		},
		Alerts: []alert.Alert{cpuAlert("web-1"), resolved},
		Status: alert.Firing,
	}
}

func testMessage() notify.Message {
	return notify.Message{
		ID:    "test-7f3a",
		Title: "Tocsin test message",
		Text:  "If you can read this, the channel **sre-oncall** works.",
	}
}

func TestEncodeGolden(t *testing.T) {
	tests := []struct {
		name   string
		target Target
		msg    notify.Message
	}{
		{"firing-two-alerts", testTarget(), firingMessage()},
		{"test-message", Target{Receiver: "sre-oncall"}, testMessage()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, truncated, err := Encode(tt.target, tt.msg, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if truncated != 0 {
				t.Errorf("%d alerts truncated, want none", truncated)
			}
			if !json.Valid(body) {
				t.Fatalf("body is not JSON:\n%s", body)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, body, "", "  "); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			golden(t, filepath.Join("testdata", tt.name+".golden"), pretty.Bytes())
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
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

// TestBodyReadsAsAlertmanagerWebhook: Tocsin's own intake for
// Alertmanager webhooks, written from Alertmanager's source, reads the
// body as the notification it is meant to be.
func TestBodyReadsAsAlertmanagerWebhook(t *testing.T) {
	msg := firingMessage()
	body, _, err := Encode(testTarget(), msg, testNow)
	if err != nil {
		t.Fatal(err)
	}
	n, err := intake.DecodeWebhook(body, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if n.Status != alert.Firing || n.Receiver != "sre-oncall" || n.GroupKey != testTarget().GroupKey || n.ExternalURL != "https://tocsin.example" {
		t.Errorf("envelope %+v", n)
	}
	if len(n.Alerts) != 2 {
		t.Fatalf("%d alerts, want 2", len(n.Alerts))
	}
	for i, a := range n.Alerts {
		want := msg.Alerts[i]
		if !a.Labels.Equal(want.Labels) || !a.Annotations.Equal(want.Annotations) || a.Fingerprint != want.Fingerprint ||
			!a.StartsAt.Equal(want.StartsAt) || a.GeneratorURL != want.GeneratorURL {
			t.Errorf("alert %d reads back as %+v, want %+v", i, a, want)
		}
		if got, want := a.StatusAt(testNow), want.StatusAt(testNow); got != want {
			t.Errorf("alert %d reads back %s, want %s", i, got, want)
		}
	}
	wantCommon := alert.Labels{{Name: "alertname", Value: "HighCPU"}, {Name: "severity", Value: "critical"}, {Name: "team", Value: "sre"}}
	if diff := cmp.Diff(wantCommon, n.CommonLabels); diff != "" {
		t.Errorf("commonLabels (-want +got):\n%s", diff)
	}
}

func TestEncodeStatus(t *testing.T) {
	firing := cpuAlert("web-1")
	resolved := cpuAlert("web-2")
	resolved.EndsAt = testNow
	later := cpuAlert("web-3")
	later.EndsAt = testNow.Add(time.Minute) // the resolve timeout, not yet passed

	tests := []struct {
		name   string
		status alert.Status
		alerts []alert.Alert
		want   string
		each   []string
	}{
		{"test send", "", nil, "firing", nil},
		{"any firing", "", []alert.Alert{resolved, firing}, "firing", []string{"resolved", "firing"}},
		{"all resolved", "", []alert.Alert{resolved}, "resolved", []string{"resolved"}},
		{"ends later still fires", "", []alert.Alert{later}, "firing", []string{"firing"}},
		{"message status wins", alert.Resolved, []alert.Alert{firing}, "resolved", []string{"firing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := testMessage()
			msg.Status, msg.Alerts = tt.status, tt.alerts
			got := decode(t, Target{}, msg)
			var each []string
			for _, a := range got.Alerts {
				each = append(each, a.Status)
			}
			if got.Status != tt.want || !cmp.Equal(each, tt.each) {
				t.Errorf("status %s, alerts %q; want %s, %q", got.Status, each, tt.want, tt.each)
			}
		})
	}
}

// decode returns the body as notifytest's receiver reads it.
func decode(t *testing.T, target Target, msg notify.Message) notifytest.WebhookNotification {
	t.Helper()
	b, _, err := Encode(target, msg, testNow)
	if err != nil {
		t.Fatal(err)
	}
	var got notifytest.WebhookNotification
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%v:\n%s", err, b)
	}
	return got
}

func TestCommonLabels(t *testing.T) {
	a, b, c := cpuAlert("web-1"), cpuAlert("web-2"), cpuAlert("web-3")
	c.Labels = alert.Labels{{Name: "alertname", Value: "HighCPU"}, {Name: "severity", Value: "warning"}}
	tests := []struct {
		name   string
		alerts []alert.Alert
		want   map[string]string
	}{
		{"none", nil, map[string]string{}},
		{"one", []alert.Alert{a}, a.Labels.Map()},
		{"two", []alert.Alert{a, b}, map[string]string{"alertname": "HighCPU", "severity": "critical", "team": "sre"}},
		{"value differs", []alert.Alert{a, b, c}, map[string]string{"alertname": "HighCPU"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := testMessage()
			msg.Alerts = tt.alerts
			got := decode(t, Target{}, msg)
			if diff := cmp.Diff(tt.want, got.CommonLabels); diff != "" {
				t.Errorf("commonLabels (-want +got):\n%s", diff)
			}
			if got.GroupLabels == nil || got.CommonAnnotations == nil || got.Tocsin.Buttons == nil || got.Tocsin.Mentions == nil {
				t.Errorf("a label set or list is null, want {} or []: %+v", got)
			}
		})
	}
	if got := common([]alert.Alert{a, b}, func(a *alert.Alert) alert.Labels { return a.Labels }); len(a.Labels) != 4 || &got[0] == &a.Labels[0] {
		t.Error("common changed or shares the first alert's labels")
	}
}

func TestEncodeFingerprint(t *testing.T) {
	a := cpuAlert("web-1")
	want := a.Fingerprint.String()
	a.Fingerprint = 0 // not computed by the caller
	msg := testMessage()
	msg.Alerts = []alert.Alert{a}
	if got := decode(t, Target{}, msg).Alerts[0].Fingerprint; got != want {
		t.Errorf("fingerprint %q, want the labels' %q", got, want)
	}
}

// TestEncodeTruncates: at every limit, the body fits, holds as many alerts
// as fit and no more, from the start of the list, and counts the rest.
func TestEncodeTruncates(t *testing.T) {
	msg := firingMessage()
	msg.Alerts = nil
	for i := range 25 {
		a := cpuAlert(fmt.Sprintf("web-%d", i))
		a.Annotations = append(a.Annotations, alert.Label{Name: "zz", Value: strings.Repeat("x", i*7)}) // sizes differ
		msg.Alerts = append(msg.Alerts, a)
	}
	// The limits that matter are around the size of each prefix of the
	// alerts sent whole.
	var limits []int
	for n := range len(msg.Alerts) + 1 {
		prefix := msg
		prefix.Alerts = msg.Alerts[:n]
		b, _, err := encode(testTarget(), prefix, testNow, MaxBodyBytes)
		if err != nil {
			t.Fatal(err)
		}
		for d := -2; d <= 2; d++ {
			limits = append(limits, len(b)+d)
		}
	}
	slices.Sort(limits)
	fitted := false
	for _, limit := range limits {
		b, truncated, err := encode(testTarget(), msg, testNow, limit)
		if e := notify.AsError(err); e != nil {
			// Below the envelope's own size, with its common labels,
			// and only there.
			if fitted || e.Code != "message-too-long" {
				t.Fatalf("limit %d: %v", limit, err)
			}
			continue
		}
		fitted = true
		if len(b) > limit {
			t.Fatalf("limit %d: body is %d bytes", limit, len(b))
		}
		var got notifytest.WebhookNotification
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("limit %d: %v", limit, err)
		}
		n := len(got.Alerts)
		if got.TruncatedAlerts != truncated || n+truncated != len(msg.Alerts) {
			t.Fatalf("limit %d: %d alerts, truncatedAlerts %d (returned %d), want %d in all", limit, n, got.TruncatedAlerts, truncated, len(msg.Alerts))
		}
		for i, a := range got.Alerts {
			if a.Labels["instance"] != fmt.Sprintf("web-%d", i) {
				t.Fatalf("limit %d: alert %d is %s: truncation must drop from the end", limit, i, a.Labels["instance"])
			}
		}
		if truncated > 0 { // one alert more would not have fit
			more := msg
			more.Alerts = msg.Alerts[:n+1]
			// Encode sizes the envelope for the largest truncatedAlerts,
			// so it may leave unused as many bytes as that number has
			// digits, less one.
			slack := len(strconv.Itoa(len(msg.Alerts))) - 1
			if b, _, _ := encode(testTarget(), more, testNow, MaxBodyBytes); len(b)+slack <= limit {
				t.Fatalf("limit %d: %d alerts sent, but %d fit in %d bytes", limit, n, n+1, len(b))
			}
		}
		// The common labels are the whole group's.
		if got.CommonLabels["alertname"] != "HighCPU" || got.Status != "firing" {
			t.Fatalf("limit %d: %+v", limit, got)
		}
	}
}

func TestEncodeRefuses(t *testing.T) {
	huge := testMessage()
	huge.Text = strings.Repeat("x", MaxBodyBytes)
	huge.Alerts = []alert.Alert{cpuAlert("web-1")}
	tests := []struct {
		name   string
		msg    notify.Message
		action notify.Action
		code   string
	}{
		{"empty", notify.Message{ID: "x"}, notify.Permanent, "empty-message"},
		{"too large without alerts", huge, notify.Shrink, "message-too-long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Encode(Target{}, tt.msg, testNow)
			if e := notify.AsError(err); e == nil || e.Action != tt.action || e.Code != tt.code || e.Hint == "" {
				t.Fatalf("err = %+v, want %s %s with a hint", e, tt.action, tt.code)
			}
		})
	}
}

// TestEncodeInvalidUTF8: bytes that are not UTF-8 become U+FFFD, so the
// body stays valid JSON that any receiver decodes.
func TestEncodeInvalidUTF8(t *testing.T) {
	msg := testMessage()
	msg.Text = "disk \xff full"
	a := cpuAlert("web-\xfe1")
	msg.Alerts = []alert.Alert{a}
	b, _, err := Encode(Target{}, msg, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(b) || !bytes.Contains(b, []byte(`disk \ufffd full`)) {
		t.Errorf("body:\n%s", b)
	}
}

// TestAppendAlertMatchesEncodingJSON: the hand-written alert encoder
// writes what encoding/json writes for Alertmanager's template.Alert.
func TestAppendAlertMatchesEncodingJSON(t *testing.T) {
	bare := alert.Alert{Labels: alert.Labels{{Name: "alertname", Value: "Watchdog"}}}
	odd := cpuAlert("web-\"1\"\n<b>")
	odd.StartsAt = time.Date(2026, 8, 21, 9, 0, 0, 123456789, time.FixedZone("", -3600))
	odd.EndsAt = testNow
	odd.Fingerprint = 0x00ab
	for _, a := range []alert.Alert{cpuAlert("web-1"), bare, odd} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		fp := a.Fingerprint
		if fp == 0 {
			fp = a.Labels.Fingerprint()
		}
		// notifytest's receiver reads Alertmanager's template.Alert.
		if err := enc.Encode(notifytest.WebhookAlert{Status: string(a.StatusAt(testNow)), Labels: a.Labels.Map(), Annotations: a.Annotations.Map(),
			StartsAt: a.StartsAt.UTC(), EndsAt: a.EndsAt.UTC(), GeneratorURL: a.GeneratorURL, Fingerprint: fp.String()}); err != nil {
			t.Fatal(err)
		}
		if got := appendAlert(nil, &a, testNow); string(got)+"\n" != want.String() {
			t.Errorf("appendAlert wrote\n%s\nencoding/json writes\n%s", got, want.Bytes())
		}
	}
}
