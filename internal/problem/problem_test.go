package problem

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type inner struct {
	Keywords []string `json:"keywords"`
	On       *bool    `json:"on"`
	Custom   custom   `json:"custom"`
}

type custom struct{}

func (*custom) UnmarshalJSON([]byte) error {
	return One("settings.custom", "bad-custom", "custom says no")
}

type outer struct {
	Name     string `json:"name"`
	Count    int    `json:"count"`
	Settings inner  `json:"settings"`
}

func TestDecodeStrictNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		name, body, prefix string
		want               Problem
	}{
		{"type", `{"count":"x"}`, "", Problem{"count", "invalid-type", `must be a whole number, not a JSON string`}},
		{"nested type", `{"settings":{"keywords":"x"}}`, "", Problem{"settings.keywords", "invalid-type", `must be a list, not a JSON string`}},
		{"pointer type", `{"settings":{"on":1}}`, "", Problem{"settings.on", "invalid-type", `must be true or false, not a JSON number`}},
		{"unknown", `{"nmae":"x"}`, "", Problem{"nmae", "unknown-field", `unknown field "nmae": check the spelling against the API reference`}},
		{"prefix", `{"colour":1}`, "policy", Problem{"policy.colour", "unknown-field", `unknown field "colour": check the spelling against the API reference`}},
		{"empty", ``, "", Problem{"", "invalid-json", "the body is empty: send a JSON value"}},
		{"cut off", `{"name":"x"`, "", Problem{"", "invalid-json", "the JSON ends too early: it is cut off or a bracket is missing"}},
		{"trailing", `{} {}`, "", Problem{"", "invalid-json", "unexpected data after the JSON value"}},
		{"method's own list", `{"settings":{"custom":1}}`, "", Problem{"settings.custom", "bad-custom", "custom says no"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v outer
			err := DecodeStrict([]byte(tc.body), &v, tc.prefix)
			var l *List
			if !errors.As(err, &l) || len(l.Items) != 1 {
				t.Fatalf("err = %v, want one problem", err)
			}
			if diff := cmp.Diff(tc.want, l.Items[0]); diff != "" {
				t.Errorf("problem (-want +got):\n%s", diff)
			}
		})
	}
}

func TestListHasMergeErr(t *testing.T) {
	var l List
	if l.Err() != nil {
		t.Error("an empty list is an error")
	}
	l.Add("matchers[2]", "invalid-matcher", "bad %d", 2)
	if !l.Has("matchers") || !l.Has("matchers[2]") || l.Has("match") || l.Has("group_by") {
		t.Error("Has")
	}
	if !l.Merge(One("", "x", "whole body")) || l.Merge(errors.New("plain")) || len(l.Items) != 2 {
		t.Errorf("Merge: %v", l.Items)
	}
	if got := l.Err().Error(); got != "matchers[2]: bad 2; whole body" {
		t.Errorf("Error() = %q", got)
	}
}

func TestNames(t *testing.T) {
	var l List
	l.Names("group_by", []string{"alertname", " ", "a\xff", "alertname", "instance"}, "a label name")
	want := []Problem{
		{Field: "group_by[1]", Code: "required", Message: "an entry is empty: write a label name or remove it"},
		{Field: "group_by[2]", Code: "invalid-value", Message: `"a\xff" is not valid UTF-8`},
		{Field: "group_by[3]", Code: "duplicate", Message: `"alertname" is listed twice`},
	}
	if !slices.Equal(l.Items, want) {
		t.Errorf("problems %v, want %v", l.Items, want)
	}
}
