package postgres

import (
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

// DeleteContactGroup removes the group with that id and its memberships.
func (db *DB) DeleteContactGroup(ctx context.Context, id string) error {
	return store.InTx(ctx, db.db, nil, func(tx *sql.Tx) error {
		return deleteByID(ctx, tx, "contact_groups", "contact group", id)
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

// memberKind is one kind of group member: its join table and column, and
// the table of the members themselves.
type memberKind struct {
	what   string // for messages
	join   string
	column string
	table  string
}

var (
	contactMembers = memberKind{what: "contact", join: "contact_group_contacts", column: "contact_id", table: "contacts"}
	channelMembers = memberKind{what: "channel", join: "contact_group_channels", column: "channel_id", table: "channels"}
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
	contacts, channels := orEmpty(g.ContactIDs), orEmpty(g.ChannelIDs)
	missingContacts, err := missing(ctx, tx, contactMembers, contacts)
	if err != nil {
		return err
	}
	missingChannels, err := missing(ctx, tx, channelMembers, channels)
	if err != nil {
		return err
	}
	if err := store.MissingMembers(g.Name, missingContacts, missingChannels); err != nil {
		return err
	}
	if err := insertMembers(ctx, tx, contactMembers, g, contacts); err != nil {
		return err
	}
	return insertMembers(ctx, tx, channelMembers, g, channels)
}

// missing returns the ids that name no member of kind k, in list order.
func missing(ctx context.Context, tx *sql.Tx, k memberKind, ids []string) ([]string, error) {
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

// insertMembers stores ids as g's members of kind k, in list order.
func insertMembers(ctx context.Context, tx *sql.Tx, k memberKind, g *contact.Group, ids []string) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO `+k.join+` (group_id, `+k.column+`, position)
		SELECT $1, u.id, u.n FROM unnest($2::text[]) WITH ORDINALITY AS u(id, n)`, g.ID, ids)
	switch {
	case isForeignKeyViolation(err):
		return fmt.Errorf("contact group %q: %w", g.Name, store.ErrMemberGone)
	case err != nil:
		return fmt.Errorf("contact group %q: add %ss: %w", g.Name, k.what, err)
	}
	return nil
}

func clearMembers(ctx context.Context, tx *sql.Tx, groupID string) error {
	for _, k := range []memberKind{contactMembers, channelMembers} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+k.join+` WHERE group_id = $1`, groupID); err != nil {
			return fmt.Errorf("contact group %s: remove %ss: %w", groupID, k.what, err)
		}
	}
	return nil
}

// refuseHeld refuses to delete the member id of kind k while groups hold
// it, naming them.
func refuseHeld(ctx context.Context, tx *sql.Tx, k memberKind, id string) error {
	rows, err := tx.QueryContext(ctx, `
		SELECT g.name FROM `+k.join+` AS m JOIN contact_groups AS g ON g.id = m.group_id
		WHERE m.`+k.column+` = $1
		ORDER BY g.name`, id)
	if err != nil {
		return fmt.Errorf("delete %s %s: find its groups: %w", k.what, id, err)
	}
	names, err := store.CollectRows(rows, func(s store.Scanner) (name string, err error) {
		return name, s.Scan(&name)
	})
	if err != nil {
		return fmt.Errorf("delete %s %s: find its groups: %w", k.what, id, err)
	}
	if len(names) > 0 {
		return store.InGroups(k.what+" "+id, names)
	}
	return nil
}

// deleteByID deletes the row of table with that id; what names it in
// messages.
func deleteByID(ctx context.Context, tx *sql.Tx, table, what, id string) error {
	res, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE id = $1`, id)
	switch {
	case isForeignKeyViolation(err):
		return store.InGroups(what+" "+id, nil)
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
