package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/tocsinhq/tocsin/internal/store"
)

// Meta returns the server-wide value stored under key.
func (db *DB) Meta(ctx context.Context, key string) (string, error) {
	return store.InTxValue(ctx, db.db, readOnly, func(tx *sql.Tx) (string, error) {
		return getMeta(ctx, tx, key)
	})
}

// SetMeta stores value under key, replacing any earlier value.
func (db *DB) SetMeta(ctx context.Context, key, value string) error {
	return store.InTx(ctx, db.db, nil, func(tx *sql.Tx) error {
		return setMeta(ctx, tx, key, value)
	})
}

// InitMeta stores value under key unless it is set, and returns what is stored.
func (db *DB) InitMeta(ctx context.Context, key, value string) (string, error) {
	return store.InTxValue(ctx, db.db, nil, func(tx *sql.Tx) (string, error) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, value); err != nil {
			return "", fmt.Errorf("init meta %s: %w", key, err)
		}
		return getMeta(ctx, tx, key)
	})
}

func getMeta(ctx context.Context, tx *sql.Tx, key string) (string, error) {
	var v string
	err := tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", fmt.Errorf("meta %s: %w", key, store.ErrNotFound)
	case err != nil:
		return "", fmt.Errorf("get meta %s: %w", key, err)
	}
	return v, nil
}

func setMeta(ctx context.Context, tx *sql.Tx, key, value string) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO meta (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	if err != nil {
		return fmt.Errorf("set meta %s: %w", key, err)
	}
	return nil
}
