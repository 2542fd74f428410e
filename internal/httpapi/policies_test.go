package httpapi

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tocsinhq/tocsin/internal/contact"
	"github.com/tocsinhq/tocsin/internal/store/sqlite"
	"github.com/tocsinhq/tocsin/internal/store/storetest"
)

// TestPoliciesChanged checks the pipeline hears of every policy change the
// store committed, and of nothing else.
func TestPoliciesChanged(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "tocsin.db"), storetest.NewBox(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Date(2026, 11, 21, 1, 2, 3, 0, time.UTC)
	if err := db.CreateContactGroup(t.Context(), &contact.Group{Name: "sre"}, now); err != nil {
		t.Fatal(err)
	}
	changes := 0
	s := New(Options{
		Store: db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		AdminTokenHash: HashToken("token"), MaxBodyBytes: 1 << 20,
		Now:             func() time.Time { return now },
		PoliciesChanged: func() { changes++ },
	})
	do := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer token")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		var out map[string]any
		if rec.Body.Len() > 0 {
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
				t.Fatalf("%s %s: %v: %s", method, path, err, rec.Body)
			}
		}
		return rec.Code, out
	}
	field := func(body map[string]any) any {
		e, _ := body["error"].(map[string]any)
		return e["field"]
	}

	for _, step := range []struct {
		method, path, body string
		status             int
		field              string
		changes            int
	}{
		{"POST", "/api/v1/policies", `{"name":"p","targets":{"contact_groups":["sre"]}}`, http.StatusCreated, "", 1},
		{"POST", "/api/v1/policies", `{"name":"p"}`, http.StatusConflict, "", 1},
		{"POST", "/api/v1/policies", `{"name":"q","targets":{"contact_groups":["sre","nobody"]}}`, http.StatusBadRequest, "targets.contact_groups[1]", 1},
		{"POST", "/api/v1/policies", `null`, http.StatusBadRequest, "name", 1},
		{"PUT", "/api/v1/policies/p", `{"name":"p","position":3,"matchers":["team=sre"]}`, http.StatusOK, "", 2},
		{"PUT", "/api/v1/policies/nobody", `{"name":"x"}`, http.StatusNotFound, "", 2},
		{"PUT", "/api/v1/policies/p", `{"name":"p","group_wait":"soon"}`, http.StatusBadRequest, "group_wait", 2},
		{"GET", "/api/v1/policies?cursor=junk", "", http.StatusBadRequest, "cursor", 2},
		{"DELETE", "/api/v1/policies/p", "", http.StatusNoContent, "", 3},
		{"DELETE", "/api/v1/policies/p", "", http.StatusNotFound, "", 3},
	} {
		status, body := do(step.method, step.path, step.body)
		if status != step.status || (step.field != "" && field(body) != step.field) {
			t.Errorf("%s %s %s: %d %v, want %d on field %q", step.method, step.path, step.body, status, body, step.status, step.field)
		}
		if changes != step.changes {
			t.Errorf("after %s %s %s: %d changes signalled, want %d", step.method, step.path, step.body, changes, step.changes)
		}
	}
}
