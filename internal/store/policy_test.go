package store

import (
	"errors"
	"testing"
	"time"

	"github.com/tocsinhq/tocsin/internal/route"
)

func TestInUseErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		kind error
		want string
	}{
		{"one policy", InUse("contact group g1", nil, []string{"sre"}), ErrConflict,
			`contact group g1 is a target of policy "sre": remove it from that policy first: conflict`},
		{"two policies", InUse("channel h1", nil, []string{"a", "b"}), ErrConflict,
			`channel h1 is a target of policies "a", "b": remove it from those policies first: conflict`},
		{"groups and policies", InUse("channel h1", []string{"dba", "sre"}, []string{"a"}), ErrConflict,
			`channel h1 is in contact groups "dba", "sre" and a target of policy "a": take it out of those groups and remove it from that policy first: conflict`},
		{"groups only, as InGroups", InUse("channel h1", []string{"sre"}, nil), ErrConflict,
			`channel h1 is in contact group "sre": take it out of that group first: conflict`},
		{"caught by a key", InUse("channel h1", nil, nil), ErrConflict,
			`channel h1 is in a contact group or a target of a policy: take it out of them first: conflict`},
		{"missing targets", MissingTargets("p", []string{"h1"}, []string{"g1", "g2"}), ErrNotFound,
			`policy "p": there is no channel h1, and no contact groups g1, g2: not found`},
		{"missing group", MissingTargets("p", nil, []string{"g1"}), ErrNotFound,
			`policy "p": there is no contact group g1: not found`},
	} {
		if !errors.Is(tt.err, tt.kind) {
			t.Errorf("%s: %v is not %v", tt.name, tt.err, tt.kind)
		}
		if tt.err.Error() != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, tt.err, tt.want)
		}
	}
	if err := MissingTargets("p", nil, nil); err != nil {
		t.Errorf("MissingTargets with none missing = %v", err)
	}
}

func TestPolicyCursor(t *testing.T) {
	for _, p := range []route.Policy{{Position: 0, ID: "01abc"}, {Position: -12, ID: "x"}, {Position: 1 << 40, ID: "z:z"}} {
		c := PolicyCursor(&p)
		pos, id, err := ParsePolicyCursor(c)
		if err != nil || pos != int64(p.Position) || id != p.ID {
			t.Errorf("ParsePolicyCursor(%q) = %d, %q, %v; want %d, %q", c, pos, id, err, p.Position, p.ID)
		}
	}
	for _, c := range []string{"abc", "1:", ":abc", "x:abc", "1.5:abc", "99999999999999999999:abc"} {
		if _, _, err := ParsePolicyCursor(c); err == nil {
			t.Errorf("ParsePolicyCursor(%q) succeeded", c)
		}
	}
}

func TestStoredDuration(t *testing.T) {
	for in, want := range map[time.Duration]time.Duration{
		0:                       0,
		time.Microsecond:        time.Millisecond,
		time.Millisecond:        time.Millisecond,
		1001 * time.Microsecond: 2 * time.Millisecond,
		4 * time.Hour:           4 * time.Hour,
	} {
		if got := storedDuration(in); got != want {
			t.Errorf("storedDuration(%v) = %v, want %v", in, got, want)
		}
	}
}
