package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tocsinhq/tocsin/internal/channel"
	"github.com/tocsinhq/tocsin/internal/secret"
	"github.com/tocsinhq/tocsin/internal/store"
)

// readOnly marks transactions that only read, so PostgreSQL refuses a
// write in them.
var readOnly = &sql.TxOptions{ReadOnly: true}

// CreateChannel stores ch with a new ID and CreatedAt = UpdatedAt = now,
// and sets those fields of ch. On error ch is left as it was.
func (db *DB) CreateChannel(ctx context.Context, ch *channel.Channel, now time.Time) error {
	c := *ch
	c.ID = store.NewID(now)
	c.CreatedAt = storedTime(now)
	c.UpdatedAt = c.CreatedAt
	// Seal before the transaction: it is the slow part.
	r, err := encodeChannel(db.box, &c)
	if err != nil {
		return fmt.Errorf("create channel %q: %w", c.Name, err)
	}
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create channel %q: %w", c.Name, err)
	}
	defer tx.Rollback()
	if err := insertChannel(ctx, tx, r); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create channel %q: %w", c.Name, err)
	}
	ch.ID, ch.CreatedAt, ch.UpdatedAt = c.ID, c.CreatedAt, c.UpdatedAt
	return nil
}

// GetChannel returns the channel with that id.
func (db *DB) GetChannel(ctx context.Context, id string) (*channel.Channel, error) {
	tx, err := db.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, fmt.Errorf("get channel %s: %w", id, err)
	}
	defer tx.Rollback()
	r, err := findChannelByID(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("get channel %s: %w", id, err)
	}
	return r.decode(db.box)
}

// GetChannelByName returns the channel with exactly that name.
func (db *DB) GetChannelByName(ctx context.Context, name string) (*channel.Channel, error) {
	tx, err := db.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, fmt.Errorf("get channel %q: %w", name, err)
	}
	defer tx.Rollback()
	r, err := findChannelByName(ctx, tx, name)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("get channel %q: %w", name, err)
	}
	return r.decode(db.box)
}

// UpdateChannel replaces the channel ch.ID with ch, setting UpdatedAt to now.
// It sets ch.UpdatedAt, and ch.CreatedAt from the stored channel.
func (db *DB) UpdateChannel(ctx context.Context, ch *channel.Channel, now time.Time) error {
	c := *ch
	c.UpdatedAt = storedTime(now)
	r, err := encodeChannel(db.box, &c)
	if err != nil {
		return fmt.Errorf("update channel %s: %w", c.ID, err)
	}
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("update channel %s: %w", c.ID, err)
	}
	defer tx.Rollback()
	createdAt, err := updateChannel(ctx, tx, r)
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("update channel %s: %w", c.ID, err)
	}
	ch.CreatedAt, ch.UpdatedAt = createdAt, c.UpdatedAt
	return nil
}

// DeleteChannel removes the channel with that id.
func (db *DB) DeleteChannel(ctx context.Context, id string) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete channel %s: %w", id, err)
	}
	defer tx.Rollback()
	if err := deleteChannel(ctx, tx, id); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete channel %s: %w", id, err)
	}
	return nil
}

// ListChannels returns a page of channels in id order. f.Query matches
// names with ILIKE, whose case folding beyond ASCII follows the database's
// LC_CTYPE (none under the C locale).
func (db *DB) ListChannels(ctx context.Context, f store.ChannelFilter) ([]*channel.Channel, string, error) {
	limit := store.PageLimit(f.Limit)
	tx, err := db.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, "", fmt.Errorf("list channels: %w", err)
	}
	defer tx.Rollback()
	// One row more than the page tells whether another page follows.
	rows, err := listChannels(ctx, tx, f, limit+1)
	if err != nil {
		return nil, "", err
	}
	if err := tx.Commit(); err != nil {
		return nil, "", fmt.Errorf("list channels: %w", err)
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = rows[limit-1].id
	}
	items := make([]*channel.Channel, 0, len(rows))
	for _, r := range rows {
		ch, err := r.decode(db.box)
		if err != nil {
			return nil, "", err
		}
		items = append(items, ch)
	}
	return items, next, nil
}

const channelColumns = `id, name, kind, description, enabled, timezone, settings, secrets, daily_report, card, created_at, updated_at`

func insertChannel(ctx context.Context, tx *sql.Tx, r channelRow) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO channels (`+channelColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		r.id, r.name, r.kind, r.description, r.enabled, r.timezone,
		r.settings, r.secrets, r.dailyReport, r.card, r.createdAt, r.updatedAt)
	switch {
	case isUniqueViolation(err):
		return fmt.Errorf("channel name %q is taken: %w", r.name, store.ErrConflict)
	case err != nil:
		return fmt.Errorf("create channel %q: %w", r.name, err)
	}
	return nil
}

// updateChannel writes every column but id and created_at, and returns
// created_at.
func updateChannel(ctx context.Context, tx *sql.Tx, r channelRow) (time.Time, error) {
	var createdAt time.Time
	err := tx.QueryRowContext(ctx, `
		UPDATE channels
		SET name = $1, kind = $2, description = $3, enabled = $4, timezone = $5,
		    settings = $6, secrets = $7, daily_report = $8, card = $9, updated_at = $10
		WHERE id = $11
		RETURNING created_at`,
		r.name, r.kind, r.description, r.enabled, r.timezone,
		r.settings, r.secrets, r.dailyReport, r.card, r.updatedAt, r.id,
	).Scan(&createdAt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return time.Time{}, fmt.Errorf("channel %s: %w", r.id, store.ErrNotFound)
	case isUniqueViolation(err):
		return time.Time{}, fmt.Errorf("channel name %q is taken: %w", r.name, store.ErrConflict)
	case err != nil:
		return time.Time{}, fmt.Errorf("update channel %s: %w", r.id, err)
	}
	return createdAt.UTC(), nil
}

func deleteChannel(ctx context.Context, tx *sql.Tx, id string) error {
	res, err := tx.ExecContext(ctx, `DELETE FROM channels WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete channel %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("delete channel %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("channel %s: %w", id, store.ErrNotFound)
	}
	return nil
}

