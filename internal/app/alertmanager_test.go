package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// v2Alert is an element of Alertmanager's GET /api/v2/alerts, as read here.
type v2Alert struct {
	Fingerprint string            `json:"fingerprint"`
	Labels      map[string]string `json:"labels"`
	Receivers   []struct {
		Name string `json:"name"`
	} `json:"receivers"`
	Status struct {
		State       string   `json:"state"`
		SilencedBy  []string `json:"silencedBy"`
		InhibitedBy []string `json:"inhibitedBy"`
	} `json:"status"`
	StartsAt string `json:"startsAt"`
	EndsAt   string `json:"endsAt"`
}

func (a v2Alert) receivers() []string {
	var names []string
	for _, r := range a.Receivers {
		names = append(names, r.Name)
	}
	return names
}

// getV2Alerts calls GET /api/v2/alerts (query: "?silenced=false" and the
// like) and decodes its array, sorted by alertname.
func getV2Alerts(t *testing.T, base, token, query string) (int, []v2Alert) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/v2/alerts"+query, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []v2Alert
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("GET /api/v2/alerts: %v", err)
		}
	}
	slices.SortFunc(out, func(a, b v2Alert) int { return strings.Compare(a.Labels["alertname"], b.Labels["alertname"]) })
	return resp.StatusCode, out
}

