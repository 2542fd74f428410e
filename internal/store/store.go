// Package store is the storage contract every backend (store/sqlite,
// store/postgres) implements, with the Go they share: id generation, error
// kinds, the stored form of a channel (ChannelRecord, which seals channel
// secrets so no backend ever writes one in clear), the checks and messages
// of contact groups' membership, the stored form of events and the text
// their searches match, loading and running embedded migrations, and
// transactions. What the package does not have is
// SQL: each backend writes its own, and its own migrations. The behaviour
// both backends must have is pinned down by the one contract suite in
// store/storetest.
package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tocsinhq/tocsin/internal/channel"
	"github.com/tocsinhq/tocsin/internal/contact"
	"github.com/tocsinhq/tocsin/internal/intake"
)

// Store is what Tocsin keeps. Implementations are safe for concurrent use.
type Store interface {
	// CreateChannel stores ch, assigning ID, CreatedAt and UpdatedAt from
	// now. ErrConflict when the name is taken (names are unique, compared
	// exactly).
	CreateChannel(ctx context.Context, ch *channel.Channel, now time.Time) error
	// GetChannel returns the channel with that id, or ErrNotFound.
	GetChannel(ctx context.Context, id string) (*channel.Channel, error)
	// GetChannelByName returns the channel with that exact name, or ErrNotFound.
	GetChannelByName(ctx context.Context, name string) (*channel.Channel, error)
	// UpdateChannel replaces the stored channel with ch.ID (all fields but
	// ID and CreatedAt), setting UpdatedAt to now. ErrNotFound, ErrConflict.
	UpdateChannel(ctx context.Context, ch *channel.Channel, now time.Time) error
	// DeleteChannel removes a channel. ErrNotFound when there is none;
	// ErrConflict, naming the groups, while contact groups hold it.
	DeleteChannel(ctx context.Context, id string) error
	// ListChannels returns channels in id order (creation order), at most
	// f.Limit of them, after the cursor f.Cursor; next is the cursor of the
	// following page, "" on the last page.
	ListChannels(ctx context.Context, f ChannelFilter) (items []*channel.Channel, next string, err error)

	// CreateContact stores c, assigning ID, CreatedAt and UpdatedAt from
	// now. ErrConflict when the name is taken (compared exactly).
	CreateContact(ctx context.Context, c *contact.Contact, now time.Time) error
	// GetContact returns the contact with that id, or ErrNotFound.
	GetContact(ctx context.Context, id string) (*contact.Contact, error)
	// GetContactByName returns the contact with that exact name, or
	// ErrNotFound.
	GetContactByName(ctx context.Context, name string) (*contact.Contact, error)
	// UpdateContact replaces the stored contact with c.ID (all fields but
	// ID and CreatedAt), setting UpdatedAt to now. ErrNotFound, ErrConflict.
	UpdateContact(ctx context.Context, c *contact.Contact, now time.Time) error
	// DeleteContact removes a contact. ErrNotFound when there is none;
	// ErrConflict, naming the groups, while contact groups hold it: taking
	// it out of them unasked would quietly change who gets paged.
	DeleteContact(ctx context.Context, id string) error
	// ListContacts returns contacts in id order (creation order), paged as
	// ListChannels.
	ListContacts(ctx context.Context, f ContactFilter) (items []*contact.Contact, next string, err error)

	// CreateContactGroup stores g with its members, assigning ID, CreatedAt
	// and UpdatedAt from now. g.ContactIDs and g.ChannelIDs are ids (see
	// contact.Group.Resolve), each listed once; they are kept in their
	// order. ErrConflict when the name is taken; ErrNotFound, naming them,
	// when members do not exist. A repeated member id is refused with a
	// plain error: the caller was to resolve it away.
	CreateContactGroup(ctx context.Context, g *contact.Group, now time.Time) error
	// GetContactGroup returns the group with that id and its members, or
	// ErrNotFound.
	GetContactGroup(ctx context.Context, id string) (*contact.Group, error)
	// GetContactGroupByName returns the group with that exact name, or
	// ErrNotFound.
	GetContactGroupByName(ctx context.Context, name string) (*contact.Group, error)
	// UpdateContactGroup replaces the stored group with g.ID, members
	// included (all fields but ID and CreatedAt), setting UpdatedAt to now.
	// ErrNotFound (the group, or members as in CreateContactGroup),
	// ErrConflict.
	UpdateContactGroup(ctx context.Context, g *contact.Group, now time.Time) error
	// DeleteContactGroup removes a group and its memberships (never the
	// contacts and channels themselves). ErrNotFound when there is none.
	// Nothing refers to groups yet; once policies do, deleting a group a
	// policy targets is to be refused.
	DeleteContactGroup(ctx context.Context, id string) error
	// ListContactGroups returns groups with their members in id order
	// (creation order), paged as ListChannels.
	ListContactGroups(ctx context.Context, f GroupFilter) (items []*contact.Group, next string, err error)

	// CreateIngestToken stores t, assigning ID and CreatedAt from now.
	// ErrConflict when the name is taken (compared exactly). The store
	// keeps t.Hash, never the token.
	CreateIngestToken(ctx context.Context, t *IngestToken, now time.Time) error
	// ListIngestTokens returns every ingest token in id order (creation
	// order). There are few: the intake's cache reads them all at once.
	ListIngestTokens(ctx context.Context) ([]*IngestToken, error)
	// IngestTokenByHash returns the token whose hash is hash, or
	// ErrNotFound.
	IngestTokenByHash(ctx context.Context, hash [32]byte) (*IngestToken, error)
	// DeleteIngestToken removes a token. ErrNotFound when there is none.
	DeleteIngestToken(ctx context.Context, id string) error

	// InsertEvents stores evs in one transaction, all or none, each with a
	// new id (ids increase in the order given) and ReceivedAt = now, and
	// returns what it did with each, in the order given. An event whose
	// source and non-empty external id (intake.Event.ID) are those of an
	// event stored earlier, in an earlier call or earlier in evs, is not
	// stored again: a sender retrying a POST does not double its events.
	InsertEvents(ctx context.Context, evs []intake.Event, now time.Time) ([]InsertedEvent, error)
	// GetEvent returns the event with that id, or ErrNotFound.
	GetEvent(ctx context.Context, id string) (*Event, error)
	// ListEvents returns the events f selects, newest first (descending id
	// order), at most f.Limit of them, after the cursor f.Cursor; next is
	// the cursor of the following page, "" on the last page.
	ListEvents(ctx context.Context, f EventFilter) (items []*Event, next string, err error)

	// Meta returns a server-wide value (the admin token hash, …), or
	// ErrNotFound.
	Meta(ctx context.Context, key string) (string, error)
	// SetMeta stores a server-wide value, replacing any earlier one.
	SetMeta(ctx context.Context, key, value string) error
	// InitMeta stores value under key unless the key is already set, and
	// returns what is stored now: value when this call set it, the earlier
	// value otherwise. Replicas starting at once agree on one value.
	InitMeta(ctx context.Context, key, value string) (stored string, err error)

	// Ping checks the database answers (for /readyz).
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}

