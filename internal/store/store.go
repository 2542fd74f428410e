// Package store is the storage contract every backend (store/sqlite,
// store/postgres) implements, with the Go they share: id generation, error
// kinds, the stored form of a channel (ChannelRecord, which seals channel
// secrets so no backend ever writes one in clear), the checks and messages
// of contact groups' membership, the stored form of a policy
// (PolicyRecord), of a rule (RuleRecord) and of a data source
// (DatasourceRecord, sealed as channels are), the stored form of events
// and the text their searches match, loading and running embedded
// migrations, and transactions. What the package does not have is SQL:
// each backend writes its own, and its own migrations. The behaviour both
// backends must have is pinned down by the one contract suite in
// store/storetest.
package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tocsinhq/tocsin/internal/channel"
	"github.com/tocsinhq/tocsin/internal/contact"
	"github.com/tocsinhq/tocsin/internal/datasource"
	"github.com/tocsinhq/tocsin/internal/intake"
	"github.com/tocsinhq/tocsin/internal/route"
	"github.com/tocsinhq/tocsin/internal/rule"
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
	// ErrConflict, naming them, while contact groups hold it or policies
	// target it.
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
	// contacts and channels themselves). ErrNotFound when there is none;
	// ErrConflict, naming them, while policies target it: dropping it from
	// them unasked would quietly change who gets paged.
	DeleteContactGroup(ctx context.Context, id string) error
	// ListContactGroups returns groups with their members in id order
	// (creation order), paged as ListChannels.
	ListContactGroups(ctx context.Context, f GroupFilter) (items []*contact.Group, next string, err error)

	// CreatePolicy stores p with its targets, assigning ID. p.Targets are
	// ids by then (the API resolves names), each listed once, and kept in
	// their order. ErrConflict when the name is taken (compared exactly);
	// ErrNotFound, naming them, when targets do not exist. A policy that
	// does not validate (route.Policy.Validate) is refused with its
	// *problem.List. Durations are kept to the millisecond, rounded up; p
	// is set to what is stored.
	CreatePolicy(ctx context.Context, p *route.Policy, now time.Time) error
	// GetPolicy returns the policy with that id and its targets, or
	// ErrNotFound.
	GetPolicy(ctx context.Context, id string) (*route.Policy, error)
	// GetPolicyByName returns the policy with that exact name, or
	// ErrNotFound.
	GetPolicyByName(ctx context.Context, name string) (*route.Policy, error)
	// UpdatePolicy replaces the stored policy with p.ID, targets included
	// (every field but ID). ErrNotFound (the policy, or targets as in
	// CreatePolicy), ErrConflict.
	UpdatePolicy(ctx context.Context, p *route.Policy, now time.Time) error
	// DeletePolicy removes a policy and its targets (never the channels
	// and groups themselves). ErrNotFound when there is none; ErrConflict,
	// naming them, while rules notify through it (UsedByRules).
	DeletePolicy(ctx context.Context, id string) error
	// ListPolicies returns policies with their targets in routing order,
	// (Position, ID), at most f.Limit of them, after the cursor f.Cursor
	// (see PolicyCursor; another string fails); next is the cursor of the
	// following page, "" on the last page.
	ListPolicies(ctx context.Context, f PolicyFilter) (items []*route.Policy, next string, err error)
	// AllPolicies returns every policy with its targets in routing order,
	// (Position, ID), read at one moment: what the router loads.
	AllPolicies(ctx context.Context) ([]route.Policy, error)
	// CreateSilence stores s with a new ID (in UUID form: Alertmanager's
	// API addresses silences by UUID) and UpdatedAt = now, and sets those
	// fields of s. Times are kept in UTC to the millisecond, and s gets
	// them so. The caller has validated s (route.Silence.Validate).
	CreateSilence(ctx context.Context, s *route.Silence, now time.Time) error
	// GetSilence returns the silence with that id, or ErrNotFound.
	GetSilence(ctx context.Context, id string) (*route.Silence, error)
	// UpdateSilence replaces the stored silence with s.ID (all fields but
	// ID), setting UpdatedAt to now, and sets s's times as stored.
	// ErrNotFound. Expiring a silence is such an update
	// (route.Silence.Expire).
	UpdateSilence(ctx context.Context, s *route.Silence, now time.Time) error
	// ReplaceSilence updates old as UpdateSilence does and creates s as
	// CreateSilence does, in one transaction: how an edit that Alertmanager
	// cannot apply in place expires the silence and starts a new one, with
	// no moment at which both or neither is in force. ErrNotFound when old
	// is missing; then nothing is written.
	ReplaceSilence(ctx context.Context, old, s *route.Silence, now time.Time) error
	// ListSilences returns every silence f selects, in id order (creation
	// order), unpaged: the alert pipeline loads them all, and
	// Alertmanager's API answers them all.
	ListSilences(ctx context.Context, f SilenceFilter) ([]*route.Silence, error)
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

	// CreateRule stores r, assigning ID, CreatedAt and UpdatedAt from now
	// (StoredTime), and sets those fields of r; every other field is kept
	// as given (see RuleRecord). policyID is the policy the rule notifies
	// through ("" for none: its alerts are routed like any other);
	// datasourceID the data source it queries ("" for the embedded
	// store); they must agree with r's names (EncodeRule). ErrConflict
	// when the name is taken (compared exactly); ErrNotFound, naming it,
	// when the policy or data source does not exist.
	CreateRule(ctx context.Context, r *rule.Rule, policyID, datasourceID string, now time.Time) error
	// GetRule returns the rule with that id, or ErrNotFound. A named
	// policy target and an external data source read as the current names
	// of the policy and data source the rule's ids name.
	GetRule(ctx context.Context, id string) (*StoredRule, error)
	// GetRuleByName returns the rule with exactly that name, or ErrNotFound.
	GetRuleByName(ctx context.Context, name string) (*StoredRule, error)
	// UpdateRule replaces the rule r.ID (every field but ID and
	// CreatedAt; UpdatedAt = now), and sets r.CreatedAt and r.UpdatedAt as
	// stored. Its state is kept. ErrNotFound, ErrConflict as in
	// CreateRule.
	UpdateRule(ctx context.Context, r *rule.Rule, policyID, datasourceID string, now time.Time) error
	// DeleteRule removes a rule and its state. ErrNotFound when there is
	// none.
	DeleteRule(ctx context.Context, id string) error
	// ListRules returns rules in id order (creation order), paged as
	// ListChannels.
	ListRules(ctx context.Context, f RuleFilter) (items []*StoredRule, next string, err error)
	// AllRules returns every rule in id order (creation order), read at
	// one moment, for the evaluator.
	AllRules(ctx context.Context) ([]*StoredRule, error)
	// SaveRuleState stores a rule's evaluation state as StoredRuleState
	// makes it, replacing the earlier one. ErrNotFound when the rule is
	// gone (deleted meanwhile).
	SaveRuleState(ctx context.Context, st *RuleState) error
	// RuleState returns a rule's state, or ErrNotFound before its first
	// evaluation (and for a rule that does not exist).
	RuleState(ctx context.Context, ruleID string) (*RuleState, error)
	// AllRuleStates returns every rule's state in rule id order, for the
	// evaluator's start.
	AllRuleStates(ctx context.Context) ([]*RuleState, error)

	// CreateDatasource stores d, assigning ID, CreatedAt and UpdatedAt from
	// now (StoredTime), its secrets sealed, and sets those fields of d.
	// ErrConflict when the name is taken (compared exactly).
	CreateDatasource(ctx context.Context, d *datasource.Source, now time.Time) error
	// GetDatasource and GetDatasourceByName (exact name) return a data
	// source with its secrets in clear (for querying; the API masks them),
	// or ErrNotFound.
	GetDatasource(ctx context.Context, id string) (*datasource.Source, error)
	GetDatasourceByName(ctx context.Context, name string) (*datasource.Source, error)
	// UpdateDatasource replaces the data source d.ID (every field but ID
	// and CreatedAt; UpdatedAt = now), secrets as given (the API puts the
	// stored ones back for masked values), and sets d.CreatedAt and
	// d.UpdatedAt as stored. ErrNotFound, ErrConflict as in
	// CreateDatasource.
	UpdateDatasource(ctx context.Context, d *datasource.Source, now time.Time) error
	// DeleteDatasource removes a data source. ErrNotFound when there is
	// none; ErrConflict, naming them, while rules query it (UsedByRules).
	DeleteDatasource(ctx context.Context, id string) error
	// ListDatasources returns data sources in id order (creation order),
	// paged as ListChannels.
	ListDatasources(ctx context.Context, f DatasourceFilter) (items []*datasource.Source, next string, err error)

	// Meta returns a server-wide value (the admin token hash, …), or
	// ErrNotFound.
	Meta(ctx context.Context, key string) (string, error)
	// SetMeta stores a server-wide value, replacing any earlier one.
	SetMeta(ctx context.Context, key, value string) error
	// InitMeta stores value under key unless the key is already set, and
	// returns what is stored now: value when this call set it, the earlier
	// value otherwise. Replicas starting at once agree on one value.
	InitMeta(ctx context.Context, key, value string) (stored string, err error)

	// Pipeline keeps alerts, groups and the outbox.
	Pipeline

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

