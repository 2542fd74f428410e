package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tocsinhq/tocsin/internal/channel"
	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/store"
)

type listResponse[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next"`
}

func (s *Server) listChannels(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := store.ChannelFilter{Query: strings.TrimSpace(q.Get("q")), Kind: channel.Kind(q.Get("kind")), Cursor: q.Get("cursor")}
	if f.Kind != "" && !slices.Contains(channel.Kinds, f.Kind) {
		return &Error{Status: http.StatusBadRequest, Code: "unsupported-kind", Field: "kind", Message: fmt.Sprintf("kind %q is not a channel kind", f.Kind)}
	}
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	f.Limit = limit
	items, next, err := s.opts.Store.ListChannels(r.Context(), f)
	if err != nil {
		return err
	}
	if items == nil {
		items = []*channel.Channel{}
	}
	writeJSON(w, http.StatusOK, listResponse[*channel.Channel]{Items: items, Next: next})
	return nil
}

func parseLimit(v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > store.MaxLimit {
		return 0, &Error{Status: http.StatusBadRequest, Code: "invalid-limit", Field: "limit", Message: fmt.Sprintf("limit must be a whole number from 1 to %d, got %q", store.MaxLimit, v)}
	}
	return n, nil
}

// decodeChannel reads and validates a channel from the request body. It
// returns the input too: an update needs to know what was left out.
func (s *Server) decodeChannel(r *http.Request) (*channel.Input, *channel.Channel, error) {
	data, err := readBody(r)
	if err != nil {
		return nil, nil, err
	}
	in, err := channel.Decode(data)
	if err != nil {
		return nil, nil, err
	}
	ch, err := channel.Validate(in, s.opts.ChannelEnv)
	return in, ch, err
}

func (s *Server) createChannel(w http.ResponseWriter, r *http.Request) error {
	_, ch, err := s.decodeChannel(r)
	if err != nil {
		return err
	}
	if err := channel.CheckNoMasked(ch); err != nil {
		return err
	}
	if err := s.opts.Store.CreateChannel(r.Context(), ch, s.opts.Now()); err != nil {
		return err
	}
	s.opts.Logger.InfoContext(r.Context(), "channel created", "id", ch.ID, "name", ch.Name, "kind", ch.Kind)
	w.Header().Set("Location", "/api/v1/channels/"+ch.ID)
	writeJSON(w, http.StatusCreated, ch)
	return nil
}

// lookupChannel finds a channel by id, or else by name, so URLs may use
// either (as /hooks/alertmanager/{channel} does).
func (s *Server) lookupChannel(r *http.Request) (*channel.Channel, error) {
	return lookup(r.Context(), r.PathValue("id"), "channel", s.opts.Store.GetChannel, s.opts.Store.GetChannelByName)
}

func (s *Server) getChannel(w http.ResponseWriter, r *http.Request) error {
	ch, err := s.lookupChannel(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ch)
	return nil
}

func (s *Server) updateChannel(w http.ResponseWriter, r *http.Request) error {
	stored, err := s.lookupChannel(r)
	if err != nil {
		return err
	}
	in, ch, err := s.decodeChannel(r)
	if err != nil {
		return err
	}
	if err := channel.KeepSecrets(ch, stored); err != nil {
		return err
	}
	// PUT replaces the channel, but leaving "enabled" out must not switch
	// a disabled channel back on.
	if in.Enabled == nil {
		ch.Enabled = stored.Enabled
	}
	ch.ID, ch.CreatedAt = stored.ID, stored.CreatedAt
	if err := s.opts.Store.UpdateChannel(r.Context(), ch, s.opts.Now()); err != nil {
		return err
	}
	s.opts.Logger.InfoContext(r.Context(), "channel updated", "id", ch.ID, "name", ch.Name)
	writeJSON(w, http.StatusOK, ch)
	return nil
}

