package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/notify"
)

// MaxBodyBytes bounds a request body. Receivers behind common proxies
// refuse larger bodies (nginx's default is 1 MiB), and a megabyte already
// holds a couple of thousand alerts.
const MaxBodyBytes = 1 << 20

// Version is the Alertmanager webhook payload version the body follows.
const Version = "4"

// envelope is the body without its alerts, field for field Alertmanager's
// notify/webhook Message plus "tocsin". Alerts are appended by Encode, so
// that they are encoded once whatever the truncation.
type envelope struct {
	Version           string     `json:"version"`
	GroupKey          string     `json:"groupKey"`
	Status            string     `json:"status"`
	Receiver          string     `json:"receiver"`
	GroupLabels       labelSet   `json:"groupLabels"`
	CommonLabels      labelSet   `json:"commonLabels"`
	CommonAnnotations labelSet   `json:"commonAnnotations"`
	ExternalURL       string     `json:"externalURL"`
	TruncatedAlerts   int        `json:"truncatedAlerts"`
	Tocsin            tocsinPart `json:"tocsin"`
}

// tocsinPart is what Tocsin says beyond the alerts: the rendered message.
// Lists are never null, so receivers can iterate without a check.
type tocsinPart struct {
	ID         string   `json:"id"`
	Title      string   `json:"title"`
	Text       string   `json:"text"`
	Buttons    []button `json:"buttons"`
	Mentions   []person `json:"mentions"`
	MentionAll bool     `json:"mentionAll,omitempty"`
}

type button struct {
	Title string `json:"title"`
	URL   string `json:"url"`
}

// person is a contact to mention, with every identity Tocsin has for it:
// a generic receiver may route to any platform.
type person struct {
	Name           string `json:"name"`
	Mobile         string `json:"mobile,omitempty"`
	Email          string `json:"email,omitempty"`
	DingTalkUserID string `json:"dingtalkUserId,omitempty"`
	LarkOpenID     string `json:"larkOpenId,omitempty"`
	WeComUserID    string `json:"wecomUserId,omitempty"`
}

// Encode returns the body Send posts for msg at now (which decides each
// alert's status), and how many alerts were dropped from the end to keep it
// within MaxBodyBytes. It fails, with a Shrink *notify.Error, only when the
// message is too large without any alert.
func Encode(t Target, msg notify.Message, now time.Time) (body []byte, truncated int, err error) {
	return encode(t, msg, now, MaxBodyBytes)
}

func encode(t Target, msg notify.Message, now time.Time, limit int) ([]byte, int, error) {
	if msg.Title == "" && msg.Text == "" && len(msg.Alerts) == 0 {
		return nil, 0, emptyMessage.With(0, "", nil)
	}
	// Each alert is encoded once, comma first, into one buffer; ends[i] is
	// where the i-th ends. Truncating is then choosing how much of the
	// buffer to copy, and the size of n alerts is ends[n-1]. Once the
	// buffer is past the limit no further alert can fit, so a storm of
	// thousands costs what fits, not what was sent.
	var alerts []byte
	ends := make([]int, 0, len(msg.Alerts))
	firing := false
	for i := range msg.Alerts {
		a := &msg.Alerts[i]
		firing = firing || a.StatusAt(now) == alert.Firing
		if len(alerts) > limit {
			continue
		}
		if i > 0 {
			alerts = append(alerts, ',')
		}
		alerts = appendAlert(alerts, a, now)
		ends = append(ends, len(alerts))
		if i == 0 { // a group's alerts are alike: size the buffer for all
			alerts = slices.Grow(alerts, min(len(alerts)*(len(msg.Alerts)-1), limit))
		}
	}

	env := envelope{
		Version:     Version,
		GroupKey:    t.GroupKey,
		Status:      string(msg.Status),
		Receiver:    t.Receiver,
		GroupLabels: labelSet(t.GroupLabels),
		// Over every alert, the dropped ones too: the common labels
		// describe the group, and what all share each sent one has.
		CommonLabels:      labelSet(common(msg.Alerts, func(a *alert.Alert) alert.Labels { return a.Labels })),
		CommonAnnotations: labelSet(common(msg.Alerts, func(a *alert.Alert) alert.Labels { return a.Annotations })),
		ExternalURL:       t.ExternalURL,
		// The most it can be: sizing the envelope with it leaves room
		// for whatever smaller number it ends up as.
		TruncatedAlerts: len(msg.Alerts),
		Tocsin:          tocsin(msg),
	}
	if env.Status == "" {
		// As Alertmanager: firing while any alert fires. A test send,
		// with no alerts, reads as firing so that receivers show it.
		env.Status = string(alert.Resolved)
		if firing || len(msg.Alerts) == 0 {
			env.Status = string(alert.Firing)
		}
	}
	const open, closing = `,"alerts":[`, `]}`
	head, err := encodeHead(env)
	if err != nil {
		return nil, 0, err
	}
	room := limit - len(head) - len(open) - len(closing)
	if room < 0 {
		return nil, 0, tooLarge.With(0, "", fmt.Errorf("without its alerts the body is %d bytes, over %d", limit-room, limit))
	}
	n := len(ends)
	for n > 0 && ends[n-1] > room {
		n--
	}
	if env.TruncatedAlerts = len(msg.Alerts) - n; env.TruncatedAlerts != len(msg.Alerts) {
		if head, err = encodeHead(env); err != nil {
			return nil, 0, err
		}
	}
	size := 0
	if n > 0 {
		size = ends[n-1]
	}
	body := make([]byte, 0, len(head)+len(open)+size+len(closing))
	body = append(body, head...)
	body = append(body, open...)
	body = append(body, alerts[:size]...)
	body = append(body, closing...)
	return body, env.TruncatedAlerts, nil
}

