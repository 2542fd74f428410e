package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/route"
	"github.com/tocsinhq/tocsin/internal/store"
)

// pt0 is the pipeline tests' clock, in whole milliseconds as the store keeps times.
var pt0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

const resolveTimeout = 5 * time.Minute

// incoming is a firing alert named name with instance inst, in one group of
// policy "p1" by alertname, first checked 30s after pt0.
func incoming(name, inst string, groups bool) store.IncomingAlert {
	a := alert.Alert{
		Labels:      alert.FromMap(map[string]string{"alertname": name, "instance": inst, "severity": "critical"}),
		Annotations: alert.FromMap(map[string]string{"summary": "CPU \"hot\" on " + inst + " 温度"}),
		StartsAt:    pt0.Add(-time.Minute),
		Source:      "alertmanager",
		Severity:    alert.Critical,
	}
	a.Fingerprint = a.Labels.Fingerprint()
	in := store.IncomingAlert{Alert: a}
	if groups {
		gl := alert.FromMap(map[string]string{"alertname": name})
		in.Groups = []store.GroupRef{{Key: "p1:" + gl.String(), PolicyID: "p1", Labels: gl,
			Start: route.GroupState{FirstSeen: pt0, NextCheck: pt0.Add(30 * time.Second)}}}
	}
	return in
}

