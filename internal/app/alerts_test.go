package app

import (
	"bufio"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/notify/notifytest"
	"github.com/tocsinhq/tocsin/internal/route"
)

// alertRig is a Tocsin whose default policy sends to a fake DingTalk robot
// (the channel "oncall-robot") at once: group_wait 0s, group_interval 1s,
// so alerts reach the robot within a second or so.
type alertRig struct {
	tc      *running
	api     string
	fake    *notifytest.DingTalk
	channel string // the robot channel's id
	dir     string
	args    []string
}

func newAlertRig(t *testing.T) *alertRig {
	t.Helper()
	fake, fakeURL := startFake(t)
	r := &alertRig{fake: fake, dir: t.TempDir(),
		args: []string{"--admin-token", testAdminToken, "--allow-hosts", strings.TrimPrefix(fakeURL, "http://"), "--public-url", "https://tocsin.example.com"}}
	r.restart(t)
	status, ch := call(t, "POST", r.api+"/channels", testAdminToken, channelBody("oncall-robot", fake.WebhookURL(fakeURL, robotToken), nil))
	if status != http.StatusCreated {
		t.Fatalf("create channel: %d %v", status, ch)
	}
	r.channel = ch["id"].(string)
	r.defaultPolicy(t, map[string]any{"channels": []string{"oncall-robot"}})
	return r
}

// restart stops the Tocsin, if one runs, and starts it again on the same
// data directory.
func (r *alertRig) restart(t *testing.T) {
	t.Helper()
	if r.tc != nil {
		r.tc.stop()
	}
	r.tc = startTocsin(t, r.dir, r.args...)
	r.api = r.tc.base + "/api/v1"
}

// defaultPolicy points the default policy at targets, with no group wait.
func (r *alertRig) defaultPolicy(t *testing.T, targets map[string]any) {
	t.Helper()
	status, pol := call(t, "PUT", r.api+"/policies/default", testAdminToken, map[string]any{
		"name": "default", "position": 1000, "targets": targets, "group_by": []string{"alertname"},
		"group_wait": "0s", "group_interval": "1s", "repeat_interval": "4h", "send_resolved": true,
	})
	if status != http.StatusOK {
		t.Fatalf("update the default policy: %d %v", status, pol)
	}
}

// waitFor polls cond until it holds or within (real time) passes, and
// reports whether it held.
func waitFor(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitMessage waits for the robot to accept a message that ok accepts, and
// returns it; the test fails when none arrives within 10s.
func (r *alertRig) waitMessage(t *testing.T, what string, ok func(notifytest.AcceptedMessage) bool) notifytest.AcceptedMessage {
	t.Helper()
	var found notifytest.AcceptedMessage
	if !waitFor(10*time.Second, func() bool {
		for _, m := range r.fake.Accepted(robotToken) {
			if ok(m) {
				found = m
				return true
			}
		}
		return false
	}) {
		t.Fatalf("the robot received no %s within 10s; it accepted:\n%s", what, r.messages())
	}
	return found
}

// messages lists the titles of what the robot accepted, for failures.
func (r *alertRig) messages() string {
	var b strings.Builder
	for i, m := range r.fake.Accepted(robotToken) {
		b.WriteString(strconv.Itoa(i+1) + ". " + m.Title + "\n")
	}
	for _, a := range r.fake.Attempts(robotToken) {
		if a.ErrCode != 0 || a.Status != http.StatusOK {
			b.WriteString("refused: " + strconv.Itoa(a.ErrCode) + " " + a.ErrMsg + "\n")
		}
	}
	return b.String()
}

// titled matches a message whose title says status ("[FIRING]") and names
// name. (The title may start with the channel's keyword.)
func titled(status, name string) func(notifytest.AcceptedMessage) bool {
	return func(m notifytest.AcceptedMessage) bool {
		return strings.Contains(m.Title, status) && strings.Contains(m.Title, name)
	}
}

// count is how many accepted messages ok matches.
func (r *alertRig) count(ok func(notifytest.AcceptedMessage) bool) int {
	n := 0
	for _, m := range r.fake.Accepted(robotToken) {
		if ok(m) {
			n++
		}
	}
	return n
}

// alertByName finds the one alert GET /api/v1/alerts lists with that
// alertname.
func (r *alertRig) alertByName(t *testing.T, name string) map[string]any {
	t.Helper()
	status, list := call(t, "GET", r.api+"/alerts?limit=500", testAdminToken, nil)
	if status != http.StatusOK {
		t.Fatalf("list alerts: %d %v", status, list)
	}
	var found []map[string]any
	for _, it := range list["items"].([]any) {
		if a := it.(map[string]any); a["name"] == name {
			found = append(found, a)
		}
	}
	if len(found) != 1 {
		t.Fatalf("GET /api/v1/alerts lists %d alerts named %s, want 1: %v", len(found), name, list)
	}
	return found[0]
}

// timelineKinds lists the kinds of an alert's timeline entries, in order.
func timelineKinds(a map[string]any) []string {
	var kinds []string
	tl, _ := a["timeline"].([]any)
	for _, e := range tl {
		kinds = append(kinds, e.(map[string]any)["kind"].(string))
	}
	return kinds
}

// sentDeliveries counts the timeline's notified entries whose delivery was
// sent.
func sentDeliveries(a map[string]any) int {
	n := 0
	tl, _ := a["timeline"].([]any)
	for _, e := range tl {
		if d, _ := e.(map[string]any)["delivery"].(map[string]any); d != nil && d["status"] == "sent" {
			n++
		}
	}
	return n
}

// metric reads one sample of Tocsin's /metrics ("name{labels}"), 0 when
// absent.
func metric(t *testing.T, base, sample string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", sample, err)
			}
			return f
		}
	}
	return 0
}

