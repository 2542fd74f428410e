package httpapi

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/store/sqlite"
	"github.com/tocsinhq/tocsin/internal/store/storetest"
)

const amToken = "silences-test-admin-token"

// t0 is the clock at the start of each test: a whole second, as
// Alertmanager's clients send times.
var t0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

// amAPI is a server on a real SQLite store with a clock the test moves.
type amAPI struct {
	t       *testing.T
	srv     *Server
	now     time.Time
	changed int // calls of SilencesChanged
}

func newAMAPI(t *testing.T) *amAPI {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "tocsin.db"), storetest.NewBox(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a := &amAPI{t: t, now: t0}
	a.srv = New(Options{
		Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		AdminTokenHash: HashToken(amToken), MaxBodyBytes: 1 << 20,
		Now: func() time.Time { return a.now }, Version: "1.2.3",
		SilencesChanged: func() { a.changed++ },
	})
	return a
}

// do sends a request with the admin token and returns the status, the
// Content-Type and the body.
func (a *amAPI) do(method, path, body string) (int, string, string) {
	a.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+amToken)
	rec := httptest.NewRecorder()
	a.srv.ServeHTTP(rec, req)
	return rec.Code, rec.Header().Get("Content-Type"), rec.Body.String()
}

// post posts a silence and returns the id it got.
func (a *amAPI) post(body string) string {
	a.t.Helper()
	status, _, resp := a.do("POST", "/api/v2/silences", body)
	var got postSilenceResponse
	if status != http.StatusOK || json.Unmarshal([]byte(resp), &got) != nil || got.SilenceID == "" {
		a.t.Fatalf("POST /api/v2/silences %s: %d %s", body, status, resp)
	}
	return got.SilenceID
}

// silence is a gettableSilence as a client reads it.
type silence struct {
	ID        string           `json:"id"`
	Status    map[string]any   `json:"status"`
	UpdatedAt time.Time        `json:"updatedAt"`
	Matchers  []map[string]any `json:"matchers"`
	StartsAt  time.Time        `json:"startsAt"`
	EndsAt    time.Time        `json:"endsAt"`
	CreatedBy string           `json:"createdBy"`
	Comment   string           `json:"comment"`
}

func (a *amAPI) get(id string) silence {
	a.t.Helper()
	status, _, body := a.do("GET", "/api/v2/silence/"+id, "")
	var s silence
	if status != http.StatusOK || json.Unmarshal([]byte(body), &s) != nil {
		a.t.Fatalf("GET /api/v2/silence/%s: %d %s", id, status, body)
	}
	return s
}

func (a *amAPI) list(query string) []silence {
	a.t.Helper()
	status, _, body := a.do("GET", "/api/v2/silences"+query, "")
	var ss []silence
	if status != http.StatusOK || json.Unmarshal([]byte(body), &ss) != nil {
		a.t.Fatalf("GET /api/v2/silences%s: %d %s", query, status, body)
	}
	return ss
}

// postable returns a silence as amtool posts it.
func postable(id, matchers string, start, end time.Time) string {
	b, _ := json.Marshal(map[string]any{
		"id": id, "matchers": json.RawMessage(matchers),
		"startsAt": start.Format(time.RFC3339Nano), "endsAt": end.Format(time.RFC3339Nano),
		"createdBy": "ann", "comment": "disk swap, TICKET-1",
	})
	return string(b)
}

const diskFull = `[{"name":"alertname","value":"DiskFull","isRegex":false,"isEqual":true}]`

