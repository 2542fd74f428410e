package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
)

// BenchmarkEventsAPIPost measures POST /api/v1/events through the whole
// server with an ingest token: HTTP, the token check against the cached
// hashes, decoding, and a durable SQLite commit of a batch of 10 events.
func BenchmarkEventsAPIPost(b *testing.B) {
	tc := startTocsin(b, b.TempDir(), "--admin-token", testAdminToken)
	js, _ := json.Marshal(map[string]string{"name": "bench"})
	req, _ := http.NewRequest("POST", tc.base+"/api/v1/ingest-tokens", bytes.NewReader(js))
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := benchClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	var created struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()

	var batch []map[string]any
	for i := range 10 {
		batch = append(batch, map[string]any{
			"source": "aliyun.ecs", "type": "Instance:StateChange", "level": "warning",
			"resource": fmt.Sprintf("i-bp67acfmxazb4p%02d", i), "region": "cn-hangzhou",
			"content": map[string]string{"previousState": "Running", "currentState": "Stopping"},
			"labels":  map[string]string{"env": "prod", "team": "sre"},
		})
	}
	body, _ := json.Marshal(batch)
	for b.Loop() {
		req, _ := http.NewRequest("POST", tc.base+"/api/v1/events", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+created.Token)
		resp, err := benchClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("POST /api/v1/events: %d", resp.StatusCode)
		}
	}
}
