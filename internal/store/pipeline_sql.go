package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tocsinhq/tocsin/internal/alert"
)

// Dialect is what the pipeline's SQL needs to know of a backend. The
// pipeline tables (migration 0006 of each backend) hold only integers and
// text, so one body of SQL serves both; each backend still owns its DDL.
type Dialect struct {
	// Dollar rewrites ? placeholders as $1, $2, … (PostgreSQL).
	Dollar bool
	// ILike is the case-insensitive LIKE operator.
	ILike string
	// SerialWrites makes the pipeline's write transactions take turns in
	// the process. SQLite has one writer; a second one waits in SQLite's
	// busy handler, which sleeps in steps of up to 100ms — a latency a
	// mutex avoids.
	SerialWrites bool
	// LockChannel, when set, is run with the channel id at the start of a
	// budget reservation, so replicas sharing the database take turns.
	// SQLite needs none: its write transactions already do.
	LockChannel string
}

// SQLPipeline implements Pipeline over database/sql. A backend embeds it.
type SQLPipeline struct {
	db  *sql.DB
	d   Dialect
	ids *IDs

	mu    sync.Mutex // guards stmts
	stmts map[string]*sql.Stmt

	// writing is held through a write transaction when the dialect asks
	// for SerialWrites.
	writing sync.Mutex
}

// inTx runs fn in a write transaction.
func (p *SQLPipeline) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	_, err := inTxValue(ctx, p, func(tx *sql.Tx) (struct{}, error) { return struct{}{}, fn(tx) })
	return err
}

func inTxValue[T any](ctx context.Context, p *SQLPipeline, fn func(*sql.Tx) (T, error)) (T, error) {
	if p.d.SerialWrites {
		p.writing.Lock()
		defer p.writing.Unlock()
	}
	return InTxValue(ctx, p.db, nil, fn)
}

// stmt returns query prepared in tx. With keep, the statement is prepared
// once per connection and kept: the full-size multi-row statements of
// intake are long to parse; the odd-sized last chunk of a batch is not
// worth keeping.
func (p *SQLPipeline) stmt(ctx context.Context, tx *sql.Tx, query string, keep bool) (*sql.Stmt, error) {
	if !keep {
		st, err := tx.PrepareContext(ctx, p.q(query))
		if err != nil {
			return nil, fmt.Errorf("prepare: %w", err)
		}
		return st, nil
	}
	p.mu.Lock()
	st, ok := p.stmts[query]
	if !ok {
		var err error
		if st, err = p.db.PrepareContext(ctx, p.q(query)); err != nil {
			p.mu.Unlock()
			return nil, fmt.Errorf("prepare: %w", err)
		}
		if p.stmts == nil {
			p.stmts = map[string]*sql.Stmt{}
		}
		p.stmts[query] = st
	}
	p.mu.Unlock()
	return tx.StmtContext(ctx, st), nil
}

// NewSQLPipeline returns the pipeline store on db, making delivery ids with
// ids (the backend's own generator).
func NewSQLPipeline(db *sql.DB, d Dialect, ids *IDs) *SQLPipeline {
	return &SQLPipeline{db: db, d: d, ids: ids}
}

