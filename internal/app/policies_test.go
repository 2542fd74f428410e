package app

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPoliciesAPI(t *testing.T) {
	dir := t.TempDir()
	tc := startTocsin(t, dir, "--admin-token", testAdminToken)
	api := tc.base + "/api/v1"
	status, ch := call(t, "POST", api+"/channels", testAdminToken, channelBody("sre-robot", robotToken, nil))
	if status != http.StatusCreated {
		t.Fatalf("create channel: %d %v", status, ch)
	}
	status, group := call(t, "POST", api+"/contact-groups", testAdminToken, map[string]any{"name": "sre"})
	if status != http.StatusCreated {
		t.Fatalf("create group: %d %v", status, group)
	}

	// Targets by name; unknown ones are field problems.
	body := map[string]any{
		"name":     "sre critical",
		"position": 10,
		"matchers": []string{`severity=~"critical|warning"`, `team=sre`},
		"targets":  map[string]any{"channels": []string{"sre-robot", "no-such-robot"}, "contact_groups": []string{"sre"}},
		"group_by": []string{"alertname"},
		"mute_time_windows": []map[string]any{
			{"weekdays": []string{"saturday", "sunday"}, "times": []map[string]string{{"start": "00:00", "end": "24:00"}}, "timezone": "Asia/Shanghai"},
		},
		"mention": "critical",
	}
	status, bad := call(t, "POST", api+"/policies", testAdminToken, body)
	if e, _ := bad["error"].(map[string]any); status != http.StatusBadRequest || e["field"] != "targets.channels[1]" || e["code"] != "unknown-channel" {
		t.Errorf("unknown target: %d %v, want 400 unknown-channel on targets.channels[1]", status, bad)
	}
	body["targets"] = map[string]any{"channels": []string{"sre-robot"}, "contact_groups": []string{"sre"}}
	status, pol := call(t, "POST", api+"/policies", testAdminToken, body)
	if status != http.StatusCreated {
		t.Fatalf("create policy: %d %v", status, pol)
	}
	want := map[string]any{
		"id": pol["id"], "name": "sre critical", "position": float64(10),
		"matchers": []any{`severity=~"critical|warning"`, `team="sre"`},
		"targets":  map[string]any{"channels": []any{ch["id"]}, "contact_groups": []any{group["id"]}},
		"group_by": []any{"alertname"}, "group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h",
		"send_resolved": true, "continue": false,
		"mute_time_windows": []any{map[string]any{"weekdays": []any{"saturday:sunday"}, "times": []any{map[string]any{"start": "00:00", "end": "24:00"}}, "timezone": "Asia/Shanghai"}},
		"mention":           "critical",
	}
	if diff := cmp.Diff(want, pol); diff != "" {
		t.Errorf("created policy, targets as ids and defaults filled in (-want +got):\n%s", diff)
	}
	if status, _ := call(t, "POST", api+"/policies", testAdminToken, body); status != http.StatusConflict {
		t.Errorf("duplicate policy name: %d, want 409", status)
	}
	status, catchAll := call(t, "POST", api+"/policies", testAdminToken, map[string]any{"name": "catch-all", "position": 100, "send_resolved": false})
	if status != http.StatusCreated {
		t.Fatalf("create catch-all: %d %v", status, catchAll)
	}

	// Lists go by position, page by page.
	status, page := call(t, "GET", api+"/policies?limit=1", testAdminToken, nil)
	if items, _ := page["items"].([]any); status != http.StatusOK || len(items) != 1 || items[0].(map[string]any)["name"] != "sre critical" || page["next"] == "" {
		t.Fatalf("first page: %d %v", status, page)
	}
	status, page = call(t, "GET", api+"/policies?limit=1&cursor="+page["next"].(string), testAdminToken, nil)
	if items, _ := page["items"].([]any); status != http.StatusOK || len(items) != 1 || items[0].(map[string]any)["name"] != "catch-all" || page["next"] == "" {
		t.Errorf("second page: %d %v", status, page)
	}
	// Last comes the default policy the first start created (position 1000).
	status, page = call(t, "GET", api+"/policies?limit=1&cursor="+page["next"].(string), testAdminToken, nil)
	if items, _ := page["items"].([]any); status != http.StatusOK || len(items) != 1 || items[0].(map[string]any)["name"] != "default" || page["next"] != "" {
		t.Errorf("third page: %d %v", status, page)
	}
	if _, l := call(t, "GET", api+"/policies?q=CATCH", testAdminToken, nil); len(l["items"].([]any)) != 1 {
		t.Errorf("?q=CATCH: %v", l)
	}

	// Update by name: the catch-all moves first, and targets the group by id.
	status, upd := call(t, "PUT", api+"/policies/catch-all", testAdminToken, map[string]any{
		"name": "catch-all", "position": -1, "targets": map[string]any{"contact_groups": []any{group["id"]}}, "continue": true,
	})
	if status != http.StatusOK || upd["id"] != catchAll["id"] || upd["send_resolved"] != true || upd["continue"] != true {
		t.Fatalf("update: %d %v", status, upd)
	}
	if _, l := call(t, "GET", api+"/policies", testAdminToken, nil); l["items"].([]any)[0].(map[string]any)["name"] != "catch-all" {
		t.Errorf("after moving the catch-all to position -1 the list is %v", l)
	}

	// What was stored survives a restart.
	tc.stop()
	tc = startTocsin(t, dir, "--admin-token", testAdminToken)
	api = tc.base + "/api/v1"
	if status, got := call(t, "GET", api+"/policies/"+pol["id"].(string), testAdminToken, nil); status != http.StatusOK || !cmp.Equal(want, got) {
		t.Errorf("after a restart, GET the policy: %d (-want +got):\n%s", status, cmp.Diff(want, got))
	}

	// What a policy targets cannot be deleted; the refusal names the policies.
	status, conflict := call(t, "DELETE", api+"/contact-groups/sre", testAdminToken, nil)
	if msg, _ := conflict["error"].(map[string]any)["message"].(string); status != http.StatusConflict || !strings.Contains(msg, `policies "catch-all", "sre critical"`) {
		t.Errorf("delete a targeted group: %d %v, want 409 naming both policies", status, conflict)
	}
	status, conflict = call(t, "DELETE", api+"/channels/sre-robot", testAdminToken, nil)
	if msg, _ := conflict["error"].(map[string]any)["message"].(string); status != http.StatusConflict || !strings.Contains(msg, `policy "sre critical"`) {
		t.Errorf("delete a targeted channel: %d %v, want 409 naming the policy", status, conflict)
	}

	for _, name := range []string{"sre%20critical", catchAll["id"].(string)} {
		if status, _ := call(t, "DELETE", api+"/policies/"+name, testAdminToken, nil); status != http.StatusNoContent {
			t.Errorf("delete policy %s: %d", name, status)
		}
	}
	if status, _ := call(t, "GET", api+"/policies/catch-all", testAdminToken, nil); status != http.StatusNotFound {
		t.Errorf("get a deleted policy: %d, want 404", status)
	}
	if status, _ := call(t, "DELETE", api+"/contact-groups/sre", testAdminToken, nil); status != http.StatusNoContent {
		t.Errorf("delete the group once no policy targets it: %d", status)
	}
	if status, _ := call(t, "DELETE", api+"/channels/sre-robot", testAdminToken, nil); status != http.StatusNoContent {
		t.Errorf("delete the channel once no policy targets it: %d", status)
	}
}
