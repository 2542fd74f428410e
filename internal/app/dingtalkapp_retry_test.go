package app

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tocsinhq/tocsin/internal/notify/notifytest"
)

// TestDingTalkAppRetriesFlowControlledMembersOnly: a member DingTalk's flow
// control skips gets the alert on a later attempt of the same delivery,
// and the members and the group it reached the first time do not get it
// again.
func TestDingTalkAppRetriesFlowControlledMembersOnly(t *testing.T) {
	fake, srv, err := notifytest.StartDingTalkApp(notifytest.DingTalkAppOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	const group = "cidGroup0001=="
	fake.AddApp("dingapp0001", "app-secret-0001", "dingapp0001")
	fake.AddUsers("manager1234", "oncall5678", "standby9012")
	fake.AddGroup(group, "dingapp0001")
	fake.SetFlowControlled("oncall5678")
	tc := startTocsin(t, t.TempDir(), "--admin-token", testAdminToken, "--allow-hosts", strings.TrimPrefix(srv.URL, "http://"))
	status, ch := call(t, "POST", tc.base+"/api/v1/channels", testAdminToken, map[string]any{
		"name": "app", "kind": "dingtalk_app",
		"settings": map[string]any{"client_id": "dingapp0001", "client_secret": "app-secret-0001", "api_base_url": srv.URL,
			"user_ids": []string{"manager1234", "oncall5678", "standby9012"}, "open_conversation_ids": []string{group}},
	})
	if status != http.StatusCreated {
		t.Fatalf("create channel: %d %v", status, ch)
	}
	id := ch["id"].(string)
	status, pol := call(t, "PUT", tc.base+"/api/v1/policies/default", testAdminToken, map[string]any{
		"name": "default", "position": 1000, "targets": map[string]any{"channels": []string{id}},
		"group_by": []string{"alertname"}, "group_wait": "1s", "group_interval": "1m", "repeat_interval": "4h",
	})
	if status != http.StatusOK {
		t.Fatalf("update default policy: %d %v", status, pol)
	}
	status, res := call(t, "POST", tc.base+"/api/v2/alerts", testAdminToken, []map[string]any{{
		"labels":      map[string]string{"alertname": "DiskFull", "instance": "db-1", "severity": "critical"},
		"annotations": map[string]string{"summary": "disk almost full on db-1"},
	}})
	if status != http.StatusOK {
		t.Fatalf("post alert: %d %v", status, res)
	}

	delivery := func() map[string]any {
		_, l := call(t, "GET", tc.base+"/api/v1/deliveries?channel="+id, testAdminToken, nil)
		items, _ := l["items"].([]any)
		if len(items) != 1 {
			return nil
		}
		return items[0].(map[string]any)
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting: %s; delivery %v", what, delivery())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitUntil("a first attempt held back by flow control", func() bool {
		d := delivery()
		return d != nil && d["last_code"] == "flow-controlled"
	})
	if d := delivery(); d["status"] != "queued" {
		t.Errorf("after flow control: delivery %v, want queued for a retry", d)
	}
	if n := len(fake.AcceptedByUser("oncall5678")); n != 0 {
		t.Fatalf("the flow-controlled member got %d messages", n)
	}

	fake.SetFlowControlled()
	waitUntil("the retry reaches the member held back", func() bool { return len(fake.AcceptedByUser("oncall5678")) == 1 })
	waitUntil("the delivery is sent", func() bool { d := delivery(); return d != nil && d["status"] == "sent" })
	for _, u := range []string{"manager1234", "standby9012"} {
		if n := len(fake.AcceptedByUser(u)); n != 1 {
			t.Errorf("member %s got %d messages, want 1: the retry must go only to the member not reached", u, n)
		}
	}
	if n := len(fake.AcceptedInGroup(group)); n != 1 {
		t.Errorf("the group got %d messages, want 1", n)
	}
	var batches [][]string
	for _, c := range fake.Calls() {
		if c.Path == notifytest.DingTalkAppBatchSendPath {
			batches = append(batches, c.UserIDs)
		}
	}
	if len(batches) != 2 || !slices.Equal(batches[1], []string{"oncall5678"}) {
		t.Errorf("batchSend calls were for %q, want everyone, then oncall5678 alone", batches)
	}
}
