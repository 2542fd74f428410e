package store

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/contact"
)

func TestMembershipErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		kind error
		want string
	}{
		{"one group", InGroups("contact c1", []string{"sre"}), ErrConflict,
			`contact c1 is in contact group "sre": take it out of that group first: conflict`},
		{"two groups", InGroups("channel h1", []string{"dba", "sre"}), ErrConflict,
			`channel h1 is in contact groups "dba", "sre": take it out of those groups first: conflict`},
		{"caught by the key", InGroups("contact c1", nil), ErrConflict,
			`contact c1 is in a contact group: take it out of the group first: conflict`},
		{"missing contact", MissingMembers("ops", []string{"c1"}, nil), ErrNotFound,
			`contact group "ops": there is no contact c1: not found`},
		{"missing both", MissingMembers("ops", []string{"c1", "c2"}, []string{"h1"}), ErrNotFound,
			`contact group "ops": there is no contacts c1, c2, and no channel h1: not found`},
	} {
		if !errors.Is(tt.err, tt.kind) {
			t.Errorf("%s: %v is not %v", tt.name, tt.err, tt.kind)
		}
		if tt.err.Error() != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, tt.err, tt.want)
		}
	}
	if err := MissingMembers("ops", nil, nil); err != nil {
		t.Errorf("MissingMembers with none missing = %v", err)
	}
}

func TestAttachMembers(t *testing.T) {
	a, b := &contact.Group{ID: "a"}, &contact.Group{ID: "b"}
	AttachMembers([]*contact.Group{a, b}, []Member{
		{GroupID: "a", ID: "c2"}, {GroupID: "a", ID: "c1"}, {GroupID: "a", Channel: true, ID: "h1"},
		{GroupID: "gone", ID: "c9"},
	})
	want := []*contact.Group{
		{ID: "a", ContactIDs: []string{"c2", "c1"}, ChannelIDs: []string{"h1"}},
		{ID: "b", ContactIDs: []string{}, ChannelIDs: []string{}},
	}
	if diff := cmp.Diff(want, []*contact.Group{a, b}); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
}

func TestCheckMembers(t *testing.T) {
	if err := CheckMembers(&contact.Group{ContactIDs: []string{"c1", "c2"}, ChannelIDs: []string{"c1"}}); err != nil {
		t.Errorf("a contact and a channel with one id: %v", err)
	}
	if err := CheckMembers(&contact.Group{Name: "g", ChannelIDs: []string{"h1", "h1"}}); err == nil {
		t.Error("a channel listed twice passed")
	}
}
