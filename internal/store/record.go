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
	rs, next = Page(rs, limit, func(r ChannelRecord) string { return r.ID })
	items, err = decodeAll(rs, func(r ChannelRecord) (*channel.Channel, error) { return r.Decode(box) })
	if err != nil {
		return nil, "", err
	}
	return items, next, nil
}

// decodeAll decodes records in their order, stopping at the first error.
func decodeAll[R, T any](rs []R, decode func(R) (T, error)) ([]T, error) {
	out := make([]T, 0, len(rs))
	for _, r := range rs {
		v, err := decode(r)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
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
		values[f.Name] = f.Get()
	}
	sealed, err = sealSecrets(box, ch.ID, values)
	if err != nil {
		return nil, nil, err
	}
	return settings, sealed, nil
}

// sealSecrets seals the non-empty values of secrets, by name, with the id
// of the object holding them as additional data: a sealed blob moved to
// another row does not open.
func sealSecrets(box *secret.Box, id string, secrets map[string]string) ([]byte, error) {
	values := make(map[string]string, len(secrets))
	for name, v := range secrets {
		if v != "" {
			values[name] = v
		}
	}
	plain, err := json.Marshal(values)
	if err != nil {
		return nil, fmt.Errorf("encode secrets: %w", err)
	}
	sealed, err := box.Seal(plain, []byte(id))
	if err != nil {
		return nil, fmt.Errorf("seal secrets: %w", err)
	}
	return sealed, nil
}

// openSecrets returns the secrets sealSecrets sealed under id; a name it
// left out (an empty value) reads as "". kind names the object's kind in
// errors ("channel").
func openSecrets(box *secret.Box, kind, id string, sealed []byte) (map[string]string, error) {
	plain, err := box.Open(sealed, []byte(id))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", kind, id, err)
	}
	var values map[string]string
	if err := json.Unmarshal(plain, &values); err != nil {
		return nil, fmt.Errorf("%s %s: decode secrets: %w", kind, id, err)
	}
	return values, nil
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
	values, err := openSecrets(box, "channel", id, sealed)
	if err != nil {
		return nil, err
	}
	for _, f := range s.Secrets() {
		f.Set(values[f.Name])
	}
	return s, nil
}
