package store

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tocsinhq/tocsin/internal/contact"
)

// NewContact returns the contact CreateContact stores for c: c with the new
// id, and CreatedAt and UpdatedAt set to now as StoredTime. c itself is
// left as it is, for the backend to update once the contact is committed.
func NewContact(id string, c *contact.Contact, now time.Time) contact.Contact {
	n := *c
	n.ID = id
	n.CreatedAt = StoredTime(now)
	n.UpdatedAt = n.CreatedAt
	return n
}

// NewGroup is NewContact for a contact group. It refuses a group listing a
// member twice (CheckMembers).
func NewGroup(id string, g *contact.Group, now time.Time) (contact.Group, error) {
	if err := CheckMembers(g); err != nil {
		return contact.Group{}, err
	}
	n := *g
	n.ID = id
	n.CreatedAt = StoredTime(now)
	n.UpdatedAt = n.CreatedAt
	return n, nil
}

// CheckMembers refuses a group that lists a member id twice. Resolving
// members (contact.Group.Resolve) reports that to the client as a problem;
// a store meeting it has a caller that skipped that step.
func CheckMembers(g *contact.Group) error {
	for _, l := range []struct {
		what string
		ids  []string
	}{{"contact", g.ContactIDs}, {"channel", g.ChannelIDs}} {
		seen := make(map[string]bool, len(l.ids))
		for _, id := range l.ids {
			if seen[id] {
				return fmt.Errorf("contact group %q lists %s %s twice", g.Name, l.what, id)
			}
			seen[id] = true
		}
	}
	return nil
}

// Page cuts the items of one list call, read with one item more than
// limit: that one, if there, tells that another page follows, and next is
// the cursor that starts it (the id of the page's last item).
func Page[T any](items []T, limit int, id func(T) string) (page []T, next string) {
	if len(items) > limit {
		items = items[:limit]
		next = id(items[limit-1])
	}
	return items, next
}

// Member is one membership of a contact group, as a backend reads it.
type Member struct {
	GroupID string
	Channel bool // a channel; otherwise a contact
	ID      string
}

// AttachMembers sets the members of groups from ms, which are in position
// order within each group and kind. Every group gets non-nil lists.
func AttachMembers(groups []*contact.Group, ms []Member) {
	byID := make(map[string]*contact.Group, len(groups))
	for _, g := range groups {
		g.ContactIDs, g.ChannelIDs = []string{}, []string{}
		byID[g.ID] = g
	}
	for _, m := range ms {
		g := byID[m.GroupID]
		if g == nil {
			continue
		}
		if m.Channel {
			g.ChannelIDs = append(g.ChannelIDs, m.ID)
		} else {
			g.ContactIDs = append(g.ContactIDs, m.ID)
		}
	}
}

// MissingMembers is the error for a group whose members do not exist:
// ErrNotFound, naming them.
func MissingMembers(group string, contacts, channels []string) error {
	var parts []string
	if len(contacts) > 0 {
		parts = append(parts, plural(len(contacts), "contact")+" "+strings.Join(contacts, ", "))
	}
	if len(channels) > 0 {
		parts = append(parts, plural(len(channels), "channel")+" "+strings.Join(channels, ", "))
	}
	if len(parts) == 0 {
		return nil
	}
	return fmt.Errorf("contact group %q: there is no %s: %w", group, strings.Join(parts, ", and no "), ErrNotFound)
}

// ErrMemberGone is why a membership could not be written although its
// member existed when checked: it was deleted meanwhile (the foreign key
// caught it).
var ErrMemberGone = fmt.Errorf("a member of the group was deleted meanwhile: %w", ErrNotFound)

// InGroups is the error for deleting what contact groups hold: ErrConflict,
// naming the groups. what names the object ("contact 01…").
func InGroups(what string, groups []string) error {
	if len(groups) == 0 {
		// The foreign key caught a membership written meanwhile.
		return fmt.Errorf("%s is in a contact group: take it out of the group first: %w", what, ErrConflict)
	}
	quoted := make([]string, len(groups))
	for i, g := range groups {
		quoted[i] = strconv.Quote(g)
	}
	if len(groups) == 1 {
		return fmt.Errorf("%s is in contact group %s: take it out of that group first: %w", what, quoted[0], ErrConflict)
	}
	return fmt.Errorf("%s is in contact groups %s: take it out of those groups first: %w", what, strings.Join(quoted, ", "), ErrConflict)
}

func plural(n int, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}
