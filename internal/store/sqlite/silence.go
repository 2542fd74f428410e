package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tocsinhq/tocsin/internal/route"
	"github.com/tocsinhq/tocsin/internal/store"
)

// CreateSilence stores s with a new ID and UpdatedAt = now, and sets those
// fields and s's times as stored. On error s is left as it was.
func (db *DB) CreateSilence(ctx context.Context, s *route.Silence, now time.Time) error {
	n := store.StoredSilence(db.ids.NewUUID(now), s, now)
	err := store.InTx(ctx, db.db, nil, func(tx *sql.Tx) error {
		return insertSilence(ctx, tx, &n)
	})
	if err != nil {
		return err
	}
	store.SetStoredSilence(s, &n)
	return nil
}

// GetSilence returns the silence with that id.
func (db *DB) GetSilence(ctx context.Context, id string) (*route.Silence, error) {
	return store.InTxValue(ctx, db.db, readOnly, func(tx *sql.Tx) (*route.Silence, error) {
		s, err := scanSilence(tx.QueryRowContext(ctx, `SELECT `+silenceColumns+` FROM silences WHERE id = ?`, id))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return nil, fmt.Errorf("silence %q: %w", id, store.ErrNotFound)
		case err != nil:
			return nil, fmt.Errorf("get silence %q: %w", id, err)
		}
		return s, nil
	})
}

// UpdateSilence replaces the silence s.ID with s, setting UpdatedAt to now.
func (db *DB) UpdateSilence(ctx context.Context, s *route.Silence, now time.Time) error {
	n := store.StoredSilence(s.ID, s, now)
	err := store.InTx(ctx, db.db, nil, func(tx *sql.Tx) error {
		return updateSilence(ctx, tx, &n)
	})
	if err != nil {
		return err
	}
	store.SetStoredSilence(s, &n)
	return nil
}

// ReplaceSilence updates old and creates s in one transaction.
func (db *DB) ReplaceSilence(ctx context.Context, old, s *route.Silence, now time.Time) error {
	o := store.StoredSilence(old.ID, old, now)
	n := store.StoredSilence(db.ids.NewUUID(now), s, now)
	err := store.InTx(ctx, db.db, nil, func(tx *sql.Tx) error {
		if err := updateSilence(ctx, tx, &o); err != nil {
			return err
		}
		return insertSilence(ctx, tx, &n)
	})
	if err != nil {
		return err
	}
	store.SetStoredSilence(old, &o)
	store.SetStoredSilence(s, &n)
	return nil
}

// ListSilences returns the silences f selects, in id order.
func (db *DB) ListSilences(ctx context.Context, f store.SilenceFilter) ([]*route.Silence, error) {
	return store.InTxValue(ctx, db.db, readOnly, func(tx *sql.Tx) ([]*route.Silence, error) {
		q := `SELECT ` + silenceColumns + ` FROM silences`
		var args []any
		if !f.EndsAfter.IsZero() {
			// ends_at is whole milliseconds, so comparing it with t's
			// milliseconds is exactly EndsAt.After(t).
			q += ` WHERE ends_at > ?`
			args = append(args, f.EndsAfter.UnixMilli())
		}
		rows, err := tx.QueryContext(ctx, q+` ORDER BY id`, args...)
		if err != nil {
			return nil, fmt.Errorf("list silences: %w", err)
		}
		ss, err := store.CollectRows(rows, scanSilence)
		if err != nil {
			return nil, fmt.Errorf("list silences: %w", err)
		}
		return ss, nil
	})
}

const silenceColumns = `id, matchers, starts_at, ends_at, created_by, comment, updated_at`

func insertSilence(ctx context.Context, tx *sql.Tx, s *route.Silence) error {
	matchers, err := store.EncodeMatchers(s)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO silences (`+silenceColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		s.ID, string(matchers), s.StartsAt.UnixMilli(), s.EndsAt.UnixMilli(), s.CreatedBy, s.Comment, s.UpdatedAt.UnixMilli())
	if err != nil {
		return fmt.Errorf("create silence: %w", err)
	}
	return nil
}

func updateSilence(ctx context.Context, tx *sql.Tx, s *route.Silence) error {
	matchers, err := store.EncodeMatchers(s)
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `
		UPDATE silences
		SET matchers = ?, starts_at = ?, ends_at = ?, created_by = ?, comment = ?, updated_at = ?
		WHERE id = ?`,
		string(matchers), s.StartsAt.UnixMilli(), s.EndsAt.UnixMilli(), s.CreatedBy, s.Comment, s.UpdatedAt.UnixMilli(), s.ID)
	if err != nil {
		return fmt.Errorf("update silence %s: %w", s.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update silence %s: %w", s.ID, err)
	} else if n == 0 {
		return fmt.Errorf("silence %q: %w", s.ID, store.ErrNotFound)
	}
	return nil
}

func scanSilence(sc store.Scanner) (*route.Silence, error) {
	var s route.Silence
	var matchers string
	var startsAt, endsAt, updatedAt int64
	if err := sc.Scan(&s.ID, &matchers, &startsAt, &endsAt, &s.CreatedBy, &s.Comment, &updatedAt); err != nil {
		return nil, err
	}
	s.StartsAt, s.EndsAt, s.UpdatedAt = time.UnixMilli(startsAt).UTC(), time.UnixMilli(endsAt).UTC(), time.UnixMilli(updatedAt).UTC()
	if err := store.DecodeMatchers(&s, []byte(matchers)); err != nil {
		return nil, err
	}
	return &s, nil
}
