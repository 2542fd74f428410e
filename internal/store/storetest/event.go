package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/intake"
	"github.com/tocsinhq/tocsin/internal/store"
)

// decodeEvents returns the events of a POST /api/v1/events body, decoded
// the way the API decodes them, arriving at now.
func decodeEvents(tb testing.TB, body string, now time.Time) []intake.Event {
	tb.Helper()
	evs, err := intake.DecodeEvents([]byte(body), now)
	if err != nil {
		tb.Fatalf("decode events: %v", err)
	}
	return evs
}

// newEvent returns a valid event with the fields that tell events apart.
func newEvent(source, typ, resource string, level alert.Severity, when time.Time) intake.Event {
	return intake.Event{Source: source, Type: typ, Resource: resource, Level: level, Time: when.UTC()}
}

func mustInsertEvents(t *testing.T, s store.Store, evs []intake.Event, now time.Time) []store.InsertedEvent {
	t.Helper()
	res, err := s.InsertEvents(t.Context(), evs, now)
	if err != nil {
		t.Fatalf("InsertEvents: %v", err)
	}
	if len(res) != len(evs) {
		t.Fatalf("InsertEvents of %d events returned %d results", len(evs), len(res))
	}
	return res
}

func mustGetEvent(t *testing.T, s store.Store, id string) *store.Event {
	t.Helper()
	e, err := s.GetEvent(t.Context(), id)
	if err != nil {
		t.Fatalf("GetEvent %s: %v", id, err)
	}
	return e
}

// listAllEvents returns the ids of every event f selects, following
// cursors.
func listAllEvents(t *testing.T, s store.Store, f store.EventFilter) []string {
	t.Helper()
	var all []string
	for page := 0; ; page++ {
		if page > store.MaxLimit {
			t.Fatalf("list events %+v: no last page after %d pages", f, page)
		}
		items, next, err := s.ListEvents(t.Context(), f)
		if err != nil {
			t.Fatalf("ListEvents %+v: %v", f, err)
		}
		for _, e := range items {
			all = append(all, e.ID)
		}
		if next == "" {
			return all
		}
		f.Cursor = next
	}
}

// eventOpts compare events as a store keeps them: times to the
// millisecond regardless of zone, no labels as empty labels.
var eventOpts = cmp.Options{channelOpts, cmpopts.EquateEmpty()}

