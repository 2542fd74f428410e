// Package problem reports what is wrong with an input, field by field, so a
// person can fix every problem in one go: a List of Problems, each naming
// the JSON path of the field at fault, and a strict JSON decoder whose
// errors come out as such a List. The HTTP layer renders a *List as 400
// with every problem. It imports only the standard library.
package problem

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"
)

// Problem is one thing wrong with an input.
type Problem struct {
	// Field is the JSON path of the field at fault ("settings.keywords[2]",
	// "mute_time_windows[0].times[1].end"); empty for the input as a whole.
	Field string `json:"field,omitempty"`
	// Code is a stable kebab-case kind: "required", "invalid-type", …
	Code string `json:"code"`
	// Message says what is wrong and how to fix it, in one sentence.
	Message string `json:"message"`
}

// List collects the problems of one input. The zero value is empty and
// ready; a *List with problems is the error Err returns.
type List struct {
	Items []Problem
}

// Add records a problem.
func (l *List) Add(field, code, format string, args ...any) {
	l.Items = append(l.Items, Problem{Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
}

// Has reports whether field, or a part of it ("matchers[2]" of "matchers"),
// already has a problem, so checks relating fields stay quiet when one of
// them could not even be read.
func (l *List) Has(field string) bool {
	return slices.ContainsFunc(l.Items, func(p Problem) bool {
		rest, ok := strings.CutPrefix(p.Field, field)
		return ok && (rest == "" || rest[0] == '[' || rest[0] == '.')
	})
}

// Names records the problems of a list of names (ids, label names): an
// empty entry, one that is not UTF-8, one listed twice. what says what an
// entry should be, for the message ("a label name").
func (l *List) Names(field string, names []string, what string) {
	for i, n := range names {
		f := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case strings.TrimSpace(n) == "":
			l.Add(f, "required", "an entry is empty: write %s or remove it", what)
		case !utf8.ValidString(n):
			l.Add(f, "invalid-value", "%q is not valid UTF-8", n)
		case slices.Contains(names[:i], n):
			l.Add(f, "duplicate", "%q is listed twice", n)
		}
	}
}

// Merge adds err's problems when err is a *List and reports whether it was.
func (l *List) Merge(err error) bool {
	var other *List
	if !errors.As(err, &other) {
		return false
	}
	l.Items = append(l.Items, other.Items...)
	return true
}

// Err returns l as an error, or nil when there is no problem.
func (l *List) Err() error {
	if l == nil || len(l.Items) == 0 {
		return nil
	}
	return l
}

func (l *List) Error() string {
	msgs := make([]string, len(l.Items))
	for i, p := range l.Items {
		if p.Field != "" {
			msgs[i] = p.Field + ": " + p.Message
		} else {
			msgs[i] = p.Message
		}
	}
	return strings.Join(msgs, "; ")
}

// One returns a List holding one problem.
func One(field, code, msg string) *List {
	return &List{Items: []Problem{{Field: field, Code: code, Message: msg}}}
}

// DecodeStrict decodes one JSON value into v, refusing unknown fields and
// trailing data. Its errors are a *List naming the field at fault under
// prefix ("settings"); an UnmarshalJSON method of v's fields may return a
// *List of its own, which is passed through.
func DecodeStrict(data []byte, v any, prefix string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, prefix)
	}
	if dec.More() {
		return One(prefix, "invalid-json", "unexpected data after the JSON value")
	}
	return nil
}

func decodeError(err error, prefix string) error {
	join := func(f string) string {
		switch {
		case prefix == "":
			return f
		case f == "":
			return prefix
		}
		return prefix + "." + f
	}
	var (
		typeErr   *json.UnmarshalTypeError
		syntaxErr *json.SyntaxError
		list      *List
	)
	switch {
	case errors.As(err, &list):
		return list
	case errors.As(err, &typeErr):
		return One(join(typeErr.Field), "invalid-type", fmt.Sprintf("must be %s, not a JSON %s", typeName(typeErr.Type), typeErr.Value))
	case errors.As(err, &syntaxErr):
		return One(prefix, "invalid-json", fmt.Sprintf("the body is not valid JSON (at byte %d): %v", syntaxErr.Offset, syntaxErr))
	case errors.Is(err, io.EOF):
		return One(prefix, "invalid-json", "the body is empty: send a JSON value")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return One(prefix, "invalid-json", "the JSON ends too early: it is cut off or a bracket is missing")
	}
	// encoding/json has no typed error for an unknown field: its message
	// is the only way to tell, so this is the one place that reads it.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return One(join(name), "unknown-field", fmt.Sprintf("unknown field %q: check the spelling against the API reference", name))
	}
	// Errors from UnmarshalJSON methods carry no field; name the prefix.
	return One(prefix, "invalid-value", err.Error())
}

// typeName says what JSON a Go type wants, for a person.
func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a " + t.String()
}
