package route

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// reserved may not appear in an unquoted name or value: they are operators,
// separators or quotes. A value holding any of them, or spaces, is quoted.
const reserved = "{}!=~,\"'`"

// ParseError says where a matcher or list of matchers is wrong and what was
// expected there.
type ParseError struct {
	// Input is the whole text parsed.
	Input string
	// Matcher is the 1-based index of the matcher at fault, 0 when the fault
	// lies outside any matcher (a stray comma, a missing "}").
	Matcher int
	// Text is that matcher's text, or the whole input when Matcher is 0.
	Text string
	// Pos is the 1-based character (not byte) position in Text.
	Pos int
	// Msg says what was found and what was wanted, position included.
	Msg string

	list bool // Input holds several matchers: name the index
}

func (e *ParseError) Error() string {
	switch {
	case e.Matcher == 0:
		return fmt.Sprintf("matchers %s: %s", quoteText(e.Text), e.Msg)
	case e.list:
		return fmt.Sprintf("matcher %d (%s): %s", e.Matcher, quoteText(e.Text), e.Msg)
	}
	return fmt.Sprintf("matcher %s: %s", quoteText(e.Text), e.Msg)
}

// quoteText quotes input for an error message, in backquotes when it holds
// double quotes, so a="x" does not come out as "a=\"x\"".
func quoteText(s string) string {
	if strings.Contains(s, `"`) && strconv.CanBackquote(s) {
		return "`" + s + "`"
	}
	return strconv.Quote(s)
}

// ParseMatcher parses exactly one matcher, such as severity=~"critical|warning".
func ParseMatcher(s string) (Matcher, error) {
	ms, err := ParseMatchers(s)
	if err != nil {
		return Matcher{}, err
	}
	if len(ms) != 1 {
		return Matcher{}, &ParseError{Input: s, Text: s, Pos: 1, Msg: fmt.Sprintf("want exactly one matcher, found %d", len(ms))}
	}
	return ms[0], nil
}

// ParseMatchers parses Alertmanager's matcher syntax: one matcher
// (team="sre"), a comma-separated list (team="sre", severity!=info) or a
// brace list ({team="sre", severity=~"critical|warning"}). Operators are =,
// !=, =~ and !~. Names and values may be unquoted when they hold no spaces
// and none of {}!=~,"'` — severity=critical — and are otherwise written in
// double quotes with Go escapes (\" \\ \n \u00e9). An unknown escape such
// as \d is kept as written, so regexes read naturally. A trailing comma is
// allowed; "" and "{}" are the empty list, which matches everything.
func ParseMatchers(s string) (Matchers, error) {
	p := &parser{in: s, start: -1}
	p.list = p.isList()
	p.skipSpace()
	braced, open := false, p.pos
	if p.pos < len(p.in) && p.in[p.pos] == '{' {
		braced = true
		p.pos++
	}
	var ms Matchers
	for {
		p.start = -1
		p.skipSpace()
		if p.pos >= len(p.in) {
			if braced {
				return nil, p.fail(p.pos, "unexpected end of input", `want "}" to close the "{" at position %d`, p.runePos(0, open))
			}
			return ms, nil
		}
		switch p.in[p.pos] {
		case '}':
			if braced {
				p.pos++
				p.skipSpace()
				if p.pos < len(p.in) {
					return nil, p.fail(p.pos, p.unexpected(p.pos), `want nothing after the closing "}"`)
				}
				return ms, nil
			}
		case ',':
			return nil, p.fail(p.pos, `unexpected ","`, `want a matcher such as team="sre" before it`)
		}
		p.index++
		p.start = p.pos
		m, err := p.matcher()
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
		spaced := p.skipSpace()
		if p.pos >= len(p.in) {
			continue
		}
		switch c := p.in[p.pos]; {
		case c == ',':
			p.pos++
		case c == '}' && braced:
		case c == '}':
			return nil, p.fail(p.pos, `unexpected "}"`, `there is no "{" to close`)
		case spaced:
			return nil, p.fail(p.pos, p.unexpected(p.pos), `want "," between matchers, or quotes around a value that contains spaces`)
		case p.in[p.value] == '"':
			return nil, p.fail(p.pos, p.unexpected(p.pos), `want "," or the end after the quoted value`)
		default:
			return nil, p.fail(p.pos, p.unexpected(p.pos), "a value containing any of %s must be quoted, as in %s", reserved, p.suggest(m))
		}
	}
}

