package app

import (
	"net/http"
	"strings"
	"testing"
)

func TestContactsAndGroupsAPI(t *testing.T) {
	tc := startTocsin(t, t.TempDir(), "--admin-token", testAdminToken)
	api := tc.base + "/api/v1"
	status, alice := call(t, "POST", api+"/contacts", testAdminToken, map[string]any{"name": "Alice", "mobile": "138 0000 0000", "dingtalk_user_id": "alice01"})
	if status != http.StatusCreated || alice["mobile"] != "13800000000" {
		t.Fatalf("create Alice: %d %v", status, alice)
	}
	if status, bob := call(t, "POST", api+"/contacts", testAdminToken, map[string]any{"name": "Bob", "mobile": "+852-12345678", "lark_open_id": "ou_abc123"}); status != http.StatusCreated {
		t.Fatalf("create Bob: %d %v", status, bob)
	}
	status, bad := call(t, "POST", api+"/contacts", testAdminToken, map[string]any{"name": "Carol", "mobile": "852-1234"})
	if e, _ := bad["error"].(map[string]any); status != http.StatusBadRequest || e["field"] != "mobile" {
		t.Errorf("bad mobile: %d %v, want 400 on field mobile", status, bad)
	}
	if status, _ := call(t, "POST", api+"/contacts", testAdminToken, map[string]any{"name": "Alice", "email": "a@example.com"}); status != http.StatusConflict {
		t.Errorf("duplicate contact name: %d, want 409", status)
	}
	if status, ch := call(t, "POST", api+"/channels", testAdminToken, channelBody("sre-robot", robotToken, nil)); status != http.StatusCreated {
		t.Fatalf("create channel: %d %v", status, ch)
	}

	// Members may be given by id or by name; unknown ones are field problems.
	status, bad = call(t, "POST", api+"/contact-groups", testAdminToken, map[string]any{"name": "sre", "contacts": []string{"Alice", "Nobody"}, "channels": []string{"sre-robot"}})
	if e, _ := bad["error"].(map[string]any); status != http.StatusBadRequest || e["field"] != "contacts[1]" {
		t.Errorf("unknown member: %d %v, want 400 on contacts[1]", status, bad)
	}
	status, group := call(t, "POST", api+"/contact-groups", testAdminToken, map[string]any{"name": "sre", "contacts": []string{alice["id"].(string), "Bob"}, "channels": []string{"sre-robot"}})
	if status != http.StatusCreated || len(group["contacts"].([]any)) != 2 || group["contacts"].([]any)[0] != alice["id"] {
		t.Fatalf("create group: %d %v", status, group)
	}

	// A contact or channel a group holds cannot be deleted.
	status, conflict := call(t, "DELETE", api+"/contacts/Alice", testAdminToken, nil)
	if status != http.StatusConflict || !strings.Contains(conflict["error"].(map[string]any)["message"].(string), "sre") {
		t.Errorf("delete a grouped contact: %d %v, want 409 naming the group", status, conflict)
	}
	if status, _ := call(t, "DELETE", api+"/channels/sre-robot", testAdminToken, nil); status != http.StatusConflict {
		t.Errorf("delete a grouped channel: %d, want 409", status)
	}
	if _, l := call(t, "GET", api+"/contacts?q=ali", testAdminToken, nil); len(l["items"].([]any)) != 1 {
		t.Errorf("?q=ali: %v", l)
	}
	if status, _ := call(t, "DELETE", api+"/contact-groups/sre", testAdminToken, nil); status != http.StatusNoContent {
		t.Errorf("delete group: %d", status)
	}
	if status, _ := call(t, "DELETE", api+"/contacts/Alice", testAdminToken, nil); status != http.StatusNoContent {
		t.Errorf("delete contact once no group holds it: %d", status)
	}
}
