package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/store"
	"github.com/tocsinhq/tocsin/internal/store/sqlite"
	"github.com/tocsinhq/tocsin/internal/store/storetest"
)

const adminToken = "test-admin-token"

// countingStore counts the reads of the ingest tokens, and fails them on
// demand, as a database that went away does. With hold set, a read
// announces itself on entered and waits for hold to close, as a slow
// database makes it.
type countingStore struct {
	store.Store
	lists   atomic.Int64
	fail    atomic.Bool
	hold    chan struct{}
	entered chan struct{}
}

func (c *countingStore) ListIngestTokens(ctx context.Context) ([]*store.IngestToken, error) {
	c.lists.Add(1)
	if c.hold != nil {
		c.entered <- struct{}{}
		<-c.hold
	}
	if c.fail.Load() {
		return nil, errors.New("database unreachable")
	}
	return c.Store.ListIngestTokens(ctx)
}

// apiTest is a server on a SQLite store in a temporary directory, with a
// clock the test moves.
type apiTest struct {
	t     *testing.T
	srv   *Server
	store *countingStore
	now   time.Time

	mu       sync.Mutex // guards received
	received [][]string // EventsReceived's calls
}

func newAPITest(t *testing.T, opts Options) *apiTest {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "tocsin.db"), storetest.NewBox(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	a := &apiTest{t: t, store: &countingStore{Store: db}, now: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)}
	opts.Store = a.store
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	opts.AdminTokenHash = HashToken(adminToken)
	opts.Now = func() time.Time { return a.now }
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.EventsReceived == nil {
		opts.EventsReceived = func(ids []string) {
			a.mu.Lock()
			defer a.mu.Unlock()
			a.received = append(a.received, ids)
		}
	}
	a.srv = New(opts)
	return a
}

// do makes a request, with token (if any) as a bearer token, and decodes
// the JSON answer.
func (a *apiTest) do(method, target, token, body string) (*http.Response, map[string]any) {
	a.t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	a.srv.ServeHTTP(rec, req)
	var m map[string]any
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			a.t.Fatalf("%s %s: answer is not JSON: %q", method, target, rec.Body)
		}
	}
	return rec.Result(), m
}

// newToken creates an ingest token through the API and returns it.
func (a *apiTest) newToken(name string) (id, token string) {
	a.t.Helper()
	resp, m := a.do("POST", "/api/v1/ingest-tokens", adminToken, `{"name": "`+name+`"}`)
	if resp.StatusCode != http.StatusCreated {
		a.t.Fatalf("create ingest token %q: %d %v", name, resp.StatusCode, m)
	}
	return m["id"].(string), m["token"].(string)
}

// postEvent sends one valid event with token given as asked.
func (a *apiTest) postEvent(token string, query bool) int {
	a.t.Helper()
	target, header := "/api/v1/events", token
	if query {
		target, header = target+"?token="+url.QueryEscape(token), ""
	}
	resp, _ := a.do("POST", target, header, `{"source": "s", "type": "t", "resource": "r"}`)
	return resp.StatusCode
}

func errorOf(m map[string]any) (code, field, message string) {
	e, _ := m["error"].(map[string]any)
	code, _ = e["code"].(string)
	field, _ = e["field"].(string)
	message, _ = e["message"].(string)
	return code, field, message
}