type parser struct {
	in    string
	pos   int // byte offset of the next character
	start int // byte offset where the current matcher starts; -1 between matchers
	index int // 1-based index of the current matcher
	list  bool
	value int // byte offset where the current matcher's value starts
}

// matcher parses name, operator and value at p.pos.
func (p *parser) matcher() (Matcher, error) {
	name, err := p.text("a label name")
	if err != nil {
		return Matcher{}, err
	}
	if name == "" {
		return Matcher{}, p.fail(p.start, "empty label name", `a matcher needs a label name, as in team="sre"`)
	}
	p.skipSpace()
	rest := p.in[p.pos:]
	var t MatchType
	switch {
	case strings.HasPrefix(rest, "=~"):
		t = MatchRegexp
	case strings.HasPrefix(rest, "!~"):
		t = MatchNotRegexp
	case strings.HasPrefix(rest, "!="):
		t = MatchNotEqual
	case strings.HasPrefix(rest, "=="):
		return Matcher{}, p.fail(p.pos+1, `unexpected "="`, `"==" is not an operator; write %s=%s`, quoteName(name), quoteRaw(p.rawText(p.pos+2)))
	case strings.HasPrefix(rest, "="):
		t = MatchEqual
	default:
		return Matcher{}, p.fail(p.pos, p.unexpected(p.pos), "want an operator (=, !=, =~ or !~) after the label name %s", quoteName(name))
	}
	p.pos += len(t.String())
	p.skipSpace()
	p.value = p.pos
	if p.pos >= len(p.in) || p.in[p.pos] == ',' || p.in[p.pos] == '}' {
		return Matcher{}, p.fail(p.pos, p.unexpected(p.pos), `want a value after %q (%s%s"" matches a missing or empty label)`, t, quoteName(name), t)
	}
	value, err := p.text("a value")
	if err != nil {
		return Matcher{}, err
	}
	if t == MatchRegexp || t == MatchNotRegexp {
		if _, err := regexp.Compile(value); err != nil {
			return Matcher{}, p.fail(p.value, "invalid regular expression", "%s", regexpReason(err))
		}
	}
	m, err := NewMatcher(t, name, value)
	if err != nil {
		return Matcher{}, p.fail(p.start, "invalid matcher", "%v", err)
	}
	return m, nil
}

// text parses a quoted or unquoted name or value.
func (p *parser) text(kind string) (string, error) {
	if p.pos < len(p.in) && p.in[p.pos] == '"' {
		return p.quoted()
	}
	start := p.pos
	for p.pos < len(p.in) {
		r, size := utf8.DecodeRuneInString(p.in[p.pos:])
		if r == utf8.RuneError && size == 1 {
			return "", p.fail(p.pos, "invalid UTF-8", "names and values must be UTF-8 text")
		}
		if unicode.IsSpace(r) || strings.ContainsRune(reserved, r) {
			break
		}
		p.pos += size
	}
	if p.pos > start {
		return p.in[start:p.pos], nil
	}
	if p.pos < len(p.in) && (p.in[p.pos] == '\'' || p.in[p.pos] == '`') {
		return "", p.fail(p.pos, p.unexpected(p.pos), `want %s; quote with double quotes "…"`, kind)
	}
	return "", p.fail(p.pos, p.unexpected(p.pos), "want %s", kind)
}