// groupChecks is the sample counting group checks that ended for reason.
func groupChecks(reason route.Reason) string {
	return `tocsin_group_checks_total{reason="` + string(reason) + `"}`
}

// TestNativeAlertLifecycle: a native alert reaches the robot through the
// default policy; the API lists it and shows its timeline; claim and clear
// change its state and add to the timeline; a cleared alert notifies no
// one, and once it resolves and fires again it is open and notified anew.
func TestNativeAlertLifecycle(t *testing.T) {
	r := newAlertRig(t)
	disk := `{"labels": {"alertname": "DiskFull", "instance": "db-1"},
		"annotations": {"summary": "alert: /var is 97% full"}, "severity": "critical", "source": "cron-check"}`
	status, res := call(t, "POST", r.api+"/alerts", testAdminToken, disk)
	if status != http.StatusOK || res["accepted"] != 1.0 {
		t.Fatalf("post a native alert: %d %v", status, res)
	}
	msg := r.waitMessage(t, "firing DiskFull", titled("[FIRING]", "DiskFull"))
	if !strings.Contains(msg.Text, "/var is 97% full") || !strings.Contains(msg.Text, "db-1") {
		t.Errorf("the message lacks the summary or the instance:\n%s", msg.Text)
	}

	a := r.alertByName(t, "DiskFull")
	id := a["id"].(string)
	if a["status"] != "firing" || a["state"] != "open" || a["severity"] != "critical" || a["source"] != "cron-check" {
		t.Errorf("listed alert: %v", a)
	}
	if labels := a["labels"].(map[string]any); labels["severity"] != "critical" {
		t.Errorf("the severity field did not become a label: %v", labels)
	}
	// The delivery's outcome is on the timeline once the outbox recorded it.
	if !waitFor(5*time.Second, func() bool {
		_, a = call(t, "GET", r.api+"/alerts/"+id, testAdminToken, nil)
		return sentDeliveries(a) == 1
	}) {
		t.Fatalf("the timeline shows no sent delivery: %v", a["timeline"])
	}
	if diff := cmp.Diff([]string{"fired", "notified"}, timelineKinds(a)); diff != "" {
		t.Errorf("timeline kinds (-want +got):\n%s", diff)
	}

	status, a = call(t, "POST", r.api+"/alerts/"+id+"/claim", testAdminToken, map[string]any{"by": "ann", "comment": "looking"})
	if status != http.StatusOK || a["state"] != "claimed" || a["state_by"] != "ann" {
		t.Fatalf("claim: %d %v", status, a)
	}
	if _, l := call(t, "GET", r.api+"/alerts?state=claimed", testAdminToken, nil); len(l["items"].([]any)) != 1 {
		t.Errorf("?state=claimed: %v", l)
	}
	status, a = call(t, "POST", r.api+"/alerts/"+id+"/clear", testAdminToken, map[string]any{"by": "bob"})
	if status != http.StatusOK || a["state"] != "cleared" || a["state_by"] != "bob" {
		t.Fatalf("clear: %d %v", status, a)
	}
	_, a = call(t, "GET", r.api+"/alerts/"+id, testAdminToken, nil)
	var details []string
	for _, e := range a["timeline"].([]any) {
		if e := e.(map[string]any); e["kind"] == "state" {
			details = append(details, e["actor"].(string)+": "+e["detail"].(string))
		}
	}
	if diff := cmp.Diff([]string{"ann: claimed by ann: looking", "bob: cleared by bob"}, details); diff != "" {
		t.Errorf("state entries on the timeline (-want +got):\n%s", diff)
	}

	// A cleared alert notifies no one: its group ends without a word when
	// next checked, and its resolve is not announced.
	if !waitFor(5*time.Second, func() bool { return metric(t, r.tc.base, groupChecks(route.ReasonAllResolved)) >= 1 }) {
		t.Fatal("the cleared alert's group was not ended")
	}
	resolved := `{"labels": {"alertname": "DiskFull", "instance": "db-1"}, "severity": "critical",
		"endsAt": "` + time.Now().Add(-time.Second).UTC().Format(time.RFC3339) + `"}`
	if status, res := call(t, "POST", r.api+"/alerts", testAdminToken, resolved); status != http.StatusOK {
		t.Fatalf("resolve: %d %v", status, res)
	}
	if _, l := call(t, "GET", r.api+"/alerts?status=resolved", testAdminToken, nil); len(l["items"].([]any)) != 1 {
		t.Errorf("?status=resolved after the resolve: %v", l)
	}

	// It fires again: a new episode, open, announced again.
	if status, res := call(t, "POST", r.api+"/alerts", testAdminToken, disk); status != http.StatusOK {
		t.Fatalf("fire again: %d %v", status, res)
	}
	a = r.alertByName(t, "DiskFull")
	if a["state"] != "open" || a["status"] != "firing" || a["state_by"] != nil {
		t.Errorf("after firing again: %v", a)
	}
	if !waitFor(10*time.Second, func() bool { return r.count(titled("[FIRING]", "DiskFull")) == 2 }) {
		t.Fatalf("firing again was not announced; the robot accepted:\n%s", r.messages())
	}
	if n := r.count(titled("[RESOLVED]", "DiskFull")); n != 0 {
		t.Errorf("the cleared alert's resolve was announced %d times", n)
	}
	_, a = call(t, "GET", r.api+"/alerts/"+id, testAdminToken, nil)
	kinds := timelineKinds(a)
	if i := slices.Index(kinds, "fired-again"); i < 0 || !slices.Contains(kinds[i:], "notified") {
		t.Errorf("timeline after firing again: %v, want fired-again then notified", kinds)
	}
}

