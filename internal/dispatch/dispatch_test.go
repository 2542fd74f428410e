package dispatch

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/contact"
	"github.com/tocsinhq/tocsin/internal/intake"
	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/notify/outbox"
	"github.com/tocsinhq/tocsin/internal/route"
	"github.com/tocsinhq/tocsin/internal/store"
	"github.com/tocsinhq/tocsin/internal/store/sqlite"
	"github.com/tocsinhq/tocsin/internal/store/storetest"
)

// t0 is the tests' clock at start, in whole milliseconds as the store keeps
// times.
var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// clock is a clock the test moves.
type clock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// rig is a dispatcher on a fresh SQLite store with policies, silences and
// a clock the test sets.
type rig struct {
	t     *testing.T
	st    *sqlite.DB
	clock *clock
	reg   *prometheus.Registry
	d     *Dispatcher

	mu       sync.Mutex // guards the fields below
	policies []route.Policy
	silences []route.Silence
	enqueued []string
}

func newRig(t *testing.T, inhibit ...route.InhibitRule) *rig {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "tocsin.db"), storetest.NewBox(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := &rig{t: t, st: st, clock: &clock{now: t0}, reg: prometheus.NewRegistry()}
	r.d = r.dispatcher(inhibit)
	return r
}

// dispatcher returns a new dispatcher on the rig's store, as after a
// restart.
func (r *rig) dispatcher(inhibit []route.InhibitRule) *Dispatcher {
	reg := r.reg
	if r.d != nil {
		reg = prometheus.NewRegistry()
	}
	return New(Options{
		Store: r.st,
		Policies: func(context.Context) ([]route.Policy, error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			return slices.Clone(r.policies), nil
		},
		Silences: func(context.Context, time.Time) ([]route.Silence, error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			return slices.Clone(r.silences), nil
		},
		InhibitRules: inhibit,
		// Long enough that no test alert ends unresent.
		ResolveTimeout: 24 * time.Hour,
		Enqueued: func(ids []string) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.enqueued = append(r.enqueued, ids...)
		},
		Now:     r.clock.Now,
		Metrics: NewMetrics(reg),
	})
}

func (r *rig) setPolicies(ps ...route.Policy) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.policies = ps
}

// start loads the dispatcher's caches and runs it until the test ends.
func (r *rig) start(d *Dispatcher) {
	r.t.Helper()
	if err := d.Load(context.Background()); err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	r.t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			r.t.Error("the dispatcher did not stop within 10s of its context ending")
		}
	})
}

// policy is a policy notifying channels, grouped by alertname, waiting 30s
// then checking every 5m, repeating after 4h, with resolved notices.
func policy(id string, matchers string, channels ...string) route.Policy {
	ms, err := route.ParseMatchers(matchers)
	if err != nil {
		panic(err)
	}
	return route.Policy{ID: id, Name: "policy " + id, Position: 10, Matchers: ms,
		Targets: route.Targets{Channels: channels}, GroupBy: []string{"alertname"},
		GroupWait: 30 * time.Second, GroupInterval: 5 * time.Minute, RepeatInterval: 4 * time.Hour,
		SendResolved: true}
}

// fire is a firing alert with these labels (name=value pairs).
func fire(kv ...string) alert.Alert {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	a := alert.Alert{Labels: alert.FromMap(m), StartsAt: t0, Annotations: alert.FromMap(map[string]string{"summary": "something is wrong"})}
	a.Fingerprint = a.Labels.Fingerprint()
	return a
}

// ended is a resolved at t.
func ended(a alert.Alert, t time.Time) alert.Alert {
	a.EndsAt = t
	return a
}

func (r *rig) ingest(as ...alert.Alert) store.IngestResult {
	r.t.Helper()
	res, err := r.d.Ingest(context.Background(), as)
	if err != nil {
		r.t.Fatal(err)
	}
	return res
}

// check checks the groups due at t.
func (r *rig) check(t time.Time) {
	r.t.Helper()
	r.clock.Set(t)
	if _, err := r.d.CheckGroups(context.Background()); err != nil {
		r.t.Fatal(err)
	}
}

// sent is a delivery as the dispatcher enqueued it, decoded.
type sent struct {
	*store.Delivery
	c *outbox.Content
}

func (s sent) firing() []alert.Fingerprint    { return fps(s.c.Firing) }
func (s sent) resolved() []alert.Fingerprint  { return fps(s.c.Resolved) }
func (s sent) announced() []alert.Fingerprint { return s.c.Announced }

