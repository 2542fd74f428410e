package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/intake"
	"github.com/tocsinhq/tocsin/internal/problem"
	"github.com/tocsinhq/tocsin/internal/store"
)

// eventJSON is an event as the API shows it.
type eventJSON struct {
	ID string `json:"id"`
	// ExternalID is the sender's own id for the event ("id" in what it
	// sent), "" when it gave none.
	ExternalID string            `json:"external_id"`
	Source     string            `json:"source"`
	Type       string            `json:"type"`
	Level      alert.Severity    `json:"level"`
	Resource   string            `json:"resource"`
	Region     string            `json:"region"`
	Time       time.Time         `json:"time"`
	ReceivedAt time.Time         `json:"received_at"`
	Content    json.RawMessage   `json:"content"` // null when there is none
	Labels     map[string]string `json:"labels"`
}

func newEventJSON(e *store.Event) eventJSON {
	return eventJSON{
		ID: e.ID, ExternalID: e.ExternalID, Source: e.Source, Type: e.Type, Level: e.Level,
		Resource: e.Resource, Region: e.Region, Time: e.Time, ReceivedAt: e.ReceivedAt,
		Content: e.Content, Labels: e.Labels.Map(),
	}
}

// eventsAccepted answers POST /api/v1/events.
type eventsAccepted struct {
	// Accepted is how many events the body held; all of them are stored.
	Accepted int `json:"accepted"`
	// Duplicates is how many of them were stored before (the same source
	// and sender's id), and so not stored again.
	Duplicates int `json:"duplicates"`
	// IDs are the stored events' ids in the order sent; a duplicate's is
	// the id of the event stored before.
	IDs []string `json:"ids"`
}

// postEvents stores a batch of events, all or none: one bad event refuses
// the batch, naming its fields. It answers 200 rather than 202: the events
// are stored when it answers, and some senders take nothing but 200 for
// success.
func (s *Server) postEvents(w http.ResponseWriter, r *http.Request) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	now := s.opts.Now()
	evs, err := intake.DecodeEvents(data, now)
	if err != nil {
		return eventProblems(err)
	}
	res, err := s.opts.Store.InsertEvents(r.Context(), evs, now)
	if err != nil {
		return err
	}
	answer := eventsAccepted{Accepted: len(res), IDs: make([]string, len(res))}
	var fresh []string
	for i, e := range res {
		answer.IDs[i] = e.ID
		if e.New {
			fresh = append(fresh, e.ID)
		} else {
			answer.Duplicates++
		}
	}
	if len(fresh) > 0 && s.opts.EventsReceived != nil {
		s.opts.EventsReceived(fresh)
	}
	writeJSON(w, http.StatusOK, answer)
	return nil
}

// eventProblems words the decoder's refusal as the API's problems, with
// the code invalid-event.
func eventProblems(err error) error {
	var invalid *alert.ValidationError
	if !errors.As(err, &invalid) {
		return err
	}
	var p problem.List
	for _, q := range invalid.Problems {
		p.Add(q.Field, "invalid-event", "%s", q.Message)
	}
	return &p
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	f := store.EventFilter{
		Source:   strings.TrimSpace(q.Get("source")),
		Type:     strings.TrimSpace(q.Get("type")),
		Resource: strings.TrimSpace(q.Get("resource")),
		Query:    strings.TrimSpace(q.Get("q")),
		Limit:    limit,
		Cursor:   q.Get("cursor"),
	}
	var p problem.List
	if lv := strings.TrimSpace(q.Get("level")); lv != "" {
		if f.Level = alert.ParseSeverity(lv); f.Level == alert.Unknown {
			p.Add("level", "invalid-level", "%q is not a level: use critical, warning or info", lv)
		}
	}
	f.Since = timeParam(&p, q, "since")
	f.Until = timeParam(&p, q, "until")
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		p.Add("until", "invalid-range", "until (%s) must be after since (%s)", q.Get("until"), q.Get("since"))
	}
	if err := p.Err(); err != nil {
		return err
	}
	items, next, err := s.opts.Store.ListEvents(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]eventJSON, len(items))
	for i, e := range items {
		out[i] = newEventJSON(e)
	}
	writeJSON(w, http.StatusOK, listResponse[eventJSON]{Items: out, Next: next})
	return nil
}

// timeParam reads the RFC 3339 time of query parameter name; zero when it
// is absent.
func timeParam(p *problem.List, q url.Values, name string) time.Time {
	v := strings.TrimSpace(q.Get(name))
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		// An unescaped "+08:00" reaches the server as " 08:00".
		t, err = time.Parse(time.RFC3339Nano, strings.ReplaceAll(v, " ", "+"))
	}
	if err != nil {
		p.Add(name, "invalid-time", "%q is not an RFC 3339 time: write one like 2026-11-21T09:00:00Z or 2026-11-21T17:00:00%%2B08:00 (+ escaped as %%2B)", v)
	}
	return t
}

func (s *Server) getEvent(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	e, err := s.opts.Store.GetEvent(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return &Error{Status: http.StatusNotFound, Code: "not-found", Message: fmt.Sprintf("no event has the id %q", id)}
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newEventJSON(e))
	return nil
}