// q rewrites a query for the dialect.
func (p *SQLPipeline) q(query string) string {
	if !p.d.Dollar {
		return query
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// msUp is t in milliseconds, rounded up: a group's next check is kept so,
// so that a group is never due to NextGroupCheck, which counts in whole
// milliseconds, before the finer time in its state, when the caller's
// Decide would find it not due yet and check it again at once, forever.
func msUp(t time.Time) int64 {
	m := ms(t)
	if m != 0 && time.UnixMilli(m).Before(t) {
		m++
	}
	return m
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

const alertColumns = `fingerprint, labels, annotations, starts_at, ends_at, ends_set, generator_url, source, severity, state, state_by, state_at, received_at, updated_at`

func scanAlert(s Scanner) (*StoredAlert, error) {
	var (
		a                                                 StoredAlert
		fp, starts, ends, endsSet, stateAt, recv, updated int64
		labels, annotations, severity, state              string
	)
	if err := s.Scan(&fp, &labels, &annotations, &starts, &ends, &endsSet, &a.GeneratorURL, &a.Source, &severity, &state, &a.StateBy, &stateAt, &recv, &updated); err != nil {
		return nil, err
	}
	var err error
	if a.Labels, err = DecodeLabels([]byte(labels)); err != nil {
		return nil, err
	}
	if a.Annotations, err = DecodeLabels([]byte(annotations)); err != nil {
		return nil, err
	}
	a.Fingerprint = alert.Fingerprint(uint64(fp))
	a.StartsAt, a.EndsAt, a.EndsSet = fromMS(starts), fromMS(ends), endsSet != 0
	a.Severity, a.State = alert.Severity(severity), alert.State(state)
	a.StateAt, a.ReceivedAt, a.UpdatedAt = fromMS(stateAt), fromMS(recv), fromMS(updated)
	return &a, nil
}

// IngestAlerts implements Pipeline. It works in a few statements per
// hundreds of alerts rather than a few per alert: it reads the batch's
// stored alerts at once, merges in Go (in the batch's order, so an alert
// sent twice in one batch merges twice), and writes each alert, each
// membership and each group once, in multi-row statements.
func (p *SQLPipeline) IngestAlerts(ctx context.Context, batch []IncomingAlert, now time.Time, resolveTimeout time.Duration) (IngestResult, error) {
	return inTxValue(ctx, p, func(tx *sql.Tx) (IngestResult, error) {
		var res IngestResult
		cur, err := p.loadAlerts(ctx, tx, batch)
		if err != nil {
			return res, err
		}
		type member struct {
			key string
			fp  alert.Fingerprint
		}
		var (
			order   []alert.Fingerprint // distinct, first-seen order
			seen    = make(map[alert.Fingerprint]bool, len(batch))
			members []member
			memberd = map[member]bool{}
			groups  = map[string]bool{}
			events  []AlertEvent
		)
		for i := range batch {
			in := &batch[i]
			fp := in.Alert.Fingerprint
			prev := cur[fp]
			a, event := MergeAlert(prev, in.Alert, now, resolveTimeout)
			cur[fp] = &a
			if !seen[fp] {
				seen[fp] = true
				order = append(order, fp)
			}
			switch event {
			case EventFired:
				res.New++
			case EventRefired:
				res.Refired++
			case EventResolved:
				res.Resolved++
			default:
				res.Refreshed++
			}
			if event != "" {
				// A new alert's firing is its received_at (Timeline
				// shows it from there); events record what came after.
				if prev != nil {
					events = append(events, AlertEvent{Fingerprint: fp, Kind: event})
				}
				ac := a
				res.Changes = append(res.Changes, AlertChange{Alert: &ac, Kind: event, Index: i})
			}
			if a.StatusAt(now) != alert.Firing {
				continue
			}
			for _, g := range in.Groups {
				if !groups[g.Key] {
					groups[g.Key] = true
					created, err := p.createGroup(ctx, tx, g)
					if err != nil {
						return res, err
					}
					if created {
						res.NewGroups = append(res.NewGroups, GroupCheck{Key: g.Key, At: g.Start.NextCheck})
					}
				}
				if m := (member{g.Key, fp}); !memberd[m] {
					memberd[m] = true
					members = append(members, m)
				}
			}
		}
		seqs, err := p.writeAlerts(ctx, tx, order, cur)
		if err != nil {
			return res, err
		}
		const memberRows = 200
		for start := 0; start < len(members); start += memberRows {
			chunk := members[start:min(len(members), start+memberRows)]
			args := make([]any, 0, 2*len(chunk))
			for _, m := range chunk {
				args = append(args, m.key, seqs[m.fp])
			}
			st, err := p.stmt(ctx, tx, `INSERT INTO alert_group_members (group_key, alert_seq) VALUES `+rowsOf(len(chunk), 2)+` ON CONFLICT DO NOTHING`, len(chunk) == memberRows)
			if err != nil {
				return res, err
			}
			if _, err := st.ExecContext(ctx, args...); err != nil {
				return res, fmt.Errorf("add alerts to groups: %w", err)
			}
		}
		for _, e := range events {
			if err := p.addEvent(ctx, tx, e, now); err != nil {
				return res, err
			}
		}
		return res, nil
	})
}

// rowsOf returns n rows of cols placeholders: "(?, ?), (?, ?)".
func rowsOf(n, cols int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// loadAlerts reads the stored alerts of a batch, keyed by fingerprint;
// alerts never seen are absent.
func (p *SQLPipeline) loadAlerts(ctx context.Context, tx *sql.Tx, batch []IncomingAlert) (map[alert.Fingerprint]*StoredAlert, error) {
	cur := make(map[alert.Fingerprint]*StoredAlert, len(batch))
	const chunk = 500
	fps := make([]any, 0, chunk)
	flush := func() error {
		if len(fps) == 0 {
			return nil
		}
		st, err := p.stmt(ctx, tx, `SELECT `+alertColumns+` FROM alerts WHERE fingerprint IN (`+strings.TrimSuffix(strings.Repeat("?, ", len(fps)), ", ")+`)`, len(fps) == chunk)
		if err != nil {
			return err
		}
		rows, err := st.QueryContext(ctx, fps...)
		if err != nil {
			return fmt.Errorf("read alerts: %w", err)
		}
		as, err := CollectRows(rows, scanAlert)
		if err != nil {
			return fmt.Errorf("read alerts: %w", err)
		}
		for _, a := range as {
			cur[a.Fingerprint] = a
		}
		fps = fps[:0]
		return nil
	}
	asked := make(map[alert.Fingerprint]bool, len(batch))
	for i := range batch {
		fp := batch[i].Alert.Fingerprint
		if asked[fp] {
			continue
		}
		asked[fp] = true
		fps = append(fps, int64(uint64(fp)))
		if len(fps) == chunk {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	return cur, flush()
}

// writeAlerts upserts the alerts of order as cur holds them and returns
// their seq numbers.
func (p *SQLPipeline) writeAlerts(ctx context.Context, tx *sql.Tx, order []alert.Fingerprint, cur map[alert.Fingerprint]*StoredAlert) (map[alert.Fingerprint]int64, error) {
	seqs := make(map[alert.Fingerprint]int64, len(order))
	const rows, cols = 50, 14
	var buf []byte
	for start := 0; start < len(order); start += rows {
		chunk := order[start:min(len(order), start+rows)]
		args := make([]any, 0, cols*len(chunk))
		for _, fp := range chunk {
			a := cur[fp]
			buf = a.Labels.AppendJSON(buf[:0])
			labels := string(buf)
			buf = a.Annotations.AppendJSON(buf[:0])
			args = append(args, int64(uint64(fp)), labels, string(buf), ms(a.StartsAt), ms(a.EndsAt), boolInt(a.EndsSet),
				a.GeneratorURL, a.Source, string(a.Severity), string(a.State), a.StateBy, ms(a.StateAt), ms(a.ReceivedAt), ms(a.UpdatedAt))
		}
		q := `INSERT INTO alerts (` + alertColumns + `) VALUES ` + rowsOf(len(chunk), cols) + `
ON CONFLICT (fingerprint) DO UPDATE SET labels = excluded.labels, annotations = excluded.annotations,
 starts_at = excluded.starts_at, ends_at = excluded.ends_at, ends_set = excluded.ends_set,
 generator_url = excluded.generator_url, source = excluded.source, severity = excluded.severity,
 state = excluded.state, state_by = excluded.state_by, state_at = excluded.state_at,
 received_at = excluded.received_at, updated_at = excluded.updated_at
RETURNING fingerprint, seq`
		st, err := p.stmt(ctx, tx, q, len(chunk) == rows)
		if err != nil {
			return nil, err
		}
		rs, err := st.QueryContext(ctx, args...)
		if err != nil {
			return nil, fmt.Errorf("write alerts: %w", err)
		}
		pairs, err := CollectRows(rs, func(s Scanner) ([2]int64, error) {
			var v [2]int64
			return v, s.Scan(&v[0], &v[1])
		})
		if err != nil {
			return nil, fmt.Errorf("write alerts: %w", err)
		}
		for _, v := range pairs {
			seqs[alert.Fingerprint(uint64(v[0]))] = v[1]
		}
	}
	return seqs, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (p *SQLPipeline) createGroup(ctx context.Context, tx *sql.Tx, g GroupRef) (bool, error) {
	state, err := json.Marshal(g.Start)
	if err != nil {
		return false, fmt.Errorf("encode group state: %w", err)
	}
	r, err := tx.ExecContext(ctx, p.q(`INSERT INTO alert_groups (key, policy_id, labels, state, next_check) VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING`),
		g.Key, g.PolicyID, string(g.Labels.AppendJSON(nil)), string(state), msUp(g.Start.NextCheck))
	if err != nil {
		return false, fmt.Errorf("create group: %w", err)
	}
	n, err := r.RowsAffected()
	return n == 1, err
}

func (p *SQLPipeline) addEvent(ctx context.Context, tx *sql.Tx, e AlertEvent, now time.Time) error {
	_, err := tx.ExecContext(ctx, p.q(`INSERT INTO alert_events (fingerprint, at, kind, actor, detail) VALUES (?, ?, ?, ?, ?)`),
		int64(uint64(e.Fingerprint)), ms(now), e.Kind, e.Actor, e.Detail)
	if err != nil {
		return fmt.Errorf("record alert event: %w", err)
	}
	return nil
}

// GetAlert implements Pipeline.
func (p *SQLPipeline) GetAlert(ctx context.Context, fp alert.Fingerprint) (*StoredAlert, error) {
	a, err := scanAlert(p.db.QueryRowContext(ctx, p.q(`SELECT `+alertColumns+` FROM alerts WHERE fingerprint = ?`), int64(uint64(fp))))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("alert %s: %w", fp, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read alert %s: %w", fp, err)
	}
	return a, nil
}

// ListAlerts implements Pipeline. The cursor is "<received ms>.<fingerprint>".
func (p *SQLPipeline) ListAlerts(ctx context.Context, f AlertFilter) ([]*StoredAlert, string, error) {
	limit := PageLimit(f.Limit)
	var (
		where []string
		args  []any
	)
	switch f.Status {
	case alert.Firing:
		where, args = append(where, "ends_at > ?"), append(args, ms(f.Now))
	case alert.Resolved:
		where, args = append(where, "ends_at <= ?"), append(args, ms(f.Now))
	}
	if f.State != "" {
		where, args = append(where, "state = ?"), append(args, string(f.State))
	}
	if f.Query != "" {
		like := "%" + EscapeLike(f.Query) + "%"
		where = append(where, fmt.Sprintf(`(labels %[1]s ? ESCAPE '\' OR annotations %[1]s ? ESCAPE '\')`, p.d.ILike))
		args = append(args, like, like)
	}
	if f.Cursor != "" {
		recv, fp, ok := strings.Cut(f.Cursor, ".")
		r, err1 := strconv.ParseInt(recv, 10, 64)
		x, err2 := strconv.ParseInt(fp, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return nil, "", fmt.Errorf("cursor %q is not one this API gave: %w", f.Cursor, ErrInvalidCursor)
		}
		where = append(where, "(received_at < ? OR (received_at = ? AND fingerprint < ?))")
		args = append(args, r, r, x)
	}
	query := `SELECT ` + alertColumns + ` FROM alerts`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY received_at DESC, fingerprint DESC LIMIT ?"
	args = append(args, limit+1)
	rows, err := p.db.QueryContext(ctx, p.q(query), args...)
	if err != nil {
		return nil, "", fmt.Errorf("list alerts: %w", err)
	}
	items, err := CollectRows(rows, scanAlert)
	if err != nil {
		return nil, "", fmt.Errorf("list alerts: %w", err)
	}
	next := ""
	if len(items) > limit {
		items = items[:limit]
		last := items[limit-1]
		next = fmt.Sprintf("%d.%d", ms(last.ReceivedAt), int64(uint64(last.Fingerprint)))
	}
	return items, next, nil
}

// ErrInvalidCursor marks a list cursor the store did not make.
var ErrInvalidCursor = errors.New("invalid cursor")

// EachActiveAlert implements Pipeline.
func (p *SQLPipeline) EachActiveAlert(ctx context.Context, now time.Time, fn func(*StoredAlert) error) error {
	rows, err := p.db.QueryContext(ctx, p.q(`SELECT `+alertColumns+` FROM alerts WHERE ends_at > ?`), ms(now))
	if err != nil {
		return fmt.Errorf("list active alerts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return fmt.Errorf("list active alerts: %w", err)
		}
		if err := fn(a); err != nil {
			return err
		}
	}
	return rows.Err()
}

// SetAlertState implements Pipeline.
func (p *SQLPipeline) SetAlertState(ctx context.Context, fp alert.Fingerprint, state alert.State, actor, detail string, now time.Time) (*StoredAlert, error) {
	return inTxValue(ctx, p, func(tx *sql.Tx) (*StoredAlert, error) {
		r, err := tx.ExecContext(ctx, p.q(`UPDATE alerts SET state = ?, state_by = ?, state_at = ?, updated_at = ? WHERE fingerprint = ?`),
			string(state), actor, ms(now), ms(now), int64(uint64(fp)))
		if err != nil {
			return nil, fmt.Errorf("set alert state: %w", err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return nil, fmt.Errorf("alert %s: %w", fp, ErrNotFound)
		}
		if err := p.addEvent(ctx, tx, AlertEvent{Fingerprint: fp, Kind: EventState, Actor: actor, Detail: detail}, now); err != nil {
			return nil, err
		}
		a, err := scanAlert(tx.QueryRowContext(ctx, p.q(`SELECT `+alertColumns+` FROM alerts WHERE fingerprint = ?`), int64(uint64(fp))))
		if err != nil {
			return nil, fmt.Errorf("read alert %s: %w", fp, err)
		}
		return a, nil
	})
}

// Timeline implements Pipeline.
func (p *SQLPipeline) Timeline(ctx context.Context, fp alert.Fingerprint) ([]TimelineEntry, error) {
	key := int64(uint64(fp))
	rows, err := p.db.QueryContext(ctx, p.q(`SELECT at, kind, actor, detail FROM alert_events WHERE fingerprint = ? ORDER BY id`), key)
	if err != nil {
		return nil, fmt.Errorf("read timeline: %w", err)
	}
	out, err := CollectRows(rows, func(s Scanner) (TimelineEntry, error) {
		var e TimelineEntry
		var at int64
		err := s.Scan(&at, &e.Kind, &e.Actor, &e.Detail)
		e.At = fromMS(at)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("read timeline: %w", err)
	}
	// The first firing is not an event row: it is when the alert was
	// first received.
	var recv int64
	switch err := p.db.QueryRowContext(ctx, p.q(`SELECT received_at FROM alerts WHERE fingerprint = ?`), key).Scan(&recv); {
	case err == nil:
		out = append([]TimelineEntry{{At: fromMS(recv), Kind: EventFired}}, out...)
	case !errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("read timeline: %w", err)
	}
	rows, err = p.db.QueryContext(ctx, p.q(`SELECT d.id, d.channel_id, d.status, d.digest_id, d.created_at, d.sent_at, d.last_message
FROM delivery_alerts da JOIN deliveries d ON d.id = da.delivery_id WHERE da.fingerprint = ?`), key)
	if err != nil {
		return nil, fmt.Errorf("read timeline: %w", err)
	}
	ds, err := CollectRows(rows, func(s Scanner) (TimelineEntry, error) {
		var (
			d             DeliveryRef
			created, sent int64
			status        string
		)
		err := s.Scan(&d.ID, &d.ChannelID, &status, &d.DigestID, &created, &sent, &d.Message)
		d.Status = DeliveryStatus(status)
		e := TimelineEntry{At: fromMS(created), Kind: EventNotified, Delivery: &d}
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("read timeline: %w", err)
	}
	out = append(out, ds...)
	slices.SortStableFunc(out, func(a, b TimelineEntry) int { return a.At.Compare(b.At) })
	return out, nil
}

// NextGroupCheck implements Pipeline.
func (p *SQLPipeline) NextGroupCheck(ctx context.Context, now time.Time, limit int) ([]string, time.Time, error) {
	rows, err := p.db.QueryContext(ctx, p.q(`SELECT key FROM alert_groups WHERE next_check <= ? ORDER BY next_check LIMIT ?`), ms(now), limit)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("find due groups: %w", err)
	}
	keys, err := CollectRows(rows, func(s Scanner) (string, error) {
		var k string
		return k, s.Scan(&k)
	})
	if err != nil || len(keys) > 0 {
		return keys, time.Time{}, err
	}
	var next sql.NullInt64
	if err := p.db.QueryRowContext(ctx, `SELECT MIN(next_check) FROM alert_groups`).Scan(&next); err != nil {
		return nil, time.Time{}, fmt.Errorf("find next group check: %w", err)
	}
	return nil, fromMS(next.Int64), nil
}

// FlushGroup implements Pipeline.
func (p *SQLPipeline) FlushGroup(ctx context.Context, key string, now time.Time, plan func(*StoredGroup, []*StoredAlert) (GroupPlan, error)) error {
	return p.inTx(ctx, func(tx *sql.Tx) error {
		var (
			g             StoredGroup
			labels, state string
		)
		err := tx.QueryRowContext(ctx, p.q(`SELECT key, policy_id, labels, state FROM alert_groups WHERE key = ?`), key).Scan(&g.Key, &g.PolicyID, &labels, &state)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read group: %w", err)
		}
		if g.Labels, err = DecodeLabels([]byte(labels)); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(state), &g.State); err != nil {
			return fmt.Errorf("decode group state: %w", err)
		}
		rows, err := tx.QueryContext(ctx, p.q(`SELECT a.`+strings.ReplaceAll(alertColumns, ", ", ", a.")+`
FROM alert_group_members m JOIN alerts a ON a.seq = m.alert_seq WHERE m.group_key = ? ORDER BY a.starts_at, a.fingerprint`), key)
		if err != nil {
			return fmt.Errorf("read group members: %w", err)
		}
		members, err := CollectRows(rows, scanAlert)
		if err != nil {
			return fmt.Errorf("read group members: %w", err)
		}
		pl, err := plan(&g, members)
		if err != nil {
			return err
		}
		if pl.Drop {
			if _, err := tx.ExecContext(ctx, p.q(`DELETE FROM alert_group_members WHERE group_key = ?`), key); err != nil {
				return fmt.Errorf("drop group: %w", err)
			}
			if _, err := tx.ExecContext(ctx, p.q(`DELETE FROM alert_groups WHERE key = ?`), key); err != nil {
				return fmt.Errorf("drop group: %w", err)
			}
		} else {
			st, err := json.Marshal(pl.State)
			if err != nil {
				return fmt.Errorf("encode group state: %w", err)
			}
			if _, err := tx.ExecContext(ctx, p.q(`UPDATE alert_groups SET state = ?, next_check = ? WHERE key = ?`), string(st), msUp(pl.State.NextCheck), key); err != nil {
				return fmt.Errorf("update group: %w", err)
			}
			for _, fp := range pl.Forget {
				if _, err := tx.ExecContext(ctx, p.q(`DELETE FROM alert_group_members WHERE group_key = ? AND alert_seq = (SELECT seq FROM alerts WHERE fingerprint = ?)`), key, int64(uint64(fp))); err != nil {
					return fmt.Errorf("forget group member: %w", err)
				}
			}
		}
		for _, d := range pl.Deliveries {
			if err := p.insertDelivery(ctx, tx, d, now); err != nil {
				return err
			}
		}
		for _, e := range pl.Events {
			if err := p.addEvent(ctx, tx, e, now); err != nil {
				return err
			}
		}
		return nil
	})
}

const deliveryColumns = `id, channel_id, kind, group_key, policy_id, status, digest_id, content, alert_count, created_at, next_attempt_at, attempts, parts_sent, sent_at, last_code, last_platform_code, last_message, notes`

// insertDelivery stores d, queued, assigning its id when it has none.
func (p *SQLPipeline) insertDelivery(ctx context.Context, tx *sql.Tx, d *Delivery, now time.Time) error {
	if d.ID == "" {
		d.ID = p.ids.New(now)
	}
	if d.Status == "" {
		d.Status = DeliveryQueued
	}
	if d.CreatedAt.IsZero() {
		d.CreatedAt = StoredTime(now)
	}
	if d.NextAttemptAt.IsZero() {
		d.NextAttemptAt = d.CreatedAt
	}
	d.AlertCount = len(d.Alerts)
	notes, err := json.Marshal(orNone(d.Notes))
	if err != nil {
		return err
	}
	content := string(d.Content)
	if content == "" {
		content = "null"
	}
	if _, err := tx.ExecContext(ctx, p.q(`INSERT INTO deliveries (`+deliveryColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		d.ID, d.ChannelID, d.Kind, d.GroupKey, d.PolicyID, string(d.Status), d.DigestID, content, d.AlertCount,
		ms(d.CreatedAt), ms(d.NextAttemptAt), d.Attempts, d.PartsSent, ms(d.SentAt), d.LastCode, d.LastPlatformCode, d.LastMessage, string(notes)); err != nil {
		return fmt.Errorf("enqueue delivery: %w", err)
	}
	if len(d.Alerts) == 0 {
		return nil
	}
	st, err := tx.PrepareContext(ctx, p.q(`INSERT INTO delivery_alerts (delivery_id, fingerprint) VALUES (?, ?) ON CONFLICT DO NOTHING`))
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	defer st.Close()
	for _, fp := range d.Alerts {
		if _, err := st.ExecContext(ctx, d.ID, int64(uint64(fp))); err != nil {
			return fmt.Errorf("enqueue delivery: %w", err)
		}
	}
	return nil
}

func orNone(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func scanDelivery(s Scanner) (*Delivery, error) {
	var (
		d                      Delivery
		status, content, notes string
		created, next, sent    int64
	)
	if err := s.Scan(&d.ID, &d.ChannelID, &d.Kind, &d.GroupKey, &d.PolicyID, &status, &d.DigestID, &content, &d.AlertCount,
		&created, &next, &d.Attempts, &d.PartsSent, &sent, &d.LastCode, &d.LastPlatformCode, &d.LastMessage, &notes); err != nil {
		return nil, err
	}
	d.Status = DeliveryStatus(status)
	d.Content = json.RawMessage(content)
	d.CreatedAt, d.NextAttemptAt, d.SentAt = fromMS(created), fromMS(next), fromMS(sent)
	if err := json.Unmarshal([]byte(notes), &d.Notes); err != nil {
		return nil, fmt.Errorf("decode delivery notes: %w", err)
	}
	return &d, nil
}

// EnqueueDeliveries implements Pipeline.
func (p *SQLPipeline) EnqueueDeliveries(ctx context.Context, ds []*Delivery, now time.Time) error {
	return p.inTx(ctx, func(tx *sql.Tx) error {
		for _, d := range ds {
			if err := p.insertDelivery(ctx, tx, d, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// QueuedChannels implements Pipeline.
func (p *SQLPipeline) QueuedChannels(ctx context.Context) ([]string, error) {
	rows, err := p.db.QueryContext(ctx, `SELECT DISTINCT channel_id FROM deliveries WHERE status IN ('queued', 'sending')`)
	if err != nil {
		return nil, fmt.Errorf("list queued channels: %w", err)
	}
	return CollectRows(rows, func(s Scanner) (string, error) {
		var id string
		return id, s.Scan(&id)
	})
}

// DueDeliveries implements Pipeline.
func (p *SQLPipeline) DueDeliveries(ctx context.Context, channelID string, now time.Time, limit int) ([]*Delivery, time.Time, error) {
	rows, err := p.db.QueryContext(ctx, p.q(`SELECT `+deliveryColumns+` FROM deliveries
WHERE channel_id = ? AND status IN ('queued', 'sending') AND next_attempt_at <= ? ORDER BY created_at, id LIMIT ?`), channelID, ms(now), limit)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read queue: %w", err)
	}
	due, err := CollectRows(rows, scanDelivery)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read queue: %w", err)
	}
	var next sql.NullInt64
	if err := p.db.QueryRowContext(ctx, p.q(`SELECT MIN(next_attempt_at) FROM deliveries WHERE channel_id = ? AND status IN ('queued', 'sending') AND next_attempt_at > ?`), channelID, ms(now)).Scan(&next); err != nil {
		return nil, time.Time{}, fmt.Errorf("read queue: %w", err)
	}
	return due, fromMS(next.Int64), nil
}

// MergeDeliveries implements Pipeline.
func (p *SQLPipeline) MergeDeliveries(ctx context.Context, digest *Delivery, merged []string, now time.Time) error {
	return p.inTx(ctx, func(tx *sql.Tx) error {
		if err := p.insertDelivery(ctx, tx, digest, now); err != nil {
			return err
		}
		for _, id := range merged {
			if _, err := tx.ExecContext(ctx, p.q(`UPDATE deliveries SET status = 'merged', digest_id = ? WHERE id = ? AND status IN ('queued', 'sending')`), digest.ID, id); err != nil {
				return fmt.Errorf("merge delivery: %w", err)
			}
		}
		return nil
	})
}

// StartSend implements Pipeline.
func (p *SQLPipeline) StartSend(ctx context.Context, id string, now time.Time) (int, error) {
	return inTxValue(ctx, p, func(tx *sql.Tx) (int, error) {
		var n int
		err := tx.QueryRowContext(ctx, p.q(`UPDATE deliveries SET status = 'sending', attempts = attempts + 1 WHERE id = ? RETURNING attempts`), id).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("delivery %s: %w", id, ErrNotFound)
		}
		if err != nil {
			return 0, fmt.Errorf("start send: %w", err)
		}
		return n, nil
	})
}

// FinishSend implements Pipeline.
func (p *SQLPipeline) FinishSend(ctx context.Context, id string, o SendOutcome) error {
	return p.inTx(ctx, func(tx *sql.Tx) error {
		notes, err := json.Marshal(orNone(o.Notes))
		if err != nil {
			return err
		}
		sent := int64(0)
		if o.Status == DeliverySent {
			sent = ms(o.At)
		}
		if _, err := tx.ExecContext(ctx, p.q(`UPDATE deliveries SET status = ?, next_attempt_at = ?, parts_sent = ?, sent_at = ?,
 last_code = ?, last_platform_code = ?, last_message = ?, notes = ? WHERE id = ?`),
			string(o.Status), ms(o.NextAttemptAt), o.PartsSent, sent, o.Code, o.PlatformCode, o.Message, string(notes), id); err != nil {
			return fmt.Errorf("record send: %w", err)
		}
		if len(o.Content) > 0 {
			if _, err := tx.ExecContext(ctx, p.q(`UPDATE deliveries SET content = ? WHERE id = ?`), string(o.Content), id); err != nil {
				return fmt.Errorf("record send: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, p.q(`INSERT INTO delivery_attempts (delivery_id, n, at, result, code, platform_code, message, parts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (delivery_id, n) DO UPDATE SET at = excluded.at, result = excluded.result, code = excluded.code, platform_code = excluded.platform_code, message = excluded.message, parts = excluded.parts`),
			id, o.Attempt, ms(o.At), o.Result, o.Code, o.PlatformCode, o.Message, o.PartsThisAttempt); err != nil {
			return fmt.Errorf("record attempt: %w", err)
		}
		return nil
	})
}

// ReserveSend implements Pipeline.
func (p *SQLPipeline) ReserveSend(ctx context.Context, budgetKey string, now time.Time, limit int, window time.Duration) (bool, time.Time, error) {
	type answer struct {
		ok   bool
		free time.Time
	}
	a, err := inTxValue(ctx, p, func(tx *sql.Tx) (answer, error) {
		if p.d.LockChannel != "" {
			if _, err := tx.ExecContext(ctx, p.q(p.d.LockChannel), budgetKey); err != nil {
				return answer{}, fmt.Errorf("lock channel budget: %w", err)
			}
		}
		since := ms(now.Add(-window))
		if _, err := tx.ExecContext(ctx, p.q(`DELETE FROM channel_sends WHERE channel_id = ? AND at <= ?`), budgetKey, since); err != nil {
			return answer{}, fmt.Errorf("expire budget: %w", err)
		}
		var (
			n      int
			oldest sql.NullInt64
		)
		if err := tx.QueryRowContext(ctx, p.q(`SELECT COUNT(*), MIN(at) FROM channel_sends WHERE channel_id = ?`), budgetKey).Scan(&n, &oldest); err != nil {
			return answer{}, fmt.Errorf("read budget: %w", err)
		}
		if n >= limit {
			return answer{free: fromMS(oldest.Int64).Add(window)}, nil
		}
		if _, err := tx.ExecContext(ctx, p.q(`INSERT INTO channel_sends (channel_id, at) VALUES (?, ?)`), budgetKey, ms(now)); err != nil {
			return answer{}, fmt.Errorf("spend budget: %w", err)
		}
		return answer{ok: true}, nil
	})
	return a.ok, a.free, err
}

// BudgetSpent implements Pipeline.
func (p *SQLPipeline) BudgetSpent(ctx context.Context, budgetKey string, now time.Time, window time.Duration) (int, time.Time, error) {
	var (
		n      int
		oldest sql.NullInt64
	)
	err := p.db.QueryRowContext(ctx, p.q(`SELECT COUNT(*), MIN(at) FROM channel_sends WHERE channel_id = ? AND at > ?`), budgetKey, ms(now.Add(-window))).Scan(&n, &oldest)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("read budget: %w", err)
	}
	return n, fromMS(oldest.Int64), nil
}

// PauseChannel implements Pipeline.
func (p *SQLPipeline) PauseChannel(ctx context.Context, channelID string, until time.Time, reason string) error {
	_, err := p.db.ExecContext(ctx, p.q(`INSERT INTO channel_pauses (channel_id, until_at, reason) VALUES (?, ?, ?)
ON CONFLICT (channel_id) DO UPDATE SET until_at = excluded.until_at, reason = excluded.reason`), channelID, ms(until), reason)
	if err != nil {
		return fmt.Errorf("pause channel: %w", err)
	}
	return nil
}

// ChannelPause implements Pipeline.
func (p *SQLPipeline) ChannelPause(ctx context.Context, channelID string) (time.Time, string, error) {
	var (
		until  int64
		reason string
	)
	err := p.db.QueryRowContext(ctx, p.q(`SELECT until_at, reason FROM channel_pauses WHERE channel_id = ?`), channelID).Scan(&until, &reason)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, "", nil
	}
	if err != nil {
		return time.Time{}, "", fmt.Errorf("read channel pause: %w", err)
	}
	return fromMS(until), reason, nil
}

// GetDelivery implements Pipeline.
func (p *SQLPipeline) GetDelivery(ctx context.Context, id string) (*Delivery, error) {
	d, err := scanDelivery(p.db.QueryRowContext(ctx, p.q(`SELECT `+deliveryColumns+` FROM deliveries WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("delivery %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read delivery: %w", err)
	}
	if err := p.loadDeliveryDetails(ctx, d); err != nil {
		return nil, err
	}
	return d, nil
}

func (p *SQLPipeline) loadDeliveryDetails(ctx context.Context, d *Delivery) error {
	rows, err := p.db.QueryContext(ctx, p.q(`SELECT n, at, result, code, platform_code, message, parts FROM delivery_attempts WHERE delivery_id = ? ORDER BY n`), d.ID)
	if err != nil {
		return fmt.Errorf("read attempts: %w", err)
	}
	d.AttemptLog, err = CollectRows(rows, func(s Scanner) (Attempt, error) {
		var (
			a  Attempt
			at int64
		)
		err := s.Scan(&a.N, &at, &a.Result, &a.Code, &a.PlatformCode, &a.Message, &a.Parts)
		a.At = fromMS(at)
		return a, err
	})
	if err != nil {
		return fmt.Errorf("read attempts: %w", err)
	}
	if d.AttemptLog == nil {
		d.AttemptLog = []Attempt{}
	}
	rows, err = p.db.QueryContext(ctx, p.q(`SELECT fingerprint FROM delivery_alerts WHERE delivery_id = ?`), d.ID)
	if err != nil {
		return fmt.Errorf("read delivery alerts: %w", err)
	}
	d.Alerts, err = CollectRows(rows, func(s Scanner) (alert.Fingerprint, error) {
		var fp int64
		err := s.Scan(&fp)
		return alert.Fingerprint(uint64(fp)), err
	})
	if err != nil {
		return fmt.Errorf("read delivery alerts: %w", err)
	}
	return nil
}

// ListDeliveries implements Pipeline.
func (p *SQLPipeline) ListDeliveries(ctx context.Context, f DeliveryFilter) ([]*Delivery, string, error) {
	limit := PageLimit(f.Limit)
	var (
		where []string
		args  []any
	)
	if f.ChannelID != "" {
		where, args = append(where, "channel_id = ?"), append(args, f.ChannelID)
	}
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, string(f.Status))
	}
	if f.Alert != 0 {
		where, args = append(where, "id IN (SELECT delivery_id FROM delivery_alerts WHERE fingerprint = ?)"), append(args, int64(uint64(f.Alert)))
	}
	if f.Cursor != "" {
		where, args = append(where, "id < ?"), append(args, f.Cursor)
	}
	query := `SELECT ` + deliveryColumns + ` FROM deliveries`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit+1)
	rows, err := p.db.QueryContext(ctx, p.q(query), args...)
	if err != nil {
		return nil, "", fmt.Errorf("list deliveries: %w", err)
	}
	items, err := CollectRows(rows, scanDelivery)
	if err != nil {
		return nil, "", fmt.Errorf("list deliveries: %w", err)
	}
	next := ""
	if len(items) > limit {
		items = items[:limit]
		next = items[limit-1].ID
	}
	for _, d := range items {
		if err := p.loadDeliveryDetails(ctx, d); err != nil {
			return nil, "", err
		}
	}
	return items, next, nil
}

// QueueStats implements Pipeline.
func (p *SQLPipeline) QueueStats(ctx context.Context) ([]QueueStat, error) {
	rows, err := p.db.QueryContext(ctx, `SELECT channel_id, COUNT(*), MIN(created_at) FROM deliveries WHERE status IN ('queued', 'sending') GROUP BY channel_id ORDER BY channel_id`)
	if err != nil {
		return nil, fmt.Errorf("read queue stats: %w", err)
	}
	return CollectRows(rows, func(s Scanner) (QueueStat, error) {
		var (
			q      QueueStat
			oldest int64
		)
		err := s.Scan(&q.ChannelID, &q.Depth, &oldest)
		q.Oldest = fromMS(oldest)
		return q, err
	})
}