func fps(as []alert.Alert) []alert.Fingerprint {
	var out []alert.Fingerprint
	for _, a := range as {
		out = append(out, a.Fingerprint)
	}
	slices.Sort(out)
	return out
}

func sortedFPs(as ...alert.Alert) []alert.Fingerprint { return fps(as) }

// deliveries returns the deliveries enqueued for a channel, oldest first.
func (r *rig) deliveries(channelID string) []sent {
	r.t.Helper()
	ds, _, err := r.st.ListDeliveries(context.Background(), store.DeliveryFilter{ChannelID: channelID, Limit: 500})
	if err != nil {
		r.t.Fatal(err)
	}
	slices.Reverse(ds)
	out := make([]sent, len(ds))
	for i, d := range ds {
		c, err := outbox.DecodeContent(d.Content)
		if err != nil {
			r.t.Fatal(err)
		}
		out[i] = sent{d, c}
	}
	return out
}

func (r *rig) allDeliveries() []*store.Delivery {
	r.t.Helper()
	ds, _, err := r.st.ListDeliveries(context.Background(), store.DeliveryFilter{Limit: 500})
	if err != nil {
		r.t.Fatal(err)
	}
	return ds
}

func TestIngestRoutesToPolicies(t *testing.T) {
	r := newRig(t)
	db := policy("p1", `team="db"`, "ch-db")
	db.Continue = true
	crit := policy("p2", `severity="critical"`, "ch-crit")
	crit.GroupBy = []string{"alertname", "instance"}
	prod := policy("p3", `env="prod"`, "ch-prod")
	prod.GroupBy = nil // one group for all
	r.setPolicies(db, crit, prod)
	r.start(r.d)

	// a: the db team's (which continues), then critical (which does not:
	// prod is not reached). b: the db team's, then prod's. c: no one's.
	a := fire("alertname", "Disk", "team", "db", "severity", "critical", "instance", "n1", "env", "prod")
	b := fire("alertname", "Disk", "team", "db", "severity", "warning", "instance", "n2", "env", "prod")
	c := fire("alertname", "Cpu", "team", "web", "severity", "warning", "instance", "n3")
	res := r.ingest(a, b, c)
	if res.New != 3 {
		t.Errorf("%d new alerts, want 3", res.New)
	}
	var keys []string
	for _, g := range res.NewGroups {
		keys = append(keys, g.Key)
		if !g.At.Equal(t0.Add(30 * time.Second)) {
			t.Errorf("group %s first checked at %v, want group_wait after t0", g.Key, g.At)
		}
	}
	slices.Sort(keys)
	want := []string{db.GroupKey(a.Labels), crit.GroupKey(a.Labels), prod.GroupKey(b.Labels)}
	slices.Sort(want)
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("groups started (-want +got):\n%s", diff)
	}
	// The unrouted alert is kept, in no group.
	if got, err := r.st.GetAlert(context.Background(), c.Fingerprint); err != nil || got.Labels.Get("alertname") != "Cpu" {
		t.Errorf("the unrouted alert: %v, %v; want it stored", got, err)
	}

	r.check(t0.Add(30 * time.Second))
	for _, w := range []struct {
		channel string
		firing  []alert.Fingerprint
	}{
		{"ch-db", sortedFPs(a, b)},
		{"ch-crit", sortedFPs(a)},
		{"ch-prod", sortedFPs(b)},
	} {
		ds := r.deliveries(w.channel)
		if len(ds) != 1 {
			t.Errorf("%s got %d deliveries, want 1", w.channel, len(ds))
			continue
		}
		if diff := cmp.Diff(w.firing, ds[0].firing()); diff != "" {
			t.Errorf("%s: firing alerts (-want +got):\n%s", w.channel, diff)
		}
	}
	for _, d := range r.allDeliveries() {
		if slices.Contains(d.Alerts, c.Fingerprint) {
			t.Errorf("delivery %s to %s carries the unrouted alert", d.ID, d.ChannelID)
		}
	}
	r.mu.Lock()
	enqueued := slices.Sorted(slices.Values(r.enqueued))
	r.mu.Unlock()
	if diff := cmp.Diff([]string{"ch-crit", "ch-db", "ch-prod"}, enqueued); diff != "" {
		t.Errorf("channels woken (-want +got): %s", diff)
	}
}

