package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tocsinhq/tocsin/internal/rule"
	"github.com/tocsinhq/tocsin/internal/store"
)

// CreateRule stores r with a new ID and CreatedAt = UpdatedAt = now, and
// sets those fields of r. On error r is left as it was.
func (db *DB) CreateRule(ctx context.Context, r *rule.Rule, policyID, datasourceID string, now time.Time) error {
	rec, err := store.EncodeRule(db.ids.New(now), r, policyID, datasourceID, now)
	if err != nil {
		return err
	}
	err = store.InTx(ctx, db.db, nil, func(tx *sql.Tx) error {
		if err := checkRuleKeys(ctx, tx, rec); err != nil {
			return err
		}
		return insertRule(ctx, tx, rec)
	})
	if err != nil {
		return err
	}
	r.ID, r.CreatedAt, r.UpdatedAt = rec.ID, rec.CreatedAt, rec.UpdatedAt
	return nil
}

// GetRule returns the rule with that id.
func (db *DB) GetRule(ctx context.Context, id string) (*store.StoredRule, error) {
	return store.InTxValue(ctx, db.db, readOnly, func(tx *sql.Tx) (*store.StoredRule, error) {
		return findRule(ctx, tx, "id", id)
	})
}

// GetRuleByName returns the rule with exactly that name.
func (db *DB) GetRuleByName(ctx context.Context, name string) (*store.StoredRule, error) {
	return store.InTxValue(ctx, db.db, readOnly, func(tx *sql.Tx) (*store.StoredRule, error) {
		return findRule(ctx, tx, "name", name)
	})
}

// UpdateRule replaces the rule r.ID with r, setting UpdatedAt to now. It
// sets r.UpdatedAt, and r.CreatedAt from the stored rule.
func (db *DB) UpdateRule(ctx context.Context, r *rule.Rule, policyID, datasourceID string, now time.Time) error {
	rec, err := store.EncodeRule(r.ID, r, policyID, datasourceID, now)
	if err != nil {
		return err
	}
	createdAt, err := store.InTxValue(ctx, db.db, nil, func(tx *sql.Tx) (time.Time, error) {
		if err := checkRuleKeys(ctx, tx, rec); err != nil {
			return time.Time{}, err
		}
		return updateRule(ctx, tx, rec)
	})
	if err != nil {
		return err
	}
	r.CreatedAt, r.UpdatedAt = createdAt, rec.UpdatedAt
	return nil
}

// DeleteRule removes the rule with that id; its state goes with it (the
// key cascades).
func (db *DB) DeleteRule(ctx context.Context, id string) error {
	return store.InTx(ctx, db.db, nil, func(tx *sql.Tx) error {
		// Only rule_states refers to rules, and it cascades.
		return deleteByID(ctx, tx, "rules", "rule", id, nil)
	})
}

// ListRules returns a page of rules in id order. f.Query matches names
// with ILIKE, as in ListChannels.
func (db *DB) ListRules(ctx context.Context, f store.RuleFilter) ([]*store.StoredRule, string, error) {
	limit := store.PageLimit(f.Limit)
	rs, err := store.InTxValue(ctx, db.db, readOnly, func(tx *sql.Tx) ([]*store.StoredRule, error) {
		return listRules(ctx, tx, f, limit+1)
	})
	if err != nil {
		return nil, "", err
	}
	page, next := store.Page(rs, limit, store.RuleID)
	return page, next, nil
}

// AllRules returns every rule in id order, in one query.
func (db *DB) AllRules(ctx context.Context) ([]*store.StoredRule, error) {
	return store.InTxValue(ctx, db.db, readOnly, func(tx *sql.Tx) ([]*store.StoredRule, error) {
		return listRules(ctx, tx, store.RuleFilter{}, -1)
	})
}

