package app

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// rulesAlerts returns the alerts GET /api/v1/alerts lists with that
// alertname, by their resource label.
func (r *alertRig) rulesAlerts(t *testing.T, name string) map[string]map[string]any {
	t.Helper()
	status, list := call(t, "GET", r.api+"/alerts?limit=500", testAdminToken, nil)
	if status != http.StatusOK {
		t.Fatalf("list alerts: %d %v", status, list)
	}
	out := map[string]map[string]any{}
	for _, it := range list["items"].([]any) {
		a := it.(map[string]any)
		if a["name"] != name {
			continue
		}
		ls, _ := a["labels"].(map[string]any)
		key, _ := ls["resource"].(string)
		if key == "" {
			key, _ = ls["instance"].(string)
		}
		out[key] = a
	}
	return out
}

// statuses maps each alert's key to its status.
func statuses(as map[string]map[string]any) map[string]string {
	out := map[string]string{}
	for k, a := range as {
		out[k], _ = a["status"].(string)
	}
	return out
}

// TestEventRuleRaisesAndResolvesFromEvents: an event rule on ECS state
// changes raises one alert per stopped instance from a stream of events,
// notifies through the policy it names, and resolves an instance's alert
// when it runs again; events that match nothing raise nothing.
func TestEventRuleRaisesAndResolvesFromEvents(t *testing.T) {
	r := newAlertRig(t)
	status, rule := call(t, "POST", r.api+"/rules", testAdminToken, `{
		"name": "EcsInstanceStopped", "kind": "event", "severity": "critical",
		"match": {
			"when": [
				{"field": "source", "op": "=", "value": "aliyun.ecs"},
				{"field": "type", "op": "=", "value": "Instance:StateChange"},
				{"field": "content.state", "op": "=", "value": "Stopped"}
			],
			"resolve_when": [
				{"field": "source", "op": "=", "value": "aliyun.ecs"},
				{"field": "content.state", "op": "in", "values": ["Running", "Starting"]}
			],
			"key": ["resource"]
		},
		"annotations": {"summary": "instance {{ $labels.resource }} stopped"},
		"targets": {"policy": "default"}
	}`)
	if status != http.StatusCreated {
		t.Fatalf("create the event rule: %d %v", status, rule)
	}
	token := r.ingestToken(t)
	events := func(body string) {
		t.Helper()
		if status, m := call(t, "POST", r.api+"/events", token, body); status != http.StatusOK {
			t.Fatalf("post events: %d %v", status, m)
		}
	}
	events(`[
		{"source": "aliyun.ecs", "type": "Instance:StateChange", "resource": "i-1", "content": {"state": "Stopped"}},
		{"source": "aliyun.ecs", "type": "Instance:StateChange", "resource": "i-2", "content": {"state": "Stopped"}},
		{"source": "aliyun.ecs", "type": "Instance:StateChange", "resource": "i-3", "content": {"state": "Running"}},
		{"source": "aliyun.rds", "type": "Instance:StateChange", "resource": "db-1", "content": {"state": "Stopped"}}
	]`)
	if !waitFor(10*time.Second, func() bool { return len(r.rulesAlerts(t, "EcsInstanceStopped")) == 2 }) {
		t.Fatalf("alerts %v, want i-1 and i-2 firing", statuses(r.rulesAlerts(t, "EcsInstanceStopped")))
	}
	if got := statuses(r.rulesAlerts(t, "EcsInstanceStopped")); got["i-1"] != "firing" || got["i-2"] != "firing" {
		t.Fatalf("alerts %v, want i-1 and i-2 firing", got)
	}
	msg := r.waitMessage(t, "firing message", titled("FIRING", "EcsInstanceStopped"))
	if !strings.Contains(msg.Text, "i-1") || !strings.Contains(msg.Text, "i-2") || !strings.Contains(msg.Text, "instance i-1 stopped") {
		t.Errorf("the message does not name both instances with the rule's summary:\n%s", msg.Text)
	}

	// i-1 runs again: its alert resolves; i-2's stays.
	events(`{"source": "aliyun.ecs", "type": "Instance:StateChange", "resource": "i-1", "content": {"state": "Running"}}`)
	if !waitFor(10*time.Second, func() bool { return statuses(r.rulesAlerts(t, "EcsInstanceStopped"))["i-1"] == "resolved" }) {
		t.Fatalf("alerts %v, want i-1 resolved", statuses(r.rulesAlerts(t, "EcsInstanceStopped")))
	}
	if got := statuses(r.rulesAlerts(t, "EcsInstanceStopped")); got["i-2"] != "firing" {
		t.Errorf("alerts %v, want i-2 still firing", got)
	}
	r.waitMessage(t, "resolved message", titled("RESOLVED", "EcsInstanceStopped"))

	// After a restart the rule still raises, and nothing else appeared.
	r.restart(t)
	events(`{"source": "aliyun.ecs", "type": "Instance:StateChange", "resource": "i-4", "content": {"state": "Stopped"}}`)
	if !waitFor(10*time.Second, func() bool { return statuses(r.rulesAlerts(t, "EcsInstanceStopped"))["i-4"] == "firing" }) {
		t.Fatalf("after a restart: alerts %v, want i-4 firing", statuses(r.rulesAlerts(t, "EcsInstanceStopped")))
	}
	keys := make([]string, 0)
	for k := range r.rulesAlerts(t, "EcsInstanceStopped") {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"i-1", "i-2", "i-4"}) {
		t.Errorf("alerts for %v, want i-1, i-2, i-4 alone", keys)
	}
}

// ingestToken makes an ingest token and returns it.
func (r *alertRig) ingestToken(t *testing.T) string {
	t.Helper()
	status, created := call(t, "POST", r.api+"/ingest-tokens", testAdminToken, map[string]any{"name": "sender-" + time.Now().Format("150405.000000")})
	token, _ := created["token"].(string)
	if status != http.StatusCreated || token == "" {
		t.Fatalf("create ingest token: %d %v", status, created)
	}
	return token
}