func TestIntakeAuth(t *testing.T) {
	a := newAPITest(t, Options{})
	_, ingest := a.newToken("aliyun")
	const good = `{"source": "s", "type": "t", "resource": "r"}`
	for _, tt := range []struct {
		name          string
		method, path  string
		header, query string
		scheme        string // "Bearer" unless set
		status        int
		code          string
		says          []string // the message says these
	}{
		{name: "intake without a token", method: "POST", path: "/api/v1/events", status: 401, code: "unauthorized",
			says: []string{"ingest token", "Authorization: Bearer <token>", "?token=<token>"}},
		{name: "intake with a wrong token", method: "POST", path: "/api/v1/events", header: "tsi_wrong", status: 401, code: "unauthorized",
			says: []string{"neither an ingest token nor the admin token", "Authorization: Bearer", "?token="}},
		{name: "intake with a wrong query token", method: "POST", path: "/api/v1/events", query: "tsi_wrong", status: 401, code: "unauthorized",
			says: []string{"neither", "?token="}},
		{name: "intake with an ingest token", method: "POST", path: "/api/v1/events", header: ingest, status: 200},
		{name: "intake with an ingest token in the query", method: "POST", path: "/api/v1/events", query: ingest, status: 200},
		{name: "intake with the admin token", method: "POST", path: "/api/v1/events", header: adminToken, status: 200},
		{name: "intake with the admin token in the query", method: "POST", path: "/api/v1/events", query: adminToken, status: 200},
		{name: "intake with the scheme in lower case", method: "POST", path: "/api/v1/events", header: ingest, scheme: "bearer", status: 200},
		{name: "intake with a Basic header and a query token", method: "POST", path: "/api/v1/events", header: "dXNlcjpwYXNz", scheme: "Basic", query: ingest, status: 200},
		{name: "the header wins over the query", method: "POST", path: "/api/v1/events", header: "tsi_wrong", query: ingest, status: 401, code: "unauthorized"},

		{name: "an ingest token on an admin route", method: "GET", path: "/api/v1/events", header: ingest, status: 403, code: "forbidden",
			says: []string{"ingest token", "intake endpoints", "admin token"}},
		{name: "an ingest token creating ingest tokens", method: "POST", path: "/api/v1/ingest-tokens", header: ingest, status: 403, code: "forbidden"},
		{name: "an ingest token on an unknown route", method: "GET", path: "/api/v1/nothing", header: ingest, status: 403, code: "forbidden"},
		{name: "a query token on an admin route", method: "GET", path: "/api/v1/events", query: ingest, status: 401, code: "unauthorized",
			says: []string{"Authorization: Bearer <token>", "?token= works on intake endpoints alone"}},
		{name: "the admin token in the query of an admin route", method: "GET", path: "/api/v1/events", query: adminToken, status: 401, code: "unauthorized"},
		{name: "the admin token on an admin route", method: "GET", path: "/api/v1/events", header: adminToken, status: 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			target := tt.path
			if tt.query != "" {
				target += "?token=" + url.QueryEscape(tt.query)
			}
			body := ""
			if tt.method == "POST" {
				body = good
			}
			req := httptest.NewRequest(tt.method, target, strings.NewReader(body))
			if tt.header != "" {
				scheme := tt.scheme
				if scheme == "" {
					scheme = "Bearer"
				}
				req.Header.Set("Authorization", scheme+" "+tt.header)
			}
			rec := httptest.NewRecorder()
			a.srv.ServeHTTP(rec, req)
			var m map[string]any
			json.Unmarshal(rec.Body.Bytes(), &m)
			code, _, msg := errorOf(m)
			if rec.Code != tt.status || code != tt.code {
				t.Fatalf("got %d %q (%s), want %d %q", rec.Code, code, rec.Body, tt.status, tt.code)
			}
			for _, s := range tt.says {
				if !strings.Contains(msg, s) {
					t.Errorf("message %q does not say %q", msg, s)
				}
			}
			if got := rec.Header().Get("WWW-Authenticate"); (rec.Code == 401) != (got != "") {
				t.Errorf("status %d with WWW-Authenticate %q", rec.Code, got)
			}
		})
	}
}