// SaveRuleState stores st, replacing the rule's earlier state.
func (db *DB) SaveRuleState(ctx context.Context, st *store.RuleState) error {
	n := store.StoredRuleState(st)
	return store.InTx(ctx, db.db, nil, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO rule_states (`+ruleStateColumns+`) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (rule_id) DO UPDATE SET
			    evaluated_at = excluded.evaluated_at, duration_ns = excluded.duration_ns,
			    health = excluded.health, last_error = excluded.last_error, active = excluded.active`,
			n.RuleID, n.EvaluatedAt, int64(n.Duration), n.Health, n.LastError, n.Active)
		switch {
		case isForeignKeyViolation(err):
			return fmt.Errorf("save state of rule %s: %w", n.RuleID, store.ErrNotFound)
		case err != nil:
			return fmt.Errorf("save state of rule %s: %w", n.RuleID, err)
		}
		return nil
	})
}

// RuleState returns the state of the rule ruleID.
func (db *DB) RuleState(ctx context.Context, ruleID string) (*store.RuleState, error) {
	return store.InTxValue(ctx, db.db, readOnly, func(tx *sql.Tx) (*store.RuleState, error) {
		st, err := scanRuleState(tx.QueryRowContext(ctx, `SELECT `+ruleStateColumns+` FROM rule_states WHERE rule_id = $1`, ruleID))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return nil, fmt.Errorf("state of rule %s: %w", ruleID, store.ErrNotFound)
		case err != nil:
			return nil, fmt.Errorf("get state of rule %s: %w", ruleID, err)
		}
		return st, nil
	})
}

// AllRuleStates returns every rule's state in rule id order.
func (db *DB) AllRuleStates(ctx context.Context) ([]*store.RuleState, error) {
	return store.InTxValue(ctx, db.db, readOnly, func(tx *sql.Tx) ([]*store.RuleState, error) {
		rows, err := tx.QueryContext(ctx, `SELECT `+ruleStateColumns+` FROM rule_states ORDER BY rule_id`)
		if err != nil {
			return nil, fmt.Errorf("list rule states: %w", err)
		}
		sts, err := store.CollectRows(rows, scanRuleState)
		if err != nil {
			return nil, fmt.Errorf("list rule states: %w", err)
		}
		return sts, nil
	})
}

// ruleColumns are read from rules AS r joined with the names of their
// policy and data source (ruleFrom). The spec goes in as []byte, JSON to
// pgx; an absent id is NULL.
const (
	ruleColumns = `r.id, r.name, r.kind, r.enabled, r.spec, r.policy_id, r.datasource_id, r.created_at, r.updated_at, p.name, d.name`
	ruleFrom    = `rules AS r
		LEFT JOIN policies AS p ON p.id = r.policy_id
		LEFT JOIN datasources AS d ON d.id = r.datasource_id`
)

// checkRuleKeys refuses rec when its policy or data source does not
// exist, naming them.
func checkRuleKeys(ctx context.Context, tx *sql.Tx, rec store.RuleRecord) error {
	var policy, source bool
	err := tx.QueryRowContext(ctx, `
		SELECT $1 = '' OR EXISTS (SELECT 1 FROM policies WHERE id = $1),
		       $2 = '' OR EXISTS (SELECT 1 FROM datasources WHERE id = $2)`,
		rec.PolicyID, rec.DatasourceID,
	).Scan(&policy, &source)
	if err != nil {
		return fmt.Errorf("rule %q: check policy and data source: %w", rec.Name, err)
	}
	return store.MissingRuleKeys(rec, policy, source)
}

func insertRule(ctx context.Context, tx *sql.Tx, rec store.RuleRecord) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO rules (id, name, kind, enabled, spec, policy_id, datasource_id, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		rec.ID, rec.Name, rec.Kind, rec.Enabled, rec.Spec,
		nullString(rec.PolicyID), nullString(rec.DatasourceID), rec.CreatedAt, rec.UpdatedAt)
	return ruleWriteError(err, rec, "create rule %q", rec.Name)
}

// updateRule writes every column but id and created_at, and returns
// created_at.
func updateRule(ctx context.Context, tx *sql.Tx, rec store.RuleRecord) (time.Time, error) {
	var createdAt time.Time
	err := tx.QueryRowContext(ctx, `
		UPDATE rules
		SET name = $1, kind = $2, enabled = $3, spec = $4, policy_id = $5, datasource_id = $6, updated_at = $7
		WHERE id = $8
		RETURNING created_at`,
		rec.Name, rec.Kind, rec.Enabled, rec.Spec,
		nullString(rec.PolicyID), nullString(rec.DatasourceID), rec.UpdatedAt, rec.ID,
	).Scan(&createdAt)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, fmt.Errorf("rule %s: %w", rec.ID, store.ErrNotFound)
	}
	if err := ruleWriteError(err, rec, "update rule %s", rec.ID); err != nil {
		return time.Time{}, err
	}
	return createdAt.UTC(), nil
}

// ruleWriteError words the error of writing rec: a taken name, a policy or
// data source deleted since checkRuleKeys looked, or else err itself in
// the context format and args give.
func ruleWriteError(err error, rec store.RuleRecord, format string, args ...any) error {
	switch {
	case err == nil:
		return nil
	case isUniqueViolation(err):
		return fmt.Errorf("rule name %q is taken: %w", rec.Name, store.ErrConflict)
	case isForeignKeyViolation(err):
		return fmt.Errorf("rule %q: %w", rec.Name, store.ErrRuleKeyGone)
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// findRule returns the rule whose column (id or name) is value.
func findRule(ctx context.Context, tx *sql.Tx, column, value string) (*store.StoredRule, error) {
	rec, err := scanRule(tx.QueryRowContext(ctx, `SELECT `+ruleColumns+` FROM `+ruleFrom+` WHERE r.`+column+` = $1`, value))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("rule %q: %w", value, store.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("get rule %q: %w", value, err)
	}
	return rec.Decode()
}

// listRules returns at most limit rules (all for -1) that f selects, in id
// order.
func listRules(ctx context.Context, tx *sql.Tx, f store.RuleFilter, limit int) ([]*store.StoredRule, error) {
	var where []string
	var args []any
	// arg adds v to args and returns its placeholder.
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Query != "" {
		where = append(where, `r.name ILIKE '%' || `+arg(store.EscapeLike(f.Query))+` || '%' ESCAPE '\'`)
	}
	if f.Kind != "" {
		where = append(where, `r.kind = `+arg(string(f.Kind)))
	}
	if f.Cursor != "" {
		where = append(where, `r.id > `+arg(f.Cursor))
	}
	q := `SELECT ` + ruleColumns + ` FROM ` + ruleFrom
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY r.id`
	if limit >= 0 {
		q += ` LIMIT ` + arg(limit)
	}
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	rs, err := store.CollectRows(rows, scanRule)
	if err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	return store.DecodeRules(rs)
}

// refuseUsedByRules refuses to delete the object id while rules refer to
// it in column (policy_id, datasource_id), naming them; what names the
// object ("policy").
func refuseUsedByRules(ctx context.Context, tx *sql.Tx, column, what, id string) error {
	rows, err := tx.QueryContext(ctx, `SELECT name FROM rules WHERE `+column+` = $1 ORDER BY name`, id)
	if err != nil {
		return fmt.Errorf("delete %s %s: find the rules using it: %w", what, id, err)
	}
	names, err := store.CollectRows(rows, func(s store.Scanner) (name string, err error) {
		return name, s.Scan(&name)
	})
	if err != nil {
		return fmt.Errorf("delete %s %s: find the rules using it: %w", what, id, err)
	}
	if len(names) == 0 {
		return nil
	}
	return store.UsedByRules(what+" "+id, names)
}

func scanRule(s store.Scanner) (store.RuleRecord, error) {
	var rec store.RuleRecord
	var policyID, datasourceID, policyName, datasourceName sql.NullString
	err := s.Scan(&rec.ID, &rec.Name, &rec.Kind, &rec.Enabled, &rec.Spec, &policyID, &datasourceID,
		&rec.CreatedAt, &rec.UpdatedAt, &policyName, &datasourceName)
	rec.PolicyID, rec.DatasourceID = policyID.String, datasourceID.String
	rec.PolicyName, rec.DatasourceName = policyName.String, datasourceName.String
	return rec, err
}

const ruleStateColumns = `rule_id, evaluated_at, duration_ns, health, last_error, active`

func scanRuleState(s store.Scanner) (*store.RuleState, error) {
	var st store.RuleState
	var duration int64
	err := s.Scan(&st.RuleID, &st.EvaluatedAt, &duration, &st.Health, &st.LastError, &st.Active)
	st.EvaluatedAt, st.Duration = st.EvaluatedAt.UTC(), time.Duration(duration)
	return &st, err
}

// nullString is s as an argument, or NULL when it is empty.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}