func testEventInsertAndGet(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	const body = `[
	  {"id": "5f1c3a2e", "source": "aliyun.ecs", "type": "Instance:StateChange", "level": "WARN",
	   "resource": "i-bp67acfmxazb4p", "region": "cn-hangzhou", "time": "2026-11-21T16:52:03.123456+08:00",
	   "content": {"instanceId": "i-bp67acfmxazb4p", "currentState": "Stopping", "n": 3},
	   "labels": {"env": "prod", "team": "sre"}},
	  {"source": "tencentcloud.cvm", "type": "DiskReplaced", "resource": "disk-8x1kq2mz",
	   "time": 1795251000123, "content": "磁盘已更换"},
	  {"source": "self-hosted.ups", "type": "PowerLoss", "level": "critical", "resource": "ups-rack-3"}
	]`
	evs := decodeEvents(t, body, at(-5000))
	res := mustInsertEvents(t, s, evs, t0)
	for i, r := range res {
		if !r.New || len(r.ID) != 26 {
			t.Errorf("event %d: inserted as %+v, want New with a 26-character id", i, r)
		}
		if i > 0 && r.ID <= res[i-1].ID {
			t.Errorf("event %d has id %s, not after the previous one's %s: ids must follow the order given", i, r.ID, res[i-1].ID)
		}
	}
	for i, r := range res {
		want := &store.Event{
			ID: r.ID, ExternalID: evs[i].ID, Source: evs[i].Source, Type: evs[i].Type, Level: evs[i].Level,
			Resource: evs[i].Resource, Region: evs[i].Region, Time: evs[i].Time, ReceivedAt: t0,
			Content: evs[i].Content, Labels: evs[i].Labels,
		}
		if diff := cmp.Diff(want, mustGetEvent(t, s, r.ID), eventOpts); diff != "" {
			t.Errorf("GetEvent of event %d differs from what was inserted (-want +got):\n%s", i, diff)
		}
	}
	// What cmp's options forgive, checked on its own: content byte for
	// byte, no content as nil, times in UTC to the millisecond.
	first, third := mustGetEvent(t, s, res[0].ID), mustGetEvent(t, s, res[2].ID)
	if string(first.Content) != `{"instanceId":"i-bp67acfmxazb4p","currentState":"Stopping","n":3}` {
		t.Errorf("content came back as %s, want the compact JSON as sent, keys in their order", first.Content)
	}
	if third.Content != nil {
		t.Errorf("an event without content came back with content %q", third.Content)
	}
	wantTime := time.Date(2026, 11, 21, 8, 52, 3, 123_000_000, time.UTC)
	if first.Time != wantTime || first.ReceivedAt.Location() != time.UTC || first.ReceivedAt.Nanosecond()%1e6 != 0 {
		t.Errorf("times came back as %v and %v, want %v and the receiving time in UTC to the millisecond", first.Time, first.ReceivedAt, wantTime)
	}
	if second := mustGetEvent(t, s, res[1].ID); second.Level != alert.Info {
		t.Errorf("an event sent without a level came back with %q, want info", second.Level)
	}
	if third.Time != store.StoredTime(at(-5000)) {
		t.Errorf("an event sent without a time came back with %v, want the decoding time %v", third.Time, store.StoredTime(at(-5000)))
	}

	_, err := s.GetEvent(t.Context(), new(store.IDs).New(t0))
	wantErr(t, "GetEvent of an unknown id", err, store.ErrNotFound)
	if res := mustInsertEvents(t, s, nil, at(1)); len(res) != 0 {
		t.Errorf("InsertEvents of no events returned %v", res)
	}
}

// testEventDuplicates: an event whose source and sender's id were stored
// already is not stored again, whether it comes in a later call or twice
// in one batch; without a sender's id, or from another source, it is a new
// event.
func testEventDuplicates(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	withID := func(e intake.Event, id string) intake.Event { e.ID = id; return e }
	a := withID(newEvent("aliyun.ecs", "Instance:StateChange", "i-1", alert.Warning, t0), "evt-1")
	first := mustInsertEvents(t, s, []intake.Event{a}, at(0))

	retry := a
	retry.Type = "Changed:Meanwhile" // the first one stored is kept
	otherSource := withID(newEvent("tencentcloud.cvm", "X", "r", alert.Info, t0), "evt-1")
	noID := newEvent("aliyun.ecs", "Instance:StateChange", "i-1", alert.Warning, t0)
	fresh := withID(newEvent("aliyun.ecs", "Y", "i-2", alert.Info, t0), "evt-2")
	res := mustInsertEvents(t, s, []intake.Event{retry, otherSource, noID, noID, fresh, fresh}, at(1))

	if res[0].New || res[0].ID != first[0].ID {
		t.Errorf("a retried event: %+v, want not new with the first one's id %s", res[0], first[0].ID)
	}
	for _, i := range []int{1, 2, 3, 4} {
		if !res[i].New {
			t.Errorf("event %d of the batch was taken for a duplicate: %+v", i, res[i])
		}
	}
	if res[5].New || res[5].ID != res[4].ID {
		t.Errorf("an event repeated in its batch: %+v, want not new with the id %s of its first copy", res[5], res[4].ID)
	}
	if got := mustGetEvent(t, s, first[0].ID); got.Type != a.Type {
		t.Errorf("a duplicate changed the stored event's type to %q", got.Type)
	}
	want := []string{res[4].ID, res[3].ID, res[2].ID, res[1].ID, first[0].ID}
	if diff := cmp.Diff(want, listAllEvents(t, s, store.EventFilter{})); diff != "" {
		t.Errorf("stored events, newest first (-want +got):\n%s", diff)
	}
}