// TestAcceptedAlertsSurviveARestart: once an intake answered, its alerts
// are stored with their group's schedule; a Tocsin stopped before the group
// was due announces them after it starts again.
func TestAcceptedAlertsSurviveARestart(t *testing.T) {
	r := newAlertRig(t)
	status, pol := call(t, "PUT", r.api+"/policies/default", testAdminToken, map[string]any{
		"name": "default", "position": 1000, "targets": map[string]any{"channels": []string{"oncall-robot"}},
		"group_by": []string{"alertname"}, "group_wait": "2s", "group_interval": "1s",
	})
	if status != http.StatusOK {
		t.Fatalf("update the default policy: %d %v", status, pol)
	}
	if status, res := call(t, "POST", r.tc.base+"/api/v2/alerts", testAdminToken, `[{"labels": {"alertname": "UPSOnBattery", "rack": "3"}}]`); status != http.StatusOK {
		t.Fatalf("post: %d %v", status, res)
	}
	posted := time.Now()
	r.restart(t)
	switch n := len(r.fake.Accepted(robotToken)); {
	case time.Since(posted) > time.Second:
		t.Logf("the restart took %v, too long to tell whether the first Tocsin sent", time.Since(posted))
	case n != 0:
		t.Fatalf("the robot heard %d messages before the group was due", n)
	}
	r.waitMessage(t, "firing UPSOnBattery after the restart", titled("[FIRING]", "UPSOnBattery"))
}

