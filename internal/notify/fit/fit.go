// Package fit measures text the way a chat platform counts it and fits
// text into a platform's byte limits: exact JSON-encoded lengths, clean
// one-line titles, cuts on rune and line boundaries that end in an
// ellipsis, lines packed into chunks under a byte budget, and a text
// shortened until it fits with a closing line saying how much was left out.
//
// It knows no platform: each one decides its limits, its separators and
// its notes, and calls these for the arithmetic they share.
package fit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"iter"
	"strings"
	"unicode/utf8"
)

// Ellipsis ends a line or title that was cut short. Its three bytes are
// plain in JSON, so it costs len(Ellipsis) bytes encoded too.
const Ellipsis = "…"

// Encode writes v as JSON the way the platforms' request bodies are sent:
// HTML escaping off (the platforms read JSON, not HTML, and \u003c for
// every < would spend six bytes of the limit on one character), and no
// trailing newline. JSONLen counts against this encoding.
func Encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// EncodedLen is the length of v as Encode writes it.
func EncodedLen(v any) (int, error) {
	b, err := Encode(v)
	return len(b), err
}

// JSONLen is the length of s encoded as a JSON string without its quotes,
// as Encode writes it. Escaping is per character, so appending s to one of
// a payload's strings grows the body by exactly JSONLen(s); renderers fill
// parts on that without encoding them again. s must be valid UTF-8 (see
// Clean).
func JSONLen(s string) int {
	n := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf { // most of any text: one table look-up
			n += int(asciiJSONLen[c])
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		n += RuneJSONLen(r) // an invalid byte counts as U+FFFD, as ranging over s would
		i += size
	}
	return n
}

// asciiJSONLen is RuneJSONLen of each ASCII character.
var asciiJSONLen = func() (t [utf8.RuneSelf]uint8) {
	for c := range t {
		t[c] = uint8(RuneJSONLen(rune(c)))
	}
	return t
}()

// RuneJSONLen is the length of r inside a JSON string as Encode writes it.
func RuneJSONLen(r rune) int {
	switch {
	case r == '"', r == '\\', r == '\b', r == '\f', r == '\n', r == '\r', r == '\t':
		return 2
	case r < 0x20, r == '\u2028', r == '\u2029':
		return 6 // \u00XX, and \u2028 and \u2029, which encoding/json always escapes
	}
	return utf8.RuneLen(r)
}

// Clean makes s valid UTF-8, each invalid byte a U+FFFD. encoding/json
// would write each invalid byte as a 6-byte \ufffd escape, which would
// break size accounting; replacing them first keeps the size a renderer
// measures the size it sends. Valid s is returned as is, not copied.
func Clean(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

var newlines = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")

// Line makes s one clean line for a title or a button: valid UTF-8,
// newlines turned into spaces, trimmed, at most maxRunes characters long
// (see Runes).
func Line(s string, maxRunes int) string {
	return Runes(strings.TrimSpace(newlines.Replace(Clean(s))), maxRunes)
}

// Runes shortens s to at most n characters, the last being Ellipsis when
// anything was cut. n must be at least 1.
func Runes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for range n - 1 {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i] + Ellipsis
}

// CutTo shortens s to at most budget JSON-encoded bytes (see JSONLen),
// cutting on a rune boundary and ending in Ellipsis; s that fits is
// returned whole.
func CutTo(s string, budget int) string {
	if JSONLen(s) <= budget {
		return s
	}
	budget -= len(Ellipsis)
	n := 0
	for i, r := range s {
		if n += RuneJSONLen(r); n > budget {
			return s[:i] + Ellipsis
		}
	}
	return s
}

// Join joins the non-empty parts with sep: an empty block adds no
// separator.
func Join(sep string, parts ...string) string {
	n := 0
	for _, p := range parts {
		n += len(sep) + len(p)
	}
	var b strings.Builder
	b.Grow(n)
	for _, p := range parts {
		if p == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(sep)
		}
		b.WriteString(p)
	}
	return b.String()
}

// LeftOut is the closing line of a text cut short because it was too long
// for platform (as users know it: "DingTalk", "Lark", "WeCom"): it says
// how many bytes of the text were left out.
func LeftOut(platform string, left int) string {
	return fmt.Sprintf("… message too long for %s: the last %d bytes were left out", platform, left)
}

// Shorter yields ever shorter versions of text for a caller that stops at
// the first that fits: each keeps a tenth less than the one before,
// starting from nine tenths of keep bytes, cut on a rune boundary and, if
// that loses less than half of it, at the end of a line; then a blank line
// and LeftOut(platform, left). It yields each version with left, the
// bytes of text it leaves out, and ends once nothing of text is kept.
func Shorter(text, platform string, keep int) iter.Seq2[string, int] {
	return func(yield func(string, int) bool) {
		for keep > 0 {
			keep = keep * 9 / 10
			head := text[:min(keep, len(text))]
			for !utf8.ValidString(head) { // never end inside a UTF-8 sequence
				head = head[:len(head)-1]
			}
			if i := strings.LastIndexByte(head, '\n'); i > len(head)/2 {
				head = head[:i]
			}
			left := len(text) - len(head)
			if !yield(head+"\n\n"+LeftOut(platform, left), left) {
				return
			}
		}
	}
}
