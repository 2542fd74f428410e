package ruler

import (
	"encoding/json"
	"maps"
	"slices"
	"time"

	"github.com/tocsinhq/tocsin/internal/alert"
)

// Alert states of a metric rule, as Prometheus has them.
const (
	statePending  = "pending"  // the result holds, not yet for the rule's for
	stateFiring   = "firing"   // sent to the pipeline
	stateInactive = "inactive" // resolved, kept until its resolution is sent
)

// resendDelay is how often a firing alert is sent again (its end moves
// on), and resolvedRetention how long a resolved alert is remembered, as
// Prometheus does.
const (
	resendDelay       = time.Minute
	resolvedRetention = 15 * time.Minute
)

// active is one alert of a metric rule: a label set its expression gave.
type active struct {
	Labels      alert.Labels `json:"-"`
	Annotations alert.Labels `json:"-"`
	// LabelMap and AnnotationMap carry Labels and Annotations in JSON.
	LabelMap        map[string]string `json:"labels"`
	AnnotationMap   map[string]string `json:"annotations"`
	State           string            `json:"state"`
	Value           float64           `json:"value"`
	ActiveAt        time.Time         `json:"active_at"`
	FiredAt         time.Time         `json:"fired_at,omitzero"`
	ResolvedAt      time.Time         `json:"resolved_at,omitzero"`
	LastSentAt      time.Time         `json:"last_sent_at,omitzero"`
	ValidUntil      time.Time         `json:"valid_until,omitzero"`
	KeepFiringSince time.Time         `json:"keep_firing_since,omitzero"`
}

// result is one sample of a rule's expression with the alert labels and
// annotations it makes.
type result struct {
	Labels      alert.Labels
	Annotations alert.Labels
	Value       float64
}

// alertSet is a rule's active alerts by fingerprint.
type alertSet map[alert.Fingerprint]*active

// step moves the alerts to ts given the expression's results there, as
// Prometheus's alerting rules do: a new label set is pending, and firing
// once it has held for hold; one that is gone resolves (a firing one after
// keepFiring more), and a resolved or pending one is forgotten.
func (s alertSet) step(results []result, ts time.Time, hold, keepFiring time.Duration) {
	seen := make(map[alert.Fingerprint]bool, len(results))
	for _, r := range results {
		fp := r.Labels.Fingerprint()
		seen[fp] = true
		a := s[fp]
		if a == nil || a.State == stateInactive {
			a = &active{Labels: r.Labels, State: statePending, ActiveAt: ts}
			s[fp] = a
		}
		a.Value, a.Annotations, a.KeepFiringSince = r.Value, r.Annotations, time.Time{}
	}
	for fp, a := range s {
		if seen[fp] {
			if a.State == statePending && ts.Sub(a.ActiveAt) >= hold {
				a.State, a.FiredAt = stateFiring, ts
			}
			continue
		}
		switch a.State {
		case statePending:
			delete(s, fp)
		case stateFiring:
			if keepFiring > 0 {
				if a.KeepFiringSince.IsZero() {
					a.KeepFiringSince = ts
				}
				if ts.Sub(a.KeepFiringSince) < keepFiring {
					continue
				}
			}
			a.State, a.ResolvedAt = stateInactive, ts
		case stateInactive:
			// Kept until its resolution is sent, then for a while, so
			// a flapping series is one alert.
			if a.LastSentAt.After(a.ResolvedAt) || a.LastSentAt.Equal(a.ResolvedAt) {
				if ts.Sub(a.ResolvedAt) > resolvedRetention {
					delete(s, fp)
				}
			}
		}
	}
}

// due returns the alerts to send at ts, each ending 4 evaluation intervals
// (or resend delays) on unless it resolved: a firing alert that is new or
// was last sent a resend delay ago, and a resolved one not yet sent as
// such. The caller marks them sent (sent) once the pipeline has them.
func (s alertSet) due(ts time.Time, interval time.Duration) []alert.Alert {
	var out []alert.Alert
	for _, fp := range slices.Sorted(maps.Keys(s)) {
		a := s[fp]
		switch {
		case a.State == statePending:
			continue
		case a.State == stateInactive:
			if !a.LastSentAt.Before(a.ResolvedAt) {
				continue
			}
		case !a.LastSentAt.IsZero() && ts.Sub(a.LastSentAt) < resendDelay:
			continue
		}
		out = append(out, a.alert(ts, interval))
	}
	return out
}

// alert is the pipeline's form of a at ts.
func (a *active) alert(ts time.Time, interval time.Duration) alert.Alert {
	out := alert.Alert{Fingerprint: a.Labels.Fingerprint(), Labels: a.Labels, Annotations: a.Annotations, StartsAt: a.FiredAt}
	if a.State == stateInactive {
		out.EndsAt = a.ResolvedAt
	} else {
		out.EndsAt = ts.Add(4 * max(resendDelay, interval))
	}
	return out
}

// sent marks the alerts due returned at ts as sent.
func (s alertSet) sent(as []alert.Alert, ts time.Time, interval time.Duration) {
	for _, x := range as {
		if a := s[x.Fingerprint]; a != nil {
			a.LastSentAt = ts
			if a.State == stateFiring {
				a.ValidUntil = ts.Add(4 * max(resendDelay, interval))
			}
		}
	}
}

// counts returns how many alerts are pending and firing.
func (s alertSet) counts() (pending, firing int) {
	for _, a := range s {
		switch a.State {
		case statePending:
			pending++
		case stateFiring:
			firing++
		}
	}
	return pending, firing
}

// encode returns the set as stored (RuleState.Active): a JSON list in
// fingerprint order.
func (s alertSet) encode() ([]byte, error) {
	list := make([]*active, 0, len(s))
	for _, fp := range slices.Sorted(maps.Keys(s)) {
		a := *s[fp]
		a.LabelMap, a.AnnotationMap = a.Labels.Map(), a.Annotations.Map()
		list = append(list, &a)
	}
	return json.Marshal(list)
}

// decodeAlertSet reads what encode wrote.
func decodeAlertSet(data []byte) (alertSet, error) {
	var list []*active
	if len(data) > 0 {
		if err := json.Unmarshal(data, &list); err != nil {
			return nil, err
		}
	}
	s := make(alertSet, len(list))
	for _, a := range list {
		a.Labels, a.Annotations = alert.FromMap(a.LabelMap), alert.FromMap(a.AnnotationMap)
		a.LabelMap, a.AnnotationMap = nil, nil
		s[a.Labels.Fingerprint()] = a
	}
	return s, nil
}
