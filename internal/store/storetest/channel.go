package storetest

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/channel"
	"github.com/tocsinhq/tocsin/internal/store"
)

func testCreateAndGet(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	ch := NewChannel(t, "sre-oncall")
	ch.ID = "chosen-by-the-caller" // the store assigns ids
	mustCreate(t, s, ch, t0)

	if len(ch.ID) != 26 || ch.ID == "chosen-by-the-caller" {
		t.Errorf("created channel got ID %q, want a new 26-character id", ch.ID)
	}
	if !cmp.Equal(ch.CreatedAt, t0, channelOpts) || !cmp.Equal(ch.UpdatedAt, t0, channelOpts) {
		t.Errorf("created channel got CreatedAt %v, UpdatedAt %v, want both %v", ch.CreatedAt, ch.UpdatedAt, t0)
	}
	got := mustGet(t, s, ch.ID)
	if diff := diffChannel(ch, got); diff != "" {
		t.Errorf("GetChannel(%s) differs from what was created (-want +got):\n%s", ch.ID, diff)
	}
	got, err := s.GetChannelByName(t.Context(), "sre-oncall")
	if err != nil {
		t.Fatalf("GetChannelByName: %v", err)
	}
	if diff := diffChannel(ch, got); diff != "" {
		t.Errorf("GetChannelByName(sre-oncall) differs from what was created (-want +got):\n%s", diff)
	}
	items, next, err := s.ListChannels(t.Context(), store.ChannelFilter{})
	if err != nil {
		t.Fatalf("ListChannels: %v", err)
	}
	if diff := cmp.Diff([]*channel.Channel{ch}, items, channelOpts); diff != "" || next != "" {
		t.Errorf("ListChannels got next %q and items differing from what was created (-want +got):\n%s", next, diff)
	}
}

func testGetMissing(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	mustCreate(t, s, NewChannel(t, "present"), t0)
	_, err := s.GetChannel(t.Context(), new(store.IDs).New(t0))
	wantErr(t, "GetChannel of an unknown id", err, store.ErrNotFound)
	_, err = s.GetChannelByName(t.Context(), "absent")
	wantErr(t, "GetChannelByName of an unknown name", err, store.ErrNotFound)
	_, err = s.GetChannelByName(t.Context(), "PRESENT")
	wantErr(t, "GetChannelByName with other letter case", err, store.ErrNotFound)
}

func testIDsIncrease(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	var got []string
	for i := range 10 {
		ch := NewChannel(t, "ch-"+ordinal(i))
		mustCreate(t, s, ch, at(i))
		got = append(got, ch.ID)
	}
	// Within one millisecond ids are only distinct, not ordered.
	for i := range 5 {
		ch := NewChannel(t, "same-ms-"+ordinal(i))
		mustCreate(t, s, ch, at(100))
		got = append(got, ch.ID)
	}
	for i := 1; i < 10; i++ {
		if got[i] <= got[i-1] {
			t.Errorf("id %d %q does not sort after id %d %q", i, got[i], i-1, got[i-1])
		}
	}
	if sorted := slices.Compact(slices.Sorted(slices.Values(got))); len(sorted) != len(got) {
		t.Errorf("ids are not distinct: %q", got)
	}
}

func testDuplicateName(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	first := NewChannel(t, "dup")
	mustCreate(t, s, first, at(0))
	second := NewChannel(t, "dup")
	err := s.CreateChannel(t.Context(), second, at(1))
	wantErr(t, "CreateChannel with a taken name", err, store.ErrConflict)

	all := listAll(t, s, store.ChannelFilter{})
	if diff := cmp.Diff([]*channel.Channel{first}, all, channelOpts); diff != "" {
		t.Errorf("after a refused duplicate, the store holds other than the first channel (-want +got):\n%s", diff)
	}
}

func testNamesCompareExactly(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	for i, name := range []string{"oncall", "OnCall", "oncall ", "ONCALL"} {
		ch := NewChannel(t, "placeholder")
		ch.Name = name // past validation, which trims
		mustCreate(t, s, ch, at(i))
	}
	got, err := s.GetChannelByName(t.Context(), "OnCall")
	if err != nil {
		t.Fatalf("GetChannelByName(OnCall): %v", err)
	}
	if got.Name != "OnCall" {
		t.Errorf("GetChannelByName(OnCall) got %q", got.Name)
	}
}

