package intake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tocsinhq/tocsin/internal/alert"
)

// maxProblems bounds the problems one refusal lists, so ten thousand broken
// alerts answer with a readable error rather than megabytes of it.
const maxProblems = 100

// problems collects what is wrong with one body: at most one problem per
// field (the first found, which is the most basic one) and at most
// maxProblems in all. The zero value is empty and ready.
type problems struct {
	list []alert.Problem
	seen map[string]bool
	more int // problems past maxProblems, counted but not listed
	// typed lists the fields whose JSON type was wrong. Their Go values are
	// zero, so checks that read them are skipped rather than reporting a
	// second, misleading problem ("labels: needs a label" after
	// "labels.severity: must be a string").
	typed []string
	// validURL is the last generator URL found valid: alerts of one rule
	// share it, and parsing it for each would cost an allocation apiece.
	validURL string
}

func (p *problems) add(field, format string, args ...any) {
	// alert.Validate joins its prefix and ".labels"; at the top level the
	// prefix is empty and the path must not start with a dot.
	field = strings.TrimPrefix(field, ".")
	if p.seen[field] {
		return
	}
	if p.seen == nil {
		p.seen = make(map[string]bool)
	}
	p.seen[field] = true
	if len(p.list) >= maxProblems {
		p.more++
		return
	}
	p.list = append(p.list, alert.Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

// full reports whether no more problems will be listed.
func (p *problems) full() bool { return len(p.list) >= maxProblems }

// typeProblem records a field of the wrong JSON type.
func (p *problems) typeProblem(field, message string) {
	if !p.full() {
		p.typed = append(p.typed, field)
	}
	p.add(field, "%s", message)
}

// tainted reports whether field, or a field inside it or around it, had the
// wrong JSON type, so its decoded value cannot be trusted. Once the list is
// full every field is: nothing more would be shown, and skipping the checks
// keeps a body of a million broken alerts from costing a million scans.
func (p *problems) tainted(field string) bool {
	if p.full() {
		return true
	}
	if len(p.typed) == 0 {
		return false
	}
	field = strings.TrimPrefix(field, ".")
	for _, t := range p.typed {
		if within(t, field) || within(field, t) {
			return true
		}
	}
	return false
}

// within reports whether path is root or a path inside it.
func within(path, root string) bool {
	if !strings.HasPrefix(path, root) {
		return false
	}
	if len(path) == len(root) {
		return true
	}
	c := path[len(root)]
	return root == "" || c == '.' || c == '['
}

// validate runs alert.Validate on the alert at w and keeps the problems
// about fields that decoded cleanly.
func (p *problems) validate(a *alert.Alert, w at) {
	var errs alert.ValidationError
	a.Validate("", &errs)
	if len(errs.Problems) == 0 {
		return
	}
	// Again with the alert's path, which only a refusal pays for.
	errs.Problems = errs.Problems[:0]
	a.Validate(w.String(), &errs)
	for _, q := range errs.Problems {
		if p.full() || !p.tainted(q.Field) { // when full, add only counts
			p.add(q.Field, "%s", q.Message)
		}
	}
}

// err returns the problems as an *alert.ValidationError, or nil.
func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	list := p.list
	if p.more > 0 {
		// A lower bound: checks stop once the list is full.
		list = append(list, alert.Problem{Message: fmt.Sprintf("and at least %d more problems not listed", p.more)})
	}
	return &alert.ValidationError{Problems: list}
}

// fieldPath joins a JSON path and a field name: "[3]" + "labels".
func fieldPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// indexPath joins a JSON path and an array index: "alerts" + 2.
func indexPath(prefix string, i int) string {
	return prefix + "[" + strconv.Itoa(i) + "]"
}

// keyPath joins a JSON path and an object key, quoting keys that would make
// the path ambiguous: labels.severity, but labels["kubernetes.io/name"].
func keyPath(prefix, key string) string {
	if plainKey(key) {
		return fieldPath(prefix, key)
	}
	return prefix + "[" + strconv.Quote(key) + "]"
}

func plainKey(key string) bool {
	if key == "" {
		return false
	}
	for _, r := range key {
		switch {
		case r <= ' ', r == 0x7f, r == utf8.RuneError:
			return false
		case strings.ContainsRune(`.[]"\`, r):
			return false
		}
	}
	return true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// firstByte returns the first byte that is not JSON white space, or 0.
func firstByte(data []byte) byte {
	for _, c := range data {
		if !isSpace(c) {
			return c
		}
	}
	return 0
}

// decodeJSON fills v from data, reporting to p anything wrong with the JSON
// itself: emptiness, syntax, UTF-8, JSON types and (when strict) unknown
// fields, each named by its path, with top describing what v expects. It
// returns false when nothing more can be checked (the body is not JSON); on
// true, v holds every field that decoded cleanly and p.tainted names the
// rest.
func decodeJSON(p *problems, data []byte, v any, top *shape, strict bool) bool {
	if firstByte(data) == 0 {
		p.add("", "the body is empty: send %s", top.want)
		return false
	}
	if off := invalidUTF8(data); off >= 0 {
		p.add(pathAt(data, int64(off)), "the text is not valid UTF-8 at byte offset %d: JSON, and every label name and value in it, must be UTF-8", off)
		return false
	}
	var err error
	if strict {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		err = dec.Decode(v)
		if err == nil {
			off := dec.InputOffset()
			for off < int64(len(data)) && isSpace(data[off]) {
				off++
			}
			if off < int64(len(data)) {
				p.syntax(data, off+1, "unexpected data after the JSON value; send one JSON value per request")
				return false
			}
		}
	} else {
		err = json.Unmarshal(data, v)
	}
	var syntaxErr *json.SyntaxError
	switch {
	case err == nil:
		return true
	case errors.As(err, &syntaxErr):
		p.syntax(data, syntaxErr.Offset, syntaxErr.Error())
		return false
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		p.syntax(data, int64(len(data)), "unexpected end of JSON input")
		return false
	}
	// A wrong type or an unknown field: encoding/json names only the first,
	// without array indexes, so walk the tokens to name every one.
	before := len(p.typed)
	walkTypes(p, data, top)
	if len(p.typed) == before {
		// The walk and encoding/json disagree (a corner of case folding or
		// duplicate keys); still refuse, with encoding/json's words.
		p.typeProblem("", strings.TrimPrefix(err.Error(), "json: "))
	}
	return true
}

// decodeOneOrMany decodes a body that holds one object or an array of them,
// as Tocsin's own APIs take. single reports a lone object, whose paths then
// have no "[i]"; ok is decodeJSON's.
func decodeOneOrMany[T any](p *problems, data []byte, s *shape) (in []T, single, ok bool) {
	if firstByte(data) == '{' {
		var one T
		ok = decodeJSON(p, data, &one, s, true)
		return []T{one}, true, ok
	}
	if ok = decodeJSON(p, data, &in, s, true); ok && in == nil && len(p.list) == 0 {
		p.add("", "the body is null: send %s", s.want)
	}
	return in, false, ok
}

// syntax reports malformed JSON. off is encoding/json's offset: the number
// of bytes read, the offending one included.
func (p *problems) syntax(data []byte, off int64, msg string) {
	at := min(max(off-1, 0), int64(len(data)))
	if msg == "unexpected end of JSON input" {
		at = int64(len(data))
		msg = "the JSON ends early, with a bracket, brace or string left open (was the body cut off?)"
	}
	line, col := position(data, at)
	p.add(pathAt(data, at), "malformed JSON at line %d, column %d (byte offset %d): %s", line, col, at, msg)
}

// position turns a byte offset into a 1-based line and column (in
// characters), as an editor shows them.
func position(data []byte, at int64) (line, col int) {
	before := data[:at]
	line = 1 + bytes.Count(before, []byte{'\n'})
	if i := bytes.LastIndexByte(before, '\n'); i >= 0 {
		before = before[i+1:]
	}
	return line, 1 + utf8.RuneCount(before)
}

// invalidUTF8 returns the offset of the first byte that is not UTF-8, or -1.
// encoding/json would silently turn such bytes into U+FFFD, changing label
// values (and so fingerprints) behind the sender's back.
func invalidUTF8(data []byte) int {
	if utf8.Valid(data) {
		return -1
	}
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// frame is one open object or array while walking tokens.
type frame struct {
	array   bool
	index   int    // array: the element being read
	key     string // object: the member being read
	hasKey  bool
	wantKey bool
}

func stackPath(stack []frame) string {
	path := ""
	for _, f := range stack {
		switch {
		case f.array:
			path = indexPath(path, f.index)
		case f.hasKey:
			path = keyPath(path, f.key)
		}
	}
	return path
}

// valueDone moves the innermost container past a complete value.
func valueDone(stack []frame) {
	if len(stack) == 0 {
		return
	}
	f := &stack[len(stack)-1]
	if f.array {
		f.index++
	} else {
		f.wantKey, f.hasKey, f.key = true, false, ""
	}
}

// pathAt returns the JSON path of the value holding the byte at offset at,
// or of the place where the JSON breaks when it breaks first. It serves
// error paths only, so it may be slow.
func pathAt(data []byte, at int64) string {
	dec := json.NewDecoder(bytes.NewReader(data))
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return stackPath(stack)
		}
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		key, isKey := tok.(string)
		isKey = isKey && top != nil && !top.array && top.wantKey
		if dec.InputOffset() > at {
			if isKey {
				return keyPath(stackPath(stack), key)
			}
			return stackPath(stack)
		}
		switch {
		case tok == json.Delim('{'), tok == json.Delim('['):
			stack = append(stack, frame{array: tok == json.Delim('['), wantKey: tok == json.Delim('{')})
		case tok == json.Delim('}'), tok == json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone(stack)
		case isKey:
			top.key, top.hasKey, top.wantKey = key, true, false
		default:
			valueDone(stack)
		}
	}
}

// kind is the JSON a field must hold.
type kind uint8

const (
	kindAny       kind = iota
	kindString         // a string
	kindUint           // a whole number, 0 or more
	kindFloat          // any number
	kindObject         // an object with the fields listed
	kindMap            // an object whose values all have the elem shape
	kindArray          // an array of elem
	kindOneOrMany      // an elem object, or an array of them
	kindTime           // an RFC 3339 string or a Unix time number (events)
	kindContent        // a string, an object or an array (event content)
)

// shape describes the JSON a decoder expects, for naming every field of the
// wrong type; it mirrors the Go structs decoded into (a test checks that).
type shape struct {
	kind   kind
	want   string // completes "must be ...": "a string"
	elem   *shape
	fields []field
	strict bool   // kindObject: unknown fields are problems
	noun   string // kindObject: "an alert", for the unknown-field message
}

type field struct {
	name  string
	shape *shape
}

// lookup finds a field as encoding/json does: an exact match first, then
// one that differs only in case.
func (s *shape) lookup(name string) *shape {
	for _, f := range s.fields {
		if f.name == name {
			return f.shape
		}
	}
	for _, f := range s.fields {
		if strings.EqualFold(f.name, name) {
			return f.shape
		}
	}
	return nil
}

func (s *shape) unknownField() string {
	names := make([]string, len(s.fields))
	for i, f := range s.fields {
		names[i] = f.name
	}
	last := len(names) - 1
	list := strings.Join(names[:last], ", ") + " and " + names[last]
	return fmt.Sprintf("unknown field: %s has %s", s.noun, list)
}

var (
	anyShape    = &shape{kind: kindAny}
	stringShape = &shape{kind: kindString, want: "a string"}
	uintShape   = &shape{kind: kindUint, want: "a whole number, 0 or more"}
	timeShape   = &shape{kind: kindString, want: `an RFC 3339 time string, like "2026-11-21T09:00:00Z"`}
	labelsShape = &shape{kind: kindMap, elem: stringShape, want: `an object of string values, like {"alertname": "DiskFull"}`}
)

// walker checks a JSON text against a shape, token by token.
type walker struct {
	dec *json.Decoder
	p   *problems
}

// walkTypes reports every value in data whose JSON type does not fit s, and
// every unknown field of strict objects. data must be valid JSON.
func walkTypes(p *problems, data []byte, s *shape) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	w := walker{dec: dec, p: p}
	_ = w.value(s, "") // data is valid JSON, so the walk cannot fail
}

func (w *walker) value(s *shape, path string) error {
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	return w.valueOf(tok, s, path)
}

func (w *walker) valueOf(tok json.Token, s *shape, path string) error {
	if tok == nil {
		// null leaves a Go value at its zero, as in encoding/json; the checks
		// that follow decoding say whether a missing value is a problem.
		return nil
	}
	ok := true
	switch s.kind {
	case kindAny:
	case kindString:
		_, ok = tok.(string)
	case kindUint:
		n, isNumber := tok.(json.Number)
		_, err := strconv.ParseUint(string(n), 10, 64)
		ok = isNumber && err == nil
	case kindFloat:
		n, isNumber := tok.(json.Number)
		_, err := strconv.ParseFloat(string(n), 64)
		ok = isNumber && err == nil
	case kindTime:
		switch tok.(type) {
		case string, json.Number:
		default:
			ok = false
		}
	case kindContent:
		_, isString := tok.(string)
		ok = isString || tok == json.Delim('{') || tok == json.Delim('[')
	case kindObject, kindMap:
		if tok == json.Delim('{') {
			return w.object(s, path)
		}
		ok = false
	case kindArray:
		if tok == json.Delim('[') {
			return w.array(s.elem, path)
		}
		ok = false
	case kindOneOrMany:
		switch tok {
		case json.Delim('{'):
			return w.object(s.elem, path)
		case json.Delim('['):
			return w.array(s.elem, path)
		}
		ok = false
	}
	if !ok {
		w.p.typeProblem(path, "must be "+s.want)
	}
	return w.skip(tok)
}

func (w *walker) object(s *shape, path string) error {
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		sub := s.elem
		if s.kind == kindObject {
			sub = s.lookup(key)
		}
		if sub == nil {
			if s.strict {
				w.p.typeProblem(keyPath(path, key), s.unknownField())
			}
			sub = anyShape
		}
		if err := w.value(sub, keyPath(path, key)); err != nil {
			return err
		}
	}
	_, err := w.dec.Token() // }
	return err
}

func (w *walker) array(elem *shape, path string) error {
	for i := 0; w.dec.More(); i++ {
		if err := w.value(elem, indexPath(path, i)); err != nil {
			return err
		}
	}
	_, err := w.dec.Token() // ]
	return err
}

// skip consumes the rest of a value whose first token was tok.
func (w *walker) skip(tok json.Token) error {
	if tok != json.Delim('{') && tok != json.Delim('[') {
		return nil
	}
	for depth := 1; depth > 0; {
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}
