package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/channel"
	"github.com/tocsinhq/tocsin/internal/contact"
	"github.com/tocsinhq/tocsin/internal/store"
)

// NewContact returns a valid contact named name with every identity set,
// built the way the API builds one (contact.Decode, contact.Validate).
func NewContact(tb testing.TB, name string) *contact.Contact {
	tb.Helper()
	slug := strings.ToLower(strings.ReplaceAll(name, " ", "."))
	in, err := json.Marshal(map[string]any{
		"name":             name,
		"mobile":           "138 0013 8000",
		"dingtalk_user_id": "dt-" + slug,
		"lark_open_id":     "ou_7d8a6e6df7621556ce0d21922b676706",
		"wecom_user_id":    "wc." + slug,
		"email":            slug + "@example.com",
	})
	if err != nil {
		tb.Fatal(err)
	}
	input, err := contact.Decode(in)
	if err != nil {
		tb.Fatalf("decode contact %q: %v", name, err)
	}
	c, err := contact.Validate(input)
	if err != nil {
		tb.Fatalf("validate contact %q: %v", name, err)
	}
	return c
}

// newGroup returns a group as the API hands it to the store: validated,
// with its members resolved to ids.
func newGroup(name string, contactIDs, channelIDs []string) *contact.Group {
	return &contact.Group{Name: name, Description: "group " + name, ContactIDs: contactIDs, ChannelIDs: channelIDs}
}

func testContactCreateAndGet(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	c := NewContact(t, "Zhang San")
	c.ID = "chosen-by-the-caller" // the store assigns ids
	mustCreateContact(t, s, c, t0)

	if len(c.ID) != 26 || c.ID == "chosen-by-the-caller" {
		t.Errorf("created contact got ID %q, want a new 26-character id", c.ID)
	}
	if !cmp.Equal(c.CreatedAt, t0, channelOpts) || !cmp.Equal(c.UpdatedAt, t0, channelOpts) {
		t.Errorf("created contact got CreatedAt %v, UpdatedAt %v, want both %v", c.CreatedAt, c.UpdatedAt, t0)
	}
	got, err := s.GetContact(t.Context(), c.ID)
	if err != nil {
		t.Fatalf("GetContact: %v", err)
	}
	if diff := cmp.Diff(c, got, channelOpts); diff != "" {
		t.Errorf("GetContact differs from what was created (-want +got):\n%s", diff)
	}
	got, err = s.GetContactByName(t.Context(), "Zhang San")
	if err != nil {
		t.Fatalf("GetContactByName: %v", err)
	}
	if diff := cmp.Diff(c, got, channelOpts); diff != "" {
		t.Errorf("GetContactByName differs from what was created (-want +got):\n%s", diff)
	}
	items, next, err := s.ListContacts(t.Context(), store.ContactFilter{})
	if err != nil {
		t.Fatalf("ListContacts: %v", err)
	}
	if diff := cmp.Diff([]*contact.Contact{c}, items, channelOpts); diff != "" || next != "" {
		t.Errorf("ListContacts got next %q and items differing from what was created (-want +got):\n%s", next, diff)
	}
	// A contact with only some identities keeps the others empty.
	sparse := &contact.Contact{Name: "Li Si", Mobile: "+852-12345678"}
	mustCreateContact(t, s, sparse, at(1))
	if got := mustGetContact(t, s, sparse.ID); !cmp.Equal(sparse, got, channelOpts) {
		t.Errorf("GetContact of a contact with a mobile only (-want +got):\n%s", cmp.Diff(sparse, got, channelOpts))
	}
}

func testContactMissing(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	mustCreateContact(t, s, NewContact(t, "present"), t0)
	unknown := new(store.IDs).New(t0)
	_, err := s.GetContact(t.Context(), unknown)
	wantErr(t, "GetContact of an unknown id", err, store.ErrNotFound)
	_, err = s.GetContactByName(t.Context(), "PRESENT")
	wantErr(t, "GetContactByName with other letter case", err, store.ErrNotFound)
	ghost := NewContact(t, "ghost")
	ghost.ID = unknown
	wantErr(t, "UpdateContact of an unknown id", s.UpdateContact(t.Context(), ghost, at(1)), store.ErrNotFound)
	wantErr(t, "DeleteContact of an unknown id", s.DeleteContact(t.Context(), unknown), store.ErrNotFound)
}