var uuidForm = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestSilenceCreateAndGetAsAlertmanager(t *testing.T) {
	a := newAMAPI(t)
	// amtool takes the start on the client, a moment before the server
	// sees it: a start in the past becomes now.
	id := a.post(postable("", `[{"name":"alertname","value":"DiskFull","isRegex":false,"isEqual":true},{"name":"instance","value":"db-.*","isRegex":true},{"name":"team","value":"web","isRegex":false,"isEqual":false}]`,
		t0.Add(-time.Second), t0.Add(time.Hour)))
	if !uuidForm.MatchString(id) {
		t.Errorf("silenceID %q is not a UUID, as Alertmanager's API has them", id)
	}
	if a.changed != 1 {
		t.Errorf("SilencesChanged called %d times, want 1", a.changed)
	}
	status, ctype, body := a.do("GET", "/api/v2/silence/"+id, "")
	want := `{"id":"` + id + `","matchers":[{"name":"alertname","value":"DiskFull","isRegex":false,"isEqual":true},{"name":"instance","value":"db-.*","isRegex":true,"isEqual":true},{"name":"team","value":"web","isRegex":false,"isEqual":false}],` +
		`"startsAt":"2026-11-21T09:00:00Z","endsAt":"2026-11-21T10:00:00Z","createdBy":"ann","comment":"disk swap, TICKET-1","updatedAt":"2026-11-21T09:00:00Z","status":{"state":"active"}}` + "\n"
	if status != http.StatusOK || ctype != "application/json; charset=utf-8" || body != want {
		t.Errorf("GET /api/v2/silence/{id}: %d %s\n got %s\nwant %s", status, ctype, body, want)
	}
	if got := a.list(""); len(got) != 1 || got[0].ID != id {
		t.Errorf("list = %+v, want the one silence", got)
	}
	a.now = t0.Add(time.Hour)
	if got := a.get(id); got.Status["state"] != "expired" {
		t.Errorf("at its end the silence is %v, want expired", got.Status)
	}
}

func TestSilenceEditsFollowAlertmanager(t *testing.T) {
	a := newAMAPI(t)
	id := a.post(postable("", diskFull, t0, t0.Add(time.Hour)))
	a.now = t0.Add(10 * time.Minute)

	// Same matchers and start, a new end and comment: changed in place.
	edit := postable(id, diskFull, t0, t0.Add(2*time.Hour))
	if got := a.post(strings.Replace(edit, "TICKET-1", "TICKET-2", 1)); got != id {
		t.Fatalf("an edit of the end of an active silence got id %s, want the same %s", got, id)
	}
	if s := a.get(id); !s.EndsAt.Equal(t0.Add(2*time.Hour)) || s.Comment != "disk swap, TICKET-2" || !s.UpdatedAt.Equal(a.now) {
		t.Errorf("after an in-place edit: %+v", s)
	}

	// Other matchers: the old silence expires now, a new one takes over.
	a.now = t0.Add(20 * time.Minute)
	newID := a.post(postable(id, `[{"name":"alertname","value":"DiskFull"},{"name":"instance","value":"db-1"}]`, t0, t0.Add(2*time.Hour)))
	if newID == id {
		t.Fatalf("an edit of an active silence's matchers kept its id")
	}
	old, cur := a.get(id), a.get(newID)
	if old.Status["state"] != "expired" || !old.EndsAt.Equal(a.now) || !old.StartsAt.Equal(t0) {
		t.Errorf("the replaced silence is %+v, want expired now and its start kept", old)
	}
	if cur.Status["state"] != "active" || !cur.StartsAt.Equal(a.now) || !cur.EndsAt.Equal(t0.Add(2*time.Hour)) || len(cur.Matchers) != 2 {
		t.Errorf("the new silence is %+v, want active from now", cur)
	}

	// An edit of an expired silence creates a new one and leaves the
	// expired one as it was.
	a.now = t0.Add(30 * time.Minute)
	again := a.post(postable(id, diskFull, a.now, t0.Add(3*time.Hour)))
	if again == id || again == newID {
		t.Errorf("an edit of an expired silence got id %s, want a new one", again)
	}
	if diff := cmp.Diff(old, a.get(id)); diff != "" {
		t.Errorf("the expired silence changed (-before +after):\n%s", diff)
	}

	// A pending silence may move its start, but not into the past.
	pending := a.post(postable("", diskFull, t0.Add(5*time.Hour), t0.Add(6*time.Hour)))
	if got := a.post(postable(pending, diskFull, t0.Add(4*time.Hour), t0.Add(6*time.Hour))); got != pending {
		t.Errorf("moving a pending silence's start later got id %s, want the same", got)
	}
	moved := a.post(postable(pending, diskFull, t0, t0.Add(6*time.Hour)))
	if moved == pending {
		t.Fatal("moving a pending silence's start into the past kept its id")
	}
	if p := a.get(pending); p.Status["state"] != "expired" || !p.StartsAt.Equal(a.now) || !p.EndsAt.Equal(a.now) {
		t.Errorf("the replaced pending silence is %+v, want expired with start = end = now", p)
	}
	if m := a.get(moved); !m.StartsAt.Equal(a.now) || m.Status["state"] != "active" {
		t.Errorf("the silence replacing the pending one is %+v, want active from now", m)
	}
	if a.changed != 7 {
		t.Errorf("SilencesChanged called %d times for 7 posts, want 7", a.changed)
	}

	// An unknown id is 404, and nothing is stored.
	before := len(a.list(""))
	status, ctype, body := a.do("POST", "/api/v2/silences", postable("0190f5e4-7a2b-7c3d-8e4f-000000000000", diskFull, a.now, a.now.Add(time.Hour)))
	if status != http.StatusNotFound || !strings.HasPrefix(ctype, "text/plain") || !strings.Contains(body, `"code":"not-found"`) {
		t.Errorf("POST with an unknown id: %d %s %s, want 404 not-found", status, ctype, body)
	}
	if after := len(a.list("")); after != before || a.changed != 7 {
		t.Errorf("a refused POST changed the silences: %d listed, was %d; %d change calls", after, before, a.changed)
	}
}