// TestAlertmanagerHookRefusals: the webhook relay takes the channel's id as
// well as its name; a wrong channel or payload is refused with a reason,
// and nothing is queued.
func TestAlertmanagerHookRefusals(t *testing.T) {
	r := newAlertRig(t)
	body, err := os.ReadFile("../intake/testdata/alertmanager-webhook-v4.json")
	if err != nil {
		t.Fatal(err)
	}
	grafana, err := os.ReadFile("../intake/testdata/grafana-webhook.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, channel string
		body          []byte
		status        int
		field         string
	}{
		{"unknown channel", "no-such-robot", body, http.StatusNotFound, ""},
		{"Grafana's payload", "oncall-robot", grafana, http.StatusBadRequest, "version"},
		{"no alerts", "oncall-robot", []byte(`{"version": "4", "alerts": []}`), http.StatusBadRequest, "alerts"},
		{"not JSON", "oncall-robot", []byte(`{"version": "4",`), http.StatusBadRequest, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, res := call(t, "POST", r.tc.base+"/hooks/alertmanager/"+c.channel, testAdminToken, c.body)
			e, _ := res["error"].(map[string]any)
			if status != c.status || e == nil || e["message"] == "" || (c.field != "" && e["field"] != c.field) {
				t.Errorf("%d %v, want %d with a message naming %q", status, res, c.status, c.field)
			}
		})
	}
	if _, l := call(t, "GET", r.api+"/deliveries", testAdminToken, nil); len(l["items"].([]any)) != 0 {
		t.Fatalf("refused relays queued deliveries: %v", l)
	}
	status, res := call(t, "POST", r.tc.base+"/hooks/alertmanager/"+r.channel, testAdminToken, body)
	if status != http.StatusOK || res["alerts"] != 2.0 || res["delivery"] == "" {
		t.Fatalf("relay by channel id: %d %v", status, res)
	}
	msg := r.waitMessage(t, "relayed MySQLReplicationLag", titled("FIRING", "MySQLReplicationLag"))
	if !strings.Contains(msg.Text, "mysql-2") || !strings.Contains(msg.Text, "mysql-3") {
		t.Errorf("the relay should carry the firing and the resolved replica:\n%s", msg.Text)
	}
	if _, l := call(t, "GET", r.api+"/alerts", testAdminToken, nil); len(l["items"].([]any)) != 0 {
		t.Errorf("a relayed notification was stored as alerts, to be routed and announced again: %v", l)
	}
}

