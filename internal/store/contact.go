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
	return missing(fmt.Sprintf("contact group %q", group), refs{"contact", contacts}, refs{"channel", channels})
}

// refs are the ids of one kind of object (what: "contact") an object
// refers to.
type refs struct {
	what string
	ids  []string
}

// missing is the error for references of owner ("contact group \"sre\"")
// to objects that do not exist: ErrNotFound, naming them; nil when every
// list is empty.
func missing(owner string, lists ...refs) error {
	var parts []string
	for _, l := range lists {
		if len(l.ids) > 0 {
			parts = append(parts, plural(len(l.ids), l.what)+" "+strings.Join(l.ids, ", "))
		}
	}
	if len(parts) == 0 {
		return nil
	}
	return fmt.Errorf("%s: there is no %s: %w", owner, strings.Join(parts, ", and no "), ErrNotFound)
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
	return InUse(what, groups, nil)
}

// InUse is the error for deleting what contact groups hold or policies
// target: ErrConflict, naming the groups and the policies. what names the
// object ("channel 01…"). With neither named, a foreign key caught a
// reference written after the store looked.
func InUse(what string, groups, policies []string) error {
	if len(groups) == 0 && len(policies) == 0 {
		return fmt.Errorf("%s is in a contact group or a target of a policy: take it out of them first: %w", what, ErrConflict)
	}
	return refused(what,
		holders{groups, "in contact group", "in contact groups", "take it out of that group", "take it out of those groups"},
		holders{policies, "a target of policy", "a target of policies", "remove it from that policy", "remove it from those policies"})
}

// UsedByRules is the error for deleting what rules use (the policy they
// notify through, the data source they query): ErrConflict, naming the
// rules. what names the object ("policy 01…"). With none named, a foreign
// key caught a rule written after the store looked.
func UsedByRules(what string, rules []string) error {
	if len(rules) == 0 {
		return fmt.Errorf("%s is used by a rule: change or delete the rule first: %w", what, ErrConflict)
	}
	return refused(what, holders{rules, "used by rule", "used by rules", "change or delete that rule", "change or delete those rules"})
}

// holders are the objects of one kind that refer to what a deletion would
// remove, and how a refusal words them: how the object is held by one of
// them and by several ("in contact group"), and what to do first.
type holders struct {
	names           []string
	one, many       string
	fixOne, fixMany string
}

// refused is the error for deleting what the holders refer to:
// ErrConflict, naming them; kinds without names are left out, and at
// least one kind has names.
func refused(what string, hs ...holders) error {
	var held, fixes []string
	for _, h := range hs {
		if n := len(h.names); n > 0 {
			held = append(held, choose(n, h.one, h.many)+" "+quoteAll(h.names))
			fixes = append(fixes, choose(n, h.fixOne, h.fixMany))
		}
	}
	return fmt.Errorf("%s is %s: %s first: %w", what, strings.Join(held, " and "), strings.Join(fixes, " and "), ErrConflict)
}

func quoteAll(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	return strings.Join(quoted, ", ")
}

func plural(n int, noun string) string { return choose(n, noun, noun+"s") }

// choose returns one when n is 1, else many.
func choose(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