// TestIngestTokenCache: intake reads the tokens once per TTL, not per
// request; this server's own creates and deletes count at once, another
// replica's (written to the store directly here) within the TTL.
func TestIngestTokenCache(t *testing.T) {
	const ttl = 10 * time.Second
	a := newAPITest(t, Options{IngestTokenTTL: ttl})
	mine, token := a.newToken("mine")

	before := a.store.lists.Load()
	for range 200 {
		if status := a.postEvent(token, false); status != 200 {
			t.Fatalf("intake with a new token: %d", status)
		}
	}
	if reads := a.store.lists.Load() - before; reads != 1 {
		t.Errorf("200 intake requests read the tokens %d times, want once", reads)
	}

	// Another replica creates a token: unknown here until the copy expires.
	other := "tsi_made-by-another-replica"
	if err := a.store.CreateIngestToken(t.Context(), &store.IngestToken{Name: "other", Hash: HashToken(other)}, a.now); err != nil {
		t.Fatal(err)
	}
	a.now = a.now.Add(ttl - time.Millisecond)
	if status := a.postEvent(other, true); status != 401 {
		t.Errorf("another replica's new token, before the TTL: %d, want 401", status)
	}
	a.now = a.now.Add(time.Millisecond)
	if status := a.postEvent(other, true); status != 200 {
		t.Errorf("another replica's new token, after the TTL: %d, want 200", status)
	}

	// Another replica deletes a token: still honoured until the copy expires.
	if err := a.store.DeleteIngestToken(t.Context(), mine); err != nil {
		t.Fatal(err)
	}
	if status := a.postEvent(token, false); status != 200 {
		t.Errorf("a token another replica deleted, before the TTL: %d, want 200", status)
	}
	a.now = a.now.Add(ttl)
	if status := a.postEvent(token, false); status != 401 {
		t.Errorf("a token another replica deleted, after the TTL: %d, want 401", status)
	}

	// This server's delete counts at once.
	if resp, m := a.do("DELETE", "/api/v1/ingest-tokens/other", adminToken, ""); resp.StatusCode != 204 {
		t.Fatalf("delete: %d %v", resp.StatusCode, m)
	}
	if status := a.postEvent(other, true); status != 401 {
		t.Errorf("a token this server deleted: %d, want 401", status)
	}

	// The database goes away: the copy held is kept, and read again later.
	_, kept := a.newToken("kept")
	a.postEvent(kept, false)
	a.store.fail.Store(true)
	a.now = a.now.Add(ttl)
	reads := a.store.lists.Load()
	for range 3 {
		if status := a.postEvent(kept, false); status != 200 {
			t.Errorf("a known token while the tokens cannot be read: %d, want 200", status)
		}
	}
	if got := a.store.lists.Load() - reads; got != 1 {
		t.Errorf("3 requests while the database is away read the tokens %d times, want once, then wait", got)
	}
	a.store.fail.Store(false)
	a.now = a.now.Add(tokenRetry)
	if status := a.postEvent(kept, false); status != 200 || a.store.lists.Load()-reads != 2 {
		t.Errorf("after the retry delay: %d with %d reads, want 200 and a second read", status, a.store.lists.Load()-reads)
	}
}

// TestIngestTokenCacheStaleDoesNotWait: while one request reads the
// tokens again, the others go on with the copy held instead of queueing
// behind a slow database.
func TestIngestTokenCacheStaleDoesNotWait(t *testing.T) {
	a := newAPITest(t, Options{IngestTokenTTL: time.Second})
	_, token := a.newToken("sender")
	a.postEvent(token, false) // the copy is read
	a.now = a.now.Add(time.Second)
	a.store.hold, a.store.entered = make(chan struct{}), make(chan struct{})

	slow := make(chan int)
	go func() { slow <- a.postEvent(token, false) }()
	<-a.store.entered // the first request is reading the tokens
	others := make(chan []int)
	go func() {
		var statuses []int
		for range 3 {
			statuses = append(statuses, a.postEvent(token, true))
		}
		others <- statuses
	}()
	select {
	case statuses := <-others:
		if !slices.Equal(statuses, []int{200, 200, 200}) {
			t.Errorf("requests while another reads the tokens: %v, want 200 each", statuses)
		}
	case <-time.After(10 * time.Second):
		close(a.store.hold)
		t.Fatal("requests while another reads the tokens waited for the read")
	}
	close(a.store.hold)
	if status := <-slow; status != 200 {
		t.Errorf("the request that read the tokens: %d, want 200", status)
	}
	if got := a.store.lists.Load(); got != 2 {
		t.Errorf("the tokens were read %d times, want twice (the first copy, then one refresh)", got)
	}
}

func TestIntakeWithoutTokensReadable(t *testing.T) {
	a := newAPITest(t, Options{})
	a.store.fail.Store(true)
	if status := a.postEvent("tsi_some-token", false); status != http.StatusInternalServerError {
		t.Errorf("an ingest token, the tokens never read: %d, want 500", status)
	}
	// The admin token needs no database.
	if status := a.postEvent(adminToken, true); status != 200 {
		t.Errorf("the admin token, the tokens never read: %d, want 200", status)
	}
}

