package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/intake"
	"github.com/tocsinhq/tocsin/internal/store"
)

// InsertEvents stores evs in one transaction, skipping those stored
// already (same source and external id).
func (db *DB) InsertEvents(ctx context.Context, evs []intake.Event, now time.Time) ([]store.InsertedEvent, error) {
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
		e, err := scanEvent(tx.QueryRowContext(ctx, `SELECT `+eventColumns+` FROM events WHERE id = $1`, id))
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
// id are taken writes nothing and returns no id (the partial unique
// index's conflict); its result is the id of the row holding them. A
// concurrent transaction inserting the same pair makes this one wait for
// its outcome, so the pair is never stored twice.
func insertEvents(ctx context.Context, tx *sql.Tx, rows []store.Event) ([]store.InsertedEvent, error) {
	ins, err := tx.PrepareContext(ctx, `
		INSERT INTO events (`+eventColumns+`, search) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (source, external_id) WHERE external_id <> '' DO NOTHING
		RETURNING id`)
	if err != nil {
		return nil, fmt.Errorf("insert events: %w", err)
	}
	defer ins.Close()
	out := make([]store.InsertedEvent, len(rows))
	for i := range rows {
		e := &rows[i]
		var id string
		err := ins.QueryRowContext(ctx, e.ID, e.ExternalID, e.Source, e.Type, string(e.Level), e.Resource, e.Region,
			e.Time, e.ReceivedAt, []byte(e.Content), store.EncodeLabels(e.Labels), store.EventSearchText(e)).Scan(&id)
		switch {
		case err == nil:
			out[i] = store.InsertedEvent{ID: id, New: true}
			continue
		case !errors.Is(err, sql.ErrNoRows):
			return nil, fmt.Errorf("insert event %d: %w", i, err)
		}
		err = tx.QueryRowContext(ctx, `SELECT id FROM events WHERE source = $1 AND external_id = $2`, e.Source, e.ExternalID).Scan(&id)
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
		args = append(args, arg)
		q += ` AND ` + cond + ` $` + strconv.Itoa(len(args))
	}
	if f.Cursor != "" {
		where(`id <`, f.Cursor)
	}
	for _, c := range []struct{ column, value string }{
		{"source", f.Source}, {"type", f.Type}, {"level", string(f.Level)}, {"resource", f.Resource},
	} {
		if c.value != "" {
			where(c.column+` =`, c.value)
		}
	}
	// Bounds are cut to the millisecond, as the times stored are (and as
	// SQLite compares them).
	if !f.Since.IsZero() {
		where(`occurred_at >=`, store.StoredTime(f.Since))
	}
	if !f.Until.IsZero() {
		where(`occurred_at <`, store.StoredTime(f.Until))
	}
	if f.Query != "" {
		args = append(args, store.EventQuery(f.Query))
		q += ` AND search LIKE '%' || $` + strconv.Itoa(len(args)) + ` || '%' ESCAPE '\'`
	}
	args = append(args, limit)
	q += ` ORDER BY id DESC LIMIT $` + strconv.Itoa(len(args))
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
		e       store.Event
		level   string
		content []byte
		labels  []byte
	)
	err := s.Scan(&e.ID, &e.ExternalID, &e.Source, &e.Type, &level, &e.Resource, &e.Region, &e.Time, &e.ReceivedAt, &content, &labels)
	if err != nil {
		return nil, err
	}
	e.Level = alert.Severity(level)
	e.Time, e.ReceivedAt = e.Time.UTC(), e.ReceivedAt.UTC()
	e.Content = content // nil for NULL
	if e.Labels, err = store.DecodeLabels(labels); err != nil {
		return nil, fmt.Errorf("event %s: decode labels: %w", e.ID, err)
	}
	return &e, nil
}
