package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	"github.com/golang/snappy"
	config_util "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/storage/remote"
)

// remoteWrite pushes series with Prometheus's own remote write client (the
// one promtool uses), authenticated with token.
func remoteWrite(t *testing.T, endpoint, token string, series []prompb.TimeSeries) {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	c, err := remote.NewWriteClient("test", &remote.ClientConfig{URL: &config_util.URL{URL: u}, Timeout: model.Duration(30 * time.Second),
		Headers: map[string]string{"Authorization": "Bearer " + token}})
	if err != nil {
		t.Fatal(err)
	}
	data, err := proto.Marshal(&prompb.WriteRequest{Timeseries: series})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Store(context.Background(), snappy.Encode(nil, data), 0); err != nil {
		t.Fatalf("remote write: %v", err)
	}
}

// gcSeries is jvm_gc_full_count of an instance every 15s over the last
// 70 minutes: 10, or surge within the last 6 minutes.
func gcSeries(instance string, now time.Time, surge float64) prompb.TimeSeries {
	ts := prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: "jvm_gc_full_count"}, {Name: "instance", Value: instance}, {Name: "job", Value: "order-service"}}}
	for at := now.Add(-70 * time.Minute); !at.After(now); at = at.Add(15 * time.Second) {
		v := 10.0
		if now.Sub(at) < 6*time.Minute {
			v = surge
		}
		ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: at.UnixMilli(), Value: v})
	}
	return ts
}