// testEventInsertAllOrNothing: a batch one event of which cannot be
// stored leaves nothing behind.
func testEventInsertAllOrNothing(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	good := newEvent("a", "b", "c", alert.Info, t0)
	bad := good
	bad.Content = json.RawMessage(`{"cut off":`) // the decoder never makes this; the database refuses it
	if _, err := s.InsertEvents(t.Context(), []intake.Event{good, good, bad}, t0); err == nil {
		t.Fatal("InsertEvents with content that is not JSON succeeded")
	}
	if got := listAllEvents(t, s, store.EventFilter{}); len(got) != 0 {
		t.Errorf("a refused batch left %d events behind", len(got))
	}
}

func testEventListFilters(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	// A Python sender writes non-ASCII as \u escapes; the search finds
	// the text all the same.
	const body = `[
	  {"source": "aliyun.ecs", "type": "Instance:StateChange", "level": "warning", "resource": "i-1",
	   "region": "cn-hangzhou", "time": "2026-11-21T09:00:00Z", "content": {"state": "Stopping", "reason": "\u78c1\u76d8\u6545\u969c"},
	   "labels": {"team": "SRE"}},
	  {"source": "aliyun.ecs", "type": "Instance:StateChange", "level": "critical", "resource": "i-2",
	   "time": "2026-11-21T10:00:00Z", "content": "Host DOWN after 100% CPU, ÜBERLAST"},
	  {"source": "aliyun.rds", "type": "Failover", "level": "critical", "resource": "rm-1",
	   "time": "2026-11-21T11:00:00Z", "content": {"from_node": "a", "to_node": "b", "ok": true, "nodes": 10}, "labels": {"pos": "rack-3"}},
	  {"source": "self-hosted.ups", "type": "PowerLoss", "level": "info", "resource": "i-1",
	   "region": "rack_3", "time": "2026-11-21T11:59:59.999Z"}
	]`
	res := mustInsertEvents(t, s, decodeEvents(t, body, t0), t0)
	id := func(is ...int) []string {
		var out []string
		for _, i := range slices.Backward(is) { // newest first
			out = append(out, res[i].ID)
		}
		return out
	}
	nine := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		f    store.EventFilter
		want []string
	}{
		{"all", store.EventFilter{}, id(0, 1, 2, 3)},
		{"source", store.EventFilter{Source: "aliyun.ecs"}, id(0, 1)},
		{"source is exact", store.EventFilter{Source: "aliyun"}, nil},
		{"type", store.EventFilter{Type: "Failover"}, id(2)},
		{"level", store.EventFilter{Level: alert.Critical}, id(1, 2)},
		{"resource", store.EventFilter{Resource: "i-1"}, id(0, 3)},
		{"since is inclusive", store.EventFilter{Since: nine.Add(time.Hour)}, id(1, 2, 3)},
		{"until is exclusive", store.EventFilter{Until: nine.Add(2 * time.Hour)}, id(0, 1)},
		{"to the millisecond", store.EventFilter{Since: nine.Add(3*time.Hour - time.Millisecond)}, id(3)},
		{"bounds cut to the millisecond", store.EventFilter{Since: nine.Add(3*time.Hour - 500*time.Microsecond)}, id(3)},
		{"a time range in another zone", store.EventFilter{Since: nine.In(time.FixedZone("CST", 8*3600)), Until: nine.Add(time.Hour + time.Second)}, id(0, 1)},
		{"query in a content string, any case", store.EventFilter{Query: "host down"}, id(1)},
		{"query folds case beyond ASCII", store.EventFilter{Query: "überlast"}, id(1)},
		{"query in an escaped content value", store.EventFilter{Query: "磁盘故障"}, id(0)},
		{"query in a content key", store.EventFilter{Query: "to_node"}, id(2)},
		{"query in a content boolean", store.EventFilter{Query: "true"}, id(2)},
		{"query in a label", store.EventFilter{Query: "team=sre"}, id(0)},
		{"query in a resource", store.EventFilter{Query: "RM-"}, id(2)},
		{"query in a region", store.EventFilter{Query: "hangzhou"}, id(0)},
		{"query in a type", store.EventFilter{Query: "statechange"}, id(0, 1)},
		{"query % is no wildcard", store.EventFilter{Query: "0%"}, id(1)},
		{"query _ is no wildcard", store.EventFilter{Query: "k_3"}, id(3)},
		{"query does not span fields", store.EventFilter{Query: "stopping reason"}, nil},
		{"everything at once", store.EventFilter{Source: "aliyun.ecs", Type: "Instance:StateChange", Level: alert.Warning, Resource: "i-1", Since: nine, Until: nine.Add(time.Minute), Query: "stop"}, id(0)},
		{"one field off", store.EventFilter{Source: "aliyun.ecs", Level: alert.Info}, nil},
	} {
		if diff := cmp.Diff(tt.want, listAllEvents(t, s, tt.f), cmpEmpty); diff != "" {
			t.Errorf("%s: ListEvents %+v (-want +got):\n%s", tt.name, tt.f, diff)
		}
	}
}