func TestSilenceExpire(t *testing.T) {
	a := newAMAPI(t)
	active := a.post(postable("", diskFull, t0, t0.Add(time.Hour)))
	pending := a.post(postable("", diskFull, t0.Add(time.Hour), t0.Add(2*time.Hour)))
	a.now = t0.Add(10 * time.Minute)

	for _, id := range []string{active, pending} {
		status, ctype, body := a.do("DELETE", "/api/v2/silence/"+id, "")
		if status != http.StatusOK || ctype != "" || body != "" {
			t.Errorf("DELETE %s: %d %q %q, want 200 and no body, as Alertmanager", id, status, ctype, body)
		}
	}
	if s := a.get(active); s.Status["state"] != "expired" || !s.EndsAt.Equal(a.now) || !s.StartsAt.Equal(t0) {
		t.Errorf("expired active silence: %+v", s)
	}
	if s := a.get(pending); s.Status["state"] != "expired" || !s.StartsAt.Equal(a.now) || !s.EndsAt.Equal(a.now) {
		t.Errorf("expired pending silence: %+v, want start = end = now", s)
	}
	if a.changed != 4 {
		t.Errorf("SilencesChanged called %d times, want 4 (2 posts, 2 expiries)", a.changed)
	}

	// Expiring it again succeeds and changes nothing.
	before := a.get(active)
	a.now = t0.Add(20 * time.Minute)
	if status, _, body := a.do("DELETE", "/api/v2/silence/"+active, ""); status != http.StatusOK {
		t.Errorf("DELETE of an expired silence: %d %s, want 200", status, body)
	}
	if diff := cmp.Diff(before, a.get(active)); diff != "" || a.changed != 4 {
		t.Errorf("expiring again changed the silence (-before +after):\n%s, or called SilencesChanged (%d)", diff, a.changed)
	}

	for _, method := range []string{"GET", "DELETE"} {
		status, ctype, body := a.do(method, "/api/v2/silence/0190f5e4-7a2b-7c3d-8e4f-000000000000", "")
		if status != http.StatusNotFound || !strings.HasPrefix(ctype, "text/plain") || !strings.Contains(body, "no silence has the id") {
			t.Errorf("%s of an unknown silence: %d %s %s, want 404 naming it", method, status, ctype, body)
		}
	}
}

