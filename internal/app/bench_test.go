package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
)

// benchClient reuses connections, as a real API client would.
var benchClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}

// benchDo makes one request and returns its Location header.
func benchDo(b *testing.B, method, url string, body []byte, want int) string {
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := benchClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		b.Fatalf("%s %s: %d, want %d", method, url, resp.StatusCode, want)
	}
	return resp.Header.Get("Location")
}

func benchChannel(i int) []byte {
	js, _ := json.Marshal(channelBody(fmt.Sprintf("bench-%09d", i), robotToken, map[string]any{"at_mobiles": []string{"13800000000"}}))
	return js
}

// BenchmarkChannelsAPICreate measures POST /api/v1/channels through the
// whole server: HTTP, auth, validation, sealing and a durable SQLite commit.
func BenchmarkChannelsAPICreate(b *testing.B) {
	tc := startTocsin(b, b.TempDir(), "--admin-token", testAdminToken)
	for i := 0; b.Loop(); i++ {
		benchDo(b, "POST", tc.base+"/api/v1/channels", benchChannel(i), http.StatusCreated)
	}
}

// BenchmarkChannelsAPIGet measures GET /api/v1/channels/{id} (unsealing the
// secrets, masking them in the answer).
func BenchmarkChannelsAPIGet(b *testing.B) {
	tc := startTocsin(b, b.TempDir(), "--admin-token", testAdminToken)
	loc := benchDo(b, "POST", tc.base+"/api/v1/channels", benchChannel(0), http.StatusCreated)
	for b.Loop() {
		benchDo(b, "GET", tc.base+loc, nil, http.StatusOK)
	}
}

// BenchmarkChannelsAPIList measures a 100-channel page of
// GET /api/v1/channels out of 1,000.
func BenchmarkChannelsAPIList(b *testing.B) {
	tc := startTocsin(b, b.TempDir(), "--admin-token", testAdminToken)
	for i := range 1000 {
		benchDo(b, "POST", tc.base+"/api/v1/channels", benchChannel(i), http.StatusCreated)
	}
	for b.Loop() {
		benchDo(b, "GET", tc.base+"/api/v1/channels?limit=100", nil, http.StatusOK)
	}
}
