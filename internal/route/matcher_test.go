package route

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/alert"
)

// m builds a matcher or fails the test.
func m(t testing.TB, typ MatchType, name, value string) Matcher {
	t.Helper()
	mt, err := NewMatcher(typ, name, value)
	if err != nil {
		t.Fatal(err)
	}
	return mt
}

// ms parses matchers or fails the test.
func ms(t testing.TB, s string) Matchers {
	t.Helper()
	out, err := ParseMatchers(s)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// labels builds a label set from name, value pairs.
func labels(kv ...string) alert.Labels {
	mp := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		mp[kv[i]] = kv[i+1]
	}
	return alert.FromMap(mp)
}

func TestParseMatchers(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     func(t testing.TB) Matchers
	}{
		{"empty", "", func(testing.TB) Matchers { return nil }},
		{"empty braces", " { } ", func(testing.TB) Matchers { return nil }},
		{"quoted", `team="sre"`, func(t testing.TB) Matchers { return Matchers{m(t, MatchEqual, "team", "sre")} }},
		{"unquoted", `severity=critical`, func(t testing.TB) Matchers { return Matchers{m(t, MatchEqual, "severity", "critical")} }},
		{"all operators", `a="1", b!="2", c=~"x|y", d!~"z.*"`, func(t testing.TB) Matchers {
			return Matchers{m(t, MatchEqual, "a", "1"), m(t, MatchNotEqual, "b", "2"), m(t, MatchRegexp, "c", "x|y"), m(t, MatchNotRegexp, "d", "z.*")}
		}},
		{"braces and spaces", "{ a = \"1\" ,\tb =~ x|y , }", func(t testing.TB) Matchers {
			return Matchers{m(t, MatchEqual, "a", "1"), m(t, MatchRegexp, "b", "x|y")}
		}},
		{"trailing comma", `a=1,`, func(t testing.TB) Matchers { return Matchers{m(t, MatchEqual, "a", "1")} }},
		{"escapes", `a="say \"hi\" \\ \n \u00e9"`, func(t testing.TB) Matchers {
			return Matchers{m(t, MatchEqual, "a", "say \"hi\" \\ \n é")}
		}},
		{"unknown escape kept for regexes", `path=~"/api/\d+\.json"`, func(t testing.TB) Matchers {
			return Matchers{m(t, MatchRegexp, "path", `/api/\d+\.json`)}
		}},
		{"utf-8", `服务="支付", "my label"=~"é|ü"`, func(t testing.TB) Matchers {
			return Matchers{m(t, MatchEqual, "服务", "支付"), m(t, MatchRegexp, "my label", "é|ü")}
		}},
		{"unquoted path and port", `instance=db-1:9100, path=/var/lib`, func(t testing.TB) Matchers {
			return Matchers{m(t, MatchEqual, "instance", "db-1:9100"), m(t, MatchEqual, "path", "/var/lib")}
		}},
		{"empty value", `team=""`, func(t testing.TB) Matchers { return Matchers{m(t, MatchEqual, "team", "")} }},
		{"comma and brace inside quotes", `msg="a, b}"`, func(t testing.TB) Matchers { return Matchers{m(t, MatchEqual, "msg", "a, b}")} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMatchers(tc.in)
			if err != nil {
				t.Fatalf("ParseMatchers(%q): %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want(t), got); diff != "" {
				t.Errorf("ParseMatchers(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestParseMatchersErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`team==sre`, `matcher "team==sre": unexpected "=" at position 6; "==" is not an operator; write team="sre"`},
		{`{a="1", team==sre}`, `matcher 2 ("team==sre"): unexpected "=" at position 6; "==" is not an operator; write team="sre"`},
		{`team`, `matcher "team": unexpected end of input at position 5; want an operator (=, !=, =~ or !~) after the label name team`},
		{`a!b`, `matcher "a!b": unexpected "!" at position 2; want an operator (=, !=, =~ or !~) after the label name a`},
		{`team=`, `matcher "team=": unexpected end of input at position 6; want a value after "=" (team="" matches a missing or empty label)`},
		{`a=1, team!=,`, `matcher 2 ("team!="): unexpected "," at position 7; want a value after "!=" (team!="" matches a missing or empty label)`},
		{`url=a=b`, "matcher \"url=a=b\": unexpected \"=\" at position 6; a value containing any of {}!=~,\"'` must be quoted, as in url=\"a=b\""},
		{`a=1 b=2`, `matcher "a=1 b=2": unexpected "b" at position 5; want "," between matchers, or quotes around a value that contains spaces`},
		{`a="x`, "matcher `a=\"x`: unterminated quoted text at position 3; add the closing \""},
		{`x=~"("`, "matcher `x=~\"(\"`: invalid regular expression at position 4; missing closing ) in \"(\""},
		{`x=~"a)|(b"`, "matcher `x=~\"a)|(b\"`: invalid regular expression at position 4; unexpected ) in \"a)|(b\""},
		{`{a=1`, `matchers "{a=1": unexpected end of input at position 5; want "}" to close the "{" at position 1`},
		{`{a=1} b=2`, `matchers "{a=1} b=2": unexpected "b" at position 7; want nothing after the closing "}"`},
		{`a=1}`, `matcher 1 ("a=1"): unexpected "}" at position 4; there is no "{" to close`},
		{`,a=1`, `matchers ",a=1": unexpected "," at position 1; want a matcher such as team="sre" before it`},
		{`a=1,,b=2`, `matchers "a=1,,b=2": unexpected "," at position 5; want a matcher such as team="sre" before it`},
		{`'a'=1`, `matcher "'a'=1": unexpected "'" at position 1; want a label name; quote with double quotes "…"`},
		{`""=1`, "matcher `\"\"=1`: empty label name at position 1; a matcher needs a label name, as in team=\"sre\""},
		{`a="\xff"`, "matcher `a=\"\\xff\"`: invalid UTF-8 in quoted text at position 3; names and values must be UTF-8 text (\\x escapes are single bytes; write characters as themselves or as \\u00e9)"},
		{"a=\xff", `matcher "a=\xff": invalid UTF-8 at position 3; names and values must be UTF-8 text`},
		{`服务=="x"`, "matcher `服务==\"x\"`: unexpected \"=\" at position 4; \"==\" is not an operator; write \"服务\"=\"x\""},
		{`a="x"y`, "matcher `a=\"x\"y`: unexpected \"y\" at position 6; want \",\" or the end after the quoted value"},
	} {
		_, err := ParseMatchers(tc.in)
		if err == nil {
			t.Errorf("ParseMatchers(%q) succeeded, want error %s", tc.in, tc.want)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("ParseMatchers(%q) error:\n got %s\nwant %s", tc.in, err, tc.want)
		}
	}
}

func TestParseErrorFields(t *testing.T) {
	_, err := ParseMatchers(`{a="1", team==sre}`)
	pe, ok := err.(*ParseError)
	if !ok {
		t.Fatalf("error %T, want *ParseError", err)
	}
	if pe.Matcher != 2 || pe.Text != "team==sre" || pe.Pos != 6 {
		t.Errorf("ParseError = matcher %d, text %q, pos %d; want 2, team==sre, 6", pe.Matcher, pe.Text, pe.Pos)
	}
}

func TestParseMatcher(t *testing.T) {
	got, err := ParseMatcher(` severity =~ "critical|warning" `)
	if err != nil || !got.Equal(m(t, MatchRegexp, "severity", "critical|warning")) {
		t.Errorf("ParseMatcher = %v, %v", got, err)
	}
	for _, in := range []string{"", "a=1, b=2"} {
		if _, err := ParseMatcher(in); err == nil || !strings.Contains(err.Error(), "want exactly one matcher") {
			t.Errorf("ParseMatcher(%q) error = %v, want one about exactly one matcher", in, err)
		}
	}
}

func TestMatcherString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`severity=critical`, `severity="critical"`},
		{`a != "x"`, `a!="x"`},
		{`path=~"/api/\d+"`, `path=~"/api/\\d+"`},
		{`"my label"="é"`, `"my label"="é"`},
		{`服务="支付"`, `"服务"="支付"`},
		{`_x9!~"a\nb"`, `_x9!~"a\nb"`},
		{`{a=1, b="q\"uote"}`, `{a="1", b="q\"uote"}`},
	} {
		got := ms(t, tc.in)
		if s := got.String(); len(got) == 1 && got[0].String() != tc.want || len(got) > 1 && s != tc.want {
			t.Errorf("ParseMatchers(%q).String() = %s, want %s", tc.in, s, tc.want)
		}
		if back := ms(t, got.String()); !cmp.Equal(back, got) {
			t.Errorf("%s does not round-trip: %s", got, back)
		}
	}
}

func TestMatcherMatches(t *testing.T) {
	ls := labels("alertname", "DiskFull", "team", "sre-db", "severity", "critical")
	for _, tc := range []struct {
		matchers string
		want     bool
	}{
		{`team="sre-db"`, true},
		{`team="sre"`, false},
		{`team=~"sre"`, false}, // anchored: a regex must match the whole value
		{`team=~"sre.*"`, true},
		{`team=~"db"`, false},
		{`team!~"sre"`, true},
		{`zone!="eu"`, true},  // a missing label is "": not equal to eu
		{`zone=""`, true},     // and equal to ""
		{`zone=~".*"`, true},  // ".*" matches ""
		{`zone=~".+"`, false}, // ".+" does not
		{`zone!~".+"`, true},
		{`alertname="DiskFull", severity=~"critical|warning"`, true},
		{`alertname="DiskFull", severity="info"`, false},
		{``, true},
	} {
		if got := ms(t, tc.matchers).Matches(ls); got != tc.want {
			t.Errorf("%s matches %s = %v, want %v", tc.matchers, ls, got, tc.want)
		}
	}
	var zero Matcher
	if !zero.Matches("") || !(Matchers{zero}).Matches(ls) {
		t.Error("the zero Matcher should match every label set")
	}
}

func TestNewMatcherErrors(t *testing.T) {
	for _, tc := range []struct {
		typ         MatchType
		name, value string
		want        string
	}{
		{MatchEqual, "", "x", "a label name cannot be empty"},
		{MatchEqual, "a\xff", "x", `label name "a\xff" is not valid UTF-8`},
		{MatchEqual, "a", "\xff", "the value of a is not valid UTF-8"},
		{MatchType(9), "a", "x", "unknown operator 9"},
		{MatchRegexp, "a", "(", `invalid regular expression "(": missing closing ) in "("`},
	} {
		_, err := NewMatcher(tc.typ, tc.name, tc.value)
		if err == nil || err.Error() != tc.want {
			t.Errorf("NewMatcher(%v, %q, %q) = %v, want %s", tc.typ, tc.name, tc.value, err, tc.want)
		}
	}
}

func TestMatcherJSON(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Matcher
		out  string
	}{
		{`{"name":"a","value":"1","isRegex":false}`, m(t, MatchEqual, "a", "1"), `{"name":"a","value":"1","isRegex":false,"isEqual":true}`},
		{`{"name":"a","value":"1","isRegex":false,"isEqual":false}`, m(t, MatchNotEqual, "a", "1"), `{"name":"a","value":"1","isRegex":false,"isEqual":false}`},
		{`{"name":"a","value":"x|y","isRegex":true}`, m(t, MatchRegexp, "a", "x|y"), `{"name":"a","value":"x|y","isRegex":true,"isEqual":true}`},
		{`{"name":"a","value":"x|y","isRegex":true,"isEqual":false}`, m(t, MatchNotRegexp, "a", "x|y"), `{"name":"a","value":"x|y","isRegex":true,"isEqual":false}`},
	} {
		var got Matcher
		if err := json.Unmarshal([]byte(tc.in), &got); err != nil {
			t.Fatalf("Unmarshal(%s): %v", tc.in, err)
		}
		if !got.Equal(tc.want) {
			t.Errorf("Unmarshal(%s) = %s, want %s", tc.in, got, tc.want)
		}
		out, err := json.Marshal(got)
		if err != nil || string(out) != tc.out {
			t.Errorf("Marshal(%s) = %s, %v; want %s", got, out, err, tc.out)
		}
	}
	for _, in := range []string{`{"name":"","value":"1"}`, `{"name":"a","value":"(","isRegex":true}`, `{"name":1}`} {
		var got Matcher
		if err := json.Unmarshal([]byte(in), &got); err == nil {
			t.Errorf("Unmarshal(%s) succeeded", in)
		}
	}
}

func FuzzParseMatchers(f *testing.F) {
	for _, s := range []string{
		`team="sre"`, `{a="1", b=~"x|y"}`, `severity=critical`, `a!="x",b!~"y.*",`, `"my label"="é\u00e9\n"`,
		`path=~"/api/\d+"`, `team==sre`, `{`, `a="\xff"`, `服务="支付"`, `a=~"a)|(b"`, "a=\"\\U0010ffff\\377\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseMatchers(s)
		if err != nil {
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("ParseMatchers(%q) error is %T, want *ParseError", s, err)
			}
			return
		}
		back, err := ParseMatchers(got.String())
		if err != nil {
			t.Fatalf("ParseMatchers(%q).String() = %s does not parse: %v", s, got, err)
		}
		if !cmp.Equal(got, back) {
			t.Fatalf("round trip of %q: %s became %s", s, got, back)
		}
		for i, mt := range got {
			one, err := ParseMatcher(mt.String())
			if err != nil || !one.Equal(mt) {
				t.Fatalf("matcher %d %s: ParseMatcher(String()) = %s, %v", i, mt, one, err)
			}
		}
	})
}
