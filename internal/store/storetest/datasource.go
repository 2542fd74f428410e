package storetest

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/datasource"
	"github.com/tocsinhq/tocsin/internal/secret"
	"github.com/tocsinhq/tocsin/internal/store"
)

// NewDatasource returns a data source named name with every field set: a
// new random bearer token and password, a user name, headers and a
// timeout below the second.
func NewDatasource(name string) *datasource.Source {
	return &datasource.Source{
		Name:        name,
		URL:         "https://mimir.example.com/prometheus",
		BearerToken: secret.New("tok-" + hex.EncodeToString(randomBytes(24))),
		Username:    "tocsin",
		Password:    secret.New("pw-" + hex.EncodeToString(randomBytes(24))),
		Headers:     map[string]string{"X-Scope-OrgID": "team-a", "X-Empty": ""},
		Timeout:     2500 * time.Millisecond,
	}
}

// datasourceOpts compare data sources by their secrets' revealed values.
var datasourceOpts = cmp.Options{
	cmp.Comparer(func(a, b secret.String) bool { return a.Reveal() == b.Reveal() }),
}

func testDatasourceCreateAndGet(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	d := NewDatasource("mimir")
	d.ID = "chosen-by-the-caller" // the store assigns ids
	// Nothing set but the name and the URL: no credentials, no headers,
	// the default timeout.
	bare := &datasource.Source{Name: "local", URL: "http://127.0.0.1:9090"}
	var want []*datasource.Source
	for i, d := range []*datasource.Source{d, bare} {
		orig := *d
		mustCreateDatasource(t, s, d, at(i))
		if len(d.ID) != 26 || d.ID == "chosen-by-the-caller" {
			t.Errorf("created data source got ID %q, want a new 26-character id", d.ID)
		}
		wantTime := store.StoredTime(at(i))
		if !d.CreatedAt.Equal(wantTime) || !d.UpdatedAt.Equal(wantTime) || d.CreatedAt.Location() != time.UTC {
			t.Errorf("created data source got CreatedAt %v, UpdatedAt %v, want both %v (UTC, whole milliseconds)", d.CreatedAt, d.UpdatedAt, wantTime)
		}
		orig.ID, orig.CreatedAt, orig.UpdatedAt = d.ID, d.CreatedAt, d.UpdatedAt
		if diff := cmp.Diff(&orig, d, datasourceOpts); diff != "" {
			t.Errorf("CreateDatasource changed the data source beyond its id and times (-want +got):\n%s", diff)
		}
		want = append(want, &orig)
		// Secrets come back in clear: the evaluator queries with them.
		if diff := cmp.Diff(&orig, mustGetDatasource(t, s, d.ID), datasourceOpts); diff != "" {
			t.Errorf("GetDatasource of %q differs from what was created (-want +got):\n%s", d.Name, diff)
		}
		got, err := s.GetDatasourceByName(t.Context(), d.Name)
		if err != nil {
			t.Fatalf("GetDatasourceByName(%q): %v", d.Name, err)
		}
		if diff := cmp.Diff(&orig, got, datasourceOpts); diff != "" {
			t.Errorf("GetDatasourceByName(%q) differs from what was created (-want +got):\n%s", d.Name, diff)
		}
	}
	items, next, err := s.ListDatasources(t.Context(), store.DatasourceFilter{})
	if err != nil {
		t.Fatalf("ListDatasources: %v", err)
	}
	if diff := cmp.Diff(want, items, datasourceOpts); diff != "" || next != "" {
		t.Errorf("ListDatasources got next %q and items (-want +got):\n%s", next, diff)
	}
}

func testDatasourceMissing(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	mustCreateDatasource(t, s, NewDatasource("present"), at(0))
	unknown := new(store.IDs).New(t0)
	_, err := s.GetDatasource(t.Context(), unknown)
	wantErr(t, "GetDatasource of an unknown id", err, store.ErrNotFound)
	_, err = s.GetDatasourceByName(t.Context(), "absent")
	wantErr(t, "GetDatasourceByName of an unknown name", err, store.ErrNotFound)
	_, err = s.GetDatasourceByName(t.Context(), "PRESENT")
	wantErr(t, "GetDatasourceByName with other letter case", err, store.ErrNotFound)
	ghost := NewDatasource("ghost")
	ghost.ID = unknown
	wantErr(t, "UpdateDatasource of an unknown id", s.UpdateDatasource(t.Context(), ghost, at(1)), store.ErrNotFound)
	wantErr(t, "DeleteDatasource of an unknown id", s.DeleteDatasource(t.Context(), unknown), store.ErrNotFound)
	if got := datasourceNames(listAllDatasources(t, s, store.DatasourceFilter{})); !slices.Equal(got, []string{"present"}) {
		t.Errorf("after refused calls the store holds data sources %q", got)
	}
}

