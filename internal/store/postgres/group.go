package postgres

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tocsinhq/tocsin/internal/contact"
	"github.com/tocsinhq/tocsin/internal/store"
)

// CreateContactGroup stores g and its members with a new ID and CreatedAt =
// UpdatedAt = now, and sets those fields of g. On error g is left as it was.
func (db *DB) CreateContactGroup(ctx context.Context, g *contact.Group, now time.Time) error {
	n, err := store.NewGroup(db.ids.New(now), g, now)
	if err != nil {
		return err
	}
	err = store.InTx(ctx, db.db, nil, func(tx *sql.Tx) error {
		if err := insertGroup(ctx, tx, &n); err != nil {
			return err
		}
		return writeMembers(ctx, tx, &n)
	})
	if err != nil {
		return err
	}
	g.ID, g.CreatedAt, g.UpdatedAt = n.ID, n.CreatedAt, n.UpdatedAt
	return nil
}

// GetContactGroup returns the group with that id and its members.
func (db *DB) GetContactGroup(ctx context.Context, id string) (*contact.Group, error) {
	return store.InTxValue(ctx, db.db, snapshot, func(tx *sql.Tx) (*contact.Group, error) {
		return findGroup(ctx, tx, "id", id)
	})
}

// GetContactGroupByName returns the group with exactly that name and its
// members.
func (db *DB) GetContactGroupByName(ctx context.Context, name string) (*contact.Group, error) {
	return store.InTxValue(ctx, db.db, snapshot, func(tx *sql.Tx) (*contact.Group, error) {
		return findGroup(ctx, tx, "name", name)
	})
}

// UpdateContactGroup replaces the group g.ID and its members with g,
// setting UpdatedAt to now. It sets g.UpdatedAt, and g.CreatedAt from the
// stored group.
func (db *DB) UpdateContactGroup(ctx context.Context, g *contact.Group, now time.Time) error {
	if err := store.CheckMembers(g); err != nil {
		return err
	}
	n := *g
	n.UpdatedAt = store.StoredTime(now)
	createdAt, err := store.InTxValue(ctx, db.db, nil, func(tx *sql.Tx) (time.Time, error) {
		createdAt, err := updateGroup(ctx, tx, &n)
		if err != nil {
			return time.Time{}, err
		}
		if err := clearMembers(ctx, tx, n.ID); err != nil {
			return time.Time{}, err
		}
		return createdAt, writeMembers(ctx, tx, &n)
	})
	if err != nil {
		return err
	}
	g.CreatedAt, g.UpdatedAt = createdAt, n.UpdatedAt
	return nil
}

// DeleteContactGroup removes the group with that id and its memberships,
// unless a policy targets it.
func (db *DB) DeleteContactGroup(ctx context.Context, id string) error {
	return store.InTx(ctx, db.db, nil, func(tx *sql.Tx) error {
		if err := refuseHeld(ctx, tx, refKind{}, groupTargets, id); err != nil {
			return err
		}
		return deleteByID(ctx, tx, "contact_groups", "contact group", id, store.InUse("contact group "+id, nil, nil))
	})
}

// ListContactGroups returns a page of groups with their members in id
// order. f.Query matches names with ILIKE, as in ListChannels.
func (db *DB) ListContactGroups(ctx context.Context, f store.GroupFilter) ([]*contact.Group, string, error) {
	limit := store.PageLimit(f.Limit)
	gs, err := store.InTxValue(ctx, db.db, snapshot, func(tx *sql.Tx) ([]*contact.Group, error) {
		gs, err := listGroups(ctx, tx, f, limit+1)
		if err != nil {
			return nil, err
		}
		return gs, loadMembers(ctx, tx, gs)
	})
	if err != nil {
		return nil, "", err
	}
	page, next := store.Page(gs, limit, func(g *contact.Group) string { return g.ID })
	return page, next, nil
}

// snapshot reads several tables as of one moment: a group and its
// members as they were committed together. Under PostgreSQL's default,
// READ COMMITTED, each query would see what had committed when it began.
var snapshot = &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}

// refKind is one kind of reference that contact groups and policies hold
// in a join table: who holds it (the holders' table and the join's column
// naming them), and what it refers to (the join's column naming it and
// its table).
type refKind struct {
	what    string // the object referred to, for messages
	join    string
	holders string
	holder  string
	column  string
	table   string
}

var (
	contactMembers = refKind{what: "contact", join: "contact_group_contacts", holders: "contact_groups", holder: "group_id", column: "contact_id", table: "contacts"}
	channelMembers = refKind{what: "channel", join: "contact_group_channels", holders: "contact_groups", holder: "group_id", column: "channel_id", table: "channels"}
	channelTargets = refKind{what: "channel", join: "policy_channels", holders: "policies", holder: "policy_id", column: "channel_id", table: "channels"}
	groupTargets   = refKind{what: "contact group", join: "policy_contact_groups", holders: "policies", holder: "policy_id", column: "group_id", table: "contact_groups"}
)

