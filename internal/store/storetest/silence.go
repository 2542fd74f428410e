package storetest

import (
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/route"
	"github.com/tocsinhq/tocsin/internal/store"
)

// NewSilence returns a valid silence with matchers (Alertmanager's syntax)
// from start to end, as the API hands it to the store.
func NewSilence(tb testing.TB, matchers string, start, end time.Time) *route.Silence {
	tb.Helper()
	ms, err := route.ParseMatchers(matchers)
	if err != nil {
		tb.Fatal(err)
	}
	s := &route.Silence{Matchers: ms, StartsAt: start, EndsAt: end, CreatedBy: "ann", Comment: "disk swap, TICKET-1"}
	if err := s.Validate(start); err != nil {
		tb.Fatalf("silence %s: %v", matchers, err)
	}
	return s
}

var uuidForm = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func testSilenceCreateAndGet(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	// Every operator, a name that needs quotes, and values with quotes,
	// backslashes and non-ASCII text survive the round trip.
	sil := NewSilence(t, `alertname="DiskFull", instance=~"db-\\d+", team!="web \"ops\"", "service.name"!~"告警|x", severity=""`, t0, t0.Add(time.Hour))
	sil.ID = "chosen-by-the-caller" // the store assigns ids
	mustCreateSilence(t, s, sil, at(5))

	if !uuidForm.MatchString(sil.ID) {
		t.Errorf("created silence got ID %q, want a new version 7 UUID", sil.ID)
	}
	// The store sets s's times to what it keeps: UTC, whole milliseconds.
	for _, tm := range []struct {
		name      string
		got, want time.Time
	}{
		{"StartsAt", sil.StartsAt, t0.UTC().Truncate(time.Millisecond)},
		{"EndsAt", sil.EndsAt, t0.Add(time.Hour).UTC().Truncate(time.Millisecond)},
		{"UpdatedAt", sil.UpdatedAt, at(5).UTC().Truncate(time.Millisecond)},
	} {
		if tm.got != tm.want {
			t.Errorf("created silence got %s %v, want %v", tm.name, tm.got, tm.want)
		}
	}
	got := mustGetSilence(t, s, sil.ID)
	if diff := cmp.Diff(sil, got); diff != "" {
		t.Errorf("GetSilence differs from what was created (-want +got):\n%s", diff)
	}
	if got.StartsAt.Location() != time.UTC || got.UpdatedAt.Location() != time.UTC {
		t.Errorf("GetSilence times are in %v and %v, want UTC", got.StartsAt.Location(), got.UpdatedAt.Location())
	}
	all, err := s.ListSilences(t.Context(), store.SilenceFilter{})
	if err != nil {
		t.Fatalf("ListSilences: %v", err)
	}
	if diff := cmp.Diff([]*route.Silence{sil}, all); diff != "" {
		t.Errorf("ListSilences differs from what was created (-want +got):\n%s", diff)
	}
}

func testSilenceMissing(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	unknown := new(store.IDs).NewUUID(t0)
	_, err := s.GetSilence(t.Context(), unknown)
	wantErr(t, "GetSilence of an unknown id", err, store.ErrNotFound)

	ghost := NewSilence(t, `alertname="Ghost"`, t0, t0.Add(time.Hour))
	ghost.ID = unknown
	wantErr(t, "UpdateSilence of an unknown id", s.UpdateSilence(t.Context(), ghost, at(1)), store.ErrNotFound)

	// A replacement of a silence that is not there writes nothing.
	next := NewSilence(t, `alertname="Next"`, t0, t0.Add(time.Hour))
	wantErr(t, "ReplaceSilence of an unknown id", s.ReplaceSilence(t.Context(), ghost, next, at(2)), store.ErrNotFound)
	if next.ID != "" {
		t.Errorf("a failed ReplaceSilence set the new silence's ID to %q", next.ID)
	}
	if all := listSilences(t, s, store.SilenceFilter{}); len(all) != 0 {
		t.Errorf("after failed updates the store holds %d silences, want none", len(all))
	}
}