func (s *Server) deleteChannel(w http.ResponseWriter, r *http.Request) error {
	ch, err := s.lookupChannel(r)
	if err != nil {
		return err
	}
	if err := s.opts.Store.DeleteChannel(r.Context(), ch.ID); err != nil {
		return err
	}
	s.opts.Logger.InfoContext(r.Context(), "channel deleted", "id", ch.ID, "name", ch.Name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// maxTestText bounds a test send's text, so one test is one message.
const maxTestText = 4000

// testRequest is the optional body of a test send.
type testRequest struct {
	Text string `json:"text"`
}

// testResult is a test send's verdict, translated for a person.
type testResult struct {
	OK       bool       `json:"ok"`
	Messages int        `json:"messages,omitempty"`
	Notes    []string   `json:"notes,omitempty"`
	Error    *testError `json:"error,omitempty"`
}

type testError struct {
	Code            string `json:"code"`
	PlatformCode    int    `json:"platform_code,omitempty"`
	PlatformMessage string `json:"platform_message,omitempty"`
	Message         string `json:"message"`
	Hint            string `json:"hint,omitempty"`
	Retryable       bool   `json:"retryable"`
}

// testChannel sends a real message to the channel and answers with the
// platform's verdict. The answer is 200 either way: the request worked,
// the verdict is in "ok".
func (s *Server) testChannel(w http.ResponseWriter, r *http.Request) error {
	ch, err := s.lookupChannel(r)
	if err != nil {
		return err
	}
	var req testRequest
	data, err := readBody(r)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(data))) > 0 {
		if err := json.Unmarshal(data, &req); err != nil {
			return &Error{Status: http.StatusBadRequest, Code: "invalid-json", Message: `the body must be empty or {"text": "…"}`}
		}
	}
	// A test proves the channel works; a long text would be split into
	// many messages and could spend the robot's whole budget.
	if len(req.Text) > maxTestText {
		return &Error{Status: http.StatusBadRequest, Code: "text-too-long", Field: "text",
			Message: fmt.Sprintf("a test text may be at most %d bytes, got %d: send alerts to try long messages", maxTestText, len(req.Text))}
	}
	msg := TestMessage(ch, req.Text, s.opts.Now(), s.location(ch))
	report, err := s.opts.Sender.SendNow(r.Context(), ch, msg)
	if err != nil {
		ne := notify.AsError(err)
		s.metrics.testSends.WithLabelValues(string(ch.Kind), ne.Action.String(), ne.Code).Inc()
		s.opts.Logger.WarnContext(r.Context(), "test send refused", "channel", ch.Name, "code", ne.Code, "platform_code", ne.PlatformCode, "err", ne)
		writeJSON(w, http.StatusOK, testResult{Error: &testError{
			Code: ne.Code, PlatformCode: ne.PlatformCode, PlatformMessage: ne.PlatformMessage,
			Message: ne.Message, Hint: ne.Hint, Retryable: ne.Action == notify.Retry,
		}})
		return nil
	}
	s.metrics.testSends.WithLabelValues(string(ch.Kind), "ok", "").Inc()
	writeJSON(w, http.StatusOK, testResult{OK: true, Messages: report.Messages, Notes: report.Notes})
	return nil
}

func (s *Server) location(ch *channel.Channel) *time.Location {
	if ch.Timezone != "" {
		if loc, err := time.LoadLocation(ch.Timezone); err == nil {
			return loc
		}
	}
	return s.opts.Location
}

// TestMessage is the message a test send posts: it says which channel it is
// for and when it was sent, in the channel's time zone with the zone shown.
func TestMessage(ch *channel.Channel, text string, now time.Time, loc *time.Location) notify.Message {
	var id [8]byte
	_, _ = rand.Read(id[:])
	if text == "" {
		text = "If you can read this, Tocsin can reach this group."
	}
	body := fmt.Sprintf("#### Tocsin test message\n\n%s\n\n- Channel: %s\n- Sent at: %s", text, ch.Name, formatTime(now, loc))
	return notify.Message{
		ID:    "test-" + hex.EncodeToString(id[:]),
		Title: "Tocsin test message",
		Text:  body,
	}
}

// formatTime renders a time with its zone, never ambiguous: wrong time zones
// are the most repeated complaint about alert relays.
func formatTime(t time.Time, loc *time.Location) string {
	t = t.In(loc)
	return t.Format("2006-01-02 15:04:05") + " " + zoneLabel(t)
}

func zoneLabel(t time.Time) string {
	name, _ := t.Zone()
	offset := t.Format("-07:00")
	if loc := t.Location().String(); loc != "Local" && loc != name {
		return fmt.Sprintf("%s (%s, UTC%s)", name, loc, offset)
	}
	return fmt.Sprintf("%s (UTC%s)", name, offset)
}