func testIngestLifecycle(t *testing.T, h Harness) {
	ctx := context.Background()
	s := open(t, h, NewBox(t))
	a, b := incoming("HighCPU", "n1", true), incoming("HighCPU", "n2", true)
	res, err := s.IngestAlerts(ctx, []store.IncomingAlert{a, b}, pt0, resolveTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if res.New != 2 || len(res.NewGroups) != 1 || !res.NewGroups[0].At.Equal(pt0.Add(30*time.Second)) {
		t.Fatalf("first batch: %+v", res)
	}
	for i, c := range res.Changes {
		if c.Index != i || c.Alert.Fingerprint != []store.IncomingAlert{a, b}[i].Alert.Fingerprint || c.Kind != store.EventFired {
			t.Errorf("change %d: %s of %s at index %d", i, c.Kind, c.Alert.Fingerprint, c.Index)
		}
	}
	got, err := s.GetAlert(ctx, a.Alert.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	want := store.StoredAlert{Alert: a.Alert, State: alert.Open, StateAt: pt0, ReceivedAt: pt0, UpdatedAt: pt0}
	want.EndsAt = pt0.Add(resolveTimeout)
	if diff := cmp.Diff(want, *got); diff != "" {
		t.Errorf("stored alert (-want +got):\n%s", diff)
	}

	// A resend refreshes; it makes no new group and no event.
	t1 := pt0.Add(time.Minute)
	res, err = s.IngestAlerts(ctx, []store.IncomingAlert{a}, t1, resolveTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if res.Refreshed != 1 || len(res.NewGroups) != 0 || len(res.Changes) != 0 {
		t.Fatalf("resend: %+v", res)
	}
	got, _ = s.GetAlert(ctx, a.Alert.Fingerprint)
	if !got.EndsAt.Equal(t1.Add(resolveTimeout)) || !got.ReceivedAt.Equal(pt0) || !got.StartsAt.Equal(a.Alert.StartsAt) {
		t.Errorf("refreshed alert: ends %v received %v starts %v", got.EndsAt, got.ReceivedAt, got.StartsAt)
	}

	// A resolve.
	r := a
	r.Alert.EndsAt = t1
	res, err = s.IngestAlerts(ctx, []store.IncomingAlert{r}, t1.Add(time.Second), resolveTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if res.Resolved != 1 || len(res.Changes) != 1 || res.Changes[0].Kind != store.EventResolved {
		t.Fatalf("resolve: %+v", res)
	}
	// Cleared, then it fires again: open anew.
	if _, err := s.SetAlertState(ctx, a.Alert.Fingerprint, alert.Cleared, "alice", "fixed", t1.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	t2 := t1.Add(time.Hour)
	again := a
	again.Alert.StartsAt = t2
	res, err = s.IngestAlerts(ctx, []store.IncomingAlert{again}, t2, resolveTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if res.Refired != 1 {
		t.Fatalf("fire again: %+v", res)
	}
	got, _ = s.GetAlert(ctx, a.Alert.Fingerprint)
	if got.State != alert.Open || !got.StartsAt.Equal(t2) {
		t.Errorf("after firing again: state %s starts %v", got.State, got.StartsAt)
	}
	tl, err := s.Timeline(ctx, a.Alert.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range tl {
		kinds = append(kinds, e.Kind)
	}
	if diff := cmp.Diff([]string{store.EventFired, store.EventResolved, store.EventState, store.EventRefired}, kinds); diff != "" {
		t.Errorf("timeline kinds (-want +got):\n%s", diff)
	}
	if _, err := s.GetAlert(ctx, 12345); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing alert: %v", err)
	}
	if _, err := s.SetAlertState(ctx, 12345, alert.Claimed, "bob", "", t2); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("state of missing alert: %v", err)
	}
}

func testListAlerts(t *testing.T, h Harness) {
	ctx := context.Background()
	s := open(t, h, NewBox(t))
	for i := range 25 {
		in := incoming(fmt.Sprintf("Alert%02d", i%5), fmt.Sprintf("host-%02d", i), false)
		if i%2 == 1 {
			in.Alert.EndsAt = pt0
		}
		if _, err := s.IngestAlerts(ctx, []store.IncomingAlert{in}, pt0.Add(time.Duration(i)*time.Second), resolveTimeout); err != nil {
			t.Fatal(err)
		}
	}
	now := pt0.Add(time.Minute)
	var seen []string
	cursor := ""
	for {
		items, next, err := s.ListAlerts(ctx, store.AlertFilter{Status: alert.Firing, Now: now, Limit: 5, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range items {
			seen = append(seen, a.Labels.Get("instance"))
		}
		if next == "" {
			break
		}
		cursor = next
	}
	var want []string
	for i := 24; i >= 0; i -= 2 {
		want = append(want, fmt.Sprintf("host-%02d", i))
	}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("firing alerts newest first (-want +got):\n%s", diff)
	}
	items, _, err := s.ListAlerts(ctx, store.AlertFilter{Query: "ALERT03", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 5 {
		t.Errorf("query matched %d alerts, want 5", len(items))
	}
	n := 0
	if err := s.EachActiveAlert(ctx, now, func(*store.StoredAlert) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 13 {
		t.Errorf("active alerts: %d, want 13", n)
	}
	if _, _, err := s.ListAlerts(ctx, store.AlertFilter{Cursor: "nonsense"}); !errors.Is(err, store.ErrInvalidCursor) {
		t.Errorf("bad cursor: %v", err)
	}
}

func testFlushGroup(t *testing.T, h Harness) {
	ctx := context.Background()
	s := open(t, h, NewBox(t))
	a, b := incoming("Disk", "n1", true), incoming("Disk", "n2", true)
	if _, err := s.IngestAlerts(ctx, []store.IncomingAlert{a, b}, pt0, resolveTimeout); err != nil {
		t.Fatal(err)
	}
	key := a.Groups[0].Key
	due, next, err := s.NextGroupCheck(ctx, pt0, 10)
	if err != nil || len(due) != 0 || !next.Equal(pt0.Add(30*time.Second)) {
		t.Fatalf("before group_wait: due %v next %v err %v", due, next, err)
	}
	now := pt0.Add(30 * time.Second)
	due, _, err = s.NextGroupCheck(ctx, now, 10)
	if err != nil || len(due) != 1 || due[0] != key {
		t.Fatalf("at group_wait: due %v err %v", due, err)
	}

	// A failing plan changes nothing.
	boom := errors.New("boom")
	err = s.FlushGroup(ctx, key, now, func(*store.StoredGroup, []*store.StoredAlert) (store.GroupPlan, error) {
		return store.GroupPlan{Deliveries: []*store.Delivery{{ChannelID: "c1", Kind: store.KindGroup}}}, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("failing plan: %v", err)
	}
	if qs, _ := s.QueueStats(ctx); len(qs) != 0 {
		t.Fatalf("a failed flush left deliveries: %+v", qs)
	}

	var delivery *store.Delivery
	err = s.FlushGroup(ctx, key, now, func(g *store.StoredGroup, members []*store.StoredAlert) (store.GroupPlan, error) {
		if g.PolicyID != "p1" || g.Labels.Get("alertname") != "Disk" || !g.State.NextCheck.Equal(now) {
			t.Errorf("group: %+v", g)
		}
		if len(members) != 2 {
			t.Fatalf("members: %d", len(members))
		}
		next := g.State
		next.NextCheck, next.LastNotified = now.Add(time.Minute), now
		delivery = &store.Delivery{ChannelID: "c1", Kind: store.KindGroup, GroupKey: g.Key, PolicyID: g.PolicyID,
			Content: json.RawMessage(`{"x":1}`), Alerts: []alert.Fingerprint{members[0].Fingerprint, members[1].Fingerprint}}
		return store.GroupPlan{State: next, Forget: []alert.Fingerprint{b.Alert.Fingerprint}, Deliveries: []*store.Delivery{delivery},
			Events: []store.AlertEvent{{Fingerprint: a.Alert.Fingerprint, Kind: store.EventMuted, Detail: "why not"}}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if delivery.ID == "" {
		t.Fatal("the delivery got no id")
	}
	err = s.FlushGroup(ctx, key, now.Add(time.Minute), func(g *store.StoredGroup, members []*store.StoredAlert) (store.GroupPlan, error) {
		if len(members) != 1 || members[0].Fingerprint != a.Alert.Fingerprint {
			t.Errorf("after forgetting one member: %d members", len(members))
		}
		if !g.State.LastNotified.Equal(now) {
			t.Errorf("stored state: %+v", g.State)
		}
		return store.GroupPlan{Drop: true}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if due, next, _ := s.NextGroupCheck(ctx, now.Add(time.Hour), 10); len(due) != 0 || !next.IsZero() {
		t.Errorf("dropped group still there: %v %v", due, next)
	}
	called := false
	if err := s.FlushGroup(ctx, key, now, func(*store.StoredGroup, []*store.StoredAlert) (store.GroupPlan, error) {
		called = true
		return store.GroupPlan{}, nil
	}); err != nil || called {
		t.Errorf("flushing a gone group: err %v, plan called %v", err, called)
	}
	// The dropped group starts anew on the next firing alert.
	res, err := s.IngestAlerts(ctx, []store.IncomingAlert{a}, now.Add(2*time.Minute), resolveTimeout)
	if err != nil || len(res.NewGroups) != 1 {
		t.Errorf("group after drop: %+v %v", res, err)
	}
	d, err := s.GetDelivery(ctx, delivery.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != store.DeliveryQueued || d.AlertCount != 2 || len(d.Alerts) != 2 || string(d.Content) != `{"x":1}` {
		t.Errorf("delivery: %+v", d)
	}
	tl, _ := s.Timeline(ctx, a.Alert.Fingerprint)
	var notified, muted bool
	for _, e := range tl {
		notified = notified || (e.Kind == store.EventNotified && e.Delivery != nil && e.Delivery.ID == delivery.ID)
		muted = muted || e.Kind == store.EventMuted
	}
	if !notified || !muted {
		t.Errorf("timeline lacks the delivery or the event: %+v", tl)
	}

	// A check between two milliseconds is not due before it, and due at
	// the later one.
	sub := incoming("Cpu", "n1", true)
	sub.Groups[0].Start.NextCheck = now.Add(3*time.Hour + 300*time.Microsecond)
	if _, err := s.IngestAlerts(ctx, []store.IncomingAlert{sub}, pt0, resolveTimeout); err != nil {
		t.Fatal(err)
	}
	if due, _, err := s.NextGroupCheck(ctx, now.Add(3*time.Hour+100*time.Microsecond), 10); err != nil || slices.Contains(due, sub.Groups[0].Key) {
		t.Errorf("a group checked at %v is due at %v: %v %v", sub.Groups[0].Start.NextCheck, now.Add(3*time.Hour+100*time.Microsecond), due, err)
	}
	if due, _, err := s.NextGroupCheck(ctx, now.Add(3*time.Hour+time.Millisecond), 10); err != nil || !slices.Contains(due, sub.Groups[0].Key) {
		t.Errorf("a group checked at %v is not due a millisecond later: %v %v", sub.Groups[0].Start.NextCheck, due, err)
	}
}

func testOutbox(t *testing.T, h Harness) {
	ctx := context.Background()
	s := open(t, h, NewBox(t))
	var ds []*store.Delivery
	for i := range 3 {
		ds = append(ds, &store.Delivery{ChannelID: "c1", Kind: store.KindRelay, Content: json.RawMessage(`{}`),
			Alerts: []alert.Fingerprint{alert.Fingerprint(i + 1)}, CreatedAt: pt0.Add(time.Duration(i) * time.Second)})
	}
	ds = append(ds, &store.Delivery{ChannelID: "c2", Kind: store.KindRelay, CreatedAt: pt0})
	if err := s.EnqueueDeliveries(ctx, ds, pt0); err != nil {
		t.Fatal(err)
	}
	chans, err := s.QueuedChannels(ctx)
	if err != nil || len(chans) != 2 {
		t.Fatalf("queued channels %v %v", chans, err)
	}
	due, next, err := s.DueDeliveries(ctx, "c1", pt0.Add(time.Second), 10)
	if err != nil || len(due) != 2 || due[0].ID != ds[0].ID || !next.Equal(pt0.Add(2*time.Second)) {
		t.Fatalf("due: %d next %v err %v", len(due), next, err)
	}
	// Merge the three into a digest.
	digest := &store.Delivery{ChannelID: "c1", Kind: store.KindDigest, Alerts: []alert.Fingerprint{1, 2, 3}}
	if err := s.MergeDeliveries(ctx, digest, []string{ds[0].ID, ds[1].ID, ds[2].ID}, pt0.Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	due, _, _ = s.DueDeliveries(ctx, "c1", pt0.Add(3*time.Second), 10)
	if len(due) != 1 || due[0].ID != digest.ID {
		t.Fatalf("after merging, due: %+v", due)
	}
	n, err := s.StartSend(ctx, digest.ID, pt0.Add(4*time.Second))
	if err != nil || n != 1 {
		t.Fatalf("start: %d %v", n, err)
	}
	retryAt := pt0.Add(time.Minute)
	if err := s.FinishSend(ctx, digest.ID, store.SendOutcome{Attempt: 1, At: pt0.Add(5 * time.Second), Status: store.DeliveryQueued,
		NextAttemptAt: retryAt, Result: "retry", PartsSent: 1, Code: "system-busy", PlatformCode: -1, Message: "busy", PartsThisAttempt: 1,
		Content: json.RawMessage(`{"reached":["user:a"]}`)}); err != nil {
		t.Fatal(err)
	}
	if due, next, _ := s.DueDeliveries(ctx, "c1", pt0.Add(10*time.Second), 10); len(due) != 0 || !next.Equal(retryAt) {
		t.Fatalf("retry not scheduled: %d %v", len(due), next)
	}
	n, _ = s.StartSend(ctx, digest.ID, retryAt)
	if err := s.FinishSend(ctx, digest.ID, store.SendOutcome{Attempt: n, At: retryAt, Status: store.DeliverySent, Result: "sent", PartsSent: 2, PartsThisAttempt: 1, Notes: []string{"n"}}); err != nil {
		t.Fatal(err)
	}
	d, err := s.GetDelivery(ctx, digest.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != store.DeliverySent || d.Attempts != 2 || d.PartsSent != 2 || !d.SentAt.Equal(retryAt) || len(d.AttemptLog) != 2 ||
		d.AttemptLog[0].Code != "system-busy" || d.AttemptLog[0].PlatformCode != -1 || len(d.Notes) != 1 {
		t.Errorf("sent digest: %+v", d)
	}
	// The content the retry recorded is kept; an outcome without one
	// leaves it.
	if string(d.Content) != `{"reached":["user:a"]}` {
		t.Errorf("content after the retry recorded some: %s", d.Content)
	}
	merged, _ := s.GetDelivery(ctx, ds[1].ID)
	if merged.Status != store.DeliveryMerged || merged.DigestID != digest.ID {
		t.Errorf("merged delivery: %+v", merged)
	}
	items, next2, err := s.ListDeliveries(ctx, store.DeliveryFilter{ChannelID: "c1", Limit: 2})
	if err != nil || len(items) != 2 || items[0].ID != digest.ID || next2 == "" {
		t.Fatalf("list: %d %q %v", len(items), next2, err)
	}
	items, _, _ = s.ListDeliveries(ctx, store.DeliveryFilter{Alert: 2})
	if len(items) != 2 {
		t.Errorf("deliveries carrying alert 2: %d, want the original and the digest", len(items))
	}
	items, _, _ = s.ListDeliveries(ctx, store.DeliveryFilter{Status: store.DeliveryMerged})
	if len(items) != 3 {
		t.Errorf("merged deliveries: %d", len(items))
	}
	qs, err := s.QueueStats(ctx)
	if err != nil || len(qs) != 1 || qs[0].ChannelID != "c2" || qs[0].Depth != 1 || !qs[0].Oldest.Equal(pt0) {
		t.Errorf("queue stats: %+v %v", qs, err)
	}
	if _, err := s.GetDelivery(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing delivery: %v", err)
	}
}

func testBudget(t *testing.T, h Harness) {
	ctx := context.Background()
	s := open(t, h, NewBox(t))
	for i := range 3 {
		ok, _, err := s.ReserveSend(ctx, "c1", pt0.Add(time.Duration(i)*time.Second), 3, time.Minute)
		if err != nil || !ok {
			t.Fatalf("reserve %d: %v %v", i, ok, err)
		}
	}
	ok, free, err := s.ReserveSend(ctx, "c1", pt0.Add(10*time.Second), 3, time.Minute)
	if err != nil || ok || !free.Equal(pt0.Add(time.Minute)) {
		t.Fatalf("fourth in the window: ok %v free %v err %v", ok, free, err)
	}
	if n, oldest, err := s.BudgetSpent(ctx, "c1", pt0.Add(10*time.Second), time.Minute); err != nil || n != 3 || !oldest.Equal(pt0) {
		t.Errorf("spent: %d since %v, %v", n, oldest, err)
	}
	if ok, _, _ := s.ReserveSend(ctx, "c2", pt0.Add(10*time.Second), 3, time.Minute); !ok {
		t.Error("another channel's budget was spent")
	}
	if ok, _, _ := s.ReserveSend(ctx, "c1", pt0.Add(time.Minute+time.Millisecond), 3, time.Minute); !ok {
		t.Error("budget did not free as the window rolled")
	}
	if until, _, err := s.ChannelPause(ctx, "c1"); err != nil || !until.IsZero() {
		t.Errorf("pause of a fresh channel: %v %v", until, err)
	}
	if err := s.PauseChannel(ctx, "c1", pt0.Add(10*time.Minute), "banned"); err != nil {
		t.Fatal(err)
	}
	if until, reason, err := s.ChannelPause(ctx, "c1"); err != nil || !until.Equal(pt0.Add(10*time.Minute)) || reason != "banned" {
		t.Errorf("pause: %v %q %v", until, reason, err)
	}
}
