package postgres

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
		s, err := scanSilence(tx.QueryRowContext(ctx, `SELECT `+silenceColumns+` FROM silences WHERE id = $1`, id))
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
			q += ` WHERE ends_at > $1`
			args = append(args, f.EndsAfter)
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
	_, err = tx.ExecContext(ctx, `INSERT INTO silences (`+silenceColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		s.ID, string(matchers), s.StartsAt, s.EndsAt, s.CreatedBy, s.Comment, s.UpdatedAt)
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
		SET matchers = $1, starts_at = $2, ends_at = $3, created_by = $4, comment = $5, updated_at = $6
		WHERE id = $7`,
		string(matchers), s.StartsAt, s.EndsAt, s.CreatedBy, s.Comment, s.UpdatedAt, s.ID)
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
	var matchers []byte
	if err := sc.Scan(&s.ID, &matchers, &s.StartsAt, &s.EndsAt, &s.CreatedBy, &s.Comment, &s.UpdatedAt); err != nil {
		return nil, err
	}
	s.StartsAt, s.EndsAt, s.UpdatedAt = s.StartsAt.UTC(), s.EndsAt.UTC(), s.UpdatedAt.UTC()
	if err := store.DecodeMatchers(&s, matchers); err != nil {
		return nil, err
	}
	return &s, nil
}
