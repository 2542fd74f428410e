package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/dispatch"
	"github.com/tocsinhq/tocsin/internal/intake"
	"github.com/tocsinhq/tocsin/internal/problem"
	"github.com/tocsinhq/tocsin/internal/route"
	"github.com/tocsinhq/tocsin/internal/store"
)

// Pipeline is the alert pipeline the intake routes feed (dispatch.Dispatcher).
type Pipeline interface {
	Ingest(ctx context.Context, alerts []alert.Alert) (store.IngestResult, error)
	Relay(ctx context.Context, channelID string, n *intake.Notification) (string, error)
	Alerts(ctx context.Context, q dispatch.AlertQuery) ([]intake.GettableAlert, error)
	SetState(ctx context.Context, fp alert.Fingerprint, state alert.State, actor, detail string) (*store.StoredAlert, error)
}

// ingest decodes a body with decode and commits its alerts. It answers
// only once they are durably stored.
func (s *Server) ingest(r *http.Request, source string, decode func([]byte, time.Time) ([]alert.Alert, error)) (int, error) {
	data, err := readBody(r)
	if err != nil {
		return 0, err
	}
	alerts, err := decode(data, s.opts.Now())
	if err != nil {
		return 0, err
	}
	s.metrics.received(source, len(alerts))
	if _, err := s.opts.Pipeline.Ingest(r.Context(), alerts); err != nil {
		return 0, err
	}
	return len(alerts), nil
}

// postAlertsV2 is Alertmanager's POST /api/v2/alerts: 200 and no body.
func (s *Server) postAlertsV2(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.ingest(r, "alertmanager", intake.DecodePostableAlerts); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

type acceptedJSON struct {
	Accepted int `json:"accepted"`
}

func (s *Server) postAlertsV1(w http.ResponseWriter, r *http.Request) error {
	n, err := s.ingest(r, "native", intake.DecodeNative)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, acceptedJSON{Accepted: n})
	return nil
}

func (s *Server) postGrafana(w http.ResponseWriter, r *http.Request) error {
	n, err := s.ingest(r, "grafana", intake.DecodeGrafana)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, acceptedJSON{Accepted: n})
	return nil
}

type relayJSON struct {
	Delivery string `json:"delivery"`
	Alerts   int    `json:"alerts"`
}

// postAlertmanagerHook relays an Alertmanager webhook notification to one
// channel through the outbox.
func (s *Server) postAlertmanagerHook(w http.ResponseWriter, r *http.Request) error {
	ch, err := s.lookupChannel(r)
	if err != nil {
		return err
	}
	data, err := readBody(r)
	if err != nil {
		return err
	}
	n, err := intake.DecodeWebhook(data, s.opts.Now())
	if err != nil {
		return err
	}
	s.metrics.received("alertmanager-webhook", len(n.Alerts))
	id, err := s.opts.Pipeline.Relay(r.Context(), ch.ID, n)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, relayJSON{Delivery: id, Alerts: len(n.Alerts)})
	return nil
}

// getAlertsV2 is Alertmanager's GET /api/v2/alerts.
func (s *Server) getAlertsV2(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	aq := dispatch.AlertQuery{Active: true, Silenced: true, Inhibited: true, Unprocessed: true}
	for name, dst := range map[string]*bool{"active": &aq.Active, "silenced": &aq.Silenced, "inhibited": &aq.Inhibited, "unprocessed": &aq.Unprocessed} {
		if v := q.Get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return &Error{Status: http.StatusBadRequest, Code: "invalid-parameter", Field: name, Message: fmt.Sprintf("%s=%q: use true or false", name, v)}
			}
			*dst = b
		}
	}
	for _, f := range q["filter"] {
		ms, err := route.ParseMatchers(f)
		if err != nil {
			return &Error{Status: http.StatusBadRequest, Code: "invalid-matcher", Field: "filter", Message: err.Error()}
		}
		aq.Filter = append(aq.Filter, ms...)
	}
	if v := q.Get("receiver"); v != "" {
		re, err := regexp.Compile("^(?:" + v + ")$")
		if err != nil {
			return &Error{Status: http.StatusBadRequest, Code: "invalid-parameter", Field: "receiver", Message: "receiver is not a valid regular expression: " + err.Error()}
		}
		aq.Receiver = re
	}
	alerts, err := s.opts.Pipeline.Alerts(r.Context(), aq)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, alerts)
	return nil
}