func testContactDuplicateName(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	first, other := NewContact(t, "dup"), NewContact(t, "other")
	mustCreateContact(t, s, first, at(0))
	mustCreateContact(t, s, other, at(1))
	err := s.CreateContact(t.Context(), NewContact(t, "dup"), at(2))
	wantErr(t, "CreateContact with a taken name", err, store.ErrConflict)

	upd := NewContact(t, "dup")
	upd.ID = other.ID
	err = s.UpdateContact(t.Context(), upd, at(3))
	wantErr(t, "UpdateContact to a taken name", err, store.ErrConflict)

	all := listAllContacts(t, s, store.ContactFilter{})
	if diff := cmp.Diff([]*contact.Contact{first, other}, all, channelOpts); diff != "" {
		t.Errorf("after refused duplicates the store holds (-want +got):\n%s", diff)
	}
}

func testContactUpdate(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	old := NewContact(t, "before")
	mustCreateContact(t, s, old, at(0))

	upd := &contact.Contact{ID: old.ID, Name: "after", Email: "after@example.com", CreatedAt: at(5000)}
	if err := s.UpdateContact(t.Context(), upd, at(60_000)); err != nil {
		t.Fatalf("UpdateContact: %v", err)
	}
	want := *upd
	want.CreatedAt, want.UpdatedAt = at(0), at(60_000)
	if diff := cmp.Diff(&want, mustGetContact(t, s, old.ID), channelOpts); diff != "" {
		t.Errorf("after UpdateContact, GetContact differs (-want +got):\n%s", diff)
	}
	if !cmp.Equal(upd.CreatedAt, at(0), channelOpts) || !cmp.Equal(upd.UpdatedAt, at(60_000), channelOpts) {
		t.Errorf("UpdateContact set CreatedAt %v, UpdatedAt %v; want %v, %v", upd.CreatedAt, upd.UpdatedAt, at(0), at(60_000))
	}
	_, err := s.GetContactByName(t.Context(), "before")
	wantErr(t, "GetContactByName of the old name", err, store.ErrNotFound)
	mustCreateContact(t, s, NewContact(t, "before"), at(60_001)) // the old name is free again
}

func testContactDelete(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	gone, kept := NewContact(t, "gone"), NewContact(t, "kept")
	mustCreateContact(t, s, gone, at(0))
	mustCreateContact(t, s, kept, at(1))
	if err := s.DeleteContact(t.Context(), gone.ID); err != nil {
		t.Fatalf("DeleteContact: %v", err)
	}
	_, err := s.GetContact(t.Context(), gone.ID)
	wantErr(t, "GetContact after DeleteContact", err, store.ErrNotFound)
	wantErr(t, "DeleteContact twice", s.DeleteContact(t.Context(), gone.ID), store.ErrNotFound)
	if diff := cmp.Diff([]*contact.Contact{kept}, listAllContacts(t, s, store.ContactFilter{}), channelOpts); diff != "" {
		t.Errorf("after DeleteContact, list (-want +got):\n%s", diff)
	}
	mustCreateContact(t, s, NewContact(t, "gone"), at(2)) // the name is free again
}