func testDatasourceDuplicateName(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	first, other := NewDatasource("dup"), NewDatasource("other")
	mustCreateDatasource(t, s, first, at(0))
	mustCreateDatasource(t, s, other, at(1))
	err := s.CreateDatasource(t.Context(), NewDatasource("dup"), at(2))
	wantErr(t, "CreateDatasource with a taken name", err, store.ErrConflict)
	if err != nil && !strings.Contains(err.Error(), `"dup"`) {
		t.Errorf("CreateDatasource with a taken name: error %q does not name it", err)
	}
	upd := NewDatasource("dup")
	upd.ID = other.ID
	wantErr(t, "UpdateDatasource to a taken name", s.UpdateDatasource(t.Context(), upd, at(3)), store.ErrConflict)
	if diff := cmp.Diff([]*datasource.Source{first, other}, listAllDatasources(t, s, store.DatasourceFilter{}), datasourceOpts); diff != "" {
		t.Errorf("after refused duplicates the store holds (-want +got):\n%s", diff)
	}
	// Names compare exactly.
	mustCreateDatasource(t, s, NewDatasource("Dup"), at(4))
}

func testDatasourceUpdate(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	d := NewDatasource("before")
	mustCreateDatasource(t, s, d, at(0))
	bystander := NewDatasource("bystander")
	mustCreateDatasource(t, s, bystander, at(1))

	// New secrets, as a PUT with new values.
	upd := NewDatasource("after")
	upd.ID = d.ID
	upd.URL = "http://vm.internal:8428"
	upd.Username = ""
	upd.Headers = nil
	upd.Timeout = 0
	upd.CreatedAt = at(5000) // not the caller's to change
	if err := s.UpdateDatasource(t.Context(), upd, at(60_000)); err != nil {
		t.Fatalf("UpdateDatasource: %v", err)
	}
	if !upd.CreatedAt.Equal(d.CreatedAt) || !upd.UpdatedAt.Equal(store.StoredTime(at(60_000))) {
		t.Errorf("UpdateDatasource set CreatedAt %v, UpdatedAt %v; want %v (as created), %v", upd.CreatedAt, upd.UpdatedAt, d.CreatedAt, store.StoredTime(at(60_000)))
	}
	if diff := cmp.Diff(upd, mustGetDatasource(t, s, d.ID), datasourceOpts); diff != "" {
		t.Errorf("after UpdateDatasource, GetDatasource differs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(bystander, mustGetDatasource(t, s, bystander.ID), datasourceOpts); diff != "" {
		t.Errorf("updating one data source changed another (-want +got):\n%s", diff)
	}
	// Clearing the secrets clears them.
	upd.BearerToken, upd.Password = secret.String{}, secret.String{}
	if err := s.UpdateDatasource(t.Context(), upd, at(60_001)); err != nil {
		t.Fatalf("UpdateDatasource without secrets: %v", err)
	}
	if got := mustGetDatasource(t, s, d.ID); !got.BearerToken.IsZero() || !got.Password.IsZero() {
		t.Errorf("after clearing the secrets the data source has bearer token %v, password %v", got.BearerToken, got.Password)
	}
	_, err := s.GetDatasourceByName(t.Context(), "before")
	wantErr(t, "GetDatasourceByName of the old name", err, store.ErrNotFound)
	// The old name is free again.
	mustCreateDatasource(t, s, NewDatasource("before"), at(60_002))
}

func testDatasourceDeleteAndPages(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	var want []string
	for i := range 11 {
		name := fmt.Sprintf("prom-%02d", i)
		if i%4 == 0 {
			name = fmt.Sprintf("VM_%02d", i)
		}
		mustCreateDatasource(t, s, NewDatasource(name), at(i))
		want = append(want, name)
	}
	gone := mustGetDatasourceByName(t, s, "prom-05")
	if err := s.DeleteDatasource(t.Context(), gone.ID); err != nil {
		t.Fatalf("DeleteDatasource: %v", err)
	}
	_, err := s.GetDatasource(t.Context(), gone.ID)
	wantErr(t, "GetDatasource after DeleteDatasource", err, store.ErrNotFound)
	wantErr(t, "DeleteDatasource twice", s.DeleteDatasource(t.Context(), gone.ID), store.ErrNotFound)
	want = slices.DeleteFunc(want, func(n string) bool { return n == "prom-05" })

	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"", want},
		// Unescaped, "_0" would match "-0" as well.
		{"m_0", []string{"VM_00", "VM_04", "VM_08"}},
		{"PROM-1", []string{"prom-10"}},
		{"%", nil},
	} {
		for _, limit := range []int{1, 3, 0} {
			f := store.DatasourceFilter{Query: tt.query, Limit: limit}
			if diff := cmp.Diff(tt.want, datasourceNames(listAllDatasources(t, s, f))); diff != "" {
				t.Errorf("ListDatasources %+v over all pages, want each once in id order (-want +got):\n%s", f, diff)
			}
		}
	}
	mustCreateDatasource(t, s, NewDatasource("prom-05"), at(20)) // the name is free again
}

