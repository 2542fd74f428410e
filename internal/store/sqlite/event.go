package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/intake"
	"github.com/tocsinhq/tocsin/internal/store"
)

// InsertEvents stores evs in one transaction, skipping those stored
// already (same source and external id).
func (db *DB) InsertEvents(ctx context.Context, evs []intake.Event, now time.Time) ([]store.InsertedEvent, error) {
	// Build the rows before taking the write lock.
	rows := make([]store.Event, len(evs))
	for i := range evs {
		rows[i] = store.NewEvent(db.ids.New(now), &evs[i], now)
	}
	return store.InTxValue(ctx, db.db, nil, func(tx *sql.Tx) ([]store.InsertedEvent, error) {
		return insertEvents(ctx, tx, rows)
	})
}

// GetEvent returns the event with that id.
func (db *DB) GetEvent(ctx context.Context, id string) (*store.Event, error) {
	return store.InTxValue(ctx, db.db, readOnly, func(tx *sql.Tx) (*store.Event, error) {
		e, err := scanEvent(tx.QueryRowContext(ctx, `SELECT `+eventColumns+` FROM events WHERE id = ?`, id))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return nil, fmt.Errorf("event %q: %w", id, store.ErrNotFound)
		case err != nil:
			return nil, fmt.Errorf("get event %q: %w", id, err)
		}
		return e, nil
	})
}

// ListEvents returns a page of the events f selects, newest first.
func (db *DB) ListEvents(ctx context.Context, f store.EventFilter) ([]*store.Event, string, error) {
	limit := store.PageLimit(f.Limit)
	es, err := store.InTxValue(ctx, db.db, readOnly, func(tx *sql.Tx) ([]*store.Event, error) {
		return listEvents(ctx, tx, f, limit+1)
	})
	if err != nil {
		return nil, "", err
	}
	page, next := store.Page(es, limit, func(e *store.Event) string { return e.ID })
	return page, next, nil
}

const eventColumns = `id, external_id, source, type, level, resource, region, occurred_at, received_at, content, labels`

// insertEvents writes the rows in order. A row whose source and external
// id are taken writes nothing (the partial unique index's conflict); its
// result is the id of the row holding them.
func insertEvents(ctx context.Context, tx *sql.Tx, rows []store.Event) ([]store.InsertedEvent, error) {
	ins, err := tx.PrepareContext(ctx, `
		INSERT INTO events (`+eventColumns+`, search) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (source, external_id) WHERE external_id <> '' DO NOTHING`)
	if err != nil {
		return nil, fmt.Errorf("insert events: %w", err)
	}
	defer ins.Close()
	out := make([]store.InsertedEvent, len(rows))
	for i := range rows {
		e := &rows[i]
		var content any // NULL when there is none
		if e.Content != nil {
			content = string(e.Content)
		}
		res, err := ins.ExecContext(ctx, e.ID, e.ExternalID, e.Source, e.Type, string(e.Level), e.Resource, e.Region,
			e.Time.UnixMilli(), e.ReceivedAt.UnixMilli(), content, string(store.EncodeLabels(e.Labels)), store.EventSearchText(e))
		if err != nil {
			return nil, fmt.Errorf("insert event %d: %w", i, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, fmt.Errorf("insert event %d: %w", i, err)
		}
		if n == 1 {
			out[i] = store.InsertedEvent{ID: e.ID, New: true}
			continue
		}
		var id string
		err = tx.QueryRowContext(ctx, `SELECT id FROM events WHERE source = ? AND external_id = ?`, e.Source, e.ExternalID).Scan(&id)
		if err != nil {
			return nil, fmt.Errorf("insert event %d: find the event stored with its id %q: %w", i, e.ExternalID, err)
		}
		out[i] = store.InsertedEvent{ID: id}
	}
	return out, nil
}

func listEvents(ctx context.Context, tx *sql.Tx, f store.EventFilter, limit int) ([]*store.Event, error) {
	q := `SELECT ` + eventColumns + ` FROM events WHERE true`
	var args []any
	where := func(cond string, arg any) {
		q += ` AND ` + cond
		args = append(args, arg)
	}
	if f.Cursor != "" {
		where(`id < ?`, f.Cursor)
	}
	for _, c := range []struct{ column, value string }{
		{"source", f.Source}, {"type", f.Type}, {"level", string(f.Level)}, {"resource", f.Resource},
	} {
		if c.value != "" {
			where(c.column+` = ?`, c.value)
		}
	}
	if !f.Since.IsZero() {
		where(`occurred_at >= ?`, f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		where(`occurred_at < ?`, f.Until.UnixMilli())
	}
	if f.Query != "" {
		where(`search LIKE '%' || ? || '%' ESCAPE '\'`, store.EventQuery(f.Query))
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	es, err := store.CollectRows(rows, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return es, nil
}

func scanEvent(s store.Scanner) (*store.Event, error) {
	var (
		e                      store.Event
		level                  string
		occurredAt, receivedAt int64
		content                sql.NullString
		labels                 string
	)
	err := s.Scan(&e.ID, &e.ExternalID, &e.Source, &e.Type, &level, &e.Resource, &e.Region, &occurredAt, &receivedAt, &content, &labels)
	if err != nil {
		return nil, err
	}
	e.Level = alert.Severity(level)
	e.Time, e.ReceivedAt = time.UnixMilli(occurredAt).UTC(), time.UnixMilli(receivedAt).UTC()
	if content.Valid {
		e.Content = []byte(content.String)
	}
	if e.Labels, err = store.DecodeLabels([]byte(labels)); err != nil {
		return nil, fmt.Errorf("event %s: decode labels: %w", e.ID, err)
	}
	return &e, nil
}