// quoted parses a double-quoted string at p.pos. Go escapes are decoded;
// an unknown escape (\d, \.) is kept with its backslash.
func (p *parser) quoted() (string, error) {
	open := p.pos
	p.pos++
	var b []byte
	for p.pos < len(p.in) {
		switch c := p.in[p.pos]; c {
		case '"':
			p.pos++
			if !utf8.Valid(b) {
				return "", p.fail(open, "invalid UTF-8 in quoted text", `names and values must be UTF-8 text (\x escapes are single bytes; write characters as themselves or as \u00e9)`)
			}
			return string(b), nil
		case '\\':
			if p.pos+1 >= len(p.in) {
				p.pos++
				continue
			}
			switch n := p.in[p.pos+1]; n {
			case '"', '\\', '\'':
				b = append(b, n)
				p.pos += 2
			case 'a', 'b', 'f', 'n', 'r', 't', 'v', 'x', 'u', 'U', '0', '1', '2', '3', '4', '5', '6', '7':
				v, multibyte, tail, err := strconv.UnquoteChar(p.in[p.pos:], '"')
				if err != nil {
					return "", p.fail(p.pos, "invalid escape sequence", `write \\ for a backslash`)
				}
				if v < utf8.RuneSelf || !multibyte {
					b = append(b, byte(v))
				} else {
					b = utf8.AppendRune(b, v)
				}
				p.pos = len(p.in) - len(tail)
			default:
				b = append(b, '\\')
				p.pos++
			}
		default:
			b = append(b, c)
			p.pos++
		}
	}
	return "", p.fail(open, "unterminated quoted text", `add the closing "`)
}

// skipSpace skips white space and reports whether there was any.
func (p *parser) skipSpace() bool {
	start := p.pos
	for p.pos < len(p.in) {
		r, size := utf8.DecodeRuneInString(p.in[p.pos:])
		if !unicode.IsSpace(r) {
			break
		}
		p.pos += size
	}
	return p.pos > start
}

func (p *parser) unexpected(off int) string {
	if off >= len(p.in) {
		return "unexpected end of input"
	}
	r, size := utf8.DecodeRuneInString(p.in[off:])
	if r == utf8.RuneError && size == 1 {
		return "invalid UTF-8"
	}
	return "unexpected " + strconv.Quote(string(r))
}

// fail builds the error for a fault at byte offset off.
func (p *parser) fail(off int, what, want string, args ...any) error {
	e := &ParseError{Input: p.in, Text: p.in, list: p.list}
	base := 0
	if p.start >= 0 {
		base = p.start
		e.Matcher = p.index
		e.Text = strings.TrimRightFunc(p.in[p.start:p.segmentEnd(p.start)], unicode.IsSpace)
	}
	e.Pos = p.runePos(base, off)
	e.Msg = fmt.Sprintf("%s at position %d", what, e.Pos)
	if want != "" {
		e.Msg += "; " + fmt.Sprintf(want, args...)
	}
	return e
}

func (p *parser) runePos(base, off int) int {
	return utf8.RuneCountInString(p.in[base:min(off, len(p.in))]) + 1
}

// segmentEnd returns the offset of the first "," or "}" at or after from
// that is not inside quotes, or the input's length.
func (p *parser) segmentEnd(from int) int {
	quoted := false
	for i := from; i < len(p.in); i++ {
		switch c := p.in[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && (c == ',' || c == '}'):
			return i
		}
	}
	return len(p.in)
}

// isList reports whether the input is a brace list or has a comma outside
// quotes, so errors name the matcher by its index.
func (p *parser) isList() bool {
	if strings.HasPrefix(strings.TrimLeftFunc(p.in, unicode.IsSpace), "{") {
		return true
	}
	return p.segmentEnd(0) < len(p.in)
}

// rawText is the unparsed rest of the current matcher from off, for
// suggestions.
func (p *parser) rawText(off int) string {
	return strings.TrimFunc(p.in[off:p.segmentEnd(off)], unicode.IsSpace)
}

// quoteRaw quotes raw text for a suggestion unless it is quoted already.
func quoteRaw(s string) string {
	if strings.HasPrefix(s, `"`) {
		return s
	}
	return strconv.Quote(s)
}

// suggest rewrites the current matcher with its whole value quoted.
func (p *parser) suggest(m Matcher) string {
	return quoteName(m.name) + m.typ.String() + strconv.Quote(p.rawText(p.value))
}