func TestIngestTokensAPI(t *testing.T) {
	a := newAPITest(t, Options{})
	resp, created := a.do("POST", "/api/v1/ingest-tokens", adminToken, `{"name": "  aliyun-cloudmonitor  "}`)
	if resp.StatusCode != 201 || created["name"] != "aliyun-cloudmonitor" || created["created_at"] != "2026-11-21T09:00:00Z" {
		t.Fatalf("create: %d %v", resp.StatusCode, created)
	}
	token, _ := created["token"].(string)
	if !regexp.MustCompile(`^tsi_[a-z2-7]{52}$`).MatchString(token) {
		t.Errorf("token %q is not tsi_ and 52 base32 characters", token)
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("the answer holding the token has Cache-Control %q, want no-store", got)
	}
	_, second := a.do("POST", "/api/v1/ingest-tokens", adminToken, `{"name": "grafana"}`)
	if second["token"] == token {
		t.Error("two tokens are the same")
	}

	_, list := a.do("GET", "/api/v1/ingest-tokens", adminToken, "")
	want := map[string]any{"next": "", "items": []any{
		map[string]any{"id": created["id"], "name": "aliyun-cloudmonitor", "created_at": "2026-11-21T09:00:00Z"},
		map[string]any{"id": second["id"], "name": "grafana", "created_at": "2026-11-21T09:00:00Z"},
	}}
	if diff := cmp.Diff(want, list); diff != "" {
		t.Errorf("list, want no token values (-want +got):\n%s", diff)
	}

	for _, tt := range []struct {
		name, body  string
		status      int
		code, field string
	}{
		{"taken name", `{"name": "grafana"}`, 409, "conflict", ""},
		{"no name", `{"name": " "}`, 400, "required", "name"},
		{"long name", `{"name": "` + strings.Repeat("n", maxTokenNameLen+1) + `"}`, 400, "too-long", "name"},
		{"control character", `{"name": "a\tb"}`, 400, "invalid-name", "name"},
		{"unknown field", `{"name": "x", "token": "tsi_mine"}`, 400, "unknown-field", "token"},
	} {
		resp, m := a.do("POST", "/api/v1/ingest-tokens", adminToken, tt.body)
		if code, field, _ := errorOf(m); resp.StatusCode != tt.status || code != tt.code || field != tt.field {
			t.Errorf("%s: got %d %v, want %d %s at %q", tt.name, resp.StatusCode, m, tt.status, tt.code, tt.field)
		}
	}

	if resp, m := a.do("DELETE", "/api/v1/ingest-tokens/grafana", adminToken, ""); resp.StatusCode != 204 {
		t.Errorf("delete by name: %d %v", resp.StatusCode, m)
	}
	if resp, m := a.do("DELETE", "/api/v1/ingest-tokens/"+created["id"].(string), adminToken, ""); resp.StatusCode != 204 {
		t.Errorf("delete by id: %d %v", resp.StatusCode, m)
	}
	resp, m := a.do("DELETE", "/api/v1/ingest-tokens/grafana", adminToken, "")
	if code, _, msg := errorOf(m); resp.StatusCode != 404 || code != "not-found" || !strings.Contains(msg, `"grafana"`) {
		t.Errorf("delete again: %d %v, want 404 naming it", resp.StatusCode, m)
	}
	if status := a.postEvent(token, false); status != 401 {
		t.Errorf("a deleted token on intake: %d, want 401", status)
	}
}

