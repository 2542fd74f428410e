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

// CreatePolicy stores p and its targets with a new ID, and sets p to what
// is stored. On error p is left as it was.
func (db *DB) CreatePolicy(ctx context.Context, p *route.Policy, now time.Time) error {
	n, err := store.StoredPolicy(p)
	if err != nil {
		return err
	}
	n.ID = db.ids.New(now)
	r, err := store.EncodePolicy(&n, now)
	if err != nil {
		return fmt.Errorf("create policy %q: %w", p.Name, err)
	}
	err = store.InTx(ctx, db.db, nil, func(tx *sql.Tx) error {
		if err := insertPolicy(ctx, tx, r); err != nil {
			return err
		}
		return writeTargets(ctx, tx, &n)
	})
	if err != nil {
		return err
	}
	*p = n
	return nil
}

// GetPolicy returns the policy with that id and its targets.
func (db *DB) GetPolicy(ctx context.Context, id string) (*route.Policy, error) {
	return store.InTxValue(ctx, db.db, readOnly, func(tx *sql.Tx) (*route.Policy, error) {
		return findPolicy(ctx, tx, "id", id)
	})
}

// GetPolicyByName returns the policy with exactly that name and its
// targets.
func (db *DB) GetPolicyByName(ctx context.Context, name string) (*route.Policy, error) {
	return store.InTxValue(ctx, db.db, readOnly, func(tx *sql.Tx) (*route.Policy, error) {
		return findPolicy(ctx, tx, "name", name)
	})
}

// UpdatePolicy replaces the policy p.ID and its targets with p, and sets p
// to what is stored.
func (db *DB) UpdatePolicy(ctx context.Context, p *route.Policy, now time.Time) error {
	n, err := store.StoredPolicy(p)
	if err != nil {
		return err
	}
	r, err := store.EncodePolicy(&n, now)
	if err != nil {
		return fmt.Errorf("update policy %s: %w", p.ID, err)
	}
	err = store.InTx(ctx, db.db, nil, func(tx *sql.Tx) error {
		if err := updatePolicy(ctx, tx, r); err != nil {
			return err
		}
		if err := clearRefs(ctx, tx, n.ID, channelTargets, groupTargets); err != nil {
			return err
		}
		return writeTargets(ctx, tx, &n)
	})
	if err != nil {
		return err
	}
	*p = n
	return nil
}

// DeletePolicy removes the policy with that id and its targets, unless
// rules notify through it.
func (db *DB) DeletePolicy(ctx context.Context, id string) error {
	return store.InTx(ctx, db.db, nil, func(tx *sql.Tx) error {
		if err := refuseUsedByRules(ctx, tx, "policy_id", "policy", id); err != nil {
			return err
		}
		return deleteByID(ctx, tx, "policies", "policy", id, store.UsedByRules("policy "+id, nil))
	})
}

// ListPolicies returns a page of policies in (position, id) order. f.Query
// matches names as in ListChannels.
func (db *DB) ListPolicies(ctx context.Context, f store.PolicyFilter) ([]*route.Policy, string, error) {
	limit := store.PageLimit(f.Limit)
	ps, err := store.InTxValue(ctx, db.db, readOnly, func(tx *sql.Tx) ([]*route.Policy, error) {
		return listPolicies(ctx, tx, f, limit+1)
	})
	if err != nil {
		return nil, "", err
	}
	page, next := store.Page(ps, limit, store.PolicyCursor)
	return page, next, nil
}

// AllPolicies returns every policy in (position, id) order, in one read
// transaction: WAL gives it one snapshot of the policies and their targets.
func (db *DB) AllPolicies(ctx context.Context) ([]route.Policy, error) {
	ps, err := store.InTxValue(ctx, db.db, readOnly, func(tx *sql.Tx) ([]*route.Policy, error) {
		return listPolicies(ctx, tx, store.PolicyFilter{}, -1)
	})
	if err != nil {
		return nil, err
	}
	out := make([]route.Policy, len(ps))
	for i, p := range ps {
		out[i] = *p
	}
	return out, nil
}

// Times are UTC milliseconds, JSON is TEXT, as for channels.
const policyColumns = `id, name, position, matchers, group_by, group_wait_ms, group_interval_ms, repeat_interval_ms,
	send_resolved, continue_matching, mute_time_windows, mention, created_at, updated_at`

