package route

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tocsinhq/tocsin/internal/alert"
)

// MatchType is a matcher's operator.
type MatchType int

// Operators, as Alertmanager spells them.
const (
	MatchEqual     MatchType = iota // =
	MatchNotEqual                   // !=
	MatchRegexp                     // =~
	MatchNotRegexp                  // !~
)

func (t MatchType) String() string {
	switch t {
	case MatchEqual:
		return "="
	case MatchNotEqual:
		return "!="
	case MatchRegexp:
		return "=~"
	case MatchNotRegexp:
		return "!~"
	}
	return fmt.Sprintf("MatchType(%d)", int(t))
}

// Matcher tests one label. Build one with NewMatcher or a parser; the fields
// are unexported so a regex matcher always carries its compiled expression.
// The zero Matcher is name="" = "": the empty name is never set, so it
// matches every label set.
type Matcher struct {
	name  string
	typ   MatchType
	value string
	re    *regexp.Regexp // for MatchRegexp and MatchNotRegexp
}

// NewMatcher returns a matcher, compiling value when t is a regex operator.
// Regexes are anchored at both ends, as in Alertmanager: team=~"sre" matches
// "sre" and not "sre-db".
func NewMatcher(t MatchType, name, value string) (Matcher, error) {
	m := Matcher{name: name, typ: t, value: value}
	switch {
	case name == "":
		return Matcher{}, errors.New("a label name cannot be empty")
	case !utf8.ValidString(name):
		return Matcher{}, fmt.Errorf("label name %q is not valid UTF-8", name)
	case !utf8.ValidString(value):
		return Matcher{}, fmt.Errorf("the value of %s is not valid UTF-8", name)
	case t < MatchEqual || t > MatchNotRegexp:
		return Matcher{}, fmt.Errorf("unknown operator %d", int(t))
	}
	if t == MatchRegexp || t == MatchNotRegexp {
		// Compile the value alone first: "a)|(b" would compile once
		// wrapped, as ^(?:a)|(b)$, and quietly lose its anchors.
		if _, err := regexp.Compile(value); err != nil {
			return Matcher{}, fmt.Errorf("invalid regular expression %q: %s", value, regexpReason(err))
		}
		re, err := regexp.Compile("^(?:" + value + ")$")
		if err != nil {
			return Matcher{}, fmt.Errorf("invalid regular expression %q: %s", value, regexpReason(err))
		}
		m.re = re
	}
	return m, nil
}

// regexpReason drops the "error parsing regexp: " prefix the regexp package
// puts on every error.
func regexpReason(err error) string {
	var se *syntax.Error
	if errors.As(err, &se) {
		return fmt.Sprintf("%s in %q", se.Code, se.Expr)
	}
	return err.Error()
}

// Name is the label the matcher tests.
func (m Matcher) Name() string { return m.name }

// Type is the operator.
func (m Matcher) Type() MatchType { return m.typ }

// Value is the value or regular expression as written (without anchors).
func (m Matcher) Value() string { return m.value }

// Matches tests a label value. A missing label is the empty string, so
// team!="sre" and team="" both match an alert without a team label.
func (m Matcher) Matches(v string) bool {
	switch m.typ {
	case MatchEqual:
		return v == m.value
	case MatchNotEqual:
		return v != m.value
	case MatchRegexp:
		return m.re.MatchString(v)
	case MatchNotRegexp:
		return !m.re.MatchString(v)
	}
	return false
}

// Equal reports whether two matchers are the same name, operator and value.
// go-cmp uses it, so tests can compare matchers directly.
func (m Matcher) Equal(o Matcher) bool {
	return m.name == o.name && m.typ == o.typ && m.value == o.value
}

// String renders the canonical form: the name (quoted unless it is a classic
// Prometheus label name), the operator and the value, always quoted with Go
// escapes. ParseMatcher reads it back to an equal matcher.
func (m Matcher) String() string {
	return quoteName(m.name) + m.typ.String() + strconv.Quote(m.value)
}

func quoteName(name string) string {
	for i, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return strconv.Quote(name)
		}
	}
	if name == "" {
		return `""`
	}
	return name
}

// matcherJSON is the Alertmanager API v2 form. IsEqual is a pointer because
// Alertmanager treats an absent isEqual as true (it was added later).
type matcherJSON struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
	IsEqual *bool  `json:"isEqual,omitempty"`
}

// MarshalJSON writes the Alertmanager API v2 form
// {"name","value","isRegex","isEqual"}.
func (m Matcher) MarshalJSON() ([]byte, error) {
	eq := m.typ == MatchEqual || m.typ == MatchRegexp
	return json.Marshal(matcherJSON{
		Name: m.name, Value: m.value,
		IsRegex: m.typ == MatchRegexp || m.typ == MatchNotRegexp,
		IsEqual: &eq,
	})
}

// UnmarshalJSON reads the Alertmanager API v2 form; isEqual defaults to true.
func (m *Matcher) UnmarshalJSON(b []byte) error {
	var j matcherJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	eq := j.IsEqual == nil || *j.IsEqual
	t := MatchEqual
	switch {
	case j.IsRegex && eq:
		t = MatchRegexp
	case j.IsRegex:
		t = MatchNotRegexp
	case !eq:
		t = MatchNotEqual
	}
	nm, err := NewMatcher(t, j.Name, j.Value)
	if err != nil {
		return err
	}
	*m = nm
	return nil
}

// Matchers is a conjunction: all must match. An empty list matches
// everything.
type Matchers []Matcher

// Matches reports whether every matcher matches ls.
func (ms Matchers) Matches(ls alert.Labels) bool {
	for _, m := range ms {
		if !m.Matches(ls.Get(m.name)) {
			return false
		}
	}
	return true
}

// MatchesEmpty reports whether ms matches the empty label set, that is
// whether it would match alerts that carry none of the labels it names.
func (ms Matchers) MatchesEmpty() bool {
	for _, m := range ms {
		if !m.Matches("") {
			return false
		}
	}
	return true
}

// String renders {a="1", b=~"x|y"}; ParseMatchers reads it back.
func (ms Matchers) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(m.String())
	}
	b.WriteByte('}')
	return b.String()
}

// Strings renders each matcher on its own, the form policies and inhibition
// rules use in JSON.
func (ms Matchers) Strings() []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.String()
	}
	return out
}