// TestGrafanaWebhookReachesTheRobot: Grafana's webhook contact point payload
// (internal/intake/testdata) is routed like any alert: the firing one is
// announced, both are stored with Grafana as their source.
func TestGrafanaWebhookReachesTheRobot(t *testing.T) {
	r := newAlertRig(t)
	body, err := os.ReadFile("../intake/testdata/grafana-webhook.json")
	if err != nil {
		t.Fatal(err)
	}
	status, res := call(t, "POST", r.tc.base+"/hooks/grafana", testAdminToken, body)
	if status != http.StatusOK || res["accepted"] != 2.0 {
		t.Fatalf("post Grafana's webhook: %d %v", status, res)
	}
	msg := r.waitMessage(t, "firing High request latency", titled("[FIRING]", "High request latency"))
	if !strings.Contains(msg.Text, "checkout-api") || strings.Contains(msg.Text, "cart-api") {
		t.Errorf("the message should name the firing checkout-api alone:\n%s", msg.Text)
	}
	if !strings.Contains(string(msg.Body), "https://grafana.example.com/d/checkout-slo") {
		t.Errorf("the message lacks Grafana's dashboard link:\n%s", msg.Body)
	}
	status, list := call(t, "GET", r.api+"/alerts", testAdminToken, nil)
	items, _ := list["items"].([]any)
	if status != http.StatusOK || len(items) != 2 {
		t.Fatalf("list alerts: %d %v", status, list)
	}
	statuses := map[string]string{}
	for _, it := range items {
		a := it.(map[string]any)
		if a["source"] != "grafana" {
			t.Errorf("alert source %v, want grafana", a["source"])
		}
		statuses[a["labels"].(map[string]any)["service"].(string)] = a["status"].(string)
	}
	if diff := cmp.Diff(map[string]string{"checkout-api": "firing", "cart-api": "resolved"}, statuses); diff != "" {
		t.Errorf("stored statuses (-want +got):\n%s", diff)
	}
	// Grafana's next notification, with an ingest token in the query as
	// a contact point URL carries it, says checkout-api resolved: the
	// robot hears that too.
	status, tok := call(t, "POST", r.api+"/ingest-tokens", testAdminToken, map[string]any{"name": "grafana"})
	if status != http.StatusCreated {
		t.Fatalf("create ingest token: %d %v", status, tok)
	}
	ended := time.Now().Add(-time.Second).UTC().Format(time.RFC3339)
	resolved := strings.Replace(strings.Replace(string(body), `"status": "firing"`, `"status": "resolved"`, 2),
		`"endsAt": "0001-01-01T00:00:00Z"`, `"endsAt": "`+ended+`"`, 1)
	if status, res := call(t, "POST", r.tc.base+"/hooks/grafana?token="+tok["token"].(string), "", resolved); status != http.StatusOK || res["accepted"] != 2.0 {
		t.Fatalf("post Grafana's resolved webhook with ?token=: %d %v", status, res)
	}
	msg = r.waitMessage(t, "resolved High request latency", titled("[RESOLVED]", "High request latency"))
	if !strings.Contains(msg.Text, "checkout-api") || strings.Contains(msg.Text, "cart-api") {
		t.Errorf("the resolved notice should name checkout-api alone, the one announced:\n%s", msg.Text)
	}
	if _, l := call(t, "GET", r.api+"/alerts?status=firing", testAdminToken, nil); len(l["items"].([]any)) != 0 {
		t.Errorf("alerts still firing after Grafana resolved them: %v", l)
	}
	if status, res := call(t, "POST", r.tc.base+"/hooks/grafana", testAdminToken, `{"version": "4", "alerts": []}`); status != http.StatusBadRequest {
		t.Errorf("an Alertmanager payload posted to the Grafana hook: %d %v, want 400", status, res)
	}
}