const groupColumns = `id, name, description, created_at, updated_at`

func insertGroup(ctx context.Context, tx *sql.Tx, g *contact.Group) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO contact_groups (`+groupColumns+`) VALUES ($1, $2, $3, $4, $5)`,
		g.ID, g.Name, g.Description, g.CreatedAt, g.UpdatedAt)
	switch {
	case isUniqueViolation(err):
		return fmt.Errorf("contact group name %q is taken: %w", g.Name, store.ErrConflict)
	case err != nil:
		return fmt.Errorf("create contact group %q: %w", g.Name, err)
	}
	return nil
}

// updateGroup writes every column but id and created_at, and returns
// created_at.
func updateGroup(ctx context.Context, tx *sql.Tx, g *contact.Group) (time.Time, error) {
	var createdAt time.Time
	err := tx.QueryRowContext(ctx, `
		UPDATE contact_groups SET name = $1, description = $2, updated_at = $3
		WHERE id = $4
		RETURNING created_at`,
		g.Name, g.Description, g.UpdatedAt, g.ID,
	).Scan(&createdAt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return time.Time{}, fmt.Errorf("contact group %s: %w", g.ID, store.ErrNotFound)
	case isUniqueViolation(err):
		return time.Time{}, fmt.Errorf("contact group name %q is taken: %w", g.Name, store.ErrConflict)
	case err != nil:
		return time.Time{}, fmt.Errorf("update contact group %s: %w", g.ID, err)
	}
	return createdAt.UTC(), nil
}

// writeMembers stores the memberships of g, which has none stored, after
// checking every member exists.
func writeMembers(ctx context.Context, tx *sql.Tx, g *contact.Group) error {
	return writeRefs(ctx, tx, g.ID, fmt.Sprintf("contact group %q", g.Name),
		[]refList{{contactMembers, orEmpty(g.ContactIDs)}, {channelMembers, orEmpty(g.ChannelIDs)}},
		func(missing [][]string) error { return store.MissingMembers(g.Name, missing[0], missing[1]) },
		store.ErrMemberGone)
}

func clearMembers(ctx context.Context, tx *sql.Tx, groupID string) error {
	return clearRefs(ctx, tx, groupID, contactMembers, channelMembers)
}

// refList is the references of one kind an object holds.
type refList struct {
	kind refKind
	ids  []string
}

// writeRefs stores the references the object id holds, which has none
// stored, in list order, after checking every one exists. owner names the
// object in errors (`policy "p"`); missingErr words the error for the ids
// that name nothing, one list for each of lists; gone is the error when
// the foreign key catches one deleted meanwhile.
func writeRefs(ctx context.Context, tx *sql.Tx, id, owner string, lists []refList, missingErr func([][]string) error, gone error) error {
	missing := make([][]string, len(lists))
	for i, l := range lists {
		var err error
		if missing[i], err = missingRefs(ctx, tx, l.kind, l.ids); err != nil {
			return err
		}
	}
	if err := missingErr(missing); err != nil {
		return err
	}
	for _, l := range lists {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO `+l.kind.join+` (`+l.kind.holder+`, `+l.kind.column+`, position)
			SELECT $1, u.id, u.n FROM unnest($2::text[]) WITH ORDINALITY AS u(id, n)`, id, l.ids)
		switch {
		case isForeignKeyViolation(err):
			return fmt.Errorf("%s: %w", owner, gone)
		case err != nil:
			return fmt.Errorf("%s: add %ss: %w", owner, l.kind.what, err)
		}
	}
	return nil
}

// missingRefs returns the ids that name no object of kind k, in list
// order.
func missingRefs(ctx context.Context, tx *sql.Tx, k refKind, ids []string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `
		SELECT u.id FROM unnest($1::text[]) WITH ORDINALITY AS u(id, n)
		WHERE NOT EXISTS (SELECT 1 FROM `+k.table+` AS m WHERE m.id = u.id)
		ORDER BY u.n`, ids)
	if err != nil {
		return nil, fmt.Errorf("check %ss: %w", k.what, err)
	}
	out, err := store.CollectRows(rows, func(s store.Scanner) (id string, err error) {
		return id, s.Scan(&id)
	})
	if err != nil {
		return nil, fmt.Errorf("check %ss: %w", k.what, err)
	}
	return out, nil
}

// clearRefs removes the references of the given kinds that id holds.
func clearRefs(ctx context.Context, tx *sql.Tx, id string, kinds ...refKind) error {
	for _, k := range kinds {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+k.join+` WHERE `+k.holder+` = $1`, id); err != nil {
			return fmt.Errorf("%s: remove %ss: %w", id, k.what, err)
		}
	}
	return nil
}