func findChannelByID(ctx context.Context, tx *sql.Tx, id string) (channelRow, error) {
	r, err := scanChannel(tx.QueryRowContext(ctx, `SELECT `+channelColumns+` FROM channels WHERE id = $1`, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return channelRow{}, fmt.Errorf("channel %s: %w", id, store.ErrNotFound)
	case err != nil:
		return channelRow{}, fmt.Errorf("get channel %s: %w", id, err)
	}
	return r, nil
}

func findChannelByName(ctx context.Context, tx *sql.Tx, name string) (channelRow, error) {
	r, err := scanChannel(tx.QueryRowContext(ctx, `SELECT `+channelColumns+` FROM channels WHERE name = $1`, name))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return channelRow{}, fmt.Errorf("channel %q: %w", name, store.ErrNotFound)
	case err != nil:
		return channelRow{}, fmt.Errorf("get channel %q: %w", name, err)
	}
	return r, nil
}

func listChannels(ctx context.Context, tx *sql.Tx, f store.ChannelFilter, limit int) ([]channelRow, error) {
	var where []string
	var args []any
	// arg adds v to args and returns its placeholder.
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Query != "" {
		where = append(where, `name ILIKE '%' || `+arg(store.EscapeLike(f.Query))+` || '%' ESCAPE '\'`)
	}
	if f.Kind != "" {
		where = append(where, `kind = `+arg(string(f.Kind)))
	}
	if f.Cursor != "" {
		where = append(where, `id > `+arg(f.Cursor))
	}
	q := `SELECT ` + channelColumns + ` FROM channels`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY id LIMIT ` + arg(limit)
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	defer rows.Close()
	var out []channelRow
	for rows.Next() {
		r, err := scanChannel(rows)
		if err != nil {
			return nil, fmt.Errorf("list channels: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	return out, nil
}

// channelRow is a channel as stored: secrets sealed.
type channelRow struct {
	id, name, kind, description, timezone string
	enabled                               bool
	settings                              []byte // JSON, secrets masked
	secrets                               []byte // sealed
	dailyReport                           []byte // JSON
	card                                  []byte // JSON; nil is NULL
	createdAt, updatedAt                  time.Time
}

// storedTime is t as the store keeps it: UTC, whole milliseconds, like
// store/sqlite (timestamptz would keep microseconds). Callers get back
// exactly what a later read returns.
func storedTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Millisecond)
}

func encodeChannel(box *secret.Box, ch *channel.Channel) (channelRow, error) {
	sealed, err := store.SealSettings(box, ch)
	if err != nil {
		return channelRow{}, err
	}
	report, err := json.Marshal(ch.DailyReport)
	if err != nil {
		return channelRow{}, fmt.Errorf("encode daily report: %w", err)
	}
	return channelRow{
		id: ch.ID, name: ch.Name, kind: string(ch.Kind), description: ch.Description,
		timezone: ch.Timezone, enabled: ch.Enabled,
		settings: sealed.Settings, secrets: sealed.Secrets, dailyReport: report,
		card:      cardParam(ch.Card),
		createdAt: ch.CreatedAt, updatedAt: ch.UpdatedAt,
	}, nil
}

func scanChannel(s interface{ Scan(...any) error }) (channelRow, error) {
	var r channelRow
	err := s.Scan(&r.id, &r.name, &r.kind, &r.description, &r.enabled, &r.timezone,
		&r.settings, &r.secrets, &r.dailyReport, &r.card, &r.createdAt, &r.updatedAt)
	return r, err
}

// decode opens the row's secrets; it fails (secret.ErrOpen) when the box
// holds another key than the one the row was sealed with.
func (r channelRow) decode(box *secret.Box) (*channel.Channel, error) {
	settings, err := store.OpenSettings(box, r.id, channel.Kind(r.kind), store.SealedChannel{Settings: r.settings, Secrets: r.secrets})
	if err != nil {
		return nil, err
	}
	var report channel.DailyReport
	if err := json.Unmarshal(r.dailyReport, &report); err != nil {
		return nil, fmt.Errorf("channel %s: decode daily report: %w", r.id, err)
	}
	ch := &channel.Channel{
		ID: r.id, Name: r.name, Kind: channel.Kind(r.kind), Description: r.description,
		Enabled: r.enabled, Timezone: r.timezone, Settings: settings, DailyReport: report,
		CreatedAt: r.createdAt.UTC(), UpdatedAt: r.updatedAt.UTC(),
	}
	if r.card != nil {
		ch.Card = json.RawMessage(r.card)
	}
	return ch, nil
}

// cardParam is card as a query argument: nil (NULL) when there is none,
// else the JSON text, which pgx sends unchanged and a json column keeps.
func cardParam(card json.RawMessage) []byte {
	if len(card) == 0 {
		return nil
	}
	return card
}