// testDatasourceNoSecretAtRest: a data source's bearer token and password
// are nowhere in what the backend keeps, in clear or hex-encoded, before
// or after an update; its name and URL are, in the settings.
func testDatasourceNoSecretAtRest(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	first, second := NewDatasource("source-of-secrets"), NewDatasource("second-source")
	second.URL = "https://thanos.example.org/query"
	mustCreateDatasource(t, s, first, at(0))
	mustCreateDatasource(t, s, second, at(1))
	upd := NewDatasource("source-of-secrets")
	upd.ID = first.ID
	if err := s.UpdateDatasource(t.Context(), upd, at(2)); err != nil {
		t.Fatalf("UpdateDatasource: %v", err)
	}
	var secrets []string
	for _, d := range []*datasource.Source{first, second, upd} {
		secrets = append(secrets, d.BearerToken.Reveal(), d.Password.Reveal())
	}
	visible := []string{"source-of-secrets", "second-source", "https://thanos.example.org/query", "X-Scope-OrgID"}
	checkDump(t, h, "while open", visible, secrets)
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	checkDump(t, h, "after close", visible, secrets)
}

// testDatasourceWrongKey: with another key than the secrets were sealed
// with, reading a data source fails rather than returning it without its
// secrets, and nothing is lost.
func testDatasourceWrongKey(t *testing.T, h Harness) {
	box := NewBox(t)
	s := open(t, h, box)
	d := NewDatasource("sealed")
	mustCreateDatasource(t, s, d, at(0))
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	other := open(t, h, NewBox(t))
	_, err := other.GetDatasource(t.Context(), d.ID)
	wantErr(t, "GetDatasource with another key", err, secret.ErrOpen)
	_, err = other.GetDatasourceByName(t.Context(), d.Name)
	wantErr(t, "GetDatasourceByName with another key", err, secret.ErrOpen)
	_, _, err = other.ListDatasources(t.Context(), store.DatasourceFilter{})
	wantErr(t, "ListDatasources with another key", err, secret.ErrOpen)
	if err := other.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	s = open(t, h, box)
	if diff := cmp.Diff(d, mustGetDatasource(t, s, d.ID), datasourceOpts); diff != "" {
		t.Errorf("with the right key again, the data source differs (-want +got):\n%s", diff)
	}
}

func mustCreateDatasource(t *testing.T, s store.Store, d *datasource.Source, now time.Time) {
	t.Helper()
	if err := s.CreateDatasource(t.Context(), d, now); err != nil {
		t.Fatalf("create data source %q: %v", d.Name, err)
	}
}

func mustGetDatasource(t *testing.T, s store.Store, id string) *datasource.Source {
	t.Helper()
	d, err := s.GetDatasource(t.Context(), id)
	if err != nil {
		t.Fatalf("get data source %s: %v", id, err)
	}
	return d
}

func mustGetDatasourceByName(t *testing.T, s store.Store, name string) *datasource.Source {
	t.Helper()
	d, err := s.GetDatasourceByName(t.Context(), name)
	if err != nil {
		t.Fatalf("get data source %q: %v", name, err)
	}
	return d
}

func listAllDatasources(t *testing.T, s store.Store, f store.DatasourceFilter) []*datasource.Source {
	t.Helper()
	return collectPages(t, fmt.Sprintf("list data sources %+v", f), f.Limit, func(cursor string) ([]*datasource.Source, string, error) {
		f.Cursor = cursor
		return s.ListDatasources(t.Context(), f)
	})
}

func datasourceNames(ds []*datasource.Source) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Name)
	}
	return out
}