// TestMetricRulesEndToEnd: metrics pushed by remote write and OTLP are
// queryable under /prometheus; a form rule fires for the instance whose
// Full GC average doubled, through the policy Tocsin keeps for its
// channel; preview shows the compiled PromQL and what fires, and refuses
// a bad expression with its position; Prometheus rule files import and
// export; a rule may query an external data source (here Tocsin's own
// query API, as Grafana would).
func TestMetricRulesEndToEnd(t *testing.T) {
	r := newAlertRig(t)
	token := r.ingestToken(t)
	now := time.Now().Truncate(time.Second)
	remoteWrite(t, r.tc.base+"/api/v1/write", token, []prompb.TimeSeries{
		gcSeries("a", now, 20), gcSeries("b", now, 10), gcSeries("c", now, 14),
	})
	otlp := fmt.Sprintf(`{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},
		"scopeMetrics":[{"metrics":[{"name":"queue_depth","gauge":{"dataPoints":[{"asDouble":7,"timeUnixNano":"%d",
		"attributes":[{"key":"queue","value":{"stringValue":"orders"}}]}]}}]}]}]}`, now.UnixNano())
	req, _ := http.NewRequest("POST", r.tc.base+"/v1/metrics", strings.NewReader(otlp))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("OTLP push: %d %s", resp.StatusCode, body)
	}

	// The query API answers in Prometheus's envelope, to the ingest token
	// too (a Grafana data source can use one).
	status, q := call(t, "GET", r.tc.base+"/prometheus/api/v1/query?query="+url.QueryEscape(`queue_depth{job="checkout"}`)+fmt.Sprintf("&time=%d", now.Unix()), token, nil)
	if res, _ := q["data"].(map[string]any)["result"].([]any); status != http.StatusOK || len(res) != 1 ||
		res[0].(map[string]any)["value"].([]any)[1] != "7" {
		t.Fatalf("query the OTLP gauge: %d %v", status, q)
	}
	if status, _ := call(t, "GET", r.tc.base+"/prometheus/api/v1/query?query=up", "", nil); status != http.StatusUnauthorized {
		t.Errorf("the query API without a token: %d, want 401", status)
	}

	ruleBody := map[string]any{
		"name": "JvmFullGcSurge", "severity": "warning", "interval": "1s",
		"builder": map[string]any{"conditions": []any{map[string]any{"metric": "jvm_gc_full_count", "aggregation": "avg", "window": "5m",
			"change": map[string]any{"direction": "rise", "percent": 100, "offset": "1h"}}}},
		"annotations": map[string]any{"summary": "Full GC on {{ $labels.instance }} up {{ $value }}%"},
		"targets":     map[string]any{"channels": []string{"oncall-robot"}},
	}
	// Preview first: the compiled PromQL, and what would fire now.
	status, pv := call(t, "POST", r.api+"/rules/preview", testAdminToken, ruleBody)
	if status != http.StatusOK || !strings.Contains(pv["expr"].(string), "avg_over_time(jvm_gc_full_count[5m] offset 1h)") {
		t.Fatalf("preview: %d %v", status, pv)
	}
	if nowList, _ := pv["now"].([]any); len(nowList) != 1 || nowList[0].(map[string]any)["labels"].(map[string]any)["instance"] != "a" {
		t.Errorf("preview now: %v, want instance a alone", pv["now"])
	}
	status, bad := call(t, "POST", r.api+"/rules/preview", testAdminToken, map[string]any{"expr": "rate(jvm_gc_full_count[5m]) >"})
	if e, _ := bad["error"].(map[string]any); status != http.StatusBadRequest || e["field"] != "expr" || !strings.Contains(fmt.Sprint(e["message"]), "1:") {
		t.Errorf("preview of a bad expression: %d %v, want 400 at expr with the position", status, bad)
	}

	status, created := call(t, "POST", r.api+"/rules", testAdminToken, ruleBody)
	if status != http.StatusCreated || created["expr"] != pv["expr"] {
		t.Fatalf("create the rule: %d %v", status, created)
	}
	status, pol := call(t, "GET", r.api+"/policies/"+url.PathEscape("rule: JvmFullGcSurge"), testAdminToken, nil)
	if chans, _ := pol["targets"].(map[string]any)["channels"].([]any); status != http.StatusOK || len(chans) != 1 || chans[0] != r.channel {
		t.Fatalf("the rule's policy: %d %v", status, pol)
	}
	if !waitFor(10*time.Second, func() bool { return statuses(r.rulesAlerts(t, "JvmFullGcSurge"))["a"] == "firing" }) {
		t.Fatalf("alerts %v, want instance a firing", statuses(r.rulesAlerts(t, "JvmFullGcSurge")))
	}
	if got := statuses(r.rulesAlerts(t, "JvmFullGcSurge")); len(got) != 1 {
		t.Errorf("alerts %v, want instance a alone", got)
	}
	status, one := call(t, "GET", r.api+"/rules/JvmFullGcSurge", testAdminToken, nil)
	if st, _ := one["status"].(map[string]any); status != http.StatusOK || st["health"] != "ok" || st["firing"] != 1.0 {
		t.Errorf("the rule's status: %d %v", status, one)
	}
	// The policy a rule uses cannot be deleted from under it.
	if status, m := call(t, "DELETE", r.api+"/policies/"+url.PathEscape("rule: JvmFullGcSurge"), testAdminToken, nil); status != http.StatusConflict {
		t.Errorf("delete the rule's policy: %d %v, want 409", status, m)
	}

	// Prometheus rule files in and out.
	file := `groups:
- name: jvm
  interval: 30s
  rules:
  - alert: JvmHeapHigh
    expr: jvm_memory_used_bytes / jvm_memory_max_bytes > 0.9
    for: 5m
    labels: {severity: critical}
    annotations: {summary: "heap at {{ $value | humanizePercentage }}"}
  - record: job:jvm_gc:rate5m
    expr: rate(jvm_gc_full_count[5m])
`
	status, imp := call(t, "POST", r.api+"/rules/import", testAdminToken, file)
	if status != http.StatusOK || fmt.Sprint(imp["created"]) != "[JvmHeapHigh]" || len(imp["skipped"].([]any)) != 1 {
		t.Fatalf("import: %d %v", status, imp)
	}
	if status, again := call(t, "POST", r.api+"/rules/import", testAdminToken, file); status != http.StatusConflict {
		t.Errorf("import again: %d %v, want 409", status, again)
	}
	req, _ = http.NewRequest("GET", r.api+"/rules/export", nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	exported, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(exported), "alert: JvmHeapHigh") || !strings.Contains(string(exported), "alert: JvmFullGcSurge") {
		t.Errorf("export: %d\n%s", resp.StatusCode, exported)
	}

	// An external data source: Tocsin's own query API, with a token.
	status, ds := call(t, "POST", r.api+"/datasources", testAdminToken, map[string]any{
		"name": "self", "url": r.tc.base + "/prometheus", "bearer_token": token, "timeout": "10s"})
	if status != http.StatusCreated || ds["bearer_token"] == token {
		t.Fatalf("create data source: %d %v", status, ds)
	}
	if status, res := call(t, "POST", r.api+"/datasources/self/test", testAdminToken, nil); status != http.StatusOK || res["ok"] != true {
		t.Fatalf("test the data source: %d %v", status, res)
	}
	status, pv = call(t, "POST", r.api+"/rules/preview", testAdminToken, map[string]any{
		"expr": `queue_depth > 5`, "datasource": "self"})
	if nowList, _ := pv["now"].([]any); status != http.StatusOK || len(nowList) != 1 {
		t.Errorf("preview on the data source: %d %v", status, pv)
	}
	if status, m := call(t, "POST", r.api+"/rules", testAdminToken, map[string]any{"name": "QueueDeep", "expr": "queue_depth > 5", "datasource": "self", "interval": "1s"}); status != http.StatusCreated {
		t.Fatalf("create a rule on the data source: %d %v", status, m)
	}
	if !waitFor(10*time.Second, func() bool { return len(r.rulesAlerts(t, "QueueDeep")) == 1 }) {
		t.Fatalf("the data source's rule raised nothing")
	}
	if status, m := call(t, "DELETE", r.api+"/datasources/self", testAdminToken, nil); status != http.StatusConflict {
		t.Errorf("delete a data source a rule uses: %d %v, want 409", status, m)
	}
	// Deleting the rule deletes its policy.
	if status, m := call(t, "DELETE", r.api+"/rules/JvmFullGcSurge", testAdminToken, nil); status != http.StatusNoContent {
		t.Fatalf("delete the rule: %d %v", status, m)
	}
	if status, _ := call(t, "GET", r.api+"/policies/"+url.PathEscape("rule: JvmFullGcSurge"), testAdminToken, nil); status != http.StatusNotFound {
		t.Errorf("the deleted rule's policy: %d, want gone", status)
	}
}