func testContactListQuery(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	for i, c := range []*contact.Contact{
		{Name: "Zhang San", Mobile: "13800138000", Email: "zhang.san@Example.com"},
		{Name: "Li Si", Mobile: "+852-12345678", Email: "lisi@corp.example"},
		{Name: "Wang_Wu", Email: "wangwu@example.com"},
		{Name: "100% Chen", DingTalkUserID: "chen"},
		{Name: "张三丰", LarkOpenID: "ou_abc"},
	} {
		mustCreateContact(t, s, c, at(i))
	}
	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"", []string{"Zhang San", "Li Si", "Wang_Wu", "100% Chen", "张三丰"}},
		{"zhang", []string{"Zhang San"}},                  // name and email
		{"EXAMPLE.COM", []string{"Zhang San", "Wang_Wu"}}, // email, case-insensitive
		{"0013", []string{"Zhang San"}},                   // mobile
		{"+852", []string{"Li Si"}},                       // mobile abroad
		{"si", []string{"Li Si"}},                         // name and email
		{"_", []string{"Wang_Wu"}},                        // not a wildcard
		{"%", []string{"100% Chen"}},                      // not a wildcard
		{"三", []string{"张三丰"}},                            // beyond ASCII, as typed
		{"chen", []string{"100% Chen"}},                   // a DingTalk user id is not searched, the name is
		{"ou_abc", nil},                                   // nor a Lark open id
		{"CORP", []string{"Li Si"}},                       // email alone
	} {
		got := contactNames(listAllContacts(t, s, store.ContactFilter{Query: tt.query}))
		if diff := cmp.Diff(tt.want, got, cmpEmpty); diff != "" {
			t.Errorf("ListContacts with query %q (-want +got):\n%s", tt.query, diff)
		}
	}
}

func testContactListPages(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	var want []string
	for i := range 25 {
		c := NewContact(t, "person-"+ordinal(i))
		mustCreateContact(t, s, c, at(i))
		want = append(want, c.ID)
	}
	for _, limit := range []int{10, 5, 25, 24, 0, store.MaxLimit + 1} {
		var got []string
		f := store.ContactFilter{Limit: limit}
		for {
			items, next, err := s.ListContacts(t.Context(), f)
			if err != nil {
				t.Fatalf("ListContacts %+v: %v", f, err)
			}
			if n := store.PageLimit(limit); len(items) > n || (next != "" && len(items) != n) {
				t.Errorf("limit %d: a page of %d items with next %q", limit, len(items), next)
			}
			for _, c := range items {
				got = append(got, c.ID)
			}
			if next == "" {
				break
			}
			f.Cursor = next
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("limit %d: ids over all pages, want every contact once in creation order (-want +got):\n%s", limit, diff)
		}
	}
	items, next, err := s.ListContacts(t.Context(), store.ContactFilter{Query: "PERSON-1", Limit: 4})
	if err != nil || len(items) != 4 || next != items[3].ID {
		t.Errorf("ListContacts with a query and a limit: %d items, next %q, error %v; want 4 and a next page", len(items), next, err)
	}
}

func testGroupCreateAndGet(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	a, b := NewContact(t, "a"), NewContact(t, "b")
	mustCreateContact(t, s, a, at(0))
	mustCreateContact(t, s, b, at(1))
	ch1, ch2 := NewChannel(t, "ch1"), NewChannel(t, "ch2")
	mustCreate(t, s, ch1, at(2))
	mustCreate(t, s, ch2, at(3))

	// Members keep the order given, not the order of their ids.
	g := newGroup("sre", []string{b.ID, a.ID}, []string{ch2.ID, ch1.ID})
	g.ID = "chosen-by-the-caller"
	mustCreateGroup(t, s, g, at(4))
	if len(g.ID) != 26 || !cmp.Equal(g.CreatedAt, at(4), channelOpts) || !cmp.Equal(g.UpdatedAt, at(4), channelOpts) {
		t.Errorf("created group got ID %q, CreatedAt %v, UpdatedAt %v", g.ID, g.CreatedAt, g.UpdatedAt)
	}
	if diff := cmp.Diff(g, mustGetGroup(t, s, g.ID), channelOpts); diff != "" {
		t.Errorf("GetContactGroup differs from what was created (-want +got):\n%s", diff)
	}
	got, err := s.GetContactGroupByName(t.Context(), "sre")
	if err != nil {
		t.Fatalf("GetContactGroupByName: %v", err)
	}
	if diff := cmp.Diff(g, got, channelOpts); diff != "" {
		t.Errorf("GetContactGroupByName differs from what was created (-want +got):\n%s", diff)
	}
	// An empty group reads back with empty lists, not nil ones.
	empty := newGroup("empty", nil, nil)
	mustCreateGroup(t, s, empty, at(5))
	empty.ContactIDs, empty.ChannelIDs = []string{}, []string{}
	if diff := cmp.Diff(empty, mustGetGroup(t, s, empty.ID), channelOpts); diff != "" {
		t.Errorf("GetContactGroup of an empty group (-want +got):\n%s", diff)
	}
	// Contacts only, and a contact in two groups.
	solo := newGroup("solo", []string{a.ID}, nil)
	mustCreateGroup(t, s, solo, at(6))
	solo.ChannelIDs = []string{}
	items, next, err := s.ListContactGroups(t.Context(), store.GroupFilter{})
	if err != nil {
		t.Fatalf("ListContactGroups: %v", err)
	}
	if diff := cmp.Diff([]*contact.Group{g, empty, solo}, items, channelOpts); diff != "" || next != "" {
		t.Errorf("ListContactGroups got next %q and items (-want +got):\n%s", next, diff)
	}
}

