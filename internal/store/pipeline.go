package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/route"
)

// Pipeline is the part of the store the alert pipeline writes: alerts by
// fingerprint with their timeline, aggregation groups with their timers, and
// the outbox of deliveries with each channel's spent budget. Every method
// that changes more than one table does so in one transaction, so an alert
// change and the deliveries it causes are committed together or not at
// all. Decisions (what is new, whether a group notifies, what a delivery
// says) are the caller's; the store only keeps them.
type Pipeline interface {
	// IngestAlerts merges a batch of received alerts into the stored ones
	// (see MergeAlert) and makes each firing alert a member of its groups,
	// creating the groups that do not exist yet. One transaction: when it
	// fails nothing of the batch is kept.
	IngestAlerts(ctx context.Context, batch []IncomingAlert, now time.Time, resolveTimeout time.Duration) (IngestResult, error)
	// GetAlert returns the stored alert, or ErrNotFound.
	GetAlert(ctx context.Context, fp alert.Fingerprint) (*StoredAlert, error)
	// ListAlerts returns alerts newest first (by received time, then
	// fingerprint), paged.
	ListAlerts(ctx context.Context, f AlertFilter) (items []*StoredAlert, next string, err error)
	// EachActiveAlert calls fn for every alert firing at now, in no
	// particular order, stopping at fn's first error.
	EachActiveAlert(ctx context.Context, now time.Time, fn func(*StoredAlert) error) error
	// SetAlertState changes an alert's handling state and records it on
	// its timeline. ErrNotFound.
	SetAlertState(ctx context.Context, fp alert.Fingerprint, state alert.State, actor, detail string, now time.Time) (*StoredAlert, error)
	// Timeline returns what happened to an alert, oldest first: its own
	// events and every delivery that carried it.
	Timeline(ctx context.Context, fp alert.Fingerprint) ([]TimelineEntry, error)

	// NextGroupCheck returns the keys of the groups due at now (at most
	// limit, earliest first) and, when there are none, the time of the
	// earliest future check (zero when no group exists). Checks count in
	// whole milliseconds: a check between two falls due at the later.
	NextGroupCheck(ctx context.Context, now time.Time, limit int) (due []string, next time.Time, err error)
	// FlushGroup loads a group and its member alerts, asks plan what to do,
	// and does it in the same transaction: stores the group's next state or
	// drops it, forgets members, enqueues deliveries, records timeline
	// events. A group that no longer exists is skipped (plan is not called).
	FlushGroup(ctx context.Context, key string, now time.Time, plan func(*StoredGroup, []*StoredAlert) (GroupPlan, error)) error

	// EnqueueDeliveries stores new deliveries, queued, in one transaction.
	EnqueueDeliveries(ctx context.Context, ds []*Delivery, now time.Time) error
	// QueuedChannels returns the channels that have deliveries queued or
	// being sent.
	QueuedChannels(ctx context.Context) ([]string, error)
	// DueDeliveries returns a channel's queued deliveries due at now, oldest
	// first, at most limit, and the earliest due time of those not due yet
	// (zero when none).
	DueDeliveries(ctx context.Context, channelID string, now time.Time, limit int) (due []*Delivery, next time.Time, err error)
	// MergeDeliveries stores digest, queued, in place of the merged
	// deliveries, which become DeliveryMerged pointing at it.
	MergeDeliveries(ctx context.Context, digest *Delivery, merged []string, now time.Time) error
	// StartSend marks a delivery as being sent and counts the attempt; it
	// returns the attempt's number.
	StartSend(ctx context.Context, id string, now time.Time) (int, error)
	// FinishSend records how an attempt ended.
	FinishSend(ctx context.Context, id string, o SendOutcome) error
	// ReserveSend takes one message of a budget of limit messages per
	// window, when one is free at now; else it answers false and when the
	// next one frees. budgetKey names the budget: a channel's id, or its id
	// and a suffix for a platform's second limit.
	ReserveSend(ctx context.Context, budgetKey string, now time.Time, limit int, window time.Duration) (ok bool, free time.Time, err error)
	// BudgetSpent returns how many messages a budget has spent in the
	// window before now, and when the oldest of them was sent.
	BudgetSpent(ctx context.Context, budgetKey string, now time.Time, window time.Duration) (n int, oldest time.Time, err error)
	// PauseChannel keeps a channel from sending until the given time;
	// ChannelPause reads it (zero time when not paused).
	PauseChannel(ctx context.Context, channelID string, until time.Time, reason string) error
	ChannelPause(ctx context.Context, channelID string) (until time.Time, reason string, err error)
	// GetDelivery returns a delivery with its attempts, or ErrNotFound.
	GetDelivery(ctx context.Context, id string) (*Delivery, error)
	// ListDeliveries returns deliveries newest first, paged, with their
	// attempts.
	ListDeliveries(ctx context.Context, f DeliveryFilter) (items []*Delivery, next string, err error)
	// QueueStats returns, per channel with anything queued, how many
	// deliveries wait and since when the oldest has.
	QueueStats(ctx context.Context) ([]QueueStat, error)
}

