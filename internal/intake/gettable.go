package intake

import (
	"encoding/json"
	"time"

	"github.com/tocsinhq/tocsin/internal/alert"
)

// The JSON in this file is Alertmanager's GET /api/v2/alerts answer as
// defined by prometheus/alertmanager api/v2/openapi.yaml (definitions
// gettableAlert, alert, alertStatus, receiverReference, labelSet), built the
// way api/v2/compat.go AlertToOpenAPIAlert builds it, and written as the
// generated api/v2/models/gettable_alert.go writes it: its own fields in
// name order, then generatorURL and labels; times as go-openapi strfmt
// writes them, with milliseconds.

// amTimeFormat is strfmt.DateTime's MarshalFormat (RFC3339Millis).
// Alertmanager writes its server's zone; Tocsin writes UTC.
const amTimeFormat = "2006-01-02T15:04:05.000Z07:00"

// AlertState is an alert's state in Alertmanager's API.
type AlertState string

// Alertmanager's alert states.
const (
	StateUnprocessed AlertState = "unprocessed" // received, not yet routed
	StateActive      AlertState = "active"
	StateSuppressed  AlertState = "suppressed" // silenced, inhibited or muted
)

// GettableAlert is one element of GET /api/v2/alerts.
type GettableAlert struct {
	Annotations  LabelSet            `json:"annotations"`
	EndsAt       string              `json:"endsAt"`
	Fingerprint  string              `json:"fingerprint"`
	Receivers    []ReceiverReference `json:"receivers"`
	StartsAt     string              `json:"startsAt"`
	Status       AlertStatus         `json:"status"`
	UpdatedAt    string              `json:"updatedAt"`
	GeneratorURL string              `json:"generatorURL,omitempty"`
	Labels       LabelSet            `json:"labels"`
}

// ReceiverReference names a receiver (a Tocsin policy target) an alert
// routes to.
type ReceiverReference struct {
	Name string `json:"name"`
}

// AlertStatus says why an alert does or does not notify. The lists are
// never null: Alertmanager requires them and clients (amtool, Grafana,
// karma) expect arrays.
type AlertStatus struct {
	State       AlertState `json:"state"`
	SilencedBy  []string   `json:"silencedBy"`
	InhibitedBy []string   `json:"inhibitedBy"`
	MutedBy     []string   `json:"mutedBy"`
}

// GettableInfo is what Tocsin knows about an alert beyond the alert itself.
type GettableInfo struct {
	// UpdatedAt is when the alert was last received.
	UpdatedAt time.Time
	// EndsAt stands in for the alert's EndsAt when the sender gave none:
	// the resolve timeout's deadline (Alertmanager stores
	// updatedAt + resolve_timeout there). Zero writes Go's zero time.
	EndsAt time.Time
	// Receivers are the names of the targets the alert routes to.
	Receivers []string
	// State is StateUnprocessed for an alert not yet routed. Left zero,
	// it follows from the lists below: suppressed when any is non-empty,
	// else active.
	State AlertState
	// SilencedBy lists silence IDs, InhibitedBy the fingerprints of the
	// alerts that inhibit it, MutedBy the mute time windows in effect.
	SilencedBy  []string
	InhibitedBy []string
	MutedBy     []string
}

// NewGettableAlert returns a as Alertmanager's API shows it. As in
// Alertmanager, an alert muted by a time window reads suppressed whatever
// State says.
func NewGettableAlert(a *alert.Alert, info GettableInfo) GettableAlert {
	ends := a.EndsAt
	if ends.IsZero() {
		ends = info.EndsAt
	}
	receivers := make([]ReceiverReference, len(info.Receivers))
	for i, name := range info.Receivers {
		receivers[i] = ReceiverReference{Name: name}
	}
	state := info.State
	switch {
	case len(info.MutedBy) > 0:
		state = StateSuppressed
	case state != "":
	case len(info.SilencedBy) > 0 || len(info.InhibitedBy) > 0:
		state = StateSuppressed
	default:
		state = StateActive
	}
	return GettableAlert{
		Annotations:  LabelSet(a.Annotations),
		EndsAt:       ends.UTC().Format(amTimeFormat),
		Fingerprint:  a.Fingerprint.String(),
		Receivers:    receivers,
		StartsAt:     a.StartsAt.UTC().Format(amTimeFormat),
		UpdatedAt:    info.UpdatedAt.UTC().Format(amTimeFormat),
		GeneratorURL: a.GeneratorURL,
		Labels:       LabelSet(a.Labels),
		Status: AlertStatus{
			State:       state,
			SilencedBy:  nonNil(info.SilencedBy),
			InhibitedBy: nonNil(info.InhibitedBy),
			MutedBy:     nonNil(info.MutedBy),
		},
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// LabelSet is alert.Labels as Alertmanager's labelSet, a JSON object of
// strings. It is written in name order straight from the sorted slice,
// without the map per label set that GET /api/v2/alerts would otherwise
// build for every alert it lists.
type LabelSet alert.Labels

// MarshalJSON writes {"alertname":"DiskFull",…}; nil writes {}.
func (ls LabelSet) MarshalJSON() ([]byte, error) {
	n := 2
	for _, l := range ls {
		n += len(l.Name) + len(l.Value) + 6
	}
	return alert.Labels(ls).AppendJSON(make([]byte, 0, n)), nil
}

// UnmarshalJSON reads a JSON object of strings, dropping empty values as
// alert.FromMap does.
func (ls *LabelSet) UnmarshalJSON(data []byte) error {
	var m map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	*ls = LabelSet(alert.FromMap(m))
	return nil
}