func testGroupMissing(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	unknown := new(store.IDs).New(t0)
	_, err := s.GetContactGroup(t.Context(), unknown)
	wantErr(t, "GetContactGroup of an unknown id", err, store.ErrNotFound)
	_, err = s.GetContactGroupByName(t.Context(), "absent")
	wantErr(t, "GetContactGroupByName of an unknown name", err, store.ErrNotFound)
	ghost := newGroup("ghost", nil, nil)
	ghost.ID = unknown
	wantErr(t, "UpdateContactGroup of an unknown id", s.UpdateContactGroup(t.Context(), ghost, at(1)), store.ErrNotFound)
	wantErr(t, "DeleteContactGroup of an unknown id", s.DeleteContactGroup(t.Context(), unknown), store.ErrNotFound)
}

func testGroupDuplicateName(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	first, other := newGroup("dup", nil, nil), newGroup("other", nil, nil)
	mustCreateGroup(t, s, first, at(0))
	mustCreateGroup(t, s, other, at(1))
	err := s.CreateContactGroup(t.Context(), newGroup("dup", nil, nil), at(2))
	wantErr(t, "CreateContactGroup with a taken name", err, store.ErrConflict)
	upd := newGroup("dup", nil, nil)
	upd.ID = other.ID
	err = s.UpdateContactGroup(t.Context(), upd, at(3))
	wantErr(t, "UpdateContactGroup to a taken name", err, store.ErrConflict)
	if got := groupNames(listAllGroups(t, s, store.GroupFilter{})); !cmp.Equal(got, []string{"dup", "other"}) {
		t.Errorf("after refused duplicates the store holds groups %q", got)
	}
	// A contact and a group may share a name: they are different things.
	mustCreateContact(t, s, NewContact(t, "dup"), at(4))
}

// testGroupMissingMembers: a member id that names nothing is refused with
// ErrNotFound naming it, and nothing is written.
func testGroupMissingMembers(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	c := NewContact(t, "real")
	mustCreateContact(t, s, c, at(0))
	ch := NewChannel(t, "real-channel")
	mustCreate(t, s, ch, at(1))
	noContact, noChannel := new(store.IDs).New(at(2)), new(store.IDs).New(at(3))

	for _, tt := range []struct {
		name      string
		contacts  []string
		channels  []string
		wantNamed []string
	}{
		{"contact", []string{c.ID, noContact}, []string{ch.ID}, []string{noContact}},
		{"channel", []string{c.ID}, []string{noChannel, ch.ID}, []string{noChannel}},
		{"both", []string{noContact}, []string{noChannel}, []string{noContact, noChannel}},
		// A channel's id is no contact's, and the other way round.
		{"swapped", []string{ch.ID}, []string{c.ID}, []string{ch.ID, c.ID}},
	} {
		err := s.CreateContactGroup(t.Context(), newGroup("g-"+tt.name, tt.contacts, tt.channels), at(4))
		wantErr(t, "CreateContactGroup with a missing "+tt.name, err, store.ErrNotFound)
		for _, id := range tt.wantNamed {
			if err != nil && !strings.Contains(err.Error(), id) {
				t.Errorf("CreateContactGroup with a missing %s: error %q does not name %s", tt.name, err, id)
			}
		}
	}
	if got := listAllGroups(t, s, store.GroupFilter{}); len(got) != 0 {
		t.Errorf("refused creates left groups behind: %q", groupNames(got))
	}

	g := newGroup("kept", []string{c.ID}, []string{ch.ID})
	mustCreateGroup(t, s, g, at(5))
	upd := newGroup("renamed", []string{noContact}, []string{ch.ID})
	upd.ID = g.ID
	err := s.UpdateContactGroup(t.Context(), upd, at(6))
	wantErr(t, "UpdateContactGroup with a missing contact", err, store.ErrNotFound)
	if diff := cmp.Diff(g, mustGetGroup(t, s, g.ID), channelOpts); diff != "" {
		t.Errorf("a refused update changed the group (-want +got):\n%s", diff)
	}
}

