package contact

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/problem"
)

func validateGroup(t *testing.T, body string) (*Group, error) {
	t.Helper()
	in, err := DecodeGroup([]byte(body))
	if err != nil {
		return nil, err
	}
	return ValidateGroup(in)
}

func TestValidateGroupAccepts(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want Group
	}{
		{"members by id and by name", `{"name":" sre ","description":" on call ","contacts":["01hzx"," Zhang San "],"channels":["ops-robot"]}`,
			Group{Name: "sre", Description: "on call", ContactIDs: []string{"01hzx", "Zhang San"}, ChannelIDs: []string{"ops-robot"}}},
		{"no members yet", `{"name":"empty"}`, Group{Name: "empty", ContactIDs: []string{}, ChannelIDs: []string{}}},
		{"null lists", `{"name":"empty","contacts":null,"channels":null}`, Group{Name: "empty", ContactIDs: []string{}, ChannelIDs: []string{}}},
		{"sent back as read", `{"id":"x","name":"g","description":"","contacts":[],"channels":[],"created_at":"2026-05-20T09:30:00Z","updated_at":"2026-05-20T09:30:00Z"}`,
			Group{Name: "g", ContactIDs: []string{}, ChannelIDs: []string{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := validateGroup(t, tc.body)
			if err != nil {
				t.Fatalf("ValidateGroup: %v", err)
			}
			if diff := cmp.Diff(&tc.want, got); diff != "" {
				t.Errorf("group (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateGroupRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want []string
	}{
		{"unknown field", `{"name":"g","contact_ids":[]}`, []string{"contact_ids:unknown-field"}},
		{"members not a list", `{"name":"g","contacts":"a,b"}`, []string{"contacts:invalid-type"}},
		{"no name", `{"contacts":["a"]}`, []string{"name:required"}},
		{"long name", `{"name":"` + strings.Repeat("x", 101) + `"}`, []string{"name:too-long"}},
		{"long description", `{"name":"g","description":"` + strings.Repeat("x", 1001) + `"}`, []string{"description:too-long"}},
		{"empty members", `{"name":"g","contacts":["a"," "],"channels":[""]}`, []string{"contacts[1]:required", "channels[0]:required"}},
		{"repeated members", `{"name":"g","contacts":["a","b"," a"],"channels":["c","c"]}`, []string{"contacts[2]:duplicate", "channels[1]:duplicate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := validateGroup(t, tc.body)
			if diff := cmp.Diff(tc.want, fields(err)); diff != "" {
				t.Errorf("problems (-want +got):\n%s\ngroup: %+v", diff, g)
			}
		})
	}
}

func TestGroupJSON(t *testing.T) {
	b, err := json.Marshal(Group{ID: "01", Name: "g"})
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"id":"01","name":"g","description":"","contacts":[],"channels":[],"created_at":"0001-01-01T00:00:00Z","updated_at":"0001-01-01T00:00:00Z"}`
	if string(b) != want {
		t.Errorf("JSON\n got %s\nwant %s", b, want)
	}
	if _, err := validateGroup(t, string(b)); err != nil {
		t.Errorf("the API shape does not validate: %v", err)
	}
}

// table resolves references through a map of id and name to id.
func table(m map[string]string) Resolver {
	return func(_ context.Context, ref string) (string, bool, error) {
		id, ok := m[ref]
		return id, ok, nil
	}
}

func TestResolve(t *testing.T) {
	contacts := table(map[string]string{"c1": "c1", "Zhang San": "c1", "c2": "c2", "Li Si": "c2"})
	channels := table(map[string]string{"h1": "h1", "ops-robot": "h1"})
	for _, tc := range []struct {
		name                 string
		body                 string
		wantContacts, wantCh []string
		problems             []string
	}{
		{"ids and names", `{"name":"g","contacts":["Li Si","c1"],"channels":["ops-robot"]}`, []string{"c2", "c1"}, []string{"h1"}, nil},
		{"unknown", `{"name":"g","contacts":["c1","nobody"],"channels":["gone"]}`, nil, nil, []string{"contacts[1]:unknown-contact", "channels[0]:unknown-channel"}},
		{"one member by id and by name", `{"name":"g","contacts":["c1","Li Si","Zhang San"],"channels":["h1","ops-robot"]}`, nil, nil, []string{"contacts[2]:duplicate", "channels[1]:duplicate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := validateGroup(t, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			err = g.Resolve(t.Context(), contacts, channels)
			if diff := cmp.Diff(tc.problems, fields(err)); diff != "" {
				t.Fatalf("problems (-want +got):\n%s", diff)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tc.wantContacts, g.ContactIDs); diff != "" {
				t.Errorf("contact ids (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantCh, g.ChannelIDs); diff != "" {
				t.Errorf("channel ids (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolvePassesResolverErrors(t *testing.T) {
	boom := errors.New("database is down")
	failing := func(context.Context, string) (string, bool, error) { return "", false, boom }
	g, err := validateGroup(t, `{"name":"g","contacts":["a"]}`)
	if err != nil {
		t.Fatal(err)
	}
	err = g.Resolve(t.Context(), failing, table(nil))
	if !errors.Is(err, boom) || fields(err)[0] == "contacts[0]:unknown-contact" {
		t.Errorf("Resolve = %v, want the resolver's error", err)
	}
}

func TestResolveRefsCodesByKind(t *testing.T) {
	var p problem.List
	ids, err := ResolveRefs(t.Context(), &p, "targets.contact_groups", "contact group", []string{"sre", "nobody", "g1"}, table(map[string]string{"sre": "g1", "g1": "g1"}))
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(ids, []string{"g1"}) {
		t.Errorf("ids = %q, want [g1]", ids)
	}
	if diff := cmp.Diff([]string{"targets.contact_groups[1]:unknown-contact-group", "targets.contact_groups[2]:duplicate"}, fields(&p)); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}