// ChannelFilter selects channels for ListChannels.
type ChannelFilter struct {
	// Query matches names containing it, case-insensitively; "" matches all.
	Query string
	// Kind keeps one kind; "" keeps all.
	Kind channel.Kind
	// Limit bounds the page; values outside 1..MaxLimit mean DefaultLimit.
	Limit int
	// Cursor is the next value of the previous page; "" starts at the top.
	Cursor string
}

// ContactFilter selects contacts for ListContacts.
type ContactFilter struct {
	// Query matches contacts whose name, mobile or email contains it,
	// case-insensitively; "" matches all.
	Query string
	// Limit and Cursor page as in ChannelFilter.
	Limit  int
	Cursor string
}

// GroupFilter selects contact groups for ListContactGroups.
type GroupFilter struct {
	// Query matches names containing it, case-insensitively; "" matches all.
	Query string
	// Limit and Cursor page as in ChannelFilter.
	Limit  int
	Cursor string
}

// Page sizes for list calls.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// PageLimit returns the effective page size for a requested limit.
func PageLimit(limit int) int {
	if limit < 1 || limit > MaxLimit {
		return DefaultLimit
	}
	return limit
}

// Error kinds a store returns, wrapped with context. Callers test them with
// errors.Is; the HTTP layer maps them to statuses in one place.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
)

// Meta keys.
const (
	MetaAdminTokenHash = "admin_token_hash"
	// MetaSecretKeyCheck holds a value sealed with the secret key on the
	// first start, so a later start with another key is refused before it
	// writes anything the real key cannot open.
	MetaSecretKeyCheck = "secret_key_check"
)

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// IDs makes ids: 26 characters, lower-case, sorting in creation order (48
// bits of milliseconds, then 80 random bits), so id order is creation order
// and serves as a stable pagination cursor. Ids one IDs makes also sort in
// call order when several fall in the same millisecond or the clock steps
// back: such an id is the previous one plus one. Each store owns one; the
// zero value is ready and safe for concurrent use.
type IDs struct {
	mu   sync.Mutex // guards last
	last [16]byte
}

// New returns a new id.
func (g *IDs) New(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // cannot happen on supported platforms
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if bytes.Compare(b[:], g.last[:]) <= 0 {
		b = g.last
		for i := len(b) - 1; i >= 0; i-- {
			b[i]++
			if b[i] != 0 {
				break
			}
		}
	}
	g.last = b
	return idEncoding.EncodeToString(b[:])
}

// EscapeLike escapes s for a SQL LIKE pattern with ESCAPE '\'.
func EscapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