// PolicyFilter selects policies for ListPolicies.
type PolicyFilter struct {
	// Query matches names containing it, case-insensitively; "" matches all.
	Query string
	// Limit pages as in ChannelFilter; Cursor is the next value of the
	// previous page (PolicyCursor), "" for the first page.
	Limit  int
	Cursor string
}

// SilenceFilter selects silences for ListSilences.
type SilenceFilter struct {
	// EndsAfter keeps the silences whose EndsAt is after it: given now,
	// those active or pending at now, which the alert pipeline caches;
	// given an earlier time, also those that expired since. The zero
	// value keeps all.
	EndsAfter time.Time
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
// back: such an id is the previous one plus one. NewUUID makes ids of the
// same kind in UUID form. Each store owns one; the zero value is ready and
// safe for concurrent use.
type IDs struct {
	mu       sync.Mutex // guards last and lastUUID
	last     [16]byte
	lastUUID [16]byte
}

// New returns a new id.
func (g *IDs) New(now time.Time) string {
	b := newIDBytes(now)
	g.mu.Lock()
	defer g.mu.Unlock()
	b = after(b, &g.last)
	return idEncoding.EncodeToString(b[:])
}

// NewUUID returns a new id in the form of a version 7 UUID (RFC 9562:
// the milliseconds first, then random bits), for objects that an outside
// API addresses by UUID: Alertmanager's API declares silence ids so. They
// sort in creation and call order as New's ids do: the version and variant
// bits are set before the comparison with the previous one, and adding one
// reaches them only after 2^62 ids in one millisecond.
func (g *IDs) NewUUID(now time.Time) string {
	b := newIDBytes(now)
	b[6] = 0x70 | b[6]&0x0f // version 7
	b[8] = 0x80 | b[8]&0x3f // variant 10
	g.mu.Lock()
	b = after(b, &g.lastUUID)
	g.mu.Unlock()
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	hex.Encode(s[9:13], b[4:6])
	hex.Encode(s[14:18], b[6:8])
	hex.Encode(s[19:23], b[8:10])
	hex.Encode(s[24:], b[10:])
	s[8], s[13], s[18], s[23] = '-', '-', '-', '-'
	return string(s[:])
}

// newIDBytes returns 48 bits of now's Unix milliseconds and 80 random bits.
func newIDBytes(now time.Time) [16]byte {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // cannot happen on supported platforms
	}
	return b
}

// after returns b, or *last plus one when b does not sort after *last, and
// records the result in *last. The caller holds the lock guarding last.
func after(b [16]byte, last *[16]byte) [16]byte {
	if bytes.Compare(b[:], last[:]) <= 0 {
		b = *last
		for i := len(b) - 1; i >= 0; i-- {
			b[i]++
			if b[i] != 0 {
				break
			}
		}
	}
	*last = b
	return b
}

// EscapeLike escapes s for a SQL LIKE pattern with ESCAPE '\'.
func EscapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