// TestPrometheusStyleIntake: Tocsin as Prometheus's Alertmanager. Alerts
// come in through POST /api/v2/alerts with an ingest token (header or
// ?token=); a batch with one bad alert is refused whole; GET /api/v2/alerts
// shows them with their policies as receivers and, once a silence made
// through /api/v2/silences covers one, that one suppressed; amtool lists
// them.
func TestPrometheusStyleIntake(t *testing.T) {
	tc := startTocsin(t, t.TempDir(), "--admin-token", testAdminToken)
	api := tc.base + "/api/v1"
	status, tok := call(t, "POST", api+"/ingest-tokens", testAdminToken, map[string]any{"name": "prometheus"})
	token, _ := tok["token"].(string)
	if status != http.StatusCreated || token == "" {
		t.Fatalf("create ingest token: %d %v", status, tok)
	}
	status, pol := call(t, "POST", api+"/policies", testAdminToken, map[string]any{"name": "payments", "position": 10, "matchers": []string{`team="payments"`}, "continue": true})
	if status != http.StatusCreated {
		t.Fatalf("create policy: %d %v", status, pol)
	}

	starts := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	status, res := call(t, "POST", tc.base+"/api/v2/alerts", token, `[
		{"labels": {"alertname": "CheckoutErrors", "team": "payments", "severity": "critical"},
		 "annotations": {"summary": "5% of checkouts fail"}, "startsAt": "`+starts+`",
		 "generatorURL": "http://prometheus:9090/graph?g0.expr=errors"},
		{"labels": {"alertname": "HostHighCpuLoad", "instance": "web-3:9100", "severity": "warning"}}
	]`)
	if status != http.StatusOK {
		t.Fatalf("POST /api/v2/alerts with the ingest token: %d %v", status, res)
	}
	status, res = call(t, "POST", tc.base+"/api/v2/alerts?token="+url.QueryEscape(token), "",
		`[{"labels": {"alertname": "Watchdog", "severity": "none"}}]`)
	if status != http.StatusOK {
		t.Fatalf("POST /api/v2/alerts with ?token=: %d %v", status, res)
	}

	// One bad alert refuses the batch, and names where it is wrong.
	status, res = call(t, "POST", tc.base+"/api/v2/alerts", token, `[
		{"labels": {"alertname": "NotStored"}},
		{"labels": {"alertname": "AlsoNotStored"}, "startsAt": "yesterday"}
	]`)
	if e, _ := res["error"].(map[string]any); status != http.StatusBadRequest || e["field"] != "[1].startsAt" {
		t.Errorf("a batch with a bad alert: %d %v, want 400 at [1].startsAt", status, res)
	}
	if status, res := call(t, "GET", tc.base+"/api/v2/alerts", token, nil); status != http.StatusForbidden {
		t.Errorf("GET /api/v2/alerts with an ingest token: %d %v, want 403", status, res)
	}

	status, got := getV2Alerts(t, tc.base, testAdminToken, "")
	if status != http.StatusOK {
		t.Fatalf("GET /api/v2/alerts: %d", status)
	}
	type summary struct {
		Name, State string
		Receivers   []string
	}
	var sums []summary
	for _, a := range got {
		sums = append(sums, summary{a.Labels["alertname"], a.Status.State, a.receivers()})
	}
	want := []summary{
		{"CheckoutErrors", "active", []string{"payments", "default"}},
		{"HostHighCpuLoad", "active", []string{"default"}},
		{"Watchdog", "active", []string{"default"}},
	}
	if diff := cmp.Diff(want, sums); diff != "" {
		t.Fatalf("GET /api/v2/alerts (-want +got):\n%s", diff)
	}
	if got[0].StartsAt != starts[:len(starts)-1]+".000Z" {
		t.Errorf("startsAt %s, want the sender's %s", got[0].StartsAt, starts)
	}

	// A silence made through Alertmanager's API suppresses the alert.
	now := time.Now().UTC()
	status, sil := call(t, "POST", tc.base+"/api/v2/silences", testAdminToken, map[string]any{
		"matchers": []map[string]any{{"name": "alertname", "value": "HostHighCpuLoad", "isRegex": false, "isEqual": true}},
		"startsAt": now.Format(time.RFC3339), "endsAt": now.Add(time.Hour).Format(time.RFC3339),
		"createdBy": "ann", "comment": "kernel upgrade",
	})
	silID, _ := sil["silenceID"].(string)
	if status != http.StatusOK || silID == "" {
		t.Fatalf("POST /api/v2/silences: %d %v", status, sil)
	}
	_, got = getV2Alerts(t, tc.base, testAdminToken, "")
	if len(got) != 3 || got[1].Status.State != "suppressed" || !slices.Equal(got[1].Status.SilencedBy, []string{silID}) ||
		got[0].Status.State != "active" || len(got[0].Status.SilencedBy) != 0 {
		t.Errorf("after the silence: %+v, want HostHighCpuLoad suppressed by %s and the others active", got, silID)
	}
	if _, got := getV2Alerts(t, tc.base, testAdminToken, "?silenced=false&filter="+url.QueryEscape(`severity=~"critical|warning"`)); len(got) != 1 || got[0].Labels["alertname"] != "CheckoutErrors" {
		t.Errorf("?silenced=false with a filter: %+v, want CheckoutErrors alone", got)
	}
	if _, got := getV2Alerts(t, tc.base, testAdminToken, "?receiver=pay.*"); len(got) != 1 || got[0].Labels["alertname"] != "CheckoutErrors" {
		t.Errorf("?receiver=pay.*: %+v, want CheckoutErrors alone", got)
	}
	// Tocsin's own list agrees: three alerts, none from the refused batch.
	if _, l := call(t, "GET", api+"/alerts", testAdminToken, nil); len(l["items"].([]any)) != 3 {
		t.Errorf("GET /api/v1/alerts lists %d alerts, want 3: %v", len(l["items"].([]any)), l)
	}

	// amtool reads Tocsin's answer into Alertmanager's own models.
	am := newAmtool(t, tc.base, testAdminToken)
	out, _ := am.run(false, "alert", "query")
	for _, want := range []string{"CheckoutErrors", "5% of checkouts fail", "Watchdog"} {
		if !strings.Contains(out, want) {
			t.Errorf("amtool alert query lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "HostHighCpuLoad") {
		t.Errorf("amtool alert query lists the silenced alert without --silenced:\n%s", out)
	}
	out, _ = am.run(false, "-o", "json", "alert", "query", "--silenced", "severity=warning")
	var amGot []struct {
		Labels    map[string]string
		Receivers []struct{ Name string }
		Status    struct {
			State      string
			SilencedBy []string
		}
	}
	if err := json.Unmarshal([]byte(out), &amGot); err != nil || len(amGot) != 1 {
		t.Fatalf("amtool -o json alert query --silenced severity=warning: %v\n%s", err, out)
	}
	if a := amGot[0]; a.Labels["alertname"] != "HostHighCpuLoad" || a.Status.State != "suppressed" || !slices.Equal(a.Status.SilencedBy, []string{silID}) ||
		len(a.Receivers) != 1 || a.Receivers[0].Name != "default" {
		t.Errorf("amtool read the silenced alert as %+v", a)
	}
}

// alertmanagerPath finds the real Alertmanager, as amtoolPath finds amtool.
func alertmanagerPath(t *testing.T) string {
	return toolPath(t, "alertmanager", "TOCSIN_ALERTMANAGER")
}

// startAlertmanager runs the real Alertmanager with config (YAML) on a free
// port, clustering off, and returns its base URL once it is ready. The
// test's cleanup stops it.
func startAlertmanager(t *testing.T, config string) string {
	t.Helper()
	path := alertmanagerPath(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(conf, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	base := "http://" + addr
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, path, "--config.file="+conf, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--web.external-url="+base, "--cluster.listen-address=", "--log.level=warn")
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-exited
		if t.Failed() {
			t.Logf("Alertmanager's log:\n%s", logs.String())
		}
	})
	ready := waitFor(10*time.Second, func() bool {
		select {
		case err := <-exited:
			exited <- err
			return true
		default:
		}
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	select {
	case err := <-exited:
		exited <- err
		t.Fatalf("alertmanager exited: %v\n%s", err, logs.String())
	default:
	}
	if !ready {
		t.Fatalf("alertmanager not ready within 10s:\n%s", logs.String())
	}
	return base
}

// postToAlertmanager posts alerts to Alertmanager's own API.
func postToAlertmanager(t *testing.T, base string, alerts []map[string]any) {
	t.Helper()
	body, _ := json.Marshal(alerts)
	resp, err := http.Post(base+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s/api/v2/alerts: %s", base, resp.Status)
	}
}

// TestRealAlertmanagerRelaysThroughTheWebhook is issue 3's acceptance: a
// real Alertmanager whose webhook receiver points at
// /hooks/alertmanager/{channel} gets its notifications, firing and
// resolved, to the DingTalk robot, and Tocsin's delivery log shows them
// sent.
func TestRealAlertmanagerRelaysThroughTheWebhook(t *testing.T) {
	alertmanagerPath(t) // skip before starting anything when it is missing
	r := newAlertRig(t)
	r.defaultPolicy(t, map[string]any{}) // only the relay sends
	status, tok := call(t, "POST", r.api+"/ingest-tokens", testAdminToken, map[string]any{"name": "alertmanager"})
	if status != http.StatusCreated {
		t.Fatalf("create ingest token: %d %v", status, tok)
	}
	hook := r.tc.base + "/hooks/alertmanager/oncall-robot?token=" + url.QueryEscape(tok["token"].(string))
	am := startAlertmanager(t, fmt.Sprintf(`
route:
  receiver: tocsin
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
receivers:
  - name: tocsin
    webhook_configs:
      - url: %q
        send_resolved: true
`, hook))

	labels := map[string]any{"alertname": "PaymentsLatencyHigh", "service": "checkout", "severity": "critical"}
	postToAlertmanager(t, am, []map[string]any{{
		"labels": labels, "annotations": map[string]any{"summary": "p99 latency of checkout is 2.4s"},
		"generatorURL": "http://prometheus:9090/graph?g0.expr=latency",
	}})
	msg := r.waitMessage(t, "firing PaymentsLatencyHigh", titled("[FIRING", "PaymentsLatencyHigh"))
	if !strings.Contains(msg.Text, "p99 latency of checkout is 2.4s") {
		t.Errorf("the firing message lacks the summary:\n%s", msg.Text)
	}
	if !strings.Contains(string(msg.Body), am) {
		t.Errorf("the firing message has no link back to Alertmanager (%s):\n%s", am, msg.Body)
	}

	postToAlertmanager(t, am, []map[string]any{{"labels": labels, "endsAt": time.Now().UTC().Format(time.RFC3339Nano)}})
	r.waitMessage(t, "resolved PaymentsLatencyHigh", titled("[RESOLVED", "PaymentsLatencyHigh"))

	// Both relays are in the delivery log, sent, once the outbox recorded
	// the robot's answer.
	var items []any
	if !waitFor(5*time.Second, func() bool {
		_, list := call(t, "GET", r.api+"/deliveries?channel=oncall-robot&status=sent", testAdminToken, nil)
		items, _ = list["items"].([]any)
		return len(items) == 2
	}) {
		_, all := call(t, "GET", r.api+"/deliveries", testAdminToken, nil)
		t.Fatalf("sent deliveries to the robot: %v; all deliveries: %v", items, all)
	}
	for _, it := range items {
		d := it.(map[string]any)
		if d["kind"] != "relay" || d["channel_id"] != r.channel || d["alert_count"] != 1.0 || d["attempts"] != 1.0 {
			t.Errorf("delivery %v, want one relay of one alert to the robot, sent at the first attempt", d)
		}
	}
	if n := len(r.fake.Accepted(robotToken)); n != 2 {
		t.Errorf("the robot accepted %d messages, want 2:\n%s", n, r.messages())
	}
}
