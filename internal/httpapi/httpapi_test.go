package httpapi

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/channel"
	"github.com/tocsinhq/tocsin/internal/problem"
	"github.com/tocsinhq/tocsin/internal/store"
)

func TestWriteErrorMapsKindsToStatuses(t *testing.T) {
	s := &Server{opts: Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	problems := &problem.List{Items: []problem.Problem{
		{Field: "name", Code: "required", Message: "a channel needs a name"},
		{Field: "settings.secret", Code: "invalid-secret", Message: "starts with SEC"},
	}}
	for _, tc := range []struct {
		name   string
		err    error
		status int
		code   string
		field  string
	}{
		{"validation", problems, 400, "required", "name"},
		{"invalid alert", &alert.ValidationError{Problems: []alert.Problem{{Field: "[0].labels", Message: "needs a label"}}}, 400, "invalid-alert", "[0].labels"},
		{"not found", fmt.Errorf("channel x: %w", store.ErrNotFound), 404, "not-found", ""},
		{"conflict", fmt.Errorf("name taken: %w", store.ErrConflict), 409, "conflict", ""},
		{"too large", &http.MaxBytesError{Limit: 10}, 413, "body-too-large", ""},
		{"api error", &Error{Status: 401, Code: "unauthorized", Message: "no"}, 401, "unauthorized", ""},
		{"anything else", fmt.Errorf("disk on fire"), 500, "internal", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			s.writeError(rec, httptest.NewRequest("GET", "/", nil), tc.err)
			var body errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if rec.Code != tc.status || body.Error.Code != tc.code || body.Error.Field != tc.field || body.Error.Message == "" {
				t.Errorf("got %d %+v, want %d code %s field %q", rec.Code, body.Error, tc.status, tc.code, tc.field)
			}
			if tc.name == "anything else" && strings.Contains(rec.Body.String(), "disk on fire") {
				t.Error("an internal error's text reached the client")
			}
			if tc.name == "validation" && len(body.Errors) != 2 {
				t.Errorf("errors lists %d problems, want 2", len(body.Errors))
			}
		})
	}
}

func TestTestMessageShowsZone(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Date(2026, 11, 21, 1, 2, 3, 0, time.UTC)
	msg := TestMessage(&channel.Channel{Name: "ops"}, "", now, sh)
	if !strings.Contains(msg.Text, "2026-11-21 09:02:03 CST (Asia/Shanghai, UTC+08:00)") || !strings.Contains(msg.Text, "ops") {
		t.Errorf("test message:\n%s", msg.Text)
	}
	if other := TestMessage(&channel.Channel{Name: "ops"}, "", now, sh); other.ID == msg.ID || msg.ID == "" {
		t.Errorf("test messages share the id %q: a retry key must be per send", msg.ID)
	}
}
