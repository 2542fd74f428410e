package intake

import (
	"bytes"
	"slices"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/tocsinhq/tocsin/internal/alert"
)

// scanPostable is the fast path of DecodePostableAlerts: one pass over a
// well-formed batch, with no reflection and few allocations. It reports
// false on anything it is not sure to read exactly as encoding/json would
// (malformed JSON, wrong types, null, escaped keys, field names in another
// case, duplicate fields or labels, deep nesting); the encoding/json path
// then decodes the body and names every problem. A fuzz test holds the two
// paths to the same result.
//
// Every string is interned for the batch: a Prometheus batch carries the
// same label names, job, severity, summary, startsAt and generator URL
// dozens of times, and sharing them saves both the allocations and the
// memory of the stored alerts. (Interning the few unique strings, such as
// descriptions, costs less than it saves.)
func scanPostable(data []byte) ([]parsedAlert, bool) {
	if !utf8.Valid(data) {
		return nil, false
	}
	s := scanner{data: data, strs: make(map[string]string, 64)}
	if !s.eat('[') {
		return nil, false
	}
	out := make([]parsedAlert, 0, 16)
	if s.eat(']') {
		return out, s.end()
	}
	for {
		a, ok := s.alert()
		if !ok {
			return nil, false
		}
		out = append(out, a)
		if s.eat(']') {
			return out, s.end()
		}
		if !s.eat(',') {
			return nil, false
		}
	}
}

// maxScanDepth bounds nesting inside unknown fields; deeper bodies go to
// encoding/json, which has its own limit.
const maxScanDepth = 64

type scanner struct {
	data  []byte
	i     int
	strs  map[string]string // interned strings
	pairs []alert.Label     // scratch: one alert's labels and annotations
	buf   []byte            // scratch: unescaped text
}

func (s *scanner) ws() {
	for s.i < len(s.data) && isSpace(s.data[s.i]) {
		s.i++
	}
}

// eat consumes c, after white space, if it comes next.
func (s *scanner) eat(c byte) bool {
	s.ws()
	if s.i < len(s.data) && s.data[s.i] == c {
		s.i++
		return true
	}
	return false
}

// end reports whether only white space is left.
func (s *scanner) end() bool {
	s.ws()
	return s.i == len(s.data)
}

// str reads a string literal; raw is its content, esc whether it holds
// escapes (checked when unescaping).
func (s *scanner) str() (raw []byte, esc, ok bool) {
	s.ws()
	if s.i >= len(s.data) || s.data[s.i] != '"' {
		return nil, false, false
	}
	start := s.i + 1
	for j := start; j < len(s.data); j++ {
		switch c := s.data[j]; {
		case c == '"':
			s.i = j + 1
			return s.data[start:j], esc, true
		case c == '\\':
			esc = true
			j++
		case c < ' ':
			return nil, false, false
		}
	}
	return nil, false, false
}

// text reads a string value, interned.
func (s *scanner) text() (string, bool) {
	raw, esc, ok := s.str()
	if !ok {
		return "", false
	}
	if esc {
		// Prometheus escapes & in every generator URL (encoding/json's HTML
		// escaping), so escapes are common and read here, not by encoding/json.
		if s.buf, ok = unescape(s.buf[:0], raw); !ok {
			return "", false
		}
		raw = s.buf
	}
	if v, ok := s.strs[string(raw)]; ok {
		return v, true
	}
	v := string(raw)
	s.strs[v] = v
	return v, true
}

// unescape appends the text of a string literal's content to dst exactly as
// encoding/json reads it (decode.go unquoteBytes), including its treatment
// of unpaired surrogates; false on an escape JSON does not have.
func unescape(dst, raw []byte) ([]byte, bool) {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		if i+1 >= len(raw) {
			return dst, false
		}
		switch e := raw[i+1]; e {
		case '"', '\\', '/':
			dst = append(dst, e)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(raw[i+2:])
			if r < 0 {
				return dst, false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				next := rune(-1)
				if i+1 < len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					next = hex4(raw[i+2:])
				}
				if dec := utf16.DecodeRune(r, next); dec != unicode.ReplacementChar {
					dst = utf8.AppendRune(dst, dec)
					i += 6
					continue
				}
				r = unicode.ReplacementChar
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			return dst, false
		}
		i += 2
	}
	return dst, true
}

// hex4 reads four hex digits, or returns -1.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

var postableNames = [][]byte{[]byte("labels"), []byte("annotations"), []byte("startsAt"), []byte("endsAt"), []byte("generatorURL")}

// postableField returns the index of name in postableNames, or -1. A
// switch on string(name) does not allocate.
func postableField(name []byte) int {
	switch string(name) {
	case "labels":
		return 0
	case "annotations":
		return 1
	case "startsAt":
		return 2
	case "endsAt":
		return 3
	case "generatorURL":
		return 4
	}
	return -1
}