// StoredAlert is an alert as kept: what senders said of it, plus what
// people did with it.
type StoredAlert struct {
	alert.Alert
	// EndsSet tells an EndsAt the sender gave from one the resolve timeout
	// set.
	EndsSet    bool
	State      alert.State
	StateBy    string
	StateAt    time.Time
	ReceivedAt time.Time
	UpdatedAt  time.Time
}

// IncomingAlert is a received alert with the groups its routing puts it in.
type IncomingAlert struct {
	// Alert has its Fingerprint set; a zero EndsAt means the sender gave
	// none.
	Alert  alert.Alert
	Groups []GroupRef
}

// GroupRef names the aggregation group an alert belongs to and, should the
// group not exist yet, how to start it.
type GroupRef struct {
	Key      string
	PolicyID string
	Labels   alert.Labels
	// Start is the new group's state (route.StartGroup).
	Start route.GroupState
}

// IngestResult says what a batch changed.
type IngestResult struct {
	New, Refired, Resolved, Refreshed int
	// Changes are the alerts whose firing state changed (new, fired again,
	// resolved), as now stored.
	Changes []AlertChange
	// NewGroups are the groups the batch created, with their first check.
	NewGroups []GroupCheck
}

// AlertChange is an alert whose status changed in a batch.
type AlertChange struct {
	Alert *StoredAlert
	Kind  string // EventFired, EventRefired, EventResolved
	// Index is the alert's position in the batch, so a caller that
	// committed several requests' alerts together can tell each its own.
	Index int
}

// GroupCheck is when a group is next checked.
type GroupCheck struct {
	Key string
	At  time.Time
}

// Timeline event kinds.
const (
	EventFired    = "fired"
	EventRefired  = "fired-again"
	EventResolved = "resolved"
	EventState    = "state"
	EventNotified = "notified"
	EventMuted    = "muted"
)

