package httpapi

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/tocsinhq/tocsin/internal/problem"
	"github.com/tocsinhq/tocsin/internal/route"
	"github.com/tocsinhq/tocsin/internal/store"
)

// Silences are served with Alertmanager's API v2 (as of Alertmanager
// 0.28), its paths, JSON and rules, so amtool, Grafana and anything else
// written against Alertmanager manage Tocsin's silences unchanged. Errors
// keep Tocsin's JSON shape (see writeError for how Alertmanager's clients
// get to print it).

// silenceRetention is how long after its end an expired silence is still
// listed: Alertmanager's default --data.retention, after which Alertmanager
// forgets it. Tocsin keeps it (GET /api/v2/silence/{id} still finds it) but
// lists only what Alertmanager would, so the list does not grow forever.
const silenceRetention = 120 * time.Hour

// gettableSilence is Alertmanager's gettableSilence: the silence and its
// state.
type gettableSilence struct {
	*route.Silence
	Status silenceStatus `json:"status"`
}

type silenceStatus struct {
	State route.SilenceState `json:"state"`
}

func gettable(sil *route.Silence, now time.Time) gettableSilence {
	return gettableSilence{Silence: sil, Status: silenceStatus{State: sil.State(now)}}
}

// postableSilence is Alertmanager's postableSilence: a silence with the id
// of the silence it edits, or none to create one. Matchers and times are
// decoded here, so a problem names the matcher or field at fault.
type postableSilence struct {
	ID        string            `json:"id"`
	Matchers  []json.RawMessage `json:"matchers"`
	StartsAt  string            `json:"startsAt"`
	EndsAt    string            `json:"endsAt"`
	CreatedBy string            `json:"createdBy"`
	Comment   string            `json:"comment"`
	// Status and UpdatedAt are what GET answers besides: a client may send
	// a silence back as it got it. They are ignored.
	Status    json.RawMessage `json:"status"`
	UpdatedAt json.RawMessage `json:"updatedAt"`
}

type postSilenceResponse struct {
	SilenceID string `json:"silenceID"`
}