func TestSilenceListOrderFilterAndRetention(t *testing.T) {
	a := newAMAPI(t)
	a.now = t0.Add(-200 * time.Hour)
	forgotten := a.post(postable("", diskFull, a.now, a.now.Add(time.Hour))) // ends 199h before t0
	a.now = t0.Add(-10 * time.Hour)
	expiredLong := a.post(postable("", diskFull, a.now, a.now.Add(time.Hour)))
	expiredRecent := a.post(postable("", diskFull, a.now, a.now.Add(9*time.Hour)))
	a.now = t0
	activeLate := a.post(postable("", `[{"name":"alertname","value":"DiskFull"},{"name":"instance","value":"db-.*","isRegex":true}]`, t0, t0.Add(3*time.Hour)))
	activeSoon := a.post(postable("", `[{"name":"alertname","value":"HighCPU"}]`, t0, t0.Add(time.Hour)))
	pendingLate := a.post(postable("", diskFull, t0.Add(2*time.Hour), t0.Add(3*time.Hour)))
	pendingSoon := a.post(postable("", `[{"name":"alertname","value":"DiskFull"},{"name":"instance","value":"db-.*","isRegex":true}]`, t0.Add(time.Hour), t0.Add(3*time.Hour)))

	ids := func(ss []silence) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.ID)
		}
		return out
	}
	// Alertmanager's order: active by end, pending by start, expired by
	// end, latest first. One that ended more than 120 hours ago is no
	// longer listed, as Alertmanager forgets it, but can still be read.
	want := []string{activeSoon, activeLate, pendingSoon, pendingLate, expiredRecent, expiredLong}
	if diff := cmp.Diff(want, ids(a.list(""))); diff != "" {
		t.Errorf("list order (-want +got):\n%s", diff)
	}
	if s := a.get(forgotten); s.ID != forgotten {
		t.Errorf("GET of a silence past retention: %+v", s)
	}

	for _, tc := range []struct {
		name, query string
		want        []string
	}{
		// amtool sends matchers unquoted; Grafana quotes them.
		{"name and value", "?filter=alertname%3DHighCPU", []string{activeSoon}},
		{"quoted, several", "?filter=" + url.QueryEscape(`alertname="DiskFull"`) + "&filter=" + url.QueryEscape(`instance=~"db-.*"`), []string{activeLate, pendingSoon}},
		// A filter selects silences by their matchers, not by what they
		// would match: no silence has the matcher alertname=~"Disk.*".
		{"matcher, not match", "?filter=" + url.QueryEscape(`alertname=~"Disk.*"`), nil},
		{"operator counts", "?filter=" + url.QueryEscape(`instance="db-.*"`), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, ids(a.list(tc.query))); diff != "" {
				t.Errorf("GET /api/v2/silences%s (-want +got):\n%s", tc.query, diff)
			}
		})
	}
	status, ctype, body := a.do("GET", "/api/v2/silences?filter=alertname%3DDiskFull&filter="+url.QueryEscape(`instance=~"db-(`), "")
	var e errorBody
	if status != http.StatusBadRequest || !strings.HasPrefix(ctype, "text/plain") || json.Unmarshal([]byte(body), &e) != nil || e.Error.Field != "filter[1]" {
		t.Errorf("bad filter: %d %s %s, want 400 on filter[1]", status, ctype, body)
	}
	if status, _, body := a.do("GET", "/api/v2/silences", ""); status != http.StatusOK || !strings.HasPrefix(body, "[") {
		t.Errorf("list: %d %s, want a JSON array", status, body)
	}
}

func TestSilenceEmptyListIsAnArray(t *testing.T) {
	a := newAMAPI(t)
	if status, _, body := a.do("GET", "/api/v2/silences", ""); status != http.StatusOK || body != "[]\n" {
		t.Errorf("empty list: %d %q, want []", status, body)
	}
}

