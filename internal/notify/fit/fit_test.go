package fit

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func encodedSize(t testing.TB, v any) int {
	t.Helper()
	n, err := EncodedLen(v)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestJSONLen(t *testing.T) {
	for _, s := range []string{"", "plain", `"\`, "<>&", "\b\f\n\r\t\x00\x1f\x7f", "\u2028\u2029", "告警🔥", "\uFFFD", "é"} {
		if got, want := JSONLen(s), encodedSize(t, s)-2; got != want {
			t.Errorf("JSONLen(%q) = %d, encoding/json writes %d", s, got, want)
		}
	}
}

func TestEncode(t *testing.T) {
	got, err := Encode(map[string]string{"a": "<b>&\u2028"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":"<b>&\u2028"}`; string(got) != want {
		t.Errorf("Encode = %s, want %s (no HTML escaping, no newline)", got, want)
	}
}

func TestClean(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"valid", "告警 ok\n", "告警 ok\n"},
		{"invalid byte", "a\xffb", "a\uFFFDb"},
		{"run of invalid bytes", "\xfe\xff", "\uFFFD"},
		{"cut sequence", "x\xe5\x91", "x\uFFFD"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Clean(tt.in); got != tt.want {
				t.Errorf("Clean(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestLine(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		max      int
		want     string
	}{
		{"as is", "CPU high", 10, "CPU high"},
		{"newlines", " a\r\nb\nc\rd ", 10, "a b c d"},
		{"invalid", "\xffx", 10, "\uFFFDx"},
		{"exactly max", "告警告警", 4, "告警告警"},
		{"over max", "告警告警告", 4, "告警告…"},
		{"trimmed before counting", "  abc  ", 3, "abc"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Line(tt.in, tt.max); got != tt.want {
				t.Errorf("Line(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
			}
		})
	}
}

func TestRunes(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"", 1, ""},
		{"abc", 3, "abc"},
		{"abcd", 3, "ab…"},
		{"😀😀😀", 2, "😀…"},
		{"ab", 1, "…"},
	} {
		if got := Runes(tt.in, tt.n); got != tt.want {
			t.Errorf("Runes(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestCutTo(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		budget   int
		want     string
	}{
		{"fits", "abc", 3, "abc"},
		{"fits with escapes", "a\nb", 4, "a\nb"},
		{"cut", "abcdefgh", 6, "abc…"},
		{"escape not split", "ab\"cdef", 6, "ab…"},
		{"rune not split", "告警告警", 8, "告…"},
		{"no room", "abcdef", 2, "…"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := CutTo(tt.in, tt.budget)
			if got != tt.want {
				t.Errorf("CutTo(%q, %d) = %q, want %q", tt.in, tt.budget, got, tt.want)
			}
			if tt.budget >= len(Ellipsis) && JSONLen(got) > tt.budget {
				t.Errorf("CutTo(%q, %d) is %d bytes encoded", tt.in, tt.budget, JSONLen(got))
			}
		})
	}
}

func TestJoin(t *testing.T) {
	for _, tt := range []struct {
		name  string
		parts []string
		want  string
	}{
		{"none", nil, ""},
		{"all empty", []string{"", ""}, ""},
		{"skips empty", []string{"a", "", "b", ""}, "a\n\nb"},
		{"leading empty", []string{"", "a"}, "a"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Join("\n\n", tt.parts...); got != tt.want {
				t.Errorf("Join(%q) = %q, want %q", tt.parts, got, tt.want)
			}
		})
	}
}

func TestShorter(t *testing.T) {
	text := strings.Repeat("line of text\n", 20) + strings.Repeat("告", 100) // 260 + 300 bytes
	var lefts []int
	for got, left := range Shorter(text, "Lark", 400) {
		head, mark, ok := strings.Cut(got, "\n\n… ")
		if !ok || "… "+mark != LeftOut("Lark", left) {
			t.Fatalf("version %q does not end in LeftOut(%d)", got, left)
		}
		if !utf8.ValidString(head) || !strings.HasPrefix(text, head) || len(head)+left != len(text) {
			t.Fatalf("head %q (left %d) is not a valid prefix of the text that leaves left bytes out", head, left)
		}
		lefts = append(lefts, left)
	}
	// Nine tenths of 400 is 360, inside the 告 run: back to a rune
	// boundary (359), then to the last line end (259), as it loses less
	// than half; likewise from 324, 291 and 262; 235 ends at the line end
	// at 233. The last version keeps nothing.
	if diff := cmp.Diff([]int{301, 301, 301, 301, 327}, lefts[:5]); diff != "" {
		t.Errorf("first lefts (-want +got):\n%s", diff)
	}
	if last := lefts[len(lefts)-1]; last != len(text) {
		t.Errorf("last version leaves out %d bytes, want all %d", last, len(text))
	}
}

func TestShorterStops(t *testing.T) {
	n := 0
	for range Shorter(strings.Repeat("x", 1000), "WeCom", 1000) {
		if n++; n == 2 {
			break
		}
	}
	if n != 2 {
		t.Errorf("ran %d times, want 2", n)
	}
}

func TestPack(t *testing.T) {
	size := func(s string) int { return len(s) }
	cut := func(s string, budget int) string { return s[:budget-1] + "~" }
	for _, tt := range []struct {
		name        string
		text        string
		first, rest int
		want        []string
		cuts        int
	}{
		{"one chunk", "ab\ncd", 5, 5, []string{"ab\ncd"}, 0},
		{"sep counted", "ab\ncd", 4, 4, []string{"ab", "cd"}, 0},
		{"first smaller", "ab\ncd\nef", 2, 5, []string{"ab", "cd\nef"}, 0},
		{"long line cut alone", "a\nlong line\nb", 4, 4, []string{"a", "lon~", "b"}, 1},
		{"empty lines kept", "a\n\nb", 9, 9, []string{"a\n\nb"}, 0},
		{"empty text", "", 3, 3, []string{""}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, cuts := Pack(tt.text, Measure(tt.text, size), tt.first, tt.rest, 1, cut)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("chunks (-want +got):\n%s", diff)
			}
			if cuts != tt.cuts {
				t.Errorf("cuts = %d, want %d", cuts, tt.cuts)
			}
		})
	}
}

func TestMeasure(t *testing.T) {
	got := Measure("a\n\"b\"\n", JSONLen)
	want := []Span{{0, 1, 1}, {2, 5, 5}, {6, 6, 0}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("spans (-want +got):\n%s", diff)
	}
}

// FuzzJSONLen: JSONLen agrees with encoding/json for any cleaned string,
// and CutTo always fits its budget.
func FuzzJSONLen(f *testing.F) {
	f.Add("plain", 3)
	f.Add("\"\\\u2028\n\x00告", 7)
	f.Add("\xff\xfe", 1)
	f.Fuzz(func(t *testing.T, s string, budget int) {
		s = Clean(s)
		if got, want := JSONLen(s), encodedSize(t, s)-2; got != want {
			t.Fatalf("JSONLen(%q) = %d, encoding/json writes %d", s, got, want)
		}
		budget = len(Ellipsis) + budget%64
		if budget < len(Ellipsis) {
			budget += 64
		}
		if c := CutTo(s, budget); JSONLen(c) > budget || !utf8.ValidString(c) {
			t.Fatalf("CutTo(%q, %d) = %q, %d bytes encoded", s, budget, c, JSONLen(c))
		}
	})
}