func testSilenceUpdateAndExpire(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	sil := NewSilence(t, `alertname="DiskFull"`, t0, t0.Add(time.Hour))
	mustCreateSilence(t, s, sil, t0)
	other := NewSilence(t, `alertname="Other"`, t0, t0.Add(time.Hour))
	mustCreateSilence(t, s, other, at(1))

	upd := NewSilence(t, `alertname="DiskFull", instance="db-1"`, t0, t0.Add(3*time.Hour))
	upd.ID, upd.CreatedBy, upd.Comment = sil.ID, "bob", "longer: TICKET-2"
	if err := s.UpdateSilence(t.Context(), upd, at(60_000)); err != nil {
		t.Fatalf("UpdateSilence: %v", err)
	}
	if upd.UpdatedAt != at(60_000).UTC().Truncate(time.Millisecond) {
		t.Errorf("UpdateSilence set UpdatedAt %v, want %v", upd.UpdatedAt, at(60_000))
	}
	if diff := cmp.Diff(upd, mustGetSilence(t, s, sil.ID)); diff != "" {
		t.Errorf("after UpdateSilence, GetSilence differs (-want +got):\n%s", diff)
	}

	// Expiring is an update: the silence ends now, and stays listed.
	now := t0.Add(30 * time.Minute)
	if err := upd.Expire(now); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateSilence(t.Context(), upd, now); err != nil {
		t.Fatalf("UpdateSilence to expire: %v", err)
	}
	got := mustGetSilence(t, s, sil.ID)
	if got.State(now) != route.SilenceExpired || !got.EndsAt.Equal(now.Truncate(time.Millisecond)) {
		t.Errorf("after expiring at %v the stored silence ends at %v, state %s", now, got.EndsAt, got.State(now))
	}
	if diff := cmp.Diff(other, mustGetSilence(t, s, other.ID)); diff != "" {
		t.Errorf("updating one silence changed another (-want +got):\n%s", diff)
	}
	// A pending silence expires with StartsAt = EndsAt.
	pending := NewSilence(t, `alertname="Later"`, t0.Add(2*time.Hour), t0.Add(3*time.Hour))
	mustCreateSilence(t, s, pending, at(2))
	if err := pending.Expire(now); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateSilence(t.Context(), pending, now); err != nil {
		t.Fatalf("UpdateSilence to expire a pending silence: %v", err)
	}
	if got := mustGetSilence(t, s, pending.ID); !got.StartsAt.Equal(got.EndsAt) || got.State(now) != route.SilenceExpired {
		t.Errorf("expired pending silence is stored as %v – %v", got.StartsAt, got.EndsAt)
	}
}

func testSilenceReplace(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	old := NewSilence(t, `alertname="DiskFull"`, t0, t0.Add(time.Hour))
	mustCreateSilence(t, s, old, t0)
	oldID := old.ID

	now := t0.Add(10 * time.Minute)
	if err := old.Expire(now); err != nil {
		t.Fatal(err)
	}
	next := NewSilence(t, `alertname="DiskFull", instance="db-1"`, now, now.Add(time.Hour))
	if err := s.ReplaceSilence(t.Context(), old, next, now); err != nil {
		t.Fatalf("ReplaceSilence: %v", err)
	}
	if old.ID != oldID || next.ID == "" || next.ID <= oldID {
		t.Errorf("after ReplaceSilence old has ID %q (was %q), new has %q: want the old id kept and a new, later one", old.ID, oldID, next.ID)
	}
	want := []*route.Silence{old, next}
	if diff := cmp.Diff(want, listSilences(t, s, store.SilenceFilter{})); diff != "" {
		t.Errorf("after ReplaceSilence the store holds (-want +got):\n%s", diff)
	}
	if got := mustGetSilence(t, s, oldID); got.State(now) != route.SilenceExpired {
		t.Errorf("the replaced silence is %s, want expired", got.State(now))
	}
}

func testSilenceListEndsAfter(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	// A whole millisecond, so silences can end exactly at now.
	now := t0.Add(24 * time.Hour).Truncate(time.Millisecond)
	var all []*route.Silence
	add := func(name string, start, end time.Time) *route.Silence {
		sil := NewSilence(t, `alertname="`+name+`"`, start, end)
		mustCreateSilence(t, s, sil, at(len(all)))
		all = append(all, sil)
		return sil
	}
	add("expired", t0, t0.Add(time.Hour))
	endsNow := add("ends-now", now.Add(-time.Hour), now)
	active := add("active", now.Add(-time.Hour), now.Add(time.Hour))
	pending := add("pending", now.Add(time.Hour), now.Add(2*time.Hour))
	endsNextMilli := add("ends-next-millisecond", now.Add(-time.Hour), now.Add(time.Millisecond))

	for _, tc := range []struct {
		name string
		f    store.SilenceFilter
		want []*route.Silence
	}{
		{"zero keeps all", store.SilenceFilter{}, all},
		// The end is exclusive (route.Silence.State): a silence ending
		// at now is expired at now.
		{"not expired at now", store.SilenceFilter{EndsAfter: now}, []*route.Silence{active, pending, endsNextMilli}},
		{"below the millisecond", store.SilenceFilter{EndsAfter: now.Add(-time.Nanosecond)}, []*route.Silence{endsNow, active, pending, endsNextMilli}},
		{"ended within a day", store.SilenceFilter{EndsAfter: now.Add(-23 * time.Hour)}, []*route.Silence{endsNow, active, pending, endsNextMilli}},
		{"ended within two days", store.SilenceFilter{EndsAfter: now.Add(-48 * time.Hour)}, all},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, listSilences(t, s, tc.f)); diff != "" {
				t.Errorf("ListSilences(%+v) (-want +got):\n%s", tc.f, diff)
			}
		})
	}
}

func mustCreateSilence(t *testing.T, s store.Store, sil *route.Silence, now time.Time) {
	t.Helper()
	if err := s.CreateSilence(t.Context(), sil, now); err != nil {
		t.Fatalf("create silence %s: %v", sil.Matchers, err)
	}
}

func mustGetSilence(t *testing.T, s store.Store, id string) *route.Silence {
	t.Helper()
	sil, err := s.GetSilence(t.Context(), id)
	if err != nil {
		t.Fatalf("get silence %s: %v", id, err)
	}
	return sil
}

func listSilences(t *testing.T, s store.Store, f store.SilenceFilter) []*route.Silence {
	t.Helper()
	ss, err := s.ListSilences(t.Context(), f)
	if err != nil {
		t.Fatalf("ListSilences(%+v): %v", f, err)
	}
	return ss
}