// TimelineEntry is one line of an alert's history.
type TimelineEntry struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`
	Actor  string    `json:"actor,omitempty"`
	Detail string    `json:"detail,omitempty"`
	// Delivery is set on deliveries' entries.
	Delivery *DeliveryRef `json:"delivery,omitempty"`
}

// DeliveryRef is the gist of a delivery on an alert's timeline.
type DeliveryRef struct {
	ID        string         `json:"id"`
	ChannelID string         `json:"channel_id"`
	Status    DeliveryStatus `json:"status"`
	DigestID  string         `json:"digest_id,omitempty"`
	Message   string         `json:"message,omitempty"`
}

// AlertFilter selects alerts for ListAlerts.
type AlertFilter struct {
	// Status keeps firing or resolved alerts as of Now; "" keeps both.
	Status alert.Status
	Now    time.Time
	// State keeps one handling state; "" keeps all.
	State alert.State
	// Query matches alerts whose labels or annotations contain it,
	// case-insensitively.
	Query  string
	Limit  int
	Cursor string
}

// StoredGroup is an aggregation group as kept.
type StoredGroup struct {
	Key      string
	PolicyID string
	Labels   alert.Labels
	State    route.GroupState
}

// GroupPlan is what FlushGroup is to do with a group.
type GroupPlan struct {
	// Drop forgets the group and its memberships; else State is stored.
	Drop  bool
	State route.GroupState
	// Forget removes members (alerts no longer routed to the group).
	Forget []alert.Fingerprint
	// Deliveries are enqueued.
	Deliveries []*Delivery
	// Events go on alerts' timelines.
	Events []AlertEvent
}

// AlertEvent is a timeline event to record.
type AlertEvent struct {
	Fingerprint alert.Fingerprint
	Kind        string
	Actor       string
	Detail      string
}

// DeliveryStatus is where a delivery is.
type DeliveryStatus string

// Delivery statuses.
const (
	DeliveryQueued  DeliveryStatus = "queued"
	DeliverySending DeliveryStatus = "sending"
	DeliverySent    DeliveryStatus = "sent"
	// DeliveryFailed: the platform refused for good; a person must act.
	DeliveryFailed DeliveryStatus = "failed"
	// DeliveryDead: nothing can send it (its channel is gone or disabled).
	DeliveryDead DeliveryStatus = "dead"
	// DeliveryMerged: carried by a digest (DigestID).
	DeliveryMerged DeliveryStatus = "merged"
)

// Delivery kinds.
const (
	KindGroup  = "group"  // a group's notification
	KindRelay  = "relay"  // an Alertmanager webhook notification relayed
	KindDigest = "digest" // queued deliveries merged during a storm
)

// Delivery is one message to one channel: the outbox row.
type Delivery struct {
	ID        string         `json:"id"`
	ChannelID string         `json:"channel_id"`
	Kind      string         `json:"kind"`
	GroupKey  string         `json:"group_key,omitempty"`
	PolicyID  string         `json:"policy_id,omitempty"`
	Status    DeliveryStatus `json:"status"`
	DigestID  string         `json:"digest_id,omitempty"`
	// Content is what to say, as the pipeline encoded it; the store does
	// not read it.
	Content json.RawMessage `json:"-"`
	// Alerts are the fingerprints of the alerts the delivery carries.
	Alerts        []alert.Fingerprint `json:"-"`
	AlertCount    int                 `json:"alert_count"`
	CreatedAt     time.Time           `json:"created_at"`
	NextAttemptAt time.Time           `json:"next_attempt_at"`
	Attempts      int                 `json:"attempts"`
	// PartsSent is how many parts of a split message went out already; a
	// retry resumes after them.
	PartsSent        int       `json:"parts_sent"`
	SentAt           time.Time `json:"sent_at"`
	LastCode         string    `json:"last_code,omitempty"`
	LastPlatformCode int       `json:"last_platform_code,omitempty"`
	LastMessage      string    `json:"last_message,omitempty"`
	Notes            []string  `json:"notes"`
	AttemptLog       []Attempt `json:"attempt_log"`
}

// Attempt is one try at sending a delivery.
type Attempt struct {
	N            int       `json:"n"`
	At           time.Time `json:"at"`
	Result       string    `json:"result"`
	Code         string    `json:"code,omitempty"`
	PlatformCode int       `json:"platform_code,omitempty"`
	Message      string    `json:"message,omitempty"`
	Parts        int       `json:"parts"`
}

// SendOutcome is how an attempt ended, as FinishSend records it.
type SendOutcome struct {
	Attempt int
	At      time.Time
	// Status is the delivery's status afterwards: sent, queued (to be
	// retried at NextAttemptAt), failed or dead.
	Status        DeliveryStatus
	NextAttemptAt time.Time
	// Result is the attempt's: "sent", "retry", "failed", "budget", "paused".
	Result           string
	PartsSent        int
	Code             string
	PlatformCode     int
	Message          string
	Notes            []string
	PartsThisAttempt int
	// Content, when set, replaces the delivery's content: what the
	// attempt learned that a retry must know (who was reached already).
	Content json.RawMessage
}

// DeliveryFilter selects deliveries for ListDeliveries.
type DeliveryFilter struct {
	ChannelID string
	Status    DeliveryStatus
	Alert     alert.Fingerprint // 0: any
	Limit     int
	Cursor    string
}

// QueueStat is one channel's queue.
type QueueStat struct {
	ChannelID string
	Depth     int
	Oldest    time.Time
}

// MergeAlert returns the stored alert after receiving in at now, and the
// timeline event it causes ("" when none). old is nil for an alert never
// seen. The rules, Alertmanager's: an alert with no endsAt ends
// resolveTimeout after it was last received; re-sending a firing alert
// refreshes it (labels, annotations, end) and keeps its start; a resolved
// alert that fires again starts anew, and a cleared one opens again; a
// resolve sets the end.
func MergeAlert(old *StoredAlert, in alert.Alert, now time.Time, resolveTimeout time.Duration) (StoredAlert, string) {
	a := StoredAlert{Alert: in, State: alert.Open, StateAt: now, ReceivedAt: now, UpdatedAt: now}
	if a.StartsAt.IsZero() {
		a.StartsAt = now
	}
	a.EndsSet = !in.EndsAt.IsZero()
	if !a.EndsSet {
		a.EndsAt = now.Add(resolveTimeout)
	}
	firing := a.StatusAt(now) == alert.Firing
	if old == nil {
		if firing {
			return a, EventFired
		}
		return a, EventResolved
	}
	wasFiring := old.StatusAt(now) == alert.Firing
	switch {
	case wasFiring && firing:
		a.StartsAt = minTime(old.StartsAt, a.StartsAt)
		a.State, a.StateBy, a.StateAt, a.ReceivedAt = old.State, old.StateBy, old.StateAt, old.ReceivedAt
		return a, ""
	case wasFiring && !firing:
		a.StartsAt = minTime(old.StartsAt, a.StartsAt)
		a.State, a.StateBy, a.StateAt, a.ReceivedAt = old.State, old.StateBy, old.StateAt, old.ReceivedAt
		return a, EventResolved
	case !wasFiring && firing:
		// Fires again: a new episode, open whatever was done before.
		// ReceivedAt stays the first time the alert was ever received.
		a.ReceivedAt = old.ReceivedAt
		if !a.StartsAt.After(old.EndsAt) && !in.StartsAt.IsZero() {
			// The sender's start predates the old end: a late resend of
			// the old episode, which a resolve already closed. Keep it
			// firing from now on.
			a.StartsAt = now
		}
		return a, EventRefired
	default: // a resolved alert resent resolved: keep what is known
		a.StartsAt = minTime(old.StartsAt, a.StartsAt)
		a.State, a.StateBy, a.StateAt, a.ReceivedAt = old.State, old.StateBy, old.StateAt, old.ReceivedAt
		if !a.EndsSet || old.EndsAt.Before(a.EndsAt) {
			a.EndsAt, a.EndsSet = old.EndsAt, old.EndsSet
		}
		return a, ""
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