// TestSilencedAlertNotifiesNoOne: the silence action silences an alert for
// the duration asked; while the silence lasts the alert, even firing anew,
// notifies no one, and Alertmanager's API shows it suppressed.
func TestSilencedAlertNotifiesNoOne(t *testing.T) {
	r := newAlertRig(t)
	cert := `{"labels": {"alertname": "CertificateExpiring", "domain": "shop.example.cn"}, "severity": "warning"}`
	if status, res := call(t, "POST", r.api+"/alerts", testAdminToken, cert); status != http.StatusOK {
		t.Fatalf("post: %d %v", status, res)
	}
	r.waitMessage(t, "firing CertificateExpiring", titled("[FIRING]", "CertificateExpiring"))
	id := r.alertByName(t, "CertificateExpiring")["id"].(string)

	status, a := call(t, "POST", r.api+"/alerts/"+id+"/silence", testAdminToken, map[string]any{"duration": "2h", "by": "ann"})
	if status != http.StatusOK || a["state"] != "silenced" || a["state_by"] != "ann" {
		t.Fatalf("silence: %d %v", status, a)
	}
	if status, bad := call(t, "POST", r.api+"/alerts/"+id+"/silence", testAdminToken, map[string]any{"duration": "soon"}); status != http.StatusBadRequest {
		t.Errorf("silence for %q: %d %v, want 400", "soon", status, bad)
	}
	_, a = call(t, "GET", r.api+"/alerts/"+id, testAdminToken, nil)
	if kinds := timelineKinds(a); !slices.Contains(kinds, "state") {
		t.Errorf("the silence is not on the timeline: %v", kinds)
	}
	status, sils := call(t, "GET", r.tc.base+"/api/v2/silences", testAdminToken, nil)
	raw, _ := sils["raw"].(string)
	if status != http.StatusOK || !strings.Contains(raw, `"createdBy":"ann"`) {
		// The list is a JSON array: call keeps it as raw text.
		t.Errorf("the silence made: %d %v", status, sils)
	}
	status, v2 := getV2Alerts(t, r.tc.base, testAdminToken, "")
	if status != http.StatusOK || len(v2) != 1 || v2[0].Status.State != "suppressed" || len(v2[0].Status.SilencedBy) != 1 {
		t.Errorf("GET /api/v2/alerts: %d %+v, want the alert suppressed by one silence", status, v2)
	}

	// Resolved, then firing again: a new episode, yet still silenced.
	resolved := `{"labels": {"alertname": "CertificateExpiring", "domain": "shop.example.cn"}, "severity": "warning",
		"endsAt": "` + time.Now().Add(-time.Second).UTC().Format(time.RFC3339) + `"}`
	if status, res := call(t, "POST", r.api+"/alerts", testAdminToken, resolved); status != http.StatusOK {
		t.Fatalf("resolve: %d %v", status, res)
	}
	if !waitFor(5*time.Second, func() bool { return metric(t, r.tc.base, groupChecks(route.ReasonAllResolved)) >= 1 }) {
		t.Fatal("the silenced alert's group was not ended")
	}
	if status, res := call(t, "POST", r.api+"/alerts", testAdminToken, cert); status != http.StatusOK {
		t.Fatalf("fire again: %d %v", status, res)
	}
	// Its new group is checked and ends unheard; another alert, not
	// silenced, still gets through.
	if !waitFor(5*time.Second, func() bool { return metric(t, r.tc.base, groupChecks(route.ReasonNoneFiring)) >= 1 }) {
		t.Fatal("the silenced alert's new group was not checked")
	}
	if status, res := call(t, "POST", r.api+"/alerts", testAdminToken, `{"labels": {"alertname": "BackupFailed", "host": "nas-01"}}`); status != http.StatusOK {
		t.Fatalf("post another: %d %v", status, res)
	}
	r.waitMessage(t, "firing BackupFailed", titled("[FIRING]", "BackupFailed"))
	for _, m := range r.fake.Accepted(robotToken)[1:] {
		if strings.Contains(m.Title+m.Text, "CertificateExpiring") {
			t.Errorf("the silenced alert was announced:\n%s\n%s", m.Title, m.Text)
		}
	}
}