func TestSilencePostRefusesBadInput(t *testing.T) {
	a := newAMAPI(t)
	ok := func(change func(m map[string]any)) string {
		m := map[string]any{
			"matchers": json.RawMessage(diskFull), "startsAt": "2026-11-21T09:00:00Z", "endsAt": "2026-11-21T10:00:00Z",
			"createdBy": "ann", "comment": "swap",
		}
		change(m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	for _, tc := range []struct {
		name        string
		body        string
		field, code string
	}{
		{"not JSON", "{", "", "invalid-json"},
		{"unknown field", ok(func(m map[string]any) { m["annotations"] = map[string]string{} }), "annotations", "unknown-field"},
		{"no matchers", ok(func(m map[string]any) { delete(m, "matchers") }), "matchers", "required"},
		{"bad regex", ok(func(m map[string]any) {
			m["matchers"] = json.RawMessage(`[{"name":"alertname","value":"x"},{"name":"instance","value":"db-(","isRegex":true}]`)
		}), "matchers[1]", "invalid-matcher"},
		{"matcher without a name", ok(func(m map[string]any) { m["matchers"] = json.RawMessage(`[{"value":"x"}]`) }), "matchers[0]", "invalid-matcher"},
		{"matches everything", ok(func(m map[string]any) {
			m["matchers"] = json.RawMessage(`[{"name":"team","value":"sre","isRegex":false,"isEqual":false}]`)
		}), "matchers", "matches-everything"},
		{"bad time", ok(func(m map[string]any) { m["startsAt"] = "9am" }), "startsAt", "invalid-time"},
		{"no end", ok(func(m map[string]any) { delete(m, "endsAt") }), "endsAt", "required"},
		{"end before start", ok(func(m map[string]any) { m["endsAt"] = "2026-11-21T08:00:00Z" }), "endsAt", "out-of-range"},
		{"end in the past", ok(func(m map[string]any) { m["startsAt"], m["endsAt"] = "2026-11-21T07:00:00Z", "2026-11-21T08:00:00Z" }), "endsAt", "out-of-range"},
		{"no author", ok(func(m map[string]any) { m["createdBy"] = " " }), "createdBy", "required"},
		{"no comment", ok(func(m map[string]any) { delete(m, "comment") }), "comment", "required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, ctype, body := a.do("POST", "/api/v2/silences", tc.body)
			var e errorBody
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatalf("error body is not JSON: %s", body)
			}
			if status != http.StatusBadRequest || ctype != "text/plain; charset=utf-8" || e.Error.Field != tc.field || e.Error.Code != tc.code || e.Error.Message == "" {
				t.Errorf("got %d %s %+v, want 400 with code %s on field %q", status, ctype, e.Error, tc.code, tc.field)
			}
		})
	}
	if n := len(a.list("")); n != 0 || a.changed != 0 {
		t.Errorf("refused posts stored %d silences and called SilencesChanged %d times", n, a.changed)
	}
	// A silence sent back as GET answered it, with status and updatedAt,
	// is accepted.
	id := a.post(postable("", diskFull, t0, t0.Add(time.Hour)))
	_, _, got := a.do("GET", "/api/v2/silence/"+id, "")
	if again := a.post(got); again != id {
		t.Errorf("posting back a silence as read got id %s, want %s", again, id)
	}
}

func TestAlertmanagerStatus(t *testing.T) {
	a := newAMAPI(t)
	a.now = t0.Add(time.Hour) // the status says when the server started
	status, ctype, body := a.do("GET", "/api/v2/status", "")
	if status != http.StatusOK || ctype != "application/json; charset=utf-8" {
		t.Fatalf("GET /api/v2/status: %d %s %s", status, ctype, body)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"cluster": map[string]any{"status": "disabled", "peers": []any{}},
		"config":  map[string]any{"original": ""},
		"uptime":  "2026-11-21T09:00:00Z",
	}
	version, _ := got["versionInfo"].(map[string]any)
	delete(got, "versionInfo")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	if version["version"] != "1.2.3" || version["goVersion"] != runtime.Version() {
		t.Errorf("versionInfo = %v, want version 1.2.3 and this Go", version)
	}
	for _, k := range []string{"revision", "branch", "buildUser", "buildDate"} {
		if _, ok := version[k].(string); !ok {
			t.Errorf("versionInfo lacks %s, which Alertmanager's API requires", k)
		}
	}
}

func TestAlertmanagerRoutesNeedTheAdminToken(t *testing.T) {
	a := newAMAPI(t)
	for _, r := range []struct{ method, path string }{
		{"GET", "/api/v2/status"},
		{"GET", "/api/v2/silences"},
		{"POST", "/api/v2/silences"},
		{"GET", "/api/v2/silence/x"},
		{"DELETE", "/api/v2/silence/x"},
	} {
		req := httptest.NewRequest(r.method, r.path, strings.NewReader(postable("", diskFull, t0, t0.Add(time.Hour))))
		rec := httptest.NewRecorder()
		a.srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("%s %s without a token: %d, want 401", r.method, r.path, rec.Code)
		}
	}
	if n := len(a.list("")); n != 0 || a.changed != 0 {
		t.Errorf("unauthorised requests stored %d silences", n)
	}
	// Routes Alertmanager has and Tocsin does not answer like any unknown
	// API route, and in the form its clients print.
	status, ctype, body := a.do("GET", "/api/v2/receivers", "")
	if status != http.StatusNotFound || !strings.HasPrefix(ctype, "text/plain") || !strings.Contains(body, "no-such-route") {
		t.Errorf("GET /api/v2/receivers: %d %s %s", status, ctype, body)
	}
	if status, _, _ := a.do("PUT", "/api/v2/silences", ""); status != http.StatusMethodNotAllowed {
		t.Errorf("PUT /api/v2/silences: %d, want 405", status)
	}
}