func insertPolicy(ctx context.Context, tx *sql.Tx, r store.PolicyRecord) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO policies (`+policyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.Name, r.Position, string(r.Matchers), string(r.GroupBy),
		r.GroupWaitMS, r.GroupIntervalMS, r.RepeatIntervalMS, r.SendResolved, r.Continue,
		string(r.MuteTimeWindows), r.Mention, r.CreatedAt.UnixMilli(), r.UpdatedAt.UnixMilli())
	switch {
	case isUniqueViolation(err):
		return fmt.Errorf("policy name %q is taken: %w", r.Name, store.ErrConflict)
	case err != nil:
		return fmt.Errorf("create policy %q: %w", r.Name, err)
	}
	return nil
}

// updatePolicy writes every column but id and created_at.
func updatePolicy(ctx context.Context, tx *sql.Tx, r store.PolicyRecord) error {
	res, err := tx.ExecContext(ctx, `
		UPDATE policies
		SET name = ?, position = ?, matchers = ?, group_by = ?,
		    group_wait_ms = ?, group_interval_ms = ?, repeat_interval_ms = ?,
		    send_resolved = ?, continue_matching = ?, mute_time_windows = ?, mention = ?, updated_at = ?
		WHERE id = ?`,
		r.Name, r.Position, string(r.Matchers), string(r.GroupBy),
		r.GroupWaitMS, r.GroupIntervalMS, r.RepeatIntervalMS,
		r.SendResolved, r.Continue, string(r.MuteTimeWindows), r.Mention, r.UpdatedAt.UnixMilli(), r.ID)
	switch {
	case isUniqueViolation(err):
		return fmt.Errorf("policy name %q is taken: %w", r.Name, store.ErrConflict)
	case err != nil:
		return fmt.Errorf("update policy %s: %w", r.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update policy %s: %w", r.ID, err)
	} else if n == 0 {
		return fmt.Errorf("policy %s: %w", r.ID, store.ErrNotFound)
	}
	return nil
}

// writeTargets stores the targets of p, which has none stored, after
// checking every one exists.
func writeTargets(ctx context.Context, tx *sql.Tx, p *route.Policy) error {
	return writeRefs(ctx, tx, p.ID, fmt.Sprintf("policy %q", p.Name),
		[]refList{{channelTargets, jsonList(p.Targets.Channels)}, {groupTargets, jsonList(p.Targets.ContactGroups)}},
		func(missing [][]string) error { return store.MissingTargets(p.Name, missing[0], missing[1]) },
		store.ErrTargetGone)
}

// findPolicy returns the policy whose column (id or name) is value, with
// its targets.
func findPolicy(ctx context.Context, tx *sql.Tx, column, value string) (*route.Policy, error) {
	r, err := scanPolicy(tx.QueryRowContext(ctx, `SELECT `+policyColumns+` FROM policies WHERE `+column+` = ?`, value))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("policy %q: %w", value, store.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("get policy %q: %w", value, err)
	}
	ps, err := store.DecodePolicies([]store.PolicyRecord{r})
	if err != nil {
		return nil, err
	}
	return ps[0], loadTargets(ctx, tx, ps)
}

// listPolicies returns at most limit policies (all for -1) that f selects,
// with their targets.
func listPolicies(ctx context.Context, tx *sql.Tx, f store.PolicyFilter, limit int) ([]*route.Policy, error) {
	q := `SELECT ` + policyColumns + ` FROM policies WHERE true`
	var args []any
	if f.Cursor != "" {
		position, id, err := store.ParsePolicyCursor(f.Cursor)
		if err != nil {
			return nil, fmt.Errorf("list policies: %w", err)
		}
		q += ` AND (position, id) > (?, ?)`
		args = append(args, position, id)
	}
	if f.Query != "" {
		q += ` AND lower(name) LIKE '%' || lower(?) || '%' ESCAPE '\'`
		args = append(args, store.EscapeLike(f.Query))
	}
	q += ` ORDER BY position, id LIMIT ?`
	args = append(args, limit)
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list policies: %w", err)
	}
	rs, err := store.CollectRows(rows, scanPolicy)
	if err != nil {
		return nil, fmt.Errorf("list policies: %w", err)
	}
	ps, err := store.DecodePolicies(rs)
	if err != nil {
		return nil, err
	}
	return ps, loadTargets(ctx, tx, ps)
}

// loadTargets sets the targets of policies, in one query for all of them.
func loadTargets(ctx context.Context, tx *sql.Tx, policies []*route.Policy) error {
	if len(policies) == 0 {
		return nil
	}
	ids := make([]string, len(policies))
	for i, p := range policies {
		ids[i] = p.ID
	}
	list := jsonList(ids)
	rows, err := tx.QueryContext(ctx, `
		SELECT policy_id, 0, channel_id, position FROM policy_channels
		WHERE policy_id IN (SELECT value FROM json_each(?))
		UNION ALL
		SELECT policy_id, 1, group_id, position FROM policy_contact_groups
		WHERE policy_id IN (SELECT value FROM json_each(?))
		ORDER BY 1, 2, 4`, list, list)
	if err != nil {
		return fmt.Errorf("get policy targets: %w", err)
	}
	ts, err := store.CollectRows(rows, func(s store.Scanner) (store.PolicyTarget, error) {
		var t store.PolicyTarget
		var position int64
		err := s.Scan(&t.PolicyID, &t.Group, &t.ID, &position)
		return t, err
	})
	if err != nil {
		return fmt.Errorf("get policy targets: %w", err)
	}
	store.AttachTargets(policies, ts)
	return nil
}

func scanPolicy(s store.Scanner) (store.PolicyRecord, error) {
	var r store.PolicyRecord
	var matchers, groupBy, windows string
	var createdAt, updatedAt int64
	err := s.Scan(&r.ID, &r.Name, &r.Position, &matchers, &groupBy,
		&r.GroupWaitMS, &r.GroupIntervalMS, &r.RepeatIntervalMS, &r.SendResolved, &r.Continue,
		&windows, &r.Mention, &createdAt, &updatedAt)
	r.Matchers, r.GroupBy, r.MuteTimeWindows = []byte(matchers), []byte(groupBy), []byte(windows)
	r.CreatedAt, r.UpdatedAt = time.UnixMilli(createdAt).UTC(), time.UnixMilli(updatedAt).UTC()
	return r, err
}