// alert reads one alert object.
func (s *scanner) alert() (parsedAlert, bool) {
	var (
		a          parsedAlert
		seen       [5]bool
		labelsFrom int
		labelsTo   int
		annFrom    int
		annTo      int
	)
	s.pairs = s.pairs[:0]
	if !s.eat('{') {
		return a, false
	}
	if !s.eat('}') {
		for {
			raw, esc, ok := s.str()
			if !ok || esc || !s.eat(':') {
				return a, false
			}
			field := postableField(raw)
			if field < 0 {
				for _, name := range postableNames {
					if bytes.EqualFold(name, raw) {
						return a, false // encoding/json would take it; let it
					}
				}
				if !s.skip(0) {
					return a, false
				}
			} else {
				if seen[field] {
					return a, false
				}
				seen[field] = true
				switch field {
				case 0:
					labelsFrom = len(s.pairs)
					ok = s.object()
					labelsTo = len(s.pairs)
				case 1:
					annFrom = len(s.pairs)
					ok = s.object()
					annTo = len(s.pairs)
				case 2:
					a.startsAt, ok = s.text()
				case 3:
					a.endsAt, ok = s.text()
				case 4:
					a.generatorURL, ok = s.text()
				}
				if !ok {
					return a, false
				}
			}
			if s.eat('}') {
				break
			}
			if !s.eat(',') {
				return a, false
			}
		}
	}
	// One array per alert for both sets: one allocation, and nothing shared
	// with other alerts that could keep them alive.
	all := make([]alert.Label, 0, (labelsTo-labelsFrom)+(annTo-annFrom))
	all, ok := appendSet(all, s.pairs[labelsFrom:labelsTo])
	if !ok {
		return a, false
	}
	n := len(all)
	all, ok = appendSet(all, s.pairs[annFrom:annTo])
	if !ok {
		return a, false
	}
	a.labels, a.annotations = all[:n:n], all[n:]
	return a, true
}

// object reads a JSON object of strings into s.pairs.
func (s *scanner) object() bool {
	if !s.eat('{') {
		return false
	}
	if s.eat('}') {
		return true
	}
	for {
		name, ok := s.text()
		if !ok || !s.eat(':') {
			return false
		}
		value, ok := s.text()
		if !ok {
			return false
		}
		s.pairs = append(s.pairs, alert.Label{Name: name, Value: value})
		if s.eat('}') {
			return true
		}
		if !s.eat(',') {
			return false
		}
	}
}

// appendSet appends pairs to dst as alert.FromMap would build them: sorted
// by name, empty values dropped. It sorts pairs in place. A name given twice
// (which encoding/json would resolve, the last one winning) sends the body
// to the slow path.
func appendSet(dst, pairs []alert.Label) (alert.Labels, bool) {
	cmp := func(a, b alert.Label) int { return strings.Compare(a.Name, b.Name) }
	// Prometheus writes labels in name order, so sorting is rarely needed.
	if !slices.IsSortedFunc(pairs, cmp) {
		slices.SortStableFunc(pairs, cmp)
	}
	for i, l := range pairs {
		if i > 0 && pairs[i-1].Name == l.Name {
			return dst, false
		}
		if l.Value != "" {
			dst = append(dst, l)
		}
	}
	return dst, true
}

// skip reads past one JSON value of any kind, checking its syntax as
// strictly as encoding/json does.
func (s *scanner) skip(depth int) bool {
	if depth > maxScanDepth {
		return false
	}
	s.ws()
	if s.i >= len(s.data) {
		return false
	}
	switch c := s.data[s.i]; {
	case c == '{':
		s.i++
		if s.eat('}') {
			return true
		}
		for {
			if !s.skipString() || !s.eat(':') || !s.skip(depth+1) {
				return false
			}
			if s.eat('}') {
				return true
			}
			if !s.eat(',') {
				return false
			}
		}
	case c == '[':
		s.i++
		if s.eat(']') {
			return true
		}
		for {
			if !s.skip(depth + 1) {
				return false
			}
			if s.eat(']') {
				return true
			}
			if !s.eat(',') {
				return false
			}
		}
	case c == '"':
		return s.skipString()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	}
	return false
}

// skipString reads past a string, checking its escapes.
func (s *scanner) skipString() bool {
	raw, esc, ok := s.str()
	if ok && esc {
		s.buf, ok = unescape(s.buf[:0], raw)
	}
	return ok
}

func (s *scanner) literal(word string) bool {
	if len(s.data)-s.i < len(word) || string(s.data[s.i:s.i+len(word)]) != word {
		return false
	}
	s.i += len(word)
	return true
}

// number reads a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	d := s.data
	i := s.i
	digits := func() bool {
		from := i
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
		return i > from
	}
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case !digits():
		return false
	}
	if i < len(d) && d[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	s.i = i
	return true
}