// holderNames returns the names of the objects holding a reference of kind
// k to id, in name order; none for the zero kind.
func holderNames(ctx context.Context, tx *sql.Tx, k refKind, id string) ([]string, error) {
	if k == (refKind{}) {
		return nil, nil
	}
	rows, err := tx.QueryContext(ctx, `
		SELECT h.name FROM `+k.join+` AS m JOIN `+k.holders+` AS h ON h.id = m.`+k.holder+`
		WHERE m.`+k.column+` = $1
		ORDER BY h.name`, id)
	if err != nil {
		return nil, fmt.Errorf("delete %s %s: find what refers to it: %w", k.what, id, err)
	}
	names, err := store.CollectRows(rows, func(s store.Scanner) (name string, err error) {
		return name, s.Scan(&name)
	})
	if err != nil {
		return nil, fmt.Errorf("delete %s %s: find what refers to it: %w", k.what, id, err)
	}
	return names, nil
}

// refuseHeld refuses to delete the object id while groups hold it (as a
// member of kind members) or policies target it (as a target of kind
// targets), naming them; a zero kind holds nothing.
func refuseHeld(ctx context.Context, tx *sql.Tx, members, targets refKind, id string) error {
	groups, err := holderNames(ctx, tx, members, id)
	if err != nil {
		return err
	}
	policies, err := holderNames(ctx, tx, targets, id)
	if err != nil {
		return err
	}
	if len(groups)+len(policies) == 0 {
		return nil
	}
	return store.InUse(cmp.Or(members.what, targets.what)+" "+id, groups, policies)
}

// deleteByID deletes the row of table with that id; what names it in
// messages, held is the error when a foreign key refuses the deletion (nil
// where no key refers to table).
func deleteByID(ctx context.Context, tx *sql.Tx, table, what, id string, held error) error {
	res, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE id = $1`, id)
	switch {
	case held != nil && isForeignKeyViolation(err):
		return held
	case err != nil:
		return fmt.Errorf("delete %s %s: %w", what, id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("delete %s %s: %w", what, id, err)
	}
	if n == 0 {
		return fmt.Errorf("%s %s: %w", what, id, store.ErrNotFound)
	}
	return nil
}

// findGroup returns the group whose column (id or name) is value, with
// its members.
func findGroup(ctx context.Context, tx *sql.Tx, column, value string) (*contact.Group, error) {
	g, err := scanGroup(tx.QueryRowContext(ctx, `SELECT `+groupColumns+` FROM contact_groups WHERE `+column+` = $1`, value))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("contact group %q: %w", value, store.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("get contact group %q: %w", value, err)
	}
	return g, loadMembers(ctx, tx, []*contact.Group{g})
}

func listGroups(ctx context.Context, tx *sql.Tx, f store.GroupFilter, limit int) ([]*contact.Group, error) {
	q := `SELECT ` + groupColumns + ` FROM contact_groups WHERE id > $1`
	args := []any{f.Cursor}
	if f.Query != "" {
		q += ` AND name ILIKE '%' || $2 || '%' ESCAPE '\'`
		args = append(args, store.EscapeLike(f.Query))
	}
	q += ` ORDER BY id LIMIT ` + "$" + strconv.Itoa(len(args)+1)
	args = append(args, limit)
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list contact groups: %w", err)
	}
	gs, err := store.CollectRows(rows, scanGroup)
	if err != nil {
		return nil, fmt.Errorf("list contact groups: %w", err)
	}
	return gs, nil
}

// loadMembers sets the members of groups, in one query for all of them.
func loadMembers(ctx context.Context, tx *sql.Tx, groups []*contact.Group) error {
	if len(groups) == 0 {
		return nil
	}
	ids := make([]string, len(groups))
	for i, g := range groups {
		ids[i] = g.ID
	}
	rows, err := tx.QueryContext(ctx, `
		SELECT group_id, false, contact_id, position FROM contact_group_contacts
		WHERE group_id = ANY($1::text[])
		UNION ALL
		SELECT group_id, true, channel_id, position FROM contact_group_channels
		WHERE group_id = ANY($1::text[])
		ORDER BY 1, 2, 4`, ids)
	if err != nil {
		return fmt.Errorf("get group members: %w", err)
	}
	ms, err := store.CollectRows(rows, func(s store.Scanner) (store.Member, error) {
		var m store.Member
		var position int64
		err := s.Scan(&m.GroupID, &m.Channel, &m.ID, &position)
		return m, err
	})
	if err != nil {
		return fmt.Errorf("get group members: %w", err)
	}
	store.AttachMembers(groups, ms)
	return nil
}

func scanGroup(s store.Scanner) (*contact.Group, error) {
	var g contact.Group
	err := s.Scan(&g.ID, &g.Name, &g.Description, &g.CreatedAt, &g.UpdatedAt)
	g.CreatedAt, g.UpdatedAt = g.CreatedAt.UTC(), g.UpdatedAt.UTC()
	return &g, err
}

// orEmpty is ids, or an empty list for nil, which pgx would send as a NULL
// array.
func orEmpty(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}