// testGroupRepeatedMember: the API resolves a member named twice (by id and
// by name) into a problem; a store given one anyway refuses it whole.
func testGroupRepeatedMember(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	c := NewContact(t, "twice")
	mustCreateContact(t, s, c, at(0))
	if err := s.CreateContactGroup(t.Context(), newGroup("g", []string{c.ID, c.ID}, nil), at(1)); err == nil {
		t.Error("CreateContactGroup with a contact listed twice succeeded")
	}
	if got := listAllGroups(t, s, store.GroupFilter{}); len(got) != 0 {
		t.Errorf("a refused create left groups behind: %q", groupNames(got))
	}
	g := newGroup("g", []string{c.ID}, nil)
	mustCreateGroup(t, s, g, at(2))
	upd := newGroup("g", []string{c.ID, c.ID}, nil)
	upd.ID = g.ID
	if err := s.UpdateContactGroup(t.Context(), upd, at(3)); err == nil {
		t.Error("UpdateContactGroup with a contact listed twice succeeded")
	}
	g.ChannelIDs = []string{}
	if diff := cmp.Diff(g, mustGetGroup(t, s, g.ID), channelOpts); diff != "" {
		t.Errorf("a refused update changed the group (-want +got):\n%s", diff)
	}
}

func testGroupUpdateReplacesMembers(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	var cs []*contact.Contact
	for i, name := range []string{"a", "b", "c"} {
		c := NewContact(t, name)
		mustCreateContact(t, s, c, at(i))
		cs = append(cs, c)
	}
	var chs []*channel.Channel
	for i, name := range []string{"x", "y"} {
		ch := NewChannel(t, name)
		mustCreate(t, s, ch, at(10+i))
		chs = append(chs, ch)
	}
	g := newGroup("before", []string{cs[0].ID, cs[1].ID}, []string{chs[0].ID})
	mustCreateGroup(t, s, g, at(20))
	bystander := newGroup("bystander", []string{cs[0].ID}, []string{chs[0].ID})
	mustCreateGroup(t, s, bystander, at(21))

	upd := newGroup("after", []string{cs[2].ID, cs[0].ID}, []string{chs[1].ID})
	upd.ID = g.ID
	upd.Description = ""
	upd.CreatedAt = at(5000) // not the caller's to change
	if err := s.UpdateContactGroup(t.Context(), upd, at(60_000)); err != nil {
		t.Fatalf("UpdateContactGroup: %v", err)
	}
	want := *upd
	want.CreatedAt, want.UpdatedAt = at(20), at(60_000)
	if diff := cmp.Diff(&want, mustGetGroup(t, s, g.ID), channelOpts); diff != "" {
		t.Errorf("after UpdateContactGroup, GetContactGroup differs (-want +got):\n%s", diff)
	}
	if !cmp.Equal(upd.CreatedAt, at(20), channelOpts) || !cmp.Equal(upd.UpdatedAt, at(60_000), channelOpts) {
		t.Errorf("UpdateContactGroup set CreatedAt %v, UpdatedAt %v", upd.CreatedAt, upd.UpdatedAt)
	}
	if diff := cmp.Diff(bystander, mustGetGroup(t, s, bystander.ID), channelOpts); diff != "" {
		t.Errorf("updating one group changed another (-want +got):\n%s", diff)
	}
	// b left the group, and no other holds it: it may go now.
	if err := s.DeleteContact(t.Context(), cs[1].ID); err != nil {
		t.Errorf("DeleteContact of a contact taken out of its group: %v", err)
	}
	// Emptying a group.
	upd.ContactIDs, upd.ChannelIDs = nil, nil
	if err := s.UpdateContactGroup(t.Context(), upd, at(60_001)); err != nil {
		t.Fatalf("UpdateContactGroup to no members: %v", err)
	}
	if got := mustGetGroup(t, s, g.ID); len(got.ContactIDs)+len(got.ChannelIDs) != 0 {
		t.Errorf("after emptying the group it holds %q and %q", got.ContactIDs, got.ChannelIDs)
	}
}

