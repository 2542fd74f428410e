package httpapi

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tocsinhq/tocsin/internal/problem"
	"github.com/tocsinhq/tocsin/internal/store"
)

// IngestTokenPrefix starts every ingest token, so one is recognised on
// sight (and by secret scanners); the admin token starts with "tsn_".
const IngestTokenPrefix = "tsi_"

// maxTokenNameLen bounds an ingest token's name, in characters.
const maxTokenNameLen = 100

// ingestToken is an ingest token as the API shows it. Token is set only
// in the answer to its creation: the server keeps no copy.
type ingestToken struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Token     string    `json:"token,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// ingestTokenInput is the body of POST /api/v1/ingest-tokens.
type ingestTokenInput struct {
	Name string `json:"name"`
}

var tokenEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newIngestToken returns a new token: the prefix and 256 random bits in
// lower-case base32, which survives URLs, shells and YAML unquoted.
func newIngestToken() string {
	var b [32]byte
	rand.Read(b[:]) // never fails
	return IngestTokenPrefix + tokenEncoding.EncodeToString(b[:])
}

func (s *Server) listIngestTokens(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.opts.Store.ListIngestTokens(r.Context())
	if err != nil {
		return err
	}
	items := make([]ingestToken, len(ts))
	for i, t := range ts {
		items[i] = ingestToken{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt}
	}
	// There are few tokens: the list is always one page.
	writeJSON(w, http.StatusOK, listResponse[ingestToken]{Items: items})
	return nil
}

func (s *Server) createIngestToken(w http.ResponseWriter, r *http.Request) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	var in ingestTokenInput
	if err := problem.DecodeStrict(data, &in, ""); err != nil {
		return err
	}
	name := strings.TrimSpace(in.Name)
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return problem.One("name", "required", `an ingest token needs a name saying who sends with it, like "aliyun-cloudmonitor"`)
	case n > maxTokenNameLen:
		return problem.One("name", "too-long", fmt.Sprintf("a name must be at most %d characters, got %d", maxTokenNameLen, n))
	case strings.ContainsFunc(name, unicode.IsControl):
		return problem.One("name", "invalid-name", "a name must not contain tabs, line breaks or other control characters")
	}
	token := newIngestToken()
	t := &store.IngestToken{Name: name, Hash: HashToken(token)}
	if err := s.opts.Store.CreateIngestToken(r.Context(), t, s.opts.Now()); err != nil {
		return err
	}
	s.tokens.invalidate()
	// The one answer that holds the token must not be kept by a cache.
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, ingestToken{ID: t.ID, Name: t.Name, Token: token, CreatedAt: t.CreatedAt})
	return nil
}

// deleteIngestToken deletes the token named by id or name; the server
// refuses it from the next request on.
func (s *Server) deleteIngestToken(w http.ResponseWriter, r *http.Request) error {
	ref := r.PathValue("id")
	ts, err := s.opts.Store.ListIngestTokens(r.Context())
	if err != nil {
		return err
	}
	i := slices.IndexFunc(ts, func(t *store.IngestToken) bool { return t.ID == ref })
	if i < 0 {
		i = slices.IndexFunc(ts, func(t *store.IngestToken) bool { return t.Name == ref })
	}
	if i < 0 {
		return &Error{Status: http.StatusNotFound, Code: "not-found", Message: fmt.Sprintf("no ingest token has the id or name %q", ref)}
	}
	if err := s.opts.Store.DeleteIngestToken(r.Context(), ts[i].ID); err != nil {
		return err
	}
	s.tokens.invalidate()
	w.WriteHeader(http.StatusNoContent)
	return nil
}
