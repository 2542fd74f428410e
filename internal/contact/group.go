package contact

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tocsinhq/tocsin/internal/problem"
)

// Group is contacts and channels that policies, rules and escalations
// address together.
type Group struct {
	ID          string
	Name        string
	Description string
	// ContactIDs and ChannelIDs are the members, in the order the client
	// gave them, each once. ValidateGroup fills them with the references
	// the client gave (ids or names); Resolve turns those into ids, which
	// is what a store takes.
	ContactIDs []string
	ChannelIDs []string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

type groupJSON struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Contacts    []string  `json:"contacts"`
	Channels    []string  `json:"channels"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// MarshalJSON writes the API shape: members under "contacts" and
// "channels", as ids, [] when there are none.
func (g Group) MarshalJSON() ([]byte, error) {
	return json.Marshal(groupJSON{
		ID: g.ID, Name: g.Name, Description: g.Description,
		Contacts: orEmpty(g.ContactIDs), Channels: orEmpty(g.ChannelIDs),
		CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt,
	})
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// GroupInput is a contact group as a client sends it, before validation.
// DecodeGroup fills it; ValidateGroup turns it into a Group.
type GroupInput struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Contacts and Channels name members by id or by name.
	Contacts []string `json:"contacts"`
	Channels []string `json:"channels"`
	// ID, created_at and updated_at are accepted (a client may send back
	// what it got) and ignored.
	ID        string          `json:"id"`
	CreatedAt json.RawMessage `json:"created_at"`
	UpdatedAt json.RawMessage `json:"updated_at"`
}

// DecodeGroup reads a GroupInput strictly: unknown fields are refused with
// their name.
func DecodeGroup(data []byte) (*GroupInput, error) {
	var in GroupInput
	if err := problem.DecodeStrict(data, &in, ""); err != nil {
		return nil, err
	}
	return &in, nil
}

// MaxDescriptionLen bounds a group's description, in characters.
const MaxDescriptionLen = 1000

// ValidateGroup checks in and returns the group it describes, trimmed, with
// the member references as given (see Group). Every problem is reported at
// once, as *problem.List. A group may be empty: members can be added later.
func ValidateGroup(in *GroupInput) (*Group, error) {
	var p problem.List
	g := &Group{
		Name:        strings.TrimSpace(in.Name),
		Description: strings.TrimSpace(in.Description),
	}
	validateName(&p, g.Name, `a contact group needs a name, like "sre-oncall"`)
	if n := utf8.RuneCountInString(g.Description); n > MaxDescriptionLen {
		p.Add("description", "too-long", "a description must be at most %d characters, got %d", MaxDescriptionLen, n)
	}
	g.ContactIDs = validateRefs(&p, "contacts", "contact", in.Contacts)
	g.ChannelIDs = validateRefs(&p, "channels", "channel", in.Channels)
	if err := p.Err(); err != nil {
		return nil, err
	}
	return g, nil
}

// validateRefs trims a list of member references and reports empty and
// repeated ones.
func validateRefs(p *problem.List, field, what string, refs []string) []string {
	out := make([]string, 0, len(refs))
	first := map[string]int{}
	for i, ref := range refs {
		ref = strings.TrimSpace(ref)
		if ref == "" {
			p.Add(fmt.Sprintf("%s[%d]", field, i), "required", "an empty entry: give a %s's id or name, or remove it", what)
			continue
		}
		if j, ok := first[ref]; ok {
			p.Add(fmt.Sprintf("%s[%d]", field, i), "duplicate", "%q is listed already, at %s[%d]: list each %s once", ref, field, j, what)
			continue
		}
		first[ref] = i
		out = append(out, ref)
	}
	return out
}

// Resolver returns the id of the object (a contact, a channel, …) that ref
// names, as an id or else as a name; ok is false when there is none. The
// API layer builds one from the store's Get and GetByName calls.
type Resolver func(ctx context.Context, ref string) (id string, ok bool, err error)

// Resolve replaces the member references of a group fresh from
// ValidateGroup with ids. A reference that names nothing, or names a member
// listed already under another reference (its id and its name), is a
// problem of its field, reported with the others as *problem.List; an error
// of a resolver is returned as it is.
func (g *Group) Resolve(ctx context.Context, contacts, channels Resolver) error {
	var p problem.List
	var err error
	if g.ContactIDs, err = ResolveRefs(ctx, &p, "contacts", "contact", g.ContactIDs, contacts); err != nil {
		return err
	}
	if g.ChannelIDs, err = ResolveRefs(ctx, &p, "channels", "channel", g.ChannelIDs, channels); err != nil {
		return err
	}
	return p.Err()
}

// ResolveRefs turns the references (ids or names) of one list, the JSON
// field field, into ids with resolve, in their order: the step behind
// Resolve, and behind the API's resolving of other lists of references
// (a policy's targets). A reference that names nothing is a problem coded
// "unknown-<what>" (spaces as dashes: unknown-contact-group), one that
// names an object listed already a "duplicate"; both are added to p and
// left out. An error of resolve is returned as it is.
func ResolveRefs(ctx context.Context, p *problem.List, field, what string, refs []string, resolve Resolver) ([]string, error) {
	out := make([]string, 0, len(refs))
	first := map[string]int{}
	for i, ref := range refs {
		id, ok, err := resolve(ctx, ref)
		switch {
		case err != nil:
			return nil, fmt.Errorf("%s[%d] %q: %w", field, i, ref, err)
		case !ok:
			p.Add(fmt.Sprintf("%s[%d]", field, i), "unknown-"+strings.ReplaceAll(what, " ", "-"), "there is no %s with the id or name %q", what, ref)
			continue
		}
		if j, dup := first[id]; dup {
			p.Add(fmt.Sprintf("%s[%d]", field, i), "duplicate", "%q is the %s listed already at %s[%d]: list each %s once", ref, what, field, j, what)
			continue
		}
		first[id] = i
		out = append(out, id)
	}
	return out, nil
}