// testDeleteHeldMember: a contact or channel that groups hold is not
// deleted; the refusal names every group holding it.
func testDeleteHeldMember(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	c := NewContact(t, "on-call person")
	mustCreateContact(t, s, c, at(0))
	ch := NewChannel(t, "on-call robot")
	mustCreate(t, s, ch, at(1))
	dba := newGroup("dba", []string{c.ID}, []string{ch.ID})
	mustCreateGroup(t, s, dba, at(2))
	sre := newGroup("sre", []string{c.ID}, []string{ch.ID})
	mustCreateGroup(t, s, sre, at(3))
	mustCreateGroup(t, s, newGroup("unrelated", nil, nil), at(4))

	for _, tt := range []struct {
		what   string
		delete func() error
		get    func() error
	}{
		{"contact", func() error { return s.DeleteContact(t.Context(), c.ID) }, func() error { _, err := s.GetContact(t.Context(), c.ID); return err }},
		{"channel", func() error { return s.DeleteChannel(t.Context(), ch.ID) }, func() error { _, err := s.GetChannel(t.Context(), ch.ID); return err }},
	} {
		err := tt.delete()
		wantErr(t, "deleting a "+tt.what+" two groups hold", err, store.ErrConflict)
		if err != nil && (!strings.Contains(err.Error(), `"dba"`) || !strings.Contains(err.Error(), `"sre"`) || strings.Contains(err.Error(), "unrelated")) {
			t.Errorf("deleting a %s two groups hold: error %q does not name both groups (and only them)", tt.what, err)
		}
		if err := tt.get(); err != nil {
			t.Errorf("after a refused delete, the %s is gone: %v", tt.what, err)
		}
	}

	// Out of one group: still refused, naming the other.
	dba.ContactIDs, dba.ChannelIDs = nil, nil
	if err := s.UpdateContactGroup(t.Context(), dba, at(5)); err != nil {
		t.Fatalf("UpdateContactGroup: %v", err)
	}
	err := s.DeleteContact(t.Context(), c.ID)
	wantErr(t, "deleting a contact one group holds", err, store.ErrConflict)
	if err != nil && (!strings.Contains(err.Error(), `"sre"`) || strings.Contains(err.Error(), `"dba"`)) {
		t.Errorf("deleting a contact one group holds: error %q does not name that group alone", err)
	}

	// Deleting the last group frees both, and leaves them in place.
	if err := s.DeleteContactGroup(t.Context(), sre.ID); err != nil {
		t.Fatalf("DeleteContactGroup: %v", err)
	}
	_, err = s.GetContactGroup(t.Context(), sre.ID)
	wantErr(t, "GetContactGroup after DeleteContactGroup", err, store.ErrNotFound)
	mustGetContact(t, s, c.ID)
	mustGet(t, s, ch.ID)
	if err := s.DeleteContact(t.Context(), c.ID); err != nil {
		t.Errorf("DeleteContact once no group holds it: %v", err)
	}
	if err := s.DeleteChannel(t.Context(), ch.ID); err != nil {
		t.Errorf("DeleteChannel once no group holds it: %v", err)
	}
}

