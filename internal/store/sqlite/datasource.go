package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tocsinhq/tocsin/internal/datasource"
	"github.com/tocsinhq/tocsin/internal/store"
)

// CreateDatasource stores d with a new ID and CreatedAt = UpdatedAt = now,
// its secrets sealed, and sets those fields of d. On error d is left as it
// was.
func (db *DB) CreateDatasource(ctx context.Context, d *datasource.Source, now time.Time) error {
	// Seal before taking the write lock: it is the slow part.
	r, err := store.EncodeDatasource(db.box, db.ids.New(now), d, now)
	if err != nil {
		return fmt.Errorf("create data source %q: %w", d.Name, err)
	}
	err = store.InTx(ctx, db.db, nil, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO datasources (`+datasourceColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
			r.ID, r.Name, string(r.Settings), r.Secrets, r.CreatedAt.UnixMilli(), r.UpdatedAt.UnixMilli())
		switch {
		case isUniqueViolation(err):
			return fmt.Errorf("data source name %q is taken: %w", r.Name, store.ErrConflict)
		case err != nil:
			return fmt.Errorf("create data source %q: %w", r.Name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	d.ID, d.CreatedAt, d.UpdatedAt = r.ID, r.CreatedAt, r.UpdatedAt
	return nil
}

// GetDatasource returns the data source with that id, secrets in clear.
func (db *DB) GetDatasource(ctx context.Context, id string) (*datasource.Source, error) {
	return db.findDatasource(ctx, "id", id)
}

// GetDatasourceByName returns the data source with exactly that name,
// secrets in clear.
func (db *DB) GetDatasourceByName(ctx context.Context, name string) (*datasource.Source, error) {
	return db.findDatasource(ctx, "name", name)
}

// UpdateDatasource replaces the data source d.ID with d, setting UpdatedAt
// to now. It sets d.UpdatedAt, and d.CreatedAt from the stored one.
func (db *DB) UpdateDatasource(ctx context.Context, d *datasource.Source, now time.Time) error {
	r, err := store.EncodeDatasource(db.box, d.ID, d, now)
	if err != nil {
		return fmt.Errorf("update data source %s: %w", d.ID, err)
	}
	createdAt, err := store.InTxValue(ctx, db.db, nil, func(tx *sql.Tx) (time.Time, error) {
		var createdAt int64
		err := tx.QueryRowContext(ctx, `
			UPDATE datasources SET name = ?, settings = ?, secrets = ?, updated_at = ?
			WHERE id = ?
			RETURNING created_at`,
			r.Name, string(r.Settings), r.Secrets, r.UpdatedAt.UnixMilli(), r.ID,
		).Scan(&createdAt)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return time.Time{}, fmt.Errorf("data source %s: %w", r.ID, store.ErrNotFound)
		case isUniqueViolation(err):
			return time.Time{}, fmt.Errorf("data source name %q is taken: %w", r.Name, store.ErrConflict)
		case err != nil:
			return time.Time{}, fmt.Errorf("update data source %s: %w", r.ID, err)
		}
		return time.UnixMilli(createdAt).UTC(), nil
	})
	if err != nil {
		return err
	}
	d.CreatedAt, d.UpdatedAt = createdAt, r.UpdatedAt
	return nil
}

// DeleteDatasource removes the data source with that id, unless rules
// query it.
func (db *DB) DeleteDatasource(ctx context.Context, id string) error {
	return store.InTx(ctx, db.db, nil, func(tx *sql.Tx) error {
		if err := refuseUsedByRules(ctx, tx, "datasource_id", "data source", id); err != nil {
			return err
		}
		return deleteByID(ctx, tx, "datasources", "data source", id, store.UsedByRules("data source "+id, nil))
	})
}

// ListDatasources returns a page of data sources in id order. f.Query
// matches names as in ListChannels.
func (db *DB) ListDatasources(ctx context.Context, f store.DatasourceFilter) ([]*datasource.Source, string, error) {
	limit := store.PageLimit(f.Limit)
	rs, err := store.InTxValue(ctx, db.db, readOnly, func(tx *sql.Tx) ([]store.DatasourceRecord, error) {
		q := `SELECT ` + datasourceColumns + ` FROM datasources WHERE id > ?`
		args := []any{f.Cursor}
		if f.Query != "" {
			// As in listChannels: lower() on both sides, LIKE's escapes.
			q += ` AND lower(name) LIKE '%' || lower(?) || '%' ESCAPE '\'`
			args = append(args, store.EscapeLike(f.Query))
		}
		q += ` ORDER BY id LIMIT ?`
		// One record more than the page tells whether another page follows.
		args = append(args, limit+1)
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("list data sources: %w", err)
		}
		rs, err := store.CollectRows(rows, scanDatasource)
		if err != nil {
			return nil, fmt.Errorf("list data sources: %w", err)
		}
		return rs, nil
	})
	if err != nil {
		return nil, "", err
	}
	return store.DatasourcePage(db.box, rs, limit)
}

// Times are UTC milliseconds, settings TEXT, as for channels.
const datasourceColumns = `id, name, settings, secrets, created_at, updated_at`

// findDatasource returns the data source whose column (id or name) is
// value.
func (db *DB) findDatasource(ctx context.Context, column, value string) (*datasource.Source, error) {
	r, err := store.InTxValue(ctx, db.db, readOnly, func(tx *sql.Tx) (store.DatasourceRecord, error) {
		r, err := scanDatasource(tx.QueryRowContext(ctx, `SELECT `+datasourceColumns+` FROM datasources WHERE `+column+` = ?`, value))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return r, fmt.Errorf("data source %q: %w", value, store.ErrNotFound)
		case err != nil:
			return r, fmt.Errorf("get data source %q: %w", value, err)
		}
		return r, nil
	})
	if err != nil {
		return nil, err
	}
	return r.Decode(db.box)
}

func scanDatasource(s store.Scanner) (store.DatasourceRecord, error) {
	var r store.DatasourceRecord
	var settings string
	var createdAt, updatedAt int64
	err := s.Scan(&r.ID, &r.Name, &settings, &r.Secrets, &createdAt, &updatedAt)
	r.Settings = []byte(settings)
	r.CreatedAt, r.UpdatedAt = time.UnixMilli(createdAt).UTC(), time.UnixMilli(updatedAt).UTC()
	return r, err
}
