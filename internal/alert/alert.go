// Package alert is Tocsin's domain core: an alert, its labels and their
// fingerprint, its status and handling state. It imports only the standard
// library; everything else in Tocsin speaks in these types.
package alert

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Label is one name=value pair.
type Label struct {
	Name  string
	Value string
}

// Labels is a set of labels sorted by name, names unique. A slice rather
// than a map: alerts are kept by the hundred thousand, and a sorted slice
// is a third of a map's size and hashes in a fixed order.
type Labels []Label

// FromMap builds Labels from a map, dropping empty values (Alertmanager
// treats a label with an empty value as absent).
func FromMap(m map[string]string) Labels {
	ls := make(Labels, 0, len(m))
	for k, v := range m {
		if v != "" {
			ls = append(ls, Label{Name: k, Value: v})
		}
	}
	slices.SortFunc(ls, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
	return ls
}

// Map returns the labels as a map.
func (ls Labels) Map() map[string]string {
	m := make(map[string]string, len(ls))
	for _, l := range ls {
		m[l.Name] = l.Value
	}
	return m
}

// Get returns the value of name, or "".
func (ls Labels) Get(name string) string {
	i, ok := slices.BinarySearchFunc(ls, name, func(l Label, n string) int { return strings.Compare(l.Name, n) })
	if !ok {
		return ""
	}
	return ls[i].Value
}

// Has reports whether name is set.
func (ls Labels) Has(name string) bool { return ls.Get(name) != "" }

// String renders {a="1", b="2"}.
func (ls Labels) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, l := range ls {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(l.Name)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(l.Value))
	}
	b.WriteByte('}')
	return b.String()
}

// Equal reports whether two label sets are the same.
func (ls Labels) Equal(o Labels) bool { return slices.Equal(ls, o) }

// Fingerprint identifies an alert by its labels. It is computed exactly as
// Alertmanager computes it (FNV-1a 64 over sorted names and values, each
// followed by the byte 0xff), so fingerprints Tocsin shows match the ones
// Prometheus users see in Alertmanager.
type Fingerprint uint64

// String renders the fingerprint as 16 hex digits, as Alertmanager does.
func (f Fingerprint) String() string { return fmt.Sprintf("%016x", uint64(f)) }

// MarshalText writes the 16 hex digits, so fingerprints read the same in
// JSON, in stored state and in Alertmanager's API.
func (f Fingerprint) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText reads 16 hex digits.
func (f *Fingerprint) UnmarshalText(b []byte) error {
	v, err := ParseFingerprint(string(b))
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// ParseFingerprint parses 16 hex digits.
func ParseFingerprint(s string) (Fingerprint, error) {
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil || len(s) != 16 {
		return 0, fmt.Errorf("fingerprint %q: want 16 hex digits", s)
	}
	return Fingerprint(v), nil
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
	separator = 0xff
)

// Fingerprint returns the labels' fingerprint.
func (ls Labels) Fingerprint() Fingerprint {
	h := uint64(fnvOffset)
	add := func(s string) {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= fnvPrime
		}
		h ^= separator
		h *= fnvPrime
	}
	for _, l := range ls {
		add(l.Name)
		add(l.Value)
	}
	return Fingerprint(h)
}

// Status is whether an alert fires now.
type Status string

// Statuses.
const (
	Firing   Status = "firing"
	Resolved Status = "resolved"
)

// State is where people are with an alert.
type State string

// Handling states. A cleared alert that fires again opens anew.
const (
	Open     State = "open"
	Claimed  State = "claimed"
	Silenced State = "silenced"
	Cleared  State = "cleared"
)

// Severity ranks alerts for mentions and digests.
type Severity string

// Severities. An alert's severity comes from its "severity" label unless
// the sender set one; anything else reads as Unknown.
const (
	Critical Severity = "critical"
	Warning  Severity = "warning"
	Info     Severity = "info"
	Unknown  Severity = ""
)

// ParseSeverity maps common spellings (critical, crit, P1, error, warning,
// warn, P2, info, notice, P3…) to a Severity.
func ParseSeverity(s string) Severity {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical", "crit", "fatal", "emergency", "page", "p0", "p1", "high", "disaster":
		return Critical
	case "warning", "warn", "error", "major", "p2", "medium", "average":
		return Warning
	case "info", "information", "notice", "minor", "low", "p3", "p4", "p5":
		return Info
	}
	return Unknown
}

// Alert is one alert as Tocsin keeps it.
type Alert struct {
	Fingerprint  Fingerprint
	Labels       Labels
	Annotations  Labels
	StartsAt     time.Time
	EndsAt       time.Time // zero: unknown; the resolve timeout applies
	GeneratorURL string
	// Source names the intake it came through: alertmanager, webhook,
	// native, grafana, rule, event.
	Source   string
	Severity Severity
}

// Name is the alertname label.
func (a *Alert) Name() string { return a.Labels.Get("alertname") }

// StatusAt is Resolved once EndsAt has passed, Firing before.
func (a *Alert) StatusAt(now time.Time) Status {
	if !a.EndsAt.IsZero() && !a.EndsAt.After(now) {
		return Resolved
	}
	return Firing
}

// Problem is one thing wrong with an alert as sent, with the JSON path of
// the field at fault.
type Problem struct {
	Field   string
	Message string
}

// ValidationError lists every problem of an alert or a batch.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		if p.Field == "" { // a problem of the whole body
			msgs[i] = p.Message
		} else {
			msgs[i] = p.Field + ": " + p.Message
		}
	}
	return strings.Join(msgs, "; ")
}

// Validate checks an alert as received; prefix is its JSON path in the
// request ("[3]"). Problems are appended to errs.
func (a *Alert) Validate(prefix string, errs *ValidationError) {
	bad := func(field, format string, args ...any) {
		errs.Problems = append(errs.Problems, Problem{Field: prefix + field, Message: fmt.Sprintf(format, args...)})
	}
	if len(a.Labels) == 0 {
		bad(".labels", "an alert needs at least one label, usually alertname")
	}
	checkLabels := func(field string, ls Labels) {
		for i, l := range ls {
			switch {
			case l.Name == "":
				bad(field, "a label name is empty")
			case !utf8.ValidString(l.Name) || !utf8.ValidString(l.Value):
				bad(field+"."+l.Name, "label names and values must be valid UTF-8")
			case i > 0 && ls[i-1].Name >= l.Name:
				bad(field+"."+l.Name, "duplicate label name")
			}
		}
	}
	checkLabels(".labels", a.Labels)
	checkLabels(".annotations", a.Annotations)
	if !a.StartsAt.IsZero() && !a.EndsAt.IsZero() && a.EndsAt.Before(a.StartsAt) {
		bad(".endsAt", "endsAt (%s) is before startsAt (%s)", a.EndsAt.Format(time.RFC3339), a.StartsAt.Format(time.RFC3339))
	}
}

// ErrInvalid marks validation failures for errors.Is.
var ErrInvalid = errors.New("invalid alert")

// Is lets errors.Is(err, ErrInvalid) match a *ValidationError.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }
