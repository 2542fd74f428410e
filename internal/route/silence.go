package route

import (
	"fmt"
	"strings"
	"time"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/problem"
)

// Silence mutes the alerts its matchers select for a time range. The JSON
// is Alertmanager's API v2 form (matchers as {"name","value","isRegex",
// "isEqual"}); the API adds "status" from State.
type Silence struct {
	ID        string    `json:"id"`
	Matchers  Matchers  `json:"matchers"`
	StartsAt  time.Time `json:"startsAt"`
	EndsAt    time.Time `json:"endsAt"`
	CreatedBy string    `json:"createdBy"`
	Comment   string    `json:"comment"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// SilenceState is where now falls in a silence's range.
type SilenceState string

// Silence states, spelled as Alertmanager's API spells them.
const (
	SilencePending SilenceState = "pending"
	SilenceActive  SilenceState = "active"
	SilenceExpired SilenceState = "expired"
)

// State is pending before StartsAt, active from StartsAt up to but not
// including EndsAt, expired from EndsAt on. (Alertmanager counts the very
// instant of EndsAt as active; the half-open range makes Expire take effect
// at once.)
func (s *Silence) State(now time.Time) SilenceState {
	switch {
	case now.Before(s.StartsAt):
		return SilencePending
	case now.Before(s.EndsAt):
		return SilenceActive
	}
	return SilenceExpired
}

// Matches reports whether the silence's matchers select ls, whatever the
// time.
func (s *Silence) Matches(ls alert.Labels) bool { return s.Matchers.Matches(ls) }

// Validate checks a silence as a client submits it at now (create or
// update), with the rules of Alertmanager's API: at least one matcher, not
// all of them matching the empty string, an end after the start and not in
// the past. Tocsin also requires createdBy and comment to be non-blank
// (Alertmanager's API marks both required; amtool fills them in), so every
// silence says who made it and why. Problems name the v2 JSON fields.
func (s *Silence) Validate(now time.Time) error {
	var p problem.List
	switch {
	case len(s.Matchers) == 0:
		p.Add("matchers", "required", `a silence needs at least one matcher, such as alertname="DiskFull"`)
	case s.Matchers.MatchesEmpty():
		p.Add("matchers", "matches-everything",
			`every matcher here also matches alerts that lack its label (%s), so the silence would mute nearly everything; as in Alertmanager, add a matcher that needs a value, such as alertname="DiskFull"`,
			s.Matchers)
	}
	switch {
	case s.StartsAt.IsZero():
		p.Add("startsAt", "required", "startsAt is required")
	case s.EndsAt.IsZero():
		p.Add("endsAt", "required", "endsAt is required")
	case !s.EndsAt.After(s.StartsAt):
		p.Add("endsAt", "out-of-range", "endsAt (%s) must be after startsAt (%s)", s.EndsAt.Format(time.RFC3339), s.StartsAt.Format(time.RFC3339))
	case s.EndsAt.Before(now):
		p.Add("endsAt", "out-of-range", "endsAt (%s) is in the past; a silence must end in the future", s.EndsAt.Format(time.RFC3339))
	}
	if strings.TrimSpace(s.CreatedBy) == "" {
		p.Add("createdBy", "required", "createdBy is required: say who is creating the silence")
	}
	if strings.TrimSpace(s.Comment) == "" {
		p.Add("comment", "required", "comment is required: say why the alerts are silenced, such as a ticket or maintenance")
	}
	return p.Err()
}

// Expire ends the silence at now, as Alertmanager does: an active silence
// gets EndsAt = now; a pending one gets StartsAt = EndsAt = now, so it never
// takes effect. Expiring an expired silence is an error.
func (s *Silence) Expire(now time.Time) error {
	switch s.State(now) {
	case SilenceExpired:
		return fmt.Errorf("silence %s already expired at %s", s.ID, s.EndsAt.Format(time.RFC3339))
	case SilencePending:
		s.StartsAt = now
	}
	s.EndsAt = now
	s.UpdatedAt = now
	return nil
}

// UpdatableTo reports whether a client's edit next may change s in place
// at now, keeping its id, by Alertmanager's rule: the matchers must be the
// same, in the same order; an active silence must keep its start (to the
// second) and not end before now; a pending one may move its start, but
// not into the past; an expired one never changes. Any other edit leaves
// s as history: Alertmanager expires s (when it has not expired yet) and
// creates next as a new silence.
func (s *Silence) UpdatableTo(next *Silence, now time.Time) bool {
	if len(s.Matchers) != len(next.Matchers) {
		return false
	}
	for i := range s.Matchers {
		if !s.Matchers[i].Equal(next.Matchers[i]) {
			return false
		}
	}
	switch s.State(now) {
	case SilenceActive:
		return next.StartsAt.Unix() == s.StartsAt.Unix() && !next.EndsAt.Before(now)
	case SilencePending:
		return !next.StartsAt.Before(now)
	}
	return false
}

// Silenced returns the ids of the silences active at now that match ls, in
// the order given; nil when none does.
func Silenced(silences []Silence, ls alert.Labels, now time.Time) []string {
	var ids []string
	for i := range silences {
		s := &silences[i]
		if s.State(now) == SilenceActive && s.Matches(ls) {
			ids = append(ids, s.ID)
		}
	}
	return ids
}