func testUpdate(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	old := NewChannel(t, "before")
	mustCreate(t, s, old, at(0))
	mustCreate(t, s, NewChannel(t, "bystander"), at(1))

	upd := NewChannel(t, "after") // new secrets, as a PUT with new values
	upd.ID = old.ID
	upd.Description = "renamed"
	upd.Enabled = false
	upd.Timezone = ""
	upd.DailyReport = channel.DailyReport{Times: []string{"07:00"}}
	upd.Card = nil
	upd.Settings.(*channel.DingTalkRobot).Keywords = nil
	upd.CreatedAt = at(5000) // not the caller's to change
	if err := s.UpdateChannel(t.Context(), upd, at(60_000)); err != nil {
		t.Fatalf("UpdateChannel: %v", err)
	}

	want := *upd
	want.CreatedAt, want.UpdatedAt = at(0), at(60_000)
	if diff := diffChannel(&want, mustGet(t, s, old.ID)); diff != "" {
		t.Errorf("after UpdateChannel, GetChannel differs (-want +got):\n%s", diff)
	}
	if !cmp.Equal(upd.UpdatedAt, at(60_000), channelOpts) {
		t.Errorf("UpdateChannel set UpdatedAt %v, want %v", upd.UpdatedAt, at(60_000))
	}
	_, err := s.GetChannelByName(t.Context(), "before")
	wantErr(t, "GetChannelByName of the old name", err, store.ErrNotFound)
	got, err := s.GetChannelByName(t.Context(), "after")
	if err != nil {
		t.Fatalf("GetChannelByName of the new name: %v", err)
	}
	if got.ID != old.ID {
		t.Errorf("GetChannelByName(after) got id %s, want %s", got.ID, old.ID)
	}
	// The old name is free again.
	mustCreate(t, s, NewChannel(t, "before"), at(60_001))
}

func testUpdateMissing(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	mustCreate(t, s, NewChannel(t, "present"), at(0))
	ch := NewChannel(t, "ghost")
	ch.ID = new(store.IDs).New(at(1))
	err := s.UpdateChannel(t.Context(), ch, at(2))
	wantErr(t, "UpdateChannel of an unknown id", err, store.ErrNotFound)
	if n := len(listAll(t, s, store.ChannelFilter{})); n != 1 {
		t.Errorf("after updating an unknown id the store holds %d channels, want 1", n)
	}
}

func testUpdateToTakenName(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	a, b := NewChannel(t, "a"), NewChannel(t, "b")
	mustCreate(t, s, a, at(0))
	mustCreate(t, s, b, at(1))

	upd := NewChannel(t, "a")
	upd.ID = b.ID
	err := s.UpdateChannel(t.Context(), upd, at(2))
	wantErr(t, "UpdateChannel to a taken name", err, store.ErrConflict)
	if diff := diffChannel(b, mustGet(t, s, b.ID)); diff != "" {
		t.Errorf("a refused update changed the channel (-want +got):\n%s", diff)
	}
	if diff := diffChannel(a, mustGet(t, s, a.ID)); diff != "" {
		t.Errorf("a refused update changed the channel holding the name (-want +got):\n%s", diff)
	}
}

func testDelete(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	gone, kept := NewChannel(t, "gone"), NewChannel(t, "kept")
	mustCreate(t, s, gone, at(0))
	mustCreate(t, s, kept, at(1))
	if err := s.DeleteChannel(t.Context(), gone.ID); err != nil {
		t.Fatalf("DeleteChannel: %v", err)
	}
	_, err := s.GetChannel(t.Context(), gone.ID)
	wantErr(t, "GetChannel after DeleteChannel", err, store.ErrNotFound)
	_, err = s.GetChannelByName(t.Context(), "gone")
	wantErr(t, "GetChannelByName after DeleteChannel", err, store.ErrNotFound)
	if diff := cmp.Diff([]string{"kept"}, names(listAll(t, s, store.ChannelFilter{}))); diff != "" {
		t.Errorf("after DeleteChannel, list (-want +got):\n%s", diff)
	}
	err = s.DeleteChannel(t.Context(), gone.ID)
	wantErr(t, "DeleteChannel twice", err, store.ErrNotFound)
	// The name is free again.
	mustCreate(t, s, NewChannel(t, "gone"), at(2))
}

func testDeleteMissing(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	err := s.DeleteChannel(t.Context(), new(store.IDs).New(t0))
	wantErr(t, "DeleteChannel of an unknown id", err, store.ErrNotFound)
}

