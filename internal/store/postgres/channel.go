package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tocsinhq/tocsin/internal/channel"
	"github.com/tocsinhq/tocsin/internal/store"
)

// readOnly marks transactions that only read, so PostgreSQL refuses a
// write in them.
var readOnly = &sql.TxOptions{ReadOnly: true}

// CreateChannel stores ch with a new ID and CreatedAt = UpdatedAt = now,
// and sets those fields of ch. On error ch is left as it was.
func (db *DB) CreateChannel(ctx context.Context, ch *channel.Channel, now time.Time) error {
	// Seal before the transaction: it is the slow part.
	r, err := store.EncodeNewChannel(db.box, db.ids.New(now), ch, now)
	if err != nil {
		return fmt.Errorf("create channel %q: %w", ch.Name, err)
	}
	err = store.InTx(ctx, db.db, nil, func(tx *sql.Tx) error {
		return insertChannel(ctx, tx, r)
	})
	if err != nil {
		return err
	}
	ch.ID, ch.CreatedAt, ch.UpdatedAt = r.ID, r.CreatedAt, r.UpdatedAt
	return nil
}

// GetChannel returns the channel with that id.
func (db *DB) GetChannel(ctx context.Context, id string) (*channel.Channel, error) {
	r, err := store.InTxValue(ctx, db.db, readOnly, func(tx *sql.Tx) (store.ChannelRecord, error) {
		return findChannelByID(ctx, tx, id)
	})
	if err != nil {
		return nil, err
	}
	return r.Decode(db.box)
}

// GetChannelByName returns the channel with exactly that name.
func (db *DB) GetChannelByName(ctx context.Context, name string) (*channel.Channel, error) {
	r, err := store.InTxValue(ctx, db.db, readOnly, func(tx *sql.Tx) (store.ChannelRecord, error) {
		return findChannelByName(ctx, tx, name)
	})
	if err != nil {
		return nil, err
	}
	return r.Decode(db.box)
}

// UpdateChannel replaces the channel ch.ID with ch, setting UpdatedAt to now.
// It sets ch.UpdatedAt, and ch.CreatedAt from the stored channel.
func (db *DB) UpdateChannel(ctx context.Context, ch *channel.Channel, now time.Time) error {
	r, err := store.EncodeChannel(db.box, ch)
	if err != nil {
		return fmt.Errorf("update channel %s: %w", ch.ID, err)
	}
	r.UpdatedAt = store.StoredTime(now)
	createdAt, err := store.InTxValue(ctx, db.db, nil, func(tx *sql.Tx) (time.Time, error) {
		return updateChannel(ctx, tx, r)
	})
	if err != nil {
		return err
	}
	ch.CreatedAt, ch.UpdatedAt = createdAt, r.UpdatedAt
	return nil
}

// DeleteChannel removes the channel with that id, unless a group holds it
// or a policy targets it.
func (db *DB) DeleteChannel(ctx context.Context, id string) error {
	return store.InTx(ctx, db.db, nil, func(tx *sql.Tx) error {
		if err := refuseHeld(ctx, tx, channelMembers, channelTargets, id); err != nil {
			return err
		}
		return deleteByID(ctx, tx, "channels", "channel", id, store.InUse("channel "+id, nil, nil))
	})
}

// ListChannels returns a page of channels in id order. f.Query matches
// names with ILIKE, whose case folding beyond ASCII follows the database's
// LC_CTYPE (none under the C locale).
func (db *DB) ListChannels(ctx context.Context, f store.ChannelFilter) ([]*channel.Channel, string, error) {
	limit := store.PageLimit(f.Limit)
	// One record more than the page tells whether another page follows.
	rs, err := store.InTxValue(ctx, db.db, readOnly, func(tx *sql.Tx) ([]store.ChannelRecord, error) {
		return listChannels(ctx, tx, f, limit+1)
	})
	if err != nil {
		return nil, "", err
	}
	return store.ChannelPage(db.box, rs, limit)
}

// The record's fields go in as they are: []byte JSON is JSON to pgx, a nil
// card is NULL, and times are timestamptz.
const channelColumns = `id, name, kind, description, enabled, timezone, settings, secrets, daily_report, card, created_at, updated_at`

func insertChannel(ctx context.Context, tx *sql.Tx, r store.ChannelRecord) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO channels (`+channelColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		r.ID, r.Name, r.Kind, r.Description, r.Enabled, r.Timezone,
		r.Settings, r.Secrets, r.DailyReport, r.Card, r.CreatedAt, r.UpdatedAt)
	switch {
	case isUniqueViolation(err):
		return fmt.Errorf("channel name %q is taken: %w", r.Name, store.ErrConflict)
	case err != nil:
		return fmt.Errorf("create channel %q: %w", r.Name, err)
	}
	return nil
}

// updateChannel writes every column but id and created_at, and returns
// created_at.
func updateChannel(ctx context.Context, tx *sql.Tx, r store.ChannelRecord) (time.Time, error) {
	var createdAt time.Time
	err := tx.QueryRowContext(ctx, `
		UPDATE channels
		SET name = $1, kind = $2, description = $3, enabled = $4, timezone = $5,
		    settings = $6, secrets = $7, daily_report = $8, card = $9, updated_at = $10
		WHERE id = $11
		RETURNING created_at`,
		r.Name, r.Kind, r.Description, r.Enabled, r.Timezone,
		r.Settings, r.Secrets, r.DailyReport, r.Card, r.UpdatedAt, r.ID,
	).Scan(&createdAt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return time.Time{}, fmt.Errorf("channel %s: %w", r.ID, store.ErrNotFound)
	case isUniqueViolation(err):
		return time.Time{}, fmt.Errorf("channel name %q is taken: %w", r.Name, store.ErrConflict)
	case err != nil:
		return time.Time{}, fmt.Errorf("update channel %s: %w", r.ID, err)
	}
	return createdAt.UTC(), nil
}

func findChannelByID(ctx context.Context, tx *sql.Tx, id string) (store.ChannelRecord, error) {
	r, err := scanChannel(tx.QueryRowContext(ctx, `SELECT `+channelColumns+` FROM channels WHERE id = $1`, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.ChannelRecord{}, fmt.Errorf("channel %s: %w", id, store.ErrNotFound)
	case err != nil:
		return store.ChannelRecord{}, fmt.Errorf("get channel %s: %w", id, err)
	}
	return r, nil
}

func findChannelByName(ctx context.Context, tx *sql.Tx, name string) (store.ChannelRecord, error) {
	r, err := scanChannel(tx.QueryRowContext(ctx, `SELECT `+channelColumns+` FROM channels WHERE name = $1`, name))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.ChannelRecord{}, fmt.Errorf("channel %q: %w", name, store.ErrNotFound)
	case err != nil:
		return store.ChannelRecord{}, fmt.Errorf("get channel %q: %w", name, err)
	}
	return r, nil
}

func listChannels(ctx context.Context, tx *sql.Tx, f store.ChannelFilter, limit int) ([]store.ChannelRecord, error) {
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
	rs, err := store.CollectRows(rows, scanChannel)
	if err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	return rs, nil
}

func scanChannel(s store.Scanner) (store.ChannelRecord, error) {
	var r store.ChannelRecord
	err := s.Scan(&r.ID, &r.Name, &r.Kind, &r.Description, &r.Enabled, &r.Timezone,
		&r.Settings, &r.Secrets, &r.DailyReport, &r.Card, &r.CreatedAt, &r.UpdatedAt)
	return r, err
}
