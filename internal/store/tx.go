package store

import (
	"context"
	"database/sql"
	"fmt"
)

// InTx runs fn in a transaction on db, begun with opts, and commits it.
// When fn fails the transaction is rolled back and fn's error returned as it
// is: the small functions a backend runs in its transactions word their own
// errors, with the ErrNotFound and ErrConflict the API shows.
func InTx(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(*sql.Tx) error) error {
	_, err := InTxValue(ctx, db, opts, func(tx *sql.Tx) (struct{}, error) {
		return struct{}{}, fn(tx)
	})
	return err
}

// InTxValue is InTx for an fn with a result, which it returns once the
// transaction has committed.
func InTxValue[T any](ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(*sql.Tx) (T, error)) (T, error) {
	var zero T
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return zero, fmt.Errorf("begin transaction: %w", err)
	}
	defer tx.Rollback()
	v, err := fn(tx)
	if err != nil {
		return zero, err
	}
	if err := tx.Commit(); err != nil {
		return zero, fmt.Errorf("commit transaction: %w", err)
	}
	return v, nil
}

// Scanner is a row to scan: *sql.Row or *sql.Rows.
type Scanner interface {
	Scan(dest ...any) error
}

// CollectRows scans every row of rows with scan, then closes rows. A
// backend's query function passes it its own scan, which knows its column
// types.
func CollectRows[T any](rows *sql.Rows, scan func(Scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