// alertJSON is an alert in Tocsin's own API.
type alertJSON struct {
	ID           string            `json:"id"`
	Fingerprint  string            `json:"fingerprint"`
	Name         string            `json:"name"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	Severity     string            `json:"severity"`
	Status       alert.Status      `json:"status"`
	State        alert.State       `json:"state"`
	StateBy      string            `json:"state_by,omitempty"`
	StateAt      time.Time         `json:"state_at"`
	StartsAt     time.Time         `json:"starts_at"`
	EndsAt       time.Time         `json:"ends_at"`
	Source       string            `json:"source"`
	GeneratorURL string            `json:"generator_url,omitempty"`
	ReceivedAt   time.Time         `json:"received_at"`
	UpdatedAt    time.Time         `json:"updated_at"`
	// Timeline is set on a single alert's answer.
	Timeline []store.TimelineEntry `json:"timeline,omitempty"`
}

func toAlertJSON(a *store.StoredAlert, now time.Time) alertJSON {
	sev := a.Severity
	if sev == alert.Unknown {
		sev = alert.ParseSeverity(a.Labels.Get("severity"))
	}
	return alertJSON{
		ID: a.Fingerprint.String(), Fingerprint: a.Fingerprint.String(), Name: a.Name(),
		Labels: a.Labels.Map(), Annotations: a.Annotations.Map(), Severity: string(sev),
		Status: a.StatusAt(now), State: a.State, StateBy: a.StateBy, StateAt: a.StateAt,
		StartsAt: a.StartsAt, EndsAt: a.EndsAt, Source: a.Source, GeneratorURL: a.GeneratorURL,
		ReceivedAt: a.ReceivedAt, UpdatedAt: a.UpdatedAt,
	}
}

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	f := store.AlertFilter{Now: s.opts.Now(), Query: strings.TrimSpace(q.Get("q")), Limit: limit, Cursor: q.Get("cursor")}
	switch st := alert.Status(q.Get("status")); st {
	case "", alert.Firing, alert.Resolved:
		f.Status = st
	default:
		return &Error{Status: http.StatusBadRequest, Code: "invalid-parameter", Field: "status", Message: fmt.Sprintf("status=%q: use firing or resolved", st)}
	}
	switch st := alert.State(q.Get("state")); st {
	case "", alert.Open, alert.Claimed, alert.Silenced, alert.Cleared:
		f.State = st
	default:
		return &Error{Status: http.StatusBadRequest, Code: "invalid-parameter", Field: "state", Message: fmt.Sprintf("state=%q: use open, claimed, silenced or cleared", st)}
	}
	items, next, err := s.opts.Store.ListAlerts(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]alertJSON, len(items))
	for i, a := range items {
		out[i] = toAlertJSON(a, f.Now)
	}
	writeJSON(w, http.StatusOK, listResponse[alertJSON]{Items: out, Next: next})
	return nil
}

// alertRef reads the {id} of an alert route: its fingerprint.
func alertRef(r *http.Request) (alert.Fingerprint, error) {
	fp, err := alert.ParseFingerprint(r.PathValue("id"))
	if err != nil {
		return 0, &Error{Status: http.StatusNotFound, Code: "not-found", Message: fmt.Sprintf("no alert has the id %q: alert ids are 16 hex digits, as in GET /api/v1/alerts", r.PathValue("id"))}
	}
	return fp, nil
}

func (s *Server) getAlert(w http.ResponseWriter, r *http.Request) error {
	fp, err := alertRef(r)
	if err != nil {
		return err
	}
	a, err := s.opts.Store.GetAlert(r.Context(), fp)
	if err != nil {
		return err
	}
	out := toAlertJSON(a, s.opts.Now())
	if out.Timeline, err = s.opts.Store.Timeline(r.Context(), fp); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// alertActionJSON is the body of claim, clear and silence.
type alertActionJSON struct {
	By       string `json:"by"`
	Comment  string `json:"comment"`
	Duration string `json:"duration"`
}

func (s *Server) alertAction(state alert.State) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		fp, err := alertRef(r)
		if err != nil {
			return err
		}
		var in alertActionJSON
		if data, err := readBody(r); err != nil {
			return err
		} else if len(strings.TrimSpace(string(data))) > 0 {
			if err := problem.DecodeStrict(data, &in, ""); err != nil {
				return err
			}
		}
		by := strings.TrimSpace(in.By)
		if by == "" {
			by = "admin"
		}
		detail := string(state) + " by " + by
		if state == alert.Silenced {
			d, err := s.silenceAlert(r.Context(), fp, by, in)
			if err != nil {
				return err
			}
			detail += " for " + d
		}
		if in.Comment != "" {
			detail += ": " + in.Comment
		}
		a, err := s.opts.Pipeline.SetState(r.Context(), fp, state, by, detail)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, toAlertJSON(a, s.opts.Now()))
		return nil
	}
}

// deliveryJSON is a delivery with its attempts, as the API shows it.
type deliveryJSON struct {
	*store.Delivery
	Alerts []string `json:"alerts"`
}

func toDeliveryJSON(d *store.Delivery) deliveryJSON {
	out := deliveryJSON{Delivery: d, Alerts: make([]string, len(d.Alerts))}
	for i, fp := range d.Alerts {
		out.Alerts[i] = fp.String()
	}
	if d.Notes == nil {
		d.Notes = []string{}
	}
	return out
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	f := store.DeliveryFilter{Status: store.DeliveryStatus(q.Get("status")), Limit: limit, Cursor: q.Get("cursor")}
	switch f.Status {
	case "", store.DeliveryQueued, store.DeliverySending, store.DeliverySent, store.DeliveryFailed, store.DeliveryDead, store.DeliveryMerged:
	default:
		return &Error{Status: http.StatusBadRequest, Code: "invalid-parameter", Field: "status",
			Message: fmt.Sprintf("status=%q: use queued, sending, sent, failed, dead or merged", f.Status)}
	}
	if ref := q.Get("channel"); ref != "" {
		ch, err := lookup(r.Context(), ref, "channel", s.opts.Store.GetChannel, s.opts.Store.GetChannelByName)
		if err != nil {
			return err
		}
		f.ChannelID = ch.ID
	}
	if ref := q.Get("alert"); ref != "" {
		fp, err := alert.ParseFingerprint(ref)
		if err != nil {
			return &Error{Status: http.StatusBadRequest, Code: "invalid-parameter", Field: "alert", Message: fmt.Sprintf("alert=%q: an alert id is 16 hex digits", ref)}
		}
		f.Alert = fp
	}
	items, next, err := s.opts.Store.ListDeliveries(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]deliveryJSON, len(items))
	for i, d := range items {
		out[i] = toDeliveryJSON(d)
	}
	writeJSON(w, http.StatusOK, listResponse[deliveryJSON]{Items: out, Next: next})
	return nil
}

func (s *Server) getDelivery(w http.ResponseWriter, r *http.Request) error {
	d, err := s.opts.Store.GetDelivery(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toDeliveryJSON(d))
	return nil
}

// silenceAlert silences one alert: a silence matching exactly its labels,
// for the duration asked (1h when none). It returns the duration as
// written.
func (s *Server) silenceAlert(ctx context.Context, fp alert.Fingerprint, by string, in alertActionJSON) (string, error) {
	d := time.Hour
	if v := strings.TrimSpace(in.Duration); v != "" {
		var err error
		if d, err = route.ParseDuration(v); err != nil || d <= 0 {
			return "", &Error{Status: http.StatusBadRequest, Code: "invalid-duration", Field: "duration", Message: fmt.Sprintf("duration %q: write a positive duration such as 30m, 1h or 1d", v)}
		}
	}
	a, err := s.opts.Store.GetAlert(ctx, fp)
	if err != nil {
		return "", err
	}
	now := s.opts.Now()
	comment := strings.TrimSpace(in.Comment)
	if comment == "" {
		comment = "silenced from Tocsin's alert " + fp.String()
	}
	sil := &route.Silence{StartsAt: now, EndsAt: now.Add(d), CreatedBy: by, Comment: comment}
	for _, l := range a.Labels {
		m, err := route.NewMatcher(route.MatchEqual, l.Name, l.Value)
		if err != nil {
			return "", fmt.Errorf("silence alert %s: %w", fp, err)
		}
		sil.Matchers = append(sil.Matchers, m)
	}
	if err := sil.Validate(now); err != nil {
		return "", err
	}
	if err := s.opts.Store.CreateSilence(ctx, sil, now); err != nil {
		return "", err
	}
	if s.opts.SilencesChanged != nil {
		s.opts.SilencesChanged()
	}
	return route.FormatDuration(d), nil
}
