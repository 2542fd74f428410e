package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/intake"
)

// IngestToken is a token senders use on intake endpoints, and nowhere
// else. The token itself is shown once, when it is made; the store keeps
// only its hash.
type IngestToken struct {
	ID   string
	Name string // unique among ingest tokens, compared exactly
	// Hash is the SHA-256 of the token.
	Hash      [32]byte
	CreatedAt time.Time
}

// NewIngestToken returns the token CreateIngestToken stores for t: t with
// the new id and CreatedAt set to now as StoredTime.
func NewIngestToken(id string, t *IngestToken, now time.Time) IngestToken {
	n := *t
	n.ID = id
	n.CreatedAt = StoredTime(now)
	return n
}

// Event is an event as Tocsin keeps it: what the sender reported (an
// intake.Event), with the id and arrival time Tocsin gave it.
type Event struct {
	// ID is Tocsin's id; ids sort in arrival order.
	ID string
	// ExternalID is the sender's own id for the event (intake.Event.ID), ""
	// when it gave none. With the source it names one event: a second event
	// with both the same is not stored again.
	ExternalID string
	Source     string
	Type       string
	Level      alert.Severity
	Resource   string
	Region     string
	// Time is when it happened, as the sender says.
	Time time.Time
	// ReceivedAt is when Tocsin stored it.
	ReceivedAt time.Time
	// Content is the event's details as compact JSON text (a string, an
	// object or an array), nil when there are none.
	Content json.RawMessage
	Labels  alert.Labels
}

// InsertedEvent is what InsertEvents did with one event.
type InsertedEvent struct {
	// ID is the stored event's id: the new one, or that of the event stored
	// earlier with the same source and external id.
	ID string
	// New is false when the event was stored already and nothing was
	// written.
	New bool
}

// EventFilter selects events for ListEvents. Every field set must match.
type EventFilter struct {
	// Source, Type, Level and Resource keep events with exactly that value;
	// "" keeps all.
	Source   string
	Type     string
	Level    alert.Severity
	Resource string
	// Since and Until keep events that happened at or after Since and
	// before Until (Event.Time), both cut to the millisecond as stored
	// times are; a zero time does not bound.
	Since, Until time.Time
	// Query keeps events whose source, type, resource, region, labels
	// (name=value) or content (its keys and values as text) contain it,
	// case-insensitively; "" keeps all. EventSearchText says exactly.
	Query string
	// Limit bounds the page as in ChannelFilter. Cursor is the next value
	// of the previous page; "" starts with the newest event.
	Limit  int
	Cursor string
}

// NewEvent returns the event InsertEvents stores for e: with the id, the
// arrival time now, and times as StoredTime.
func NewEvent(id string, e *intake.Event, now time.Time) Event {
	return Event{
		ID:         id,
		ExternalID: e.ID,
		Source:     e.Source,
		Type:       e.Type,
		Level:      e.Level,
		Resource:   e.Resource,
		Region:     e.Region,
		Time:       StoredTime(e.Time),
		ReceivedAt: StoredTime(now),
		Content:    e.Content,
		Labels:     e.Labels,
	}
}

// EncodeLabels returns labels as the JSON object a backend stores.
func EncodeLabels(ls alert.Labels) []byte { return ls.AppendJSON(nil) }

// DecodeLabels reads labels stored by EncodeLabels.
func DecodeLabels(data []byte) (alert.Labels, error) {
	if len(data) == 0 || string(data) == "{}" {
		return alert.Labels{}, nil
	}
	var m map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decode labels: %w", err)
	}
	return alert.FromMap(m), nil
}

// EventSearchText returns the text EventFilter.Query is matched against,
// lower-cased: the source, type, resource and region, every label as
// name=value, and the content's text (a string's text; an object's keys
// and values, numbers and booleans among them), one piece a line, so a
// query without a line break never matches across two of them. JSON escapes in the content
// are decoded: senders that write "\u78c1\u76d8" are found by 磁盘.
func EventSearchText(e *Event) string {
	var b strings.Builder
	line := func(s string) {
		if s == "" {
			return
		}
		b.WriteString(strings.ToLower(s))
		b.WriteByte('\n')
	}
	line(e.Source)
	line(e.Type)
	line(e.Resource)
	line(e.Region)
	for _, l := range e.Labels {
		line(l.Name + "=" + l.Value)
	}
	dec := json.NewDecoder(bytes.NewReader(e.Content))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			// io.EOF at the end; Content is valid JSON, so nothing else
			// is expected, and a fault only shortens the text.
			if !errors.Is(err, io.EOF) {
				line(string(e.Content))
			}
			break
		}
		switch v := tok.(type) {
		case string:
			line(v)
		case json.Number:
			line(v.String())
		case bool:
			line(strconv.FormatBool(v))
		}
	}
	return b.String()
}

// EventQuery returns the LIKE pattern body (escaped, lower-cased) a
// backend matches EventSearchText against for query q.
func EventQuery(q string) string {
	return EscapeLike(strings.ToLower(q))
}
