package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tocsinhq/tocsin/internal/store"
)

// CreateIngestToken stores t with a new ID and CreatedAt = now, and sets
// those fields of t. On error t is left as it was.
func (db *DB) CreateIngestToken(ctx context.Context, t *store.IngestToken, now time.Time) error {
	n := store.NewIngestToken(db.ids.New(now), t, now)
	err := store.InTx(ctx, db.db, nil, func(tx *sql.Tx) error {
		return insertIngestToken(ctx, tx, &n)
	})
	if err != nil {
		return err
	}
	t.ID, t.CreatedAt = n.ID, n.CreatedAt
	return nil
}

// ListIngestTokens returns every ingest token in id order.
func (db *DB) ListIngestTokens(ctx context.Context) ([]*store.IngestToken, error) {
	return store.InTxValue(ctx, db.db, readOnly, func(tx *sql.Tx) ([]*store.IngestToken, error) {
		rows, err := tx.QueryContext(ctx, `SELECT `+ingestTokenColumns+` FROM ingest_tokens ORDER BY id`)
		if err != nil {
			return nil, fmt.Errorf("list ingest tokens: %w", err)
		}
		ts, err := store.CollectRows(rows, scanIngestToken)
		if err != nil {
			return nil, fmt.Errorf("list ingest tokens: %w", err)
		}
		return ts, nil
	})
}

// IngestTokenByHash returns the ingest token with that hash.
func (db *DB) IngestTokenByHash(ctx context.Context, hash [32]byte) (*store.IngestToken, error) {
	return store.InTxValue(ctx, db.db, readOnly, func(tx *sql.Tx) (*store.IngestToken, error) {
		t, err := scanIngestToken(tx.QueryRowContext(ctx, `SELECT `+ingestTokenColumns+` FROM ingest_tokens WHERE hash = ?`, hash[:]))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return nil, fmt.Errorf("no ingest token has that hash: %w", store.ErrNotFound)
		case err != nil:
			return nil, fmt.Errorf("get ingest token by hash: %w", err)
		}
		return t, nil
	})
}

// DeleteIngestToken removes the ingest token with that id.
func (db *DB) DeleteIngestToken(ctx context.Context, id string) error {
	return store.InTx(ctx, db.db, nil, func(tx *sql.Tx) error {
		return deleteByID(ctx, tx, "ingest_tokens", "ingest token", id, nil)
	})
}

const ingestTokenColumns = `id, name, hash, created_at`

func insertIngestToken(ctx context.Context, tx *sql.Tx, t *store.IngestToken) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO ingest_tokens (`+ingestTokenColumns+`) VALUES (?, ?, ?, ?)`,
		t.ID, t.Name, t.Hash[:], t.CreatedAt.UnixMilli())
	switch {
	case isUniqueViolation(err):
		// The hash is unique too, but two tokens of 256 random bits do
		// not collide: the name is what is taken.
		return fmt.Errorf("ingest token name %q is taken: %w", t.Name, store.ErrConflict)
	case err != nil:
		return fmt.Errorf("create ingest token %q: %w", t.Name, err)
	}
	return nil
}

func scanIngestToken(s store.Scanner) (*store.IngestToken, error) {
	var t store.IngestToken
	var hash []byte
	var createdAt int64
	if err := s.Scan(&t.ID, &t.Name, &hash, &createdAt); err != nil {
		return nil, err
	}
	if len(hash) != len(t.Hash) {
		return nil, fmt.Errorf("ingest token %s: stored hash has %d bytes, want %d", t.ID, len(hash), len(t.Hash))
	}
	copy(t.Hash[:], hash)
	t.CreatedAt = time.UnixMilli(createdAt).UTC()
	return &t, nil
}