func testEventListPages(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	var want []string // newest first
	for i := range 25 {
		// Alternate sources, and let event times run backwards, so the
		// order shown is arrival order, not event time.
		source := []string{"even", "odd"}[i%2]
		res := mustInsertEvents(t, s, []intake.Event{newEvent(source, "t", "r-"+ordinal(i), alert.Info, at(-i))}, at(i))
		want = append([]string{res[0].ID}, want...)
	}
	for _, limit := range []int{10, 5, 25, 24, 1, 0, store.MaxLimit + 1} {
		var got []string
		f := store.EventFilter{Limit: limit}
		for {
			items, next, err := s.ListEvents(t.Context(), f)
			if err != nil {
				t.Fatalf("ListEvents %+v: %v", f, err)
			}
			if n := store.PageLimit(limit); len(items) > n || (next != "" && len(items) != n) {
				t.Errorf("limit %d: a page of %d items with next %q", limit, len(items), next)
			}
			for _, e := range items {
				got = append(got, e.ID)
			}
			if next == "" {
				break
			}
			f.Cursor = next
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("limit %d: ids over all pages, want every event once, newest first (-want +got):\n%s", limit, diff)
		}
	}
	var odd []string
	for i, id := range want {
		if i%2 == 0 { // want[0] is event 24, from "even"
			continue
		}
		odd = append(odd, id)
	}
	if diff := cmp.Diff(odd, listAllEvents(t, s, store.EventFilter{Source: "odd", Limit: 4})); diff != "" {
		t.Errorf("pages of one source, 4 a page (-want +got):\n%s", diff)
	}
	items, next, err := s.ListEvents(t.Context(), store.EventFilter{Source: "odd", Limit: 12})
	if err != nil || len(items) != 12 || next != "" {
		t.Errorf("the only page of 12 events of one source: %d items, next %q, error %v; want 12 and no next page", len(items), next, err)
	}
}

// testConcurrentEventInserts posts the same batch from several goroutines
// at once, as a sender's retries racing its first attempt do: each event
// is stored once, and every call answers with its id.
func testConcurrentEventInserts(t *testing.T, h Harness) {
	const workers, each = 6, 10
	s := open(t, h, NewBox(t))
	var batch []intake.Event
	for i := range each {
		e := newEvent("racing", "t", "r", alert.Info, t0)
		e.ID = fmt.Sprintf("evt-%d", i)
		batch = append(batch, e)
	}
	results := make([][]store.InsertedEvent, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			res, err := s.InsertEvents(t.Context(), batch, at(w))
			if err != nil {
				t.Errorf("worker %d: InsertEvents: %v", w, err)
			}
			results[w] = res
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	stored := listAllEvents(t, s, store.EventFilter{})
	if len(stored) != each {
		t.Fatalf("%d workers inserting the same %d events stored %d", workers, each, len(stored))
	}
	for i := range each {
		news := 0
		for w := range workers {
			if results[w][i].ID != results[0][i].ID {
				t.Errorf("event %d: worker %d got id %s, worker 0 got %s", i, w, results[w][i].ID, results[0][i].ID)
			}
			if results[w][i].New {
				news++
			}
		}
		if news != 1 {
			t.Errorf("event %d was new to %d workers, want exactly 1", i, news)
		}
	}
}