func TestPostEvents(t *testing.T) {
	a := newAPITest(t, Options{})
	_, token := a.newToken("sender")

	// One bad event refuses the batch, naming every problem.
	resp, m := a.do("POST", "/api/v1/events", token, `[
		{"source": "aliyun.ecs", "type": "StateChange", "resource": "i-1"},
		{"type": "StateChange", "resource": "i-2", "level": "loud"}
	]`)
	code, field, _ := errorOf(m)
	if resp.StatusCode != 400 || code != "invalid-event" || field != "[1].source" || len(m["errors"].([]any)) != 2 {
		t.Errorf("a batch with a bad event: %d %v, want 400 invalid-event at [1].source and 2 problems", resp.StatusCode, m)
	}
	if items, _, _ := a.store.ListEvents(t.Context(), store.EventFilter{}); len(items) != 0 || len(a.received) != 0 {
		t.Errorf("a refused batch stored %d events and told of %v", len(items), a.received)
	}

	resp, first := a.do("POST", "/api/v1/events", token, `[
		{"id": "evt-1", "source": "aliyun.ecs", "type": "StateChange", "resource": "i-1"},
		{"source": "aliyun.ecs", "type": "StateChange", "resource": "i-2"}
	]`)
	ids, _ := first["ids"].([]any)
	if resp.StatusCode != 200 || first["accepted"] != 2.0 || first["duplicates"] != 0.0 || len(ids) != 2 {
		t.Fatalf("a good batch: %d %v", resp.StatusCode, first)
	}
	if diff := cmp.Diff([][]string{{ids[0].(string), ids[1].(string)}}, a.received); diff != "" {
		t.Errorf("EventsReceived calls (-want +got):\n%s", diff)
	}

	// A retry stores nothing twice, and tells of the new event alone.
	_, retry := a.do("POST", "/api/v1/events", token, `[
		{"id": "evt-1", "source": "aliyun.ecs", "type": "StateChange", "resource": "i-1"},
		{"id": "evt-2", "source": "aliyun.ecs", "type": "StateChange", "resource": "i-3"}
	]`)
	rids, _ := retry["ids"].([]any)
	if retry["accepted"] != 2.0 || retry["duplicates"] != 1.0 || len(rids) != 2 || rids[0] != ids[0] {
		t.Errorf("a retried batch: %v, want 2 accepted, 1 duplicate with the first id %v", retry, ids[0])
	}
	if len(a.received) != 2 || len(a.received[1]) != 1 || a.received[1][0] != rids[1] {
		t.Errorf("EventsReceived calls %v, want a second with %v alone", a.received, rids[1])
	}
	// Nothing new: EventsReceived is not called.
	a.do("POST", "/api/v1/events", token, `{"id": "evt-2", "source": "aliyun.ecs", "type": "StateChange", "resource": "i-3"}`)
	if len(a.received) != 2 {
		t.Errorf("a batch of duplicates called EventsReceived: %v", a.received)
	}
	// An empty batch is fine, and tells of nothing.
	if resp, m := a.do("POST", "/api/v1/events", token, `[]`); resp.StatusCode != 200 || m["accepted"] != 0.0 || len(a.received) != 2 {
		t.Errorf("an empty batch: %d %v", resp.StatusCode, m)
	}
}

func TestPostEventsBodyCap(t *testing.T) {
	a := newAPITest(t, Options{MaxBodyBytes: 100})
	resp, m := a.do("POST", "/api/v1/events", adminToken, `{"source": "s", "type": "t", "resource": "`+strings.Repeat("r", 100)+`"}`)
	if code, _, _ := errorOf(m); resp.StatusCode != 413 || code != "body-too-large" {
		t.Errorf("a body over the cap: %d %v, want 413", resp.StatusCode, m)
	}
}