func testListQuery(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	created := []string{"Prod-DB", "prod_api", "production", "staging", "100% uptime", "a_b", "axb", "back\\slash", "backslash"}
	for i, name := range created {
		ch := NewChannel(t, "placeholder")
		ch.Name = name // past validation, which refuses the backslash
		mustCreate(t, s, ch, at(i))
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"", created},
		{"prod", []string{"Prod-DB", "prod_api", "production"}},
		{"PROD", []string{"Prod-DB", "prod_api", "production"}},
		{"d-d", []string{"Prod-DB"}},
		{"_", []string{"prod_api", "a_b"}}, // not a wildcard
		{"a_b", []string{"a_b"}},
		{"%", []string{"100% uptime"}}, // not a wildcard
		{"0% UP", []string{"100% uptime"}},
		{"\\", []string{"back\\slash"}},
		{"k\\s", []string{"back\\slash"}},
		{"nothing", nil},
	}
	for _, tt := range tests {
		got := names(listAll(t, s, store.ChannelFilter{Query: tt.query}))
		if diff := cmp.Diff(tt.want, got, cmpEmpty); diff != "" {
			t.Errorf("list with query %q (-want +got):\n%s", tt.query, diff)
		}
	}
}

// cmpEmpty treats a nil and an empty list as equal.
var cmpEmpty = cmp.FilterValues(func(a, b []string) bool { return len(a) == 0 && len(b) == 0 }, cmp.Ignore())

func testListKind(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	for i, name := range []string{"one", "two", "three"} {
		mustCreate(t, s, NewChannel(t, name), at(i))
	}
	tests := []struct {
		filter store.ChannelFilter
		want   []string
	}{
		{store.ChannelFilter{Kind: channel.KindDingTalkRobot}, []string{"one", "two", "three"}},
		{store.ChannelFilter{Kind: channel.KindDingTalkRobot, Query: "T"}, []string{"two", "three"}},
		{store.ChannelFilter{Kind: "lark_bot"}, nil},
	}
	for _, tt := range tests {
		got := names(listAll(t, s, tt.filter))
		if diff := cmp.Diff(tt.want, got, cmpEmpty); diff != "" {
			t.Errorf("list %+v (-want +got):\n%s", tt.filter, diff)
		}
	}
}

func testListPages(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	var want []string
	for i := range 25 {
		ch := NewChannel(t, "page-"+ordinal(i))
		mustCreate(t, s, ch, at(i))
		want = append(want, ch.ID)
	}
	tests := []struct {
		limit int
		sizes []int
	}{
		{10, []int{10, 10, 5}},
		{5, []int{5, 5, 5, 5, 5}}, // the last page is full, and still last
		{25, []int{25}},
		{24, []int{24, 1}},
		{0, []int{25}},                  // DefaultLimit
		{-1, []int{25}},                 // DefaultLimit
		{store.MaxLimit + 1, []int{25}}, // DefaultLimit
	}
	for _, tt := range tests {
		var got []string
		var sizes []int
		f := store.ChannelFilter{Limit: tt.limit}
		for range len(tt.sizes) + 1 {
			items, next, err := s.ListChannels(t.Context(), f)
			if err != nil {
				t.Fatalf("list %+v: %v", f, err)
			}
			sizes = append(sizes, len(items))
			got = append(got, ids(items)...)
			if next == "" {
				break
			}
			if len(items) == 0 || next != items[len(items)-1].ID {
				t.Errorf("limit %d: next %q is not the page's last id", tt.limit, next)
				break
			}
			f.Cursor = next
		}
		if diff := cmp.Diff(tt.sizes, sizes); diff != "" {
			t.Errorf("limit %d: page sizes (-want +got):\n%s", tt.limit, diff)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("limit %d: ids over all pages, want every channel once in creation order (-want +got):\n%s", tt.limit, diff)
		}
	}
	items, next, err := s.ListChannels(t.Context(), store.ChannelFilter{Cursor: want[len(want)-1]})
	if err != nil || len(items) != 0 || next != "" {
		t.Errorf("list after the last id: got %d items, next %q, error %v; want none", len(items), next, err)
	}
}

func testListPagesWithQuery(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	var want []string
	for i := range 25 {
		name := "page-" + ordinal(i)
		mustCreate(t, s, NewChannel(t, name), at(2*i))
		mustCreate(t, s, NewChannel(t, "other-"+ordinal(i)), at(2*i+1))
		if name[5] == '1' {
			want = append(want, name)
		}
	}
	f := store.ChannelFilter{Query: "PAGE-1", Limit: 4}
	var got []string
	var sizes []int
	for range 5 {
		items, next, err := s.ListChannels(t.Context(), f)
		if err != nil {
			t.Fatalf("list %+v: %v", f, err)
		}
		got = append(got, names(items)...)
		sizes = append(sizes, len(items))
		if next == "" {
			break
		}
		f.Cursor = next
	}
	if diff := cmp.Diff([]int{4, 4, 2}, sizes); diff != "" {
		t.Errorf("page sizes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("names over all pages (-want +got):\n%s", diff)
	}
}