func testGroupListQueryAndPages(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	c := NewContact(t, "member")
	mustCreateContact(t, s, c, at(0))
	var want []string
	for i := range 12 {
		name := "team-" + ordinal(i)
		if i%3 == 0 {
			name = "Other_" + ordinal(i)
		}
		g := newGroup(name, []string{c.ID}, nil)
		mustCreateGroup(t, s, g, at(1+i))
		if strings.HasPrefix(name, "team") {
			want = append(want, name)
		}
	}
	f := store.GroupFilter{Query: "TEAM", Limit: 3}
	var got []string
	var sizes []int
	for range 10 {
		items, next, err := s.ListContactGroups(t.Context(), f)
		if err != nil {
			t.Fatalf("ListContactGroups %+v: %v", f, err)
		}
		for _, g := range items {
			if !cmp.Equal(g.ContactIDs, []string{c.ID}) {
				t.Errorf("listed group %q has contacts %q, want its member", g.Name, g.ContactIDs)
			}
		}
		got = append(got, groupNames(items)...)
		sizes = append(sizes, len(items))
		if next == "" {
			break
		}
		f.Cursor = next
	}
	if diff := cmp.Diff([]int{3, 3, 2}, sizes); diff != "" {
		t.Errorf("page sizes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("names over all pages (-want +got):\n%s", diff)
	}
	if got := groupNames(listAllGroups(t, s, store.GroupFilter{Query: "r_"})); !cmp.Equal(got, []string{"Other_00", "Other_03", "Other_06", "Other_09"}) {
		t.Errorf(`ListContactGroups with query "r_" got %q`, got)
	}
}

// testConcurrentContactsAndGroups writes contacts and groups sharing them
// from several goroutines at once, as HTTP handlers do.
func testConcurrentContactsAndGroups(t *testing.T, h Harness) {
	const workers, each = 6, 10
	s := open(t, h, NewBox(t))
	shared := NewContact(t, "shared")
	mustCreateContact(t, s, shared, at(0))
	ch := NewChannel(t, "shared-channel")
	mustCreate(t, s, ch, at(1))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				c := NewContact(t, fmt.Sprintf("worker %d %02d", w, i))
				if err := s.CreateContact(t.Context(), c, at(2+i)); err != nil {
					t.Errorf("worker %d: create contact: %v", w, err)
					return
				}
				g := newGroup(fmt.Sprintf("group-%d-%02d", w, i), []string{c.ID, shared.ID}, []string{ch.ID})
				if err := s.CreateContactGroup(t.Context(), g, at(2+i)); err != nil {
					t.Errorf("worker %d: create group: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if n := len(listAllContacts(t, s, store.ContactFilter{Limit: 7})); n != workers*each+1 {
		t.Errorf("store holds %d contacts after %d concurrent creates, want %d", n, workers*each, workers*each+1)
	}
	groups := listAllGroups(t, s, store.GroupFilter{Limit: 7})
	if len(groups) != workers*each {
		t.Errorf("store holds %d groups after %d concurrent creates", len(groups), workers*each)
	}
	for _, g := range groups {
		if len(g.ContactIDs) != 2 || g.ContactIDs[1] != shared.ID || !cmp.Equal(g.ChannelIDs, []string{ch.ID}) {
			t.Errorf("group %q has contacts %q and channels %q", g.Name, g.ContactIDs, g.ChannelIDs)
		}
	}
}

// testConcurrentDeleteAndJoin races groups taking a contact in against
// the contact's deletion: whichever wins, no group may end up holding a
// contact that is gone, and the losers get ErrNotFound or ErrConflict.
func testConcurrentDeleteAndJoin(t *testing.T, h Harness) {
	const joiners, rounds = 4, 5
	s := open(t, h, NewBox(t))
	for r := range rounds {
		c := NewContact(t, fmt.Sprintf("contested %d", r))
		mustCreateContact(t, s, c, at(r))
		var wg sync.WaitGroup
		errs := make([]error, joiners+1)
		for j := range joiners {
			wg.Go(func() {
				errs[j] = s.CreateContactGroup(t.Context(), newGroup(fmt.Sprintf("race-%d-%d", r, j), []string{c.ID}, nil), at(r))
			})
		}
		wg.Go(func() { errs[joiners] = s.DeleteContact(t.Context(), c.ID) })
		wg.Wait()
		for i, err := range errs {
			if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict) {
				t.Errorf("round %d, call %d: error %v is neither not found nor conflict", r, i, err)
			}
		}
		_, getErr := s.GetContact(t.Context(), c.ID)
		deleted := errs[joiners] == nil
		if deleted != errors.Is(getErr, store.ErrNotFound) {
			t.Errorf("round %d: DeleteContact returned %v but GetContact then returned %v", r, errs[joiners], getErr)
		}
		for j := range joiners {
			if deleted && errs[j] == nil {
				t.Errorf("round %d: a group took in contact %s and the contact was deleted as well", r, c.ID)
			}
		}
	}
	for _, g := range listAllGroups(t, s, store.GroupFilter{}) {
		for _, id := range g.ContactIDs {
			if _, err := s.GetContact(t.Context(), id); err != nil {
				t.Errorf("group %q holds contact %s, which is gone: %v", g.Name, id, err)
			}
		}
	}
}

func mustCreateContact(t *testing.T, s store.Store, c *contact.Contact, now time.Time) {
	t.Helper()
	if err := s.CreateContact(t.Context(), c, now); err != nil {
		t.Fatalf("create contact %q: %v", c.Name, err)
	}
}

func mustGetContact(t *testing.T, s store.Store, id string) *contact.Contact {
	t.Helper()
	c, err := s.GetContact(t.Context(), id)
	if err != nil {
		t.Fatalf("get contact %s: %v", id, err)
	}
	return c
}

func mustCreateGroup(t *testing.T, s store.Store, g *contact.Group, now time.Time) {
	t.Helper()
	if err := s.CreateContactGroup(t.Context(), g, now); err != nil {
		t.Fatalf("create contact group %q: %v", g.Name, err)
	}
}

func mustGetGroup(t *testing.T, s store.Store, id string) *contact.Group {
	t.Helper()
	g, err := s.GetContactGroup(t.Context(), id)
	if err != nil {
		t.Fatalf("get contact group %s: %v", id, err)
	}
	return g
}

// collect returns every item of a list call, following cursors.
func collect[T any](t *testing.T, what string, list func(cursor string) ([]T, string, error)) []T {
	t.Helper()
	var all []T
	cursor := ""
	for page := 0; ; page++ {
		if page > store.MaxLimit {
			t.Fatalf("%s: no last page after %d pages", what, page)
		}
		items, next, err := list(cursor)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		all = append(all, items...)
		if next == "" {
			return all
		}
		cursor = next
	}
}

// collectPages is collect for a list asked for pages of limit items (as
// store.PageLimit reads it): it fails t when a page is longer, or shorter
// while another follows.
func collectPages[T any](t *testing.T, what string, limit int, list func(cursor string) ([]T, string, error)) []T {
	t.Helper()
	n := store.PageLimit(limit)
	return collect(t, what, func(cursor string) ([]T, string, error) {
		items, next, err := list(cursor)
		if err == nil && (len(items) > n || (next != "" && len(items) != n)) {
			t.Errorf("%s: a page of %d items with next %q, want at most %d, and %d when another follows", what, len(items), next, n, n)
		}
		return items, next, err
	})
}

func listAllContacts(t *testing.T, s store.Store, f store.ContactFilter) []*contact.Contact {
	t.Helper()
	return collect(t, fmt.Sprintf("list contacts %+v", f), func(cursor string) ([]*contact.Contact, string, error) {
		f.Cursor = cursor
		return s.ListContacts(t.Context(), f)
	})
}

func listAllGroups(t *testing.T, s store.Store, f store.GroupFilter) []*contact.Group {
	t.Helper()
	return collect(t, fmt.Sprintf("list contact groups %+v", f), func(cursor string) ([]*contact.Group, string, error) {
		f.Cursor = cursor
		return s.ListContactGroups(t.Context(), f)
	})
}

func contactNames(cs []*contact.Contact) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func groupNames(gs []*contact.Group) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.Name)
	}
	return out
}