func TestListAndGetEvents(t *testing.T) {
	a := newAPITest(t, Options{})
	resp, posted := a.do("POST", "/api/v1/events", adminToken, `[
		{"id": "e1", "source": "aliyun.ecs", "type": "StateChange", "level": "warn", "resource": "i-1", "region": "cn-hangzhou",
		 "time": "2026-11-21T16:00:00+08:00", "content": {"state": "Stopping"}, "labels": {"team": "sre"}},
		{"source": "aliyun.ecs", "type": "StateChange", "level": "critical", "resource": "i-2", "time": "2026-11-21T09:00:00Z"},
		{"source": "aliyun.rds", "type": "Failover", "resource": "rm-1", "time": "2026-11-21T10:00:00Z", "content": "primary lost"}
	]`)
	if resp.StatusCode != 200 {
		t.Fatalf("post: %d %v", resp.StatusCode, posted)
	}
	ids := posted["ids"].([]any)

	_, got := a.do("GET", "/api/v1/events/"+ids[0].(string), adminToken, "")
	want := map[string]any{
		"id": ids[0], "external_id": "e1", "source": "aliyun.ecs", "type": "StateChange", "level": "warning",
		"resource": "i-1", "region": "cn-hangzhou", "time": "2026-11-21T08:00:00Z", "received_at": "2026-11-21T09:00:00Z",
		"content": map[string]any{"state": "Stopping"}, "labels": map[string]any{"team": "sre"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GET an event (-want +got):\n%s", diff)
	}
	_, got = a.do("GET", "/api/v1/events/"+ids[1].(string), adminToken, "")
	if got["content"] != nil || got["external_id"] != "" || len(got["labels"].(map[string]any)) != 0 {
		t.Errorf("an event without content, id and labels: %v", got)
	}
	resp, m := a.do("GET", "/api/v1/events/06bq8s7q3r4s5t6v7w8x9y0z1a", adminToken, "")
	if _, _, msg := errorOf(m); resp.StatusCode != 404 || !strings.Contains(msg, "06bq8s7q3r4s5t6v7w8x9y0z1a") {
		t.Errorf("an unknown event: %d %v", resp.StatusCode, m)
	}

	for _, tt := range []struct {
		query string
		want  []any
	}{
		{"", []any{ids[2], ids[1], ids[0]}},
		{"?source=aliyun.ecs", []any{ids[1], ids[0]}},
		{"?type=Failover", []any{ids[2]}},
		{"?level=WARN", []any{ids[0]}},
		{"?level=P1", []any{ids[1]}},
		{"?resource=rm-1", []any{ids[2]}},
		{"?q=+STOPPING+", []any{ids[0]}},
		{"?q=team%3Dsre", []any{ids[0]}},
		{"?since=2026-11-21T17:00:00%2B08:00", []any{ids[2], ids[1]}},
		{"?since=2026-11-21T17:00:00+08:00", []any{ids[2], ids[1]}}, // the + unescaped, as people type it
		{"?until=2026-11-21T10:00:00Z", []any{ids[1], ids[0]}},
		{"?since=2026-11-21T08:00:00Z&until=2026-11-21T09:00:00.001Z&source=aliyun.ecs", []any{ids[1], ids[0]}},
	} {
		_, m := a.do("GET", "/api/v1/events"+tt.query, adminToken, "")
		var got []any
		for _, e := range m["items"].([]any) {
			got = append(got, e.(map[string]any)["id"])
		}
		if diff := cmp.Diff(tt.want, got); diff != "" || m["next"] != "" {
			t.Errorf("GET /api/v1/events%s: next %q, ids (-want +got):\n%s", tt.query, m["next"], diff)
		}
	}

	// Pages, newest first.
	_, page := a.do("GET", "/api/v1/events?limit=2", adminToken, "")
	next, _ := page["next"].(string)
	if len(page["items"].([]any)) != 2 || next != ids[1] {
		t.Fatalf("first page of 2: %v, want next %v", page, ids[1])
	}
	_, page = a.do("GET", "/api/v1/events?limit=2&cursor="+next, adminToken, "")
	if items := page["items"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != ids[0] || page["next"] != "" {
		t.Errorf("second page: %v, want the oldest event and no next page", page)
	}

	for _, tt := range []struct{ query, code, field string }{
		{"?level=loud", "invalid-level", "level"},
		{"?since=yesterday", "invalid-time", "since"},
		{"?until=2026-13-01T00:00:00Z", "invalid-time", "until"},
		{"?since=2026-11-21T10:00:00Z&until=2026-11-21T10:00:00Z", "invalid-range", "until"},
		{"?limit=0", "invalid-limit", "limit"},
	} {
		resp, m := a.do("GET", "/api/v1/events"+tt.query, adminToken, "")
		if code, field, _ := errorOf(m); resp.StatusCode != 400 || code != tt.code || field != tt.field {
			t.Errorf("GET /api/v1/events%s: %d %v, want 400 %s at %s", tt.query, resp.StatusCode, m, tt.code, tt.field)
		}
	}
}
