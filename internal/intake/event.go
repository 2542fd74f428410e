package intake

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tocsinhq/tocsin/internal/alert"
)

// Event is a one-off occurrence reported by a cloud or a system: an
// instance changed state, a disk was replaced. It has no end; event rules
// (later) turn matching events into alerts.
type Event struct {
	// ID is the sender's identifier, for deduplication; empty when the
	// sender gave none.
	ID       string
	Source   string // the sending system, like "aliyun.ecs"; required
	Type     string // what happened, like "Instance:StateChange"; required
	Level    alert.Severity
	Resource string // what it happened to, like an instance ID; required
	Region   string
	Time     time.Time // when it happened, in UTC
	// Content is the event's details as raw JSON text, compacted: a JSON
	// string or object (or array) as sent; nil when there is none.
	Content json.RawMessage
	Labels  alert.Labels
}

// ContentText returns the content for people: the text of a JSON string,
// otherwise the JSON itself.
func (e *Event) ContentText() string {
	var s string
	if len(e.Content) > 0 && e.Content[0] == '"' && json.Unmarshal(e.Content, &s) == nil {
		return s
	}
	return string(e.Content)
}

type rawEvent struct {
	ID       string            `json:"id"`
	Source   string            `json:"source"`
	Type     string            `json:"type"`
	Level    string            `json:"level"`
	Resource string            `json:"resource"`
	Region   string            `json:"region"`
	Time     json.RawMessage   `json:"time"`
	Content  json.RawMessage   `json:"content"`
	Labels   map[string]string `json:"labels"`
}

var eventShape = &shape{
	kind: kindOneOrMany,
	want: "an event object or a JSON array of events",
	elem: &shape{
		kind:   kindObject,
		want:   "an event object",
		noun:   "an event",
		strict: true,
		fields: []field{
			{"id", stringShape},
			{"source", stringShape},
			{"type", stringShape},
			{"level", stringShape},
			{"resource", stringShape},
			{"region", stringShape},
			{"time", &shape{kind: kindTime, want: eventTimeWant}},
			{"content", &shape{kind: kindContent, want: "a string or a JSON object"}},
			{"labels", labelsShape},
		},
	},
}

const eventTimeWant = `an RFC 3339 time string, like "2026-11-21T09:00:00Z", or a Unix time in seconds or milliseconds`

// Unix times at or above this are milliseconds: as seconds it is the year
// 5138, as milliseconds March 1973, so no real time of either kind is
// mistaken for the other.
const unixMillisFrom = 1e11

// maxUnixSeconds is 9999-12-31T23:59:59Z, the last time RFC 3339 can write.
const maxUnixSeconds = 253402300799

// DecodeEvents decodes the body of POST /api/v1/events: one event object,
// or a JSON array of them (paths then start with "[i]").
//
//   - source, type and resource are required (surrounding spaces trimmed);
//   - level is critical, warning or info, or a spelling
//     alert.ParseSeverity knows (CRITICAL, WARN, P1…); info when absent;
//   - time is an RFC 3339 string or a Unix time number, in seconds or
//     milliseconds (told apart by size); now when absent;
//   - content is a string or a JSON object (an array is taken too), kept as
//     JSON text;
//   - labels are as an alert's (empty values dropped), and may be empty.
//
// Unknown fields are refused, as on every Tocsin API.
func DecodeEvents(data []byte, now time.Time) ([]Event, error) {
	var p problems
	in, single, ok := decodeOneOrMany[rawEvent](&p, data, eventShape)
	if !ok {
		return nil, p.err()
	}
	out := make([]Event, len(in))
	for i := range in {
		out[i] = p.event(&in[i], at{index: i, whole: single}, now)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return out, nil
}

func (p *problems) event(in *rawEvent, w at, now time.Time) Event {
	e := Event{
		ID:       strings.TrimSpace(in.ID),
		Source:   strings.TrimSpace(in.Source),
		Type:     strings.TrimSpace(in.Type),
		Resource: strings.TrimSpace(in.Resource),
		Region:   strings.TrimSpace(in.Region),
		Labels:   alert.FromMap(in.Labels),
		Level:    alert.Info,
	}
	required := func(name, value, example string) {
		if value == "" && !p.taintedAt(w, name) {
			p.add(w.field(name), "required: %s", example)
		}
	}
	required("source", e.Source, `name the system that sent the event, like "aliyun.ecs"`)
	required("type", e.Type, `say what happened, like "Instance:StateChange"`)
	required("resource", e.Resource, `name what it happened to, like "i-bp67acfmxazb4p"`)
	if n := utf8.RuneCountInString(e.Source); n > MaxSourceLen {
		p.add(w.field("source"), "must be at most %d characters, got %d", MaxSourceLen, n)
	}
	if lv := strings.TrimSpace(in.Level); lv != "" {
		e.Level = alert.ParseSeverity(lv)
		if e.Level == alert.Unknown && !p.taintedAt(w, "level") {
			p.add(w.field("level"), "%q is not a level: use critical, warning or info", in.Level)
		}
	}
	e.Time = p.eventTime(in.Time, w, now)
	e.Content = p.content(in.Content, w.field("content"))
	if len(e.Labels) > 0 && e.Labels[0].Name == "" {
		p.add(w.field("labels"), "a label name is empty")
	}
	return e
}

// eventTime reads an RFC 3339 string or a Unix time in seconds or
// milliseconds.
func (p *problems) eventTime(raw json.RawMessage, w at, now time.Time) time.Time {
	if p.taintedAt(w, "time") {
		return time.Time{}
	}
	if len(raw) == 0 || string(raw) == "null" {
		return now.UTC()
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			break
		}
		t, ok := p.time(s, w, "time")
		if ok && t.IsZero() {
			return now.UTC()
		}
		return t
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || f <= 0 || math.IsInf(f, 0) || f/1000 > maxUnixSeconds {
			p.add(w.field("time"), "%s is not a Unix time after 1970 in seconds or milliseconds", raw)
			return time.Time{}
		}
		if f >= unixMillisFrom {
			f /= 1000
		}
		sec, frac := math.Modf(f)
		// Round to the microsecond: float64 cannot carry nanoseconds of a
		// present-day Unix time, and a decimal tail like 0.30000000004
		// helps no one.
		return time.Unix(int64(sec), 0).Add(time.Duration(math.Round(frac*1e6)) * time.Microsecond).UTC()
	}
	p.add(w.field("time"), "must be %s", eventTimeWant)
	return time.Time{}
}

// content keeps a string, object or array as compact JSON text.
func (p *problems) content(raw json.RawMessage, field string) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" || p.tainted(field) {
		return nil
	}
	switch raw[0] {
	case '"', '{', '[':
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			// Cannot happen: raw was decoded from valid JSON.
			return append(json.RawMessage(nil), raw...)
		}
		return b.Bytes()
	}
	p.add(field, "must be a string or a JSON object, got %s", raw)
	return nil
}