// decodeSilence reads a postableSilence. The silence it returns is not
// validated yet.
func decodeSilence(data []byte) (*route.Silence, error) {
	var in postableSilence
	if err := problem.DecodeStrict(data, &in, ""); err != nil {
		return nil, err
	}
	sil := &route.Silence{ID: in.ID, CreatedBy: in.CreatedBy, Comment: in.Comment}
	var p problem.List
	for i, raw := range in.Matchers {
		var m route.Matcher
		if err := json.Unmarshal(raw, &m); err != nil {
			p.Add(fmt.Sprintf("matchers[%d]", i), "invalid-matcher", "%v", err)
			continue
		}
		sil.Matchers = append(sil.Matchers, m)
	}
	for _, f := range []struct {
		field, value string
		t            *time.Time
	}{{"startsAt", in.StartsAt, &sil.StartsAt}, {"endsAt", in.EndsAt, &sil.EndsAt}} {
		if f.value == "" {
			continue // Validate says it is required
		}
		t, err := time.Parse(time.RFC3339Nano, f.value)
		if err != nil {
			p.Add(f.field, "invalid-time", "%s must be an RFC 3339 time such as 2026-11-21T09:00:00Z, not %q", f.field, f.value)
			continue
		}
		*f.t = t
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return sil, nil
}

func (s *Server) listSilences(w http.ResponseWriter, r *http.Request) error {
	filter, err := parseSilenceFilter(r.URL.Query()["filter"])
	if err != nil {
		return err
	}
	now := s.opts.Now()
	all, err := s.opts.Store.ListSilences(r.Context(), store.SilenceFilter{EndsAfter: now.Add(-silenceRetention)})
	if err != nil {
		return err
	}
	out := make([]gettableSilence, 0, len(all))
	for _, sil := range all {
		if hasMatchers(sil, filter) {
			out = append(out, gettable(sil, now))
		}
	}
	sortSilences(out)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// parseSilenceFilter parses ?filter= values, one matcher each, as
// Alertmanager does.
func parseSilenceFilter(values []string) (route.Matchers, error) {
	var p problem.List
	var ms route.Matchers
	for i, v := range values {
		m, err := route.ParseMatcher(v)
		if err != nil {
			p.Add(fmt.Sprintf("filter[%d]", i), "invalid-matcher", "%v", err)
			continue
		}
		ms = append(ms, m)
	}
	return ms, p.Err()
}

// hasMatchers reports whether sil has every matcher of filter among its
// own (same name, operator and value): Alertmanager filters silences by
// the matchers they are made of, not by the labels they would match.
func hasMatchers(sil *route.Silence, filter route.Matchers) bool {
	for _, f := range filter {
		if !slices.ContainsFunc(sil.Matchers, f.Equal) {
			return false
		}
	}
	return true
}

// silenceStateOrder is the order of Alertmanager's list.
var silenceStateOrder = map[route.SilenceState]int{route.SilenceActive: 0, route.SilencePending: 1, route.SilenceExpired: 2}

// sortSilences puts silences in Alertmanager's order: active ones first,
// ending soonest first; then pending ones, starting soonest first; then
// expired ones, ended most recently first. Ties go by id.
func sortSilences(ss []gettableSilence) {
	slices.SortStableFunc(ss, func(a, b gettableSilence) int {
		if c := cmp.Compare(silenceStateOrder[a.Status.State], silenceStateOrder[b.Status.State]); c != 0 {
			return c
		}
		var c int
		switch a.Status.State {
		case route.SilenceActive:
			c = a.EndsAt.Compare(b.EndsAt)
		case route.SilencePending:
			c = a.StartsAt.Compare(b.StartsAt)
		default:
			c = b.EndsAt.Compare(a.EndsAt)
		}
		return cmp.Or(c, cmp.Compare(a.ID, b.ID))
	})
}

func (s *Server) postSilence(w http.ResponseWriter, r *http.Request) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	sil, err := decodeSilence(data)
	if err != nil {
		return err
	}
	now := s.opts.Now()
	if err := sil.Validate(now); err != nil {
		return err
	}
	if err := s.setSilence(r.Context(), sil, now); err != nil {
		return err
	}
	s.silencesChanged()
	writeJSON(w, http.StatusOK, postSilenceResponse{SilenceID: sil.ID})
	return nil
}

// setSilence stores a posted, valid silence by Alertmanager's rules and
// sets its ID. Without an id it is a new silence. With the id of a silence
// that the edit may change in place (route.Silence.UpdatableTo), that
// silence is updated and keeps its id. Any other edit creates a new
// silence, with a new id, and expires the one edited unless it has
// expired already, so the old one stays as history. A new silence that
// would start in the past starts now.
//
// Like Alertmanager's replicas, which settle their silences by gossip, two
// clients editing one silence at once can both replace it; the store makes
// each replacement whole, never half done.
func (s *Server) setSilence(ctx context.Context, sil *route.Silence, now time.Time) error {
	st := s.opts.Store
	if sil.ID == "" {
		startNow(sil, now)
		return st.CreateSilence(ctx, sil, now)
	}
	prev, err := s.getSilenceByID(ctx, sil.ID)
	if err != nil {
		return err
	}
	if prev.UpdatableTo(sil, now) {
		return st.UpdateSilence(ctx, sil, now)
	}
	sil.ID = ""
	startNow(sil, now)
	if err := prev.Expire(now); err != nil {
		// prev has expired already: it stays as it is.
		return st.CreateSilence(ctx, sil, now)
	}
	return st.ReplaceSilence(ctx, prev, sil, now)
}

// startNow moves a new silence's start that lies in the past to now.
func startNow(sil *route.Silence, now time.Time) {
	if sil.StartsAt.Before(now) {
		sil.StartsAt = now
	}
}

func (s *Server) getSilence(w http.ResponseWriter, r *http.Request) error {
	sil, err := s.getSilenceByID(r.Context(), r.PathValue("silenceID"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, gettable(sil, s.opts.Now()))
	return nil
}

// deleteSilence expires a silence; it is kept, as history. As in
// Alertmanager, expiring one that has expired already changes nothing and
// succeeds.
func (s *Server) deleteSilence(w http.ResponseWriter, r *http.Request) error {
	sil, err := s.getSilenceByID(r.Context(), r.PathValue("silenceID"))
	if err != nil {
		return err
	}
	now := s.opts.Now()
	if err := sil.Expire(now); err == nil {
		if err := s.opts.Store.UpdateSilence(r.Context(), sil, now); err != nil {
			return err
		}
		s.silencesChanged()
	}
	// Alertmanager answers 200 with no body.
	w.WriteHeader(http.StatusOK)
	return nil
}

// getSilenceByID gets a silence, answering 404 for an unknown id.
func (s *Server) getSilenceByID(ctx context.Context, id string) (*route.Silence, error) {
	sil, err := s.opts.Store.GetSilence(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &Error{Status: http.StatusNotFound, Code: "not-found", Message: fmt.Sprintf("no silence has the id %q", id)}
	}
	return sil, err
}

// silencesChanged tells the owner of Options.SilencesChanged, if any.
func (s *Server) silencesChanged() {
	if s.opts.SilencesChanged != nil {
		s.opts.SilencesChanged()
	}
}
