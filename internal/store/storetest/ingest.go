package storetest

import (
	"crypto/sha256"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/store"
)

// newIngestToken returns a token named name whose hash is that of a new
// random token, as the API makes one.
func newIngestToken(name string) *store.IngestToken {
	return &store.IngestToken{Name: name, Hash: sha256.Sum256(randomBytes(32))}
}

func mustCreateIngestToken(t *testing.T, s store.Store, tok *store.IngestToken, ms int) {
	t.Helper()
	if err := s.CreateIngestToken(t.Context(), tok, at(ms)); err != nil {
		t.Fatalf("CreateIngestToken %q: %v", tok.Name, err)
	}
}

func listIngestTokens(t *testing.T, s store.Store) []*store.IngestToken {
	t.Helper()
	ts, err := s.ListIngestTokens(t.Context())
	if err != nil {
		t.Fatalf("ListIngestTokens: %v", err)
	}
	return ts
}

func testIngestTokens(t *testing.T, h Harness) {
	s := open(t, h, NewBox(t))
	if got := listIngestTokens(t, s); len(got) != 0 {
		t.Errorf("a new store lists %d ingest tokens", len(got))
	}
	ci := newIngestToken("ci")
	ci.ID = "chosen-by-the-caller" // the store assigns ids
	mustCreateIngestToken(t, s, ci, 0)
	if len(ci.ID) != 26 || ci.ID == "chosen-by-the-caller" || !cmp.Equal(ci.CreatedAt, t0, channelOpts) {
		t.Errorf("created token got ID %q, CreatedAt %v; want a new 26-character id and %v", ci.ID, ci.CreatedAt, t0)
	}
	// Names compare exactly: "CI" is another name.
	upper := newIngestToken("CI")
	mustCreateIngestToken(t, s, upper, 1)
	aliyun := newIngestToken("aliyun cloud monitor")
	mustCreateIngestToken(t, s, aliyun, 2)

	if diff := cmp.Diff([]*store.IngestToken{ci, upper, aliyun}, listIngestTokens(t, s), channelOpts); diff != "" {
		t.Errorf("ListIngestTokens, want every token in creation order (-want +got):\n%s", diff)
	}
	got, err := s.IngestTokenByHash(t.Context(), aliyun.Hash)
	if err != nil {
		t.Fatalf("IngestTokenByHash: %v", err)
	}
	if diff := cmp.Diff(aliyun, got, channelOpts); diff != "" {
		t.Errorf("IngestTokenByHash (-want +got):\n%s", diff)
	}
	_, err = s.IngestTokenByHash(t.Context(), sha256.Sum256([]byte("not a token")))
	wantErr(t, "IngestTokenByHash of an unknown hash", err, store.ErrNotFound)

	dup := newIngestToken("ci")
	err = s.CreateIngestToken(t.Context(), dup, at(3))
	wantErr(t, "CreateIngestToken with a taken name", err, store.ErrConflict)
	if dup.ID != "" {
		t.Errorf("a refused CreateIngestToken set ID %q", dup.ID)
	}

	if err := s.DeleteIngestToken(t.Context(), ci.ID); err != nil {
		t.Fatalf("DeleteIngestToken: %v", err)
	}
	wantErr(t, "DeleteIngestToken twice", s.DeleteIngestToken(t.Context(), ci.ID), store.ErrNotFound)
	wantErr(t, "DeleteIngestToken of an unknown id", s.DeleteIngestToken(t.Context(), new(store.IDs).New(t0)), store.ErrNotFound)
	_, err = s.IngestTokenByHash(t.Context(), ci.Hash)
	wantErr(t, "IngestTokenByHash of a deleted token", err, store.ErrNotFound)
	if diff := cmp.Diff([]*store.IngestToken{upper, aliyun}, listIngestTokens(t, s), channelOpts); diff != "" {
		t.Errorf("after DeleteIngestToken, list (-want +got):\n%s", diff)
	}
	mustCreateIngestToken(t, s, newIngestToken("ci"), 4) // the name is free again
}
