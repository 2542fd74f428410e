package store

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/tocsinhq/tocsin/internal/route"
)

// StoredSilence returns the silence CreateSilence, UpdateSilence and
// ReplaceSilence store for s: s with id, its times as StoredTime and
// UpdatedAt = now. s itself is left as it is, for the backend to update
// once the silence is committed.
func StoredSilence(id string, s *route.Silence, now time.Time) route.Silence {
	n := *s
	n.ID = id
	n.StartsAt = StoredTime(s.StartsAt)
	n.EndsAt = StoredTime(s.EndsAt)
	n.UpdatedAt = StoredTime(now)
	return n
}

// SetStoredSilence copies to s what the store set on n, its stored form.
func SetStoredSilence(s *route.Silence, n *route.Silence) {
	s.ID, s.StartsAt, s.EndsAt, s.UpdatedAt = n.ID, n.StartsAt, n.EndsAt, n.UpdatedAt
}

// EncodeMatchers returns a silence's matchers as every backend stores
// them: the JSON of Alertmanager's API ([{"name","value","isRegex",
// "isEqual"}]), which keeps each operator as it was given.
func EncodeMatchers(s *route.Silence) ([]byte, error) {
	b, err := json.Marshal(s.Matchers)
	if err != nil {
		return nil, fmt.Errorf("silence %s: encode matchers: %w", s.ID, err)
	}
	return b, nil
}

// DecodeMatchers reads what EncodeMatchers wrote into s.Matchers.
func DecodeMatchers(s *route.Silence, data []byte) error {
	if err := json.Unmarshal(data, &s.Matchers); err != nil {
		return fmt.Errorf("silence %s: decode matchers: %w", s.ID, err)
	}
	return nil
}
