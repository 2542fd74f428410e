package app

import (
	"bytes"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIngestTokensAndEvents: an ingest token made through the API lets a
// sender post events, by header or ?token=, survives a restart, opens
// nothing else, is kept only as a hash, and stops working when deleted.
func TestIngestTokensAndEvents(t *testing.T) {
	dir := t.TempDir()
	tc := startTocsin(t, dir, "--admin-token", testAdminToken)
	api := tc.base + "/api/v1"

	status, created := call(t, "POST", api+"/ingest-tokens", testAdminToken, map[string]any{"name": "aliyun-cloudmonitor"})
	token, _ := created["token"].(string)
	if status != http.StatusCreated || !strings.HasPrefix(token, "tsi_") {
		t.Fatalf("create ingest token: %d %v", status, created)
	}

	status, posted := call(t, "POST", api+"/events", token, `[
		{"id": "5f1c3a2e", "source": "aliyun.ecs", "type": "Instance:StateChange", "level": "WARN",
		 "resource": "i-bp67acfmxazb4p", "region": "cn-hangzhou", "time": "2026-11-21T16:52:03+08:00",
		 "content": {"currentState": "Stopping"}, "labels": {"team": "sre"}},
		{"source": "self-hosted.ups", "type": "PowerLoss", "level": "critical", "resource": "ups-rack-3"}
	]`)
	if status != http.StatusOK || posted["accepted"] != 2.0 {
		t.Fatalf("post events with the ingest token: %d %v", status, posted)
	}
	// A sender that cannot set headers, retrying the first event.
	status, again := call(t, "POST", api+"/events?token="+url.QueryEscape(token), "",
		`{"id": "5f1c3a2e", "source": "aliyun.ecs", "type": "Instance:StateChange", "resource": "i-bp67acfmxazb4p"}`)
	if status != http.StatusOK || again["duplicates"] != 1.0 || again["ids"].([]any)[0] != posted["ids"].([]any)[0] {
		t.Fatalf("post a retried event with ?token=: %d %v", status, again)
	}
	status, bad := call(t, "POST", api+"/events", token, `[{"source": "a", "type": "b", "resource": "c"}, {"source": "a", "type": "b"}]`)
	if e, _ := bad["error"].(map[string]any); status != http.StatusBadRequest || e["field"] != "[1].resource" {
		t.Errorf("a batch with a bad event: %d %v, want 400 at [1].resource", status, bad)
	}

	// The ingest token opens intake alone.
	if status, m := call(t, "GET", api+"/events", token, nil); status != http.StatusForbidden {
		t.Errorf("list events with the ingest token: %d %v, want 403", status, m)
	}
	status, list := call(t, "GET", api+"/events?level=warning&q=stopping", testAdminToken, nil)
	items, _ := list["items"].([]any)
	if status != http.StatusOK || len(items) != 1 || items[0].(map[string]any)["external_id"] != "5f1c3a2e" {
		t.Fatalf("list events: %d %v", status, list)
	}
	id := items[0].(map[string]any)["id"].(string)
	if status, ev := call(t, "GET", api+"/events/"+id, testAdminToken, nil); status != http.StatusOK || ev["time"] != "2026-11-21T08:52:03Z" {
		t.Errorf("get event: %d %v", status, ev)
	}

	// The token survives a restart, and is nowhere on disk in clear.
	tc.stop()
	for _, f := range []string{"tocsin.db", "tocsin.db-wal"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte(strings.TrimPrefix(token, "tsi_"))) {
			t.Errorf("%s holds the ingest token in clear", f)
		}
	}
	tc = startTocsin(t, dir, "--admin-token", testAdminToken)
	api = tc.base + "/api/v1"
	if status, m := call(t, "POST", api+"/events?token="+url.QueryEscape(token), "", `{"source": "a", "type": "b", "resource": "c"}`); status != http.StatusOK {
		t.Fatalf("post events after a restart: %d %v", status, m)
	}
	if status, m := call(t, "DELETE", api+"/ingest-tokens/aliyun-cloudmonitor", testAdminToken, nil); status != http.StatusNoContent {
		t.Fatalf("delete the ingest token: %d %v", status, m)
	}
	status, refused := call(t, "POST", api+"/events", token, `{"source": "a", "type": "b", "resource": "c"}`)
	if e, _ := refused["error"].(map[string]any); status != http.StatusUnauthorized || !strings.Contains(e["message"].(string), "?token=") {
		t.Errorf("post events with a deleted token: %d %v, want 401 saying how to pass a token", status, refused)
	}
}
