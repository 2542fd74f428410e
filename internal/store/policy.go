package store

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tocsinhq/tocsin/internal/route"
)

// PolicyRecord is a notification policy as every backend stores it, but
// for its targets, which are rows of join tables (PolicyTarget): matchers
// as a JSON list of their strings, group_by as a JSON list, durations as
// whole milliseconds and mute time windows in their JSON form. A backend
// binds and scans these fields in its own column types.
type PolicyRecord struct {
	ID, Name                                       string
	Position                                       int64
	Matchers                                       []byte // JSON list of matcher strings
	GroupBy                                        []byte // JSON list of label names
	GroupWaitMS, GroupIntervalMS, RepeatIntervalMS int64
	SendResolved, Continue                         bool
	MuteTimeWindows                                []byte // JSON, route.MarshalTimeWindows
	Mention                                        string
	CreatedAt, UpdatedAt                           time.Time
}

// StoredPolicy returns the policy a store keeps for p: p itself, with its
// durations rounded up to whole milliseconds (the stores' precision; up, so
// a positive duration stays positive). It refuses a policy that does not
// validate: the router loads whatever is stored, and the API validated it
// already, so meeting one means a caller skipped that. The result shares
// p's slices.
func StoredPolicy(p *route.Policy) (route.Policy, error) {
	if err := p.Validate(); err != nil {
		return route.Policy{}, fmt.Errorf("policy %q: %w", p.Name, err)
	}
	n := *p
	n.GroupWait = storedDuration(p.GroupWait)
	n.GroupInterval = storedDuration(p.GroupInterval)
	n.RepeatInterval = storedDuration(p.RepeatInterval)
	return n, nil
}

func storedDuration(d time.Duration) time.Duration {
	if r := d % time.Millisecond; r > 0 {
		return d - r + time.Millisecond
	}
	return d
}

// EncodePolicy returns the record of p, which StoredPolicy returned, with
// CreatedAt and UpdatedAt set to now as StoredTime.
func EncodePolicy(p *route.Policy, now time.Time) (PolicyRecord, error) {
	matchers, err := json.Marshal(p.Matchers.Strings())
	if err != nil {
		return PolicyRecord{}, fmt.Errorf("encode matchers: %w", err)
	}
	groupBy, err := json.Marshal(orEmpty(p.GroupBy))
	if err != nil {
		return PolicyRecord{}, fmt.Errorf("encode group_by: %w", err)
	}
	windows, err := route.MarshalTimeWindows(p.MuteTimeWindows)
	if err != nil {
		return PolicyRecord{}, fmt.Errorf("encode mute time windows: %w", err)
	}
	return PolicyRecord{
		ID: p.ID, Name: p.Name, Position: int64(p.Position),
		Matchers: matchers, GroupBy: groupBy,
		GroupWaitMS:      p.GroupWait.Milliseconds(),
		GroupIntervalMS:  p.GroupInterval.Milliseconds(),
		RepeatIntervalMS: p.RepeatInterval.Milliseconds(),
		SendResolved:     p.SendResolved, Continue: p.Continue,
		MuteTimeWindows: windows, Mention: string(p.Mention),
		CreatedAt: StoredTime(now), UpdatedAt: StoredTime(now),
	}, nil
}

// Decode returns the policy r stores, without its targets (AttachTargets).
// An empty list (matchers, group_by, windows) reads as nil, as the policy's
// JSON decoding makes it.
func (r PolicyRecord) Decode() (*route.Policy, error) {
	p := &route.Policy{
		ID: r.ID, Name: r.Name, Position: int(r.Position),
		GroupWait:      time.Duration(r.GroupWaitMS) * time.Millisecond,
		GroupInterval:  time.Duration(r.GroupIntervalMS) * time.Millisecond,
		RepeatInterval: time.Duration(r.RepeatIntervalMS) * time.Millisecond,
		SendResolved:   r.SendResolved, Continue: r.Continue,
		Mention: route.Mention(r.Mention),
	}
	var matchers []string
	if err := json.Unmarshal(r.Matchers, &matchers); err != nil {
		return nil, fmt.Errorf("policy %s: decode matchers: %w", r.ID, err)
	}
	for _, s := range matchers {
		m, err := route.ParseMatcher(s)
		if err != nil {
			return nil, fmt.Errorf("policy %s: decode matchers: %w", r.ID, err)
		}
		p.Matchers = append(p.Matchers, m)
	}
	if err := json.Unmarshal(r.GroupBy, &p.GroupBy); err != nil {
		return nil, fmt.Errorf("policy %s: decode group_by: %w", r.ID, err)
	}
	if len(p.GroupBy) == 0 {
		p.GroupBy = nil
	}
	windows, err := route.UnmarshalTimeWindows(r.MuteTimeWindows)
	if err != nil {
		return nil, fmt.Errorf("policy %s: decode mute time windows: %w", r.ID, err)
	}
	p.MuteTimeWindows = windows
	return p, nil
}

// DecodePolicies decodes records in their order.
func DecodePolicies(rs []PolicyRecord) ([]*route.Policy, error) {
	return decodeAll(rs, PolicyRecord.Decode)
}

// PolicyTarget is one target of a policy, as a backend reads it from the
// join tables.
type PolicyTarget struct {
	PolicyID string
	Group    bool // a contact group; otherwise a channel
	ID       string
}

// AttachTargets sets the targets of policies from ts, which are in position
// order within each policy and kind. A policy without targets of a kind
// keeps nil, as the policy's JSON decoding makes it.
func AttachTargets(policies []*route.Policy, ts []PolicyTarget) {
	byID := make(map[string]*route.Policy, len(policies))
	for _, p := range policies {
		p.Targets = route.Targets{}
		byID[p.ID] = p
	}
	for _, t := range ts {
		p := byID[t.PolicyID]
		if p == nil {
			continue
		}
		if t.Group {
			p.Targets.ContactGroups = append(p.Targets.ContactGroups, t.ID)
		} else {
			p.Targets.Channels = append(p.Targets.Channels, t.ID)
		}
	}
}

// MissingTargets is the error for a policy whose targets do not exist:
// ErrNotFound, naming them.
func MissingTargets(policy string, channels, groups []string) error {
	return missing(fmt.Sprintf("policy %q", policy), refs{"channel", channels}, refs{"contact group", groups})
}

// ErrTargetGone is why a policy's target could not be written although it
// existed when checked: it was deleted meanwhile (the foreign key caught
// it).
var ErrTargetGone = fmt.Errorf("a target of the policy was deleted meanwhile: %w", ErrNotFound)

// PolicyCursor is the cursor of a page of policies ending with p: its
// position and id, the keys policies are listed by.
func PolicyCursor(p *route.Policy) string {
	return strconv.Itoa(p.Position) + ":" + p.ID
}

// ParsePolicyCursor reads a cursor PolicyCursor made.
func ParsePolicyCursor(cursor string) (position int64, id string, err error) {
	pos, id, ok := strings.Cut(cursor, ":")
	position, perr := strconv.ParseInt(pos, 10, 64)
	if !ok || perr != nil || id == "" {
		return 0, "", fmt.Errorf("cursor %q is not one a list of policies answered", cursor)
	}
	return position, id, nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