// encodeHead returns env as a JSON object without its closing brace, for
// the alerts to follow.
func encodeHead(env envelope) ([]byte, error) {
	var b bytes.Buffer
	if err := newEncoder(&b).Encode(env); err != nil {
		return nil, encodeFailed.With(0, "", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("}\n")), nil
}

// newEncoder writes <, > and & as they are: the body is not HTML, and
// receivers that log it read markdown more easily unescaped.
func newEncoder(b *bytes.Buffer) *json.Encoder {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	return enc
}

// common returns the labels every alert has with the same value, as
// Alertmanager's commonLabels; none when there are no alerts.
func common(alerts []alert.Alert, labels func(*alert.Alert) alert.Labels) alert.Labels {
	if len(alerts) == 0 {
		return nil
	}
	shared := slices.Clone(labels(&alerts[0]))
	for i := 1; i < len(alerts) && len(shared) > 0; i++ {
		ls := labels(&alerts[i])
		shared = slices.DeleteFunc(shared, func(l alert.Label) bool { return ls.Get(l.Name) != l.Value })
	}
	return shared
}

func tocsin(msg notify.Message) tocsinPart {
	p := tocsinPart{
		ID:         msg.ID,
		Title:      msg.Title,
		Text:       msg.Text,
		Buttons:    make([]button, len(msg.Buttons)),
		Mentions:   make([]person, len(msg.Mentions.People)),
		MentionAll: msg.Mentions.All,
	}
	for i, b := range msg.Buttons {
		p.Buttons[i] = button(b)
	}
	for i, m := range msg.Mentions.People {
		p.Mentions[i] = person{
			Name:           m.Name,
			Mobile:         m.Mobile,
			Email:          m.Email,
			DingTalkUserID: m.DingTalkUserID,
			LarkOpenID:     m.LarkOpenID,
			WeComUserID:    m.WeComUserID,
		}
	}
	return p
}

// labelSet writes labels as a JSON object, {} when empty (never null:
// Alertmanager's receivers index into these objects without a check).
type labelSet alert.Labels

// MarshalJSON writes the labels in their order, sorted by name, without
// the map encoding/json would need.
func (ls labelSet) MarshalJSON() ([]byte, error) {
	return alert.Labels(ls).AppendJSON(nil), nil
}

// appendAlert appends a as Alertmanager's template.Alert: status,
// labels, annotations, startsAt, endsAt, generatorURL, fingerprint. Alerts
// are most of a body, and writing them directly rather than through
// encoding/json, which validates every Marshaler's output again, makes
// encoding several times faster. Times are UTC in RFC 3339, as
// time.Time's MarshalJSON writes them; a zero EndsAt is
// "0001-01-01T00:00:00Z", as Alertmanager writes it.
func appendAlert(b []byte, a *alert.Alert, now time.Time) []byte {
	fp := a.Fingerprint
	if fp == 0 { // not computed yet: Alertmanager's is the labels'
		fp = a.Labels.Fingerprint()
	}
	b = append(b, `{"status":`...)
	b = alert.AppendJSONString(b, string(a.StatusAt(now)))
	b = append(b, `,"labels":`...)
	b = a.Labels.AppendJSON(b)
	b = append(b, `,"annotations":`...)
	b = a.Annotations.AppendJSON(b)
	b = append(b, `,"startsAt":"`...)
	b = a.StartsAt.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","endsAt":"`...)
	b = a.EndsAt.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","generatorURL":`...)
	b = alert.AppendJSONString(b, a.GeneratorURL)
	b = append(b, `,"fingerprint":"`...)
	// Fingerprint.String's 16 hex digits, without its fmt call: that
	// was a tenth of the time and most of the allocations.
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, hexDigits[uint64(fp)>>shift&0xf])
	}
	return append(b, `"}`...)
}

const hexDigits = "0123456789abcdef"