// TestMentions is issue 4: a policy with mention "critical" targeting a
// contact group mentions the group's contacts, by mobile in atMobiles and
// written in the text, on critical alerts only; an owner label mentions
// its contact whatever the policy says.
func TestMentions(t *testing.T) {
	r := newAlertRig(t)
	r.defaultPolicy(t, map[string]any{}) // only the policy below sends
	for _, c := range []map[string]any{
		{"name": "Alice", "mobile": "13800000001"},
		{"name": "Bob", "mobile": "13900000002"},
		{"name": "Carol", "mobile": "13700000003"},
	} {
		if status, res := call(t, "POST", r.api+"/contacts", testAdminToken, c); status != http.StatusCreated {
			t.Fatalf("create contact: %d %v", status, res)
		}
	}
	status, res := call(t, "POST", r.api+"/contact-groups", testAdminToken, map[string]any{"name": "sre", "contacts": []string{"Alice", "Bob"}, "channels": []string{"oncall-robot"}})
	if status != http.StatusCreated {
		t.Fatalf("create contact group: %d %v", status, res)
	}
	status, res = call(t, "POST", r.api+"/policies", testAdminToken, map[string]any{
		"name": "sre", "position": 10, "matchers": []string{`team="sre"`}, "targets": map[string]any{"contact_groups": []string{"sre"}},
		"group_by": []string{"alertname"}, "group_wait": "0s", "group_interval": "1s", "mention": "critical",
	})
	if status != http.StatusCreated {
		t.Fatalf("create policy: %d %v", status, res)
	}
	status, res = call(t, "POST", r.api+"/alerts", testAdminToken, `[
		{"labels": {"alertname": "DatabaseDown", "team": "sre"}, "severity": "critical"},
		{"labels": {"alertname": "SlowQueries", "team": "sre"}, "severity": "warning"},
		{"labels": {"alertname": "QueueBacklog", "team": "sre", "owner": "Carol"}, "severity": "warning"}
	]`)
	if status != http.StatusOK || res["accepted"] != 3.0 {
		t.Fatalf("post alerts: %d %v", status, res)
	}
	for _, c := range []struct {
		name    string
		mobiles []string
	}{
		{"DatabaseDown", []string{"13800000001", "13900000002"}},
		{"SlowQueries", nil},
		{"QueueBacklog", []string{"13700000003"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := r.waitMessage(t, "firing "+c.name, titled("[FIRING]", c.name))
			// The fake lists only mentions also written in the text,
			// as DingTalk notifies only those.
			got := slices.Sorted(slices.Values(m.AtMobiles))
			if diff := cmp.Diff(c.mobiles, got); diff != "" {
				t.Errorf("mentions that notify (-want +got):\n%s\n%s", diff, m.Body)
			}
			for _, mobile := range c.mobiles {
				if !strings.Contains(m.Text, "@"+mobile) {
					t.Errorf("the text does not write @%s:\n%s", mobile, m.Text)
				}
			}
			if c.mobiles == nil && strings.Contains(string(m.Body), "atMobiles\":[\"") {
				t.Errorf("a warning alert's message mentions someone:\n%s", m.Body)
			}
		})
	}

	// In a group that holds a critical alert already announced, the
	// message announcing a new warning alert mentions no one: mentions go
	// by what a message announces.
	status, res = call(t, "POST", r.api+"/policies", testAdminToken, map[string]any{
		"name": "db", "position": 5, "matchers": []string{`team="db"`}, "targets": map[string]any{"contact_groups": []string{"sre"}},
		"group_by": []string{"team"}, "group_wait": "0s", "group_interval": "1s", "mention": "critical",
	})
	if status != http.StatusCreated {
		t.Fatalf("create policy: %d %v", status, res)
	}
	if status, res := call(t, "POST", r.api+"/alerts", testAdminToken, `{"labels": {"alertname": "ReplicaDown", "team": "db", "owner": "Carol"}, "severity": "critical"}`); status != http.StatusOK {
		t.Fatalf("post: %d %v", status, res)
	}
	m := r.waitMessage(t, "firing ReplicaDown", titled("[FIRING]", "ReplicaDown"))
	if got := slices.Sorted(slices.Values(m.AtMobiles)); !slices.Equal(got, []string{"13700000003", "13800000001", "13900000002"}) {
		t.Errorf("ReplicaDown mentions %v, want the group's contacts and its owner", got)
	}
	if status, res := call(t, "POST", r.api+"/alerts", testAdminToken, `{"labels": {"alertname": "ReplicationLag", "team": "db"}, "severity": "warning"}`); status != http.StatusOK {
		t.Fatalf("post: %d %v", status, res)
	}
	m = r.waitMessage(t, "firing ReplicationLag", titled("[FIRING]", "ReplicationLag"))
	if len(m.AtMobiles) != 0 || strings.Contains(string(m.Body), "atMobiles\":[\"") {
		t.Errorf("the message announcing a warning alert mentions %v, for a critical alert announced before:\n%s", m.AtMobiles, m.Body)
	}
}
