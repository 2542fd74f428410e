package store

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/tocsinhq/tocsin/internal/channel"
	"github.com/tocsinhq/tocsin/internal/secret"
)

// ChannelRecord is a channel as every backend stores it: the settings JSON
// with every secret masked (readable, harmless), and the secrets themselves
// sealed with the channel id as additional data, so a sealed blob moved to
// another row does not open. A backend binds and scans these fields in its
// own column types, converting where its driver needs it (SQLite keeps times
// as Unix milliseconds and JSON as TEXT; PostgreSQL takes them as they are).
type ChannelRecord struct {
	ID, Name, Kind, Description, Timezone string
	Enabled                               bool
	Settings                              []byte // JSON, secrets masked
	Secrets                               []byte // AES-GCM sealed JSON object of secret name -> value
	DailyReport                           []byte // JSON
	Card                                  []byte // JSON as the client gave it; nil is NULL
	CreatedAt, UpdatedAt                  time.Time
}

// StoredTime is t as the stores keep it: UTC, whole milliseconds (the
// precision of SQLite's column; PostgreSQL's would keep microseconds).
// Callers get back exactly what a later read returns.
func StoredTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Millisecond)
}

// EncodeChannel returns the record of ch, sealing its secrets with box
// under ch.ID, which must therefore be final. Times become StoredTime.
func EncodeChannel(box *secret.Box, ch *channel.Channel) (ChannelRecord, error) {
	settings, secrets, err := sealSettings(box, ch)
	if err != nil {
		return ChannelRecord{}, err
	}
	report, err := json.Marshal(ch.DailyReport)
	if err != nil {
		return ChannelRecord{}, fmt.Errorf("encode daily report: %w", err)
	}
	r := ChannelRecord{
		ID: ch.ID, Name: ch.Name, Kind: string(ch.Kind), Description: ch.Description,
		Timezone: ch.Timezone, Enabled: ch.Enabled,
		Settings: settings, Secrets: secrets, DailyReport: report,
		CreatedAt: StoredTime(ch.CreatedAt), UpdatedAt: StoredTime(ch.UpdatedAt),
	}
	if len(ch.Card) > 0 {
		r.Card = ch.Card
	}
	return r, nil
}

// EncodeNewChannel returns the record CreateChannel stores for ch: ch with
// the new id, and CreatedAt and UpdatedAt set to now. ch itself is left as
// it is, for the backend to update once the record is committed.
func EncodeNewChannel(box *secret.Box, id string, ch *channel.Channel, now time.Time) (ChannelRecord, error) {
	c := *ch
	c.ID = id
	c.CreatedAt = now
	c.UpdatedAt = now
	return EncodeChannel(box, &c)
}

// Decode returns the channel r stores. It fails (secret.ErrOpen) when box
// holds another key than the one r was sealed with.
func (r ChannelRecord) Decode(box *secret.Box) (*channel.Channel, error) {
	settings, err := openSettings(box, r.ID, channel.Kind(r.Kind), r.Settings, r.Secrets)
	if err != nil {
		return nil, err
	}
	var report channel.DailyReport
	if err := json.Unmarshal(r.DailyReport, &report); err != nil {
		return nil, fmt.Errorf("channel %s: decode daily report: %w", r.ID, err)
	}
	ch := &channel.Channel{
		ID: r.ID, Name: r.Name, Kind: channel.Kind(r.Kind), Description: r.Description,
		Enabled: r.Enabled, Timezone: r.Timezone, Settings: settings, DailyReport: report,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	if r.Card != nil {
		ch.Card = json.RawMessage(r.Card)
	}
	return ch, nil
}

// ChannelPage decodes the records of one ListChannels page. rs was read
// with one record more than limit: that one, if there, tells that another
// page follows, and next is the cursor that starts it.
func ChannelPage(box *secret.Box, rs []ChannelRecord, limit int) (items []*channel.Channel, next string, err error) {
	if len(rs) > limit {
		rs = rs[:limit]
		next = rs[limit-1].ID
	}
	items = make([]*channel.Channel, 0, len(rs))
	for _, r := range rs {
		ch, err := r.Decode(box)
		if err != nil {
			return nil, "", err
		}
		items = append(items, ch)
	}
	return items, next, nil
}

// sealSettings splits ch's settings into their stored form: the settings
// JSON with secrets masked, and the sealed secrets.
func sealSettings(box *secret.Box, ch *channel.Channel) (settings, sealed []byte, err error) {
	if ch.Settings == nil {
		return nil, nil, fmt.Errorf("channel %q has no settings", ch.Name)
	}
	settings, err = json.Marshal(ch.Settings)
	if err != nil {
		return nil, nil, fmt.Errorf("encode settings: %w", err)
	}
	values := map[string]string{}
	for _, f := range ch.Settings.Secrets() {
		if v := f.Get(); v != "" {
			values[f.Name] = v
		}
	}
	plain, err := json.Marshal(values)
	if err != nil {
		return nil, nil, fmt.Errorf("encode secrets: %w", err)
	}
	sealed, err = box.Seal(plain, []byte(ch.ID))
	if err != nil {
		return nil, nil, fmt.Errorf("seal secrets: %w", err)
	}
	return settings, sealed, nil
}

// openSettings rebuilds a channel's settings from their stored form.
func openSettings(box *secret.Box, id string, kind channel.Kind, settings, sealed []byte) (channel.Settings, error) {
	s, err := channel.NewSettings(kind)
	if err != nil {
		return nil, fmt.Errorf("channel %s: %w", id, err)
	}
	if err := json.Unmarshal(settings, s); err != nil {
		return nil, fmt.Errorf("channel %s: decode settings: %w", id, err)
	}
	plain, err := box.Open(sealed, []byte(id))
	if err != nil {
		return nil, fmt.Errorf("channel %s: %w", id, err)
	}
	var values map[string]string
	if err := json.Unmarshal(plain, &values); err != nil {
		return nil, fmt.Errorf("channel %s: decode secrets: %w", id, err)
	}
	for _, f := range s.Secrets() {
		f.Set(values[f.Name])
	}
	return s, nil
}