// TestConcurrentIngestsShareOneCommit: requests waiting together are
// committed in one transaction, and each caller hears about its own
// alerts.
func TestConcurrentIngestsShareOneCommit(t *testing.T) {
	r := newRig(t)
	r.setPolicies(policy("p1", ``, "ch-1"))
	if err := r.d.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	const n = 20
	type answer struct {
		a   alert.Alert
		res store.IngestResult
		err error
	}
	answers := make(chan answer, n)
	for i := range n {
		a := fire("alertname", fmt.Sprintf("A%02d", i), "instance", "n1")
		go func() {
			res, err := r.d.Ingest(context.Background(), []alert.Alert{a})
			answers <- answer{a, res, err}
		}()
	}
	// Every request is waiting before the writer starts, so one commit
	// takes them all.
	deadline := time.Now().Add(10 * time.Second)
	for len(r.d.ingests) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d requests queued", len(r.d.ingests), n)
		}
		time.Sleep(time.Millisecond)
	}
	r.start(r.d)
	for range n {
		var got answer
		select {
		case got = <-answers:
		case <-time.After(10 * time.Second):
			t.Fatal("a caller got no answer")
		}
		if got.err != nil {
			t.Errorf("ingest %s: %v", got.a.Labels, got.err)
			continue
		}
		if got.res.New != 1 || got.res.Refreshed != 0 || len(got.res.Changes) != 1 || got.res.Changes[0].Alert.Fingerprint != got.a.Fingerprint {
			t.Errorf("the caller of %s was told of %d new alerts, %d changes; want its own alert, new", got.a.Name(), got.res.New, len(got.res.Changes))
		}
		if len(got.res.NewGroups) != 1 || got.res.NewGroups[0].Key != "p1:"+alert.FromMap(map[string]string{"alertname": got.a.Name()}).String() {
			t.Errorf("the caller of %s was told of %d new groups, want 1, its own", got.a.Name(), len(got.res.NewGroups))
		}
		if _, err := r.st.GetAlert(context.Background(), got.a.Fingerprint); err != nil {
			t.Errorf("alert %s answered as stored: %v", got.a.Name(), err)
		}
	}
	if commits, requests := counter(t, r.reg, "tocsin_intake_commits_total"), counter(t, r.reg, "tocsin_intake_committed_requests_total"); commits != 1 || requests != n {
		t.Errorf("%v commits for %v requests, want 1 for %d", commits, requests, n)
	}
}

// counter reads a counter without labels from reg.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestGroupLifecycle: a group notifies once its wait is over, stays quiet
// while nothing changes, tells of new alerts with the earlier ones marked
// announced, and ends with a resolved notice.
func TestGroupLifecycle(t *testing.T) {
	r := newRig(t)
	r.setPolicies(policy("p1", ``, "ch-1", "ch-2"))
	r.start(r.d)
	a1 := fire("alertname", "Disk", "instance", "n1")
	a2 := fire("alertname", "Disk", "instance", "n2")
	r.ingest(a1, a2)

	r.check(t0.Add(29 * time.Second))
	if ds := r.allDeliveries(); len(ds) != 0 {
		t.Fatalf("%d deliveries before group_wait", len(ds))
	}
	r.check(t0.Add(30 * time.Second))
	for _, ch := range []string{"ch-1", "ch-2"} {
		ds := r.deliveries(ch)
		if len(ds) != 1 {
			t.Fatalf("%s got %d deliveries at group_wait, want 1", ch, len(ds))
		}
		d := ds[0]
		if diff := cmp.Diff(sortedFPs(a1, a2), d.firing()); diff != "" {
			t.Errorf("%s: firing (-want +got):\n%s", ch, diff)
		}
		if len(d.announced()) != 0 || d.Kind != store.KindGroup || d.PolicyID != "p1" || d.GroupKey == "" || d.c.Policy != "policy p1" {
			t.Errorf("%s: %+v, content %+v", ch, d.Delivery, d.c)
		}
	}

	// Nothing new at the next check: nothing sent.
	r.check(t0.Add(30*time.Second + 5*time.Minute))
	if n := len(r.allDeliveries()); n != 2 {
		t.Fatalf("%d deliveries after an unchanged check, want still 2", n)
	}

	// A new alert in the group: the next check tells of it, the earlier
	// ones marked as announced.
	r.clock.Set(t0.Add(6 * time.Minute))
	a3 := fire("alertname", "Disk", "instance", "n3")
	if res := r.ingest(a3); len(res.NewGroups) != 0 {
		t.Errorf("the new alert started groups %+v; it joins the existing one", res.NewGroups)
	}
	r.check(t0.Add(30*time.Second + 10*time.Minute))
	ds := r.deliveries("ch-1")
	if len(ds) != 2 {
		t.Fatalf("ch-1 got %d deliveries, want a second one for the new alert", len(ds))
	}
	if diff := cmp.Diff(sortedFPs(a1, a2, a3), ds[1].firing()); diff != "" {
		t.Errorf("second notice: firing (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(sortedFPs(a1, a2), ds[1].announced()); diff != "" {
		t.Errorf("second notice: announced (-want +got):\n%s", diff)
	}

	// Everything resolves: a resolved notice, and the group is over.
	at := t0.Add(11 * time.Minute)
	r.clock.Set(at)
	r.ingest(ended(a1, at), ended(a2, at), ended(a3, at))
	r.check(t0.Add(30*time.Second + 15*time.Minute))
	ds = r.deliveries("ch-1")
	if len(ds) != 3 {
		t.Fatalf("ch-1 got %d deliveries, want a third, resolved notice", len(ds))
	}
	if diff := cmp.Diff(sortedFPs(a1, a2, a3), ds[2].resolved()); diff != "" || len(ds[2].firing()) != 0 {
		t.Errorf("resolved notice: resolved (-want +got):\n%s; firing %v", diff, ds[2].firing())
	}
	due, next, err := r.st.NextGroupCheck(context.Background(), t0.Add(24*time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 0 || !next.IsZero() {
		t.Errorf("after the resolved notice, groups %v remain (next check %v); want the group dropped", due, next)
	}
}

// TestResolvedWithoutSendResolvedDropsQuietly: with send_resolved off, a
// group whose alerts all resolve ends without a message.
func TestResolvedWithoutSendResolvedDropsQuietly(t *testing.T) {
	r := newRig(t)
	p := policy("p1", ``, "ch-1")
	p.SendResolved = false
	r.setPolicies(p)
	r.start(r.d)
	a := fire("alertname", "Disk", "instance", "n1")
	r.ingest(a)
	r.check(t0.Add(30 * time.Second))
	at := t0.Add(time.Minute)
	r.clock.Set(at)
	r.ingest(ended(a, at))
	r.check(t0.Add(30*time.Second + 5*time.Minute))
	if n := len(r.deliveries("ch-1")); n != 1 {
		t.Errorf("%d deliveries, want only the firing one", n)
	}
	if due, next, _ := r.st.NextGroupCheck(context.Background(), t0.Add(24*time.Hour), 10); len(due) != 0 || !next.IsZero() {
		t.Errorf("groups %v remain (next %v); want the group dropped", due, next)
	}
}

func TestSilencedAndClearedAlertsAreLeftOut(t *testing.T) {
	r := newRig(t)
	r.setPolicies(policy("p1", ``, "ch-1"))
	ms, _ := route.ParseMatchers(`instance="n1"`)
	r.silences = []route.Silence{{ID: "s1", Matchers: ms, StartsAt: t0.Add(-time.Minute), EndsAt: t0.Add(time.Hour), CreatedBy: "alice", Comment: "maintenance"}}
	r.start(r.d)
	silenced := fire("alertname", "Disk", "instance", "n1")
	cleared := fire("alertname", "Disk", "instance", "n2")
	open := fire("alertname", "Disk", "instance", "n3")
	r.ingest(silenced, cleared, open)
	if _, err := r.d.SetState(context.Background(), cleared.Fingerprint, alert.Cleared, "bob", "fixed by hand"); err != nil {
		t.Fatal(err)
	}
	r.check(t0.Add(30 * time.Second))
	ds := r.deliveries("ch-1")
	if len(ds) != 1 {
		t.Fatalf("%d deliveries, want 1", len(ds))
	}
	if diff := cmp.Diff(sortedFPs(open), ds[0].firing()); diff != "" {
		t.Errorf("firing (-want +got):\n%s", diff)
	}

	// Only silenced or cleared: nothing is sent at all.
	r2 := newRig(t)
	r2.setPolicies(policy("p1", ``, "ch-1"))
	r2.silences = r.silences
	r2.start(r2.d)
	r2.ingest(silenced, cleared)
	if _, err := r2.d.SetState(context.Background(), cleared.Fingerprint, alert.Cleared, "bob", "fixed by hand"); err != nil {
		t.Fatal(err)
	}
	r2.check(t0.Add(30 * time.Second))
	if n := len(r2.allDeliveries()); n != 0 {
		t.Errorf("%d deliveries for a group of silenced and cleared alerts, want none", n)
	}
}

func TestInhibitionQuietsTargetsWhileTheSourceFires(t *testing.T) {
	src, _ := route.ParseMatchers(`severity="critical"`)
	tgt, _ := route.ParseMatchers(`severity="warning"`)
	rules := []route.InhibitRule{{SourceMatchers: src, TargetMatchers: tgt, Equal: []string{"instance"}}}
	r := newRig(t, rules...)
	r.setPolicies(policy("p1", ``, "ch-1"))
	r.start(r.d)
	down := fire("alertname", "NodeDown", "severity", "critical", "instance", "n1")
	quiet := fire("alertname", "Disk", "severity", "warning", "instance", "n1")
	other := fire("alertname", "Disk", "severity", "warning", "instance", "n2")
	r.ingest(down, quiet, other)

	r.check(t0.Add(30 * time.Second))
	var disk []sent
	for _, d := range r.deliveries("ch-1") {
		if d.c.GroupLabels.Get("alertname") == "Disk" {
			disk = append(disk, d)
		}
	}
	if len(disk) != 1 {
		t.Fatalf("%d deliveries for the Disk group, want 1", len(disk))
	}
	if diff := cmp.Diff(sortedFPs(other), disk[0].firing()); diff != "" {
		t.Errorf("Disk while NodeDown fires on n1: firing (-want +got):\n%s", diff)
	}

	// A dispatcher started afresh knows the source from the store.
	restarted := r.dispatcher(rules)
	if err := restarted.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if why := restarted.suppressed(&store.StoredAlert{Alert: quiet}, t0.Add(time.Minute)); why == "" {
		t.Error("after a restart the firing source no longer inhibits its target")
	}

	// The source resolves: the target is heard at the next check.
	at := t0.Add(time.Minute)
	r.clock.Set(at)
	r.ingest(ended(down, at))
	r.check(t0.Add(30*time.Second + 5*time.Minute))
	disk = disk[:0]
	for _, d := range r.deliveries("ch-1") {
		if d.c.GroupLabels.Get("alertname") == "Disk" {
			disk = append(disk, d)
		}
	}
	if len(disk) != 2 {
		t.Fatalf("%d deliveries for the Disk group, want a second once the source resolved", len(disk))
	}
	if diff := cmp.Diff(sortedFPs(quiet, other), disk[1].firing()); diff != "" {
		t.Errorf("Disk after NodeDown resolved: firing (-want +got):\n%s", diff)
	}
}

func TestDeletedPolicyDropsItsGroups(t *testing.T) {
	r := newRig(t)
	r.setPolicies(policy("p1", ``, "ch-1"))
	r.start(r.d)
	r.ingest(fire("alertname", "Disk", "instance", "n1"))
	r.setPolicies()
	if err := r.d.ReloadPolicies(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.check(t0.Add(30 * time.Second))
	if n := len(r.allDeliveries()); n != 0 {
		t.Errorf("%d deliveries for a deleted policy's group", n)
	}
	due, next, err := r.st.NextGroupCheck(context.Background(), t0.Add(24*time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 0 || !next.IsZero() {
		t.Errorf("groups %v remain (next %v); want the deleted policy's group dropped", due, next)
	}
}

// TestContactGroupTargets: a policy's contact groups add their channels,
// and their contacts are mentioned when the policy says so; an owner label
// mentions its contact whatever the setting.
func TestContactGroupTargets(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	ch := storetest.NewChannel(t, "sre-group")
	if err := r.st.CreateChannel(ctx, ch, t0); err != nil {
		t.Fatal(err)
	}
	alice := &contact.Contact{Name: "alice", Mobile: "13800000001", DingTalkUserID: "alice01"}
	bob := &contact.Contact{Name: "bob", Mobile: "13800000002"}
	for _, c := range []*contact.Contact{alice, bob} {
		if err := r.st.CreateContact(ctx, c, t0); err != nil {
			t.Fatal(err)
		}
	}
	g := &contact.Group{Name: "sre", ContactIDs: []string{alice.ID}, ChannelIDs: []string{ch.ID}}
	if err := r.st.CreateContactGroup(ctx, g, t0); err != nil {
		t.Fatal(err)
	}
	p := policy("p1", ``, "ch-own")
	p.Targets.ContactGroups = []string{g.ID}
	p.Mention = route.MentionCritical
	r.setPolicies(p)
	r.start(r.d)
	warn := fire("alertname", "Disk", "instance", "n1", "severity", "warning", "owner", "bob")
	crit := fire("alertname", "Cpu", "instance", "n1", "severity", "critical")
	r.ingest(warn, crit)
	r.check(t0.Add(30 * time.Second))

	mentions := map[string][]string{} // alertname → people
	for _, id := range []string{"ch-own", ch.ID} {
		ds := r.deliveries(id)
		if len(ds) != 2 {
			t.Fatalf("channel %s got %d deliveries, want one per group", id, len(ds))
		}
		for _, d := range ds {
			var names []string
			for _, p := range d.c.Mentions {
				names = append(names, p.Name)
			}
			mentions[d.c.GroupLabels.Get("alertname")] = names
		}
	}
	want := map[string][]string{"Disk": {"bob"}, "Cpu": {"alice"}}
	if diff := cmp.Diff(want, mentions); diff != "" {
		t.Errorf("people mentioned (-want +got):\n%s", diff)
	}
	var alicePerson notify.Person
	for _, d := range r.deliveries(ch.ID) {
		for _, p := range d.c.Mentions {
			if p.Name == "alice" {
				alicePerson = p
			}
		}
	}
	if alicePerson.DingTalkUserID != "alice01" || alicePerson.Mobile != "13800000001" {
		t.Errorf("alice as mentioned: %+v, want her DingTalk user ID and mobile", alicePerson)
	}
}

// TestCheckGroupsWithASubMillisecondClock: the store keeps times to the
// millisecond; a clock with finer times must not make a group look due
// to the store and not yet due to its state, forever.
func TestCheckGroupsWithASubMillisecondClock(t *testing.T) {
	r := newRig(t)
	r.setPolicies(policy("p1", ``, "ch-1"))
	r.start(r.d)
	r.clock.Set(t0.Add(300 * time.Microsecond))
	r.ingest(fire("alertname", "Disk", "instance", "n1"))
	r.clock.Set(t0.Add(30*time.Second + 100*time.Microsecond))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := r.d.CheckGroups(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatal("CheckGroups kept checking a group it found due and its state did not")
		}
		t.Fatal(err)
	}
	// Due at the millisecond after its time, as the store counts.
	r.clock.Set(t0.Add(30*time.Second + time.Millisecond))
	if _, err := r.d.CheckGroups(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(r.deliveries("ch-1")); n != 1 {
		t.Errorf("%d deliveries once group_wait passed, want 1", n)
	}
}

func TestRuleAlertsGoToTheirRulesPolicy(t *testing.T) {
	r := newRig(t)
	all := policy("p1", ``, "ch-all")
	all.GroupWait = 0
	mine := policy("p2", `never="matched"`, "ch-rule")
	mine.GroupWait = 0
	r.setPolicies(all, mine)
	r.start(r.d)
	r.d.SetRuleRoutes(map[string]string{"HighGC": "p2", "Gone": "p-deleted"})

	ruled := fire("alertname", "HighGC", "instance", "a")
	ruled.Source = intake.SourceRule
	// The same name from elsewhere, and a rule whose policy is gone, route
	// by labels.
	other := fire("alertname", "HighGC", "instance", "b")
	orphan := fire("alertname", "Gone")
	orphan.Source = intake.SourceRule
	r.ingest(ruled, other, orphan)
	r.check(t0.Add(time.Second))

	if got := r.deliveries("ch-rule"); len(got) != 1 || !slices.Equal(got[0].firing(), sortedFPs(ruled)) {
		t.Errorf("the rule's policy got %v, want one delivery of the rule's alert", got)
	}
	var firing []alert.Fingerprint
	for _, d := range r.deliveries("ch-all") {
		firing = append(firing, d.firing()...)
	}
	slices.Sort(firing)
	if want := sortedFPs(other, orphan); !slices.Equal(firing, want) {
		t.Errorf("the catch-all got %v, want %v", firing, want)
	}
	// Group checks keep the rule's alert in its rule's group.
	r.check(t0.Add(10 * time.Minute))
	for _, d := range r.deliveries("ch-all") {
		if slices.Contains(d.firing(), ruled.Fingerprint) {
			t.Errorf("a later check moved the rule's alert to the catch-all")
		}
	}
}
