package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
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
	return store.InTxValue(ctx, db.db, readOnly, func(tx *sql.Tx) (*contact.Group, error) {
		return findGroup(ctx, tx, "id", id)
	})
}

// GetContactGroupByName returns the group with exactly that name and its
// members.
func (db *DB) GetContactGroupByName(ctx context.Context, name string) (*contact.Group, error) {
	return store.InTxValue(ctx, db.db, readOnly, func(tx *sql.Tx) (*contact.Group, error) {
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
// order. f.Query matches names as in ListChannels.
func (db *DB) ListContactGroups(ctx context.Context, f store.GroupFilter) ([]*contact.Group, string, error) {
	limit := store.PageLimit(f.Limit)
	gs, err := store.InTxValue(ctx, db.db, readOnly, func(tx *sql.Tx) ([]*contact.Group, error) {
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
	_, err := tx.ExecContext(ctx, `INSERT INTO contact_groups (`+groupColumns+`) VALUES (?, ?, ?, ?, ?)`,
		g.ID, g.Name, g.Description, g.CreatedAt.UnixMilli(), g.UpdatedAt.UnixMilli())
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
	var createdAt int64
	err := tx.QueryRowContext(ctx, `
		UPDATE contact_groups SET name = ?, description = ?, updated_at = ?
		WHERE id = ?
		RETURNING created_at`,
		g.Name, g.Description, g.UpdatedAt.UnixMilli(), g.ID,
	).Scan(&createdAt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return time.Time{}, fmt.Errorf("contact group %s: %w", g.ID, store.ErrNotFound)
	case isUniqueViolation(err):
		return time.Time{}, fmt.Errorf("contact group name %q is taken: %w", g.Name, store.ErrConflict)
	case err != nil:
		return time.Time{}, fmt.Errorf("update contact group %s: %w", g.ID, err)
	}
	return time.UnixMilli(createdAt).UTC(), nil
}

// writeMembers stores the memberships of g, which has none stored, after
// checking every member exists.
func writeMembers(ctx context.Context, tx *sql.Tx, g *contact.Group) error {
	contacts, channels := jsonList(g.ContactIDs), jsonList(g.ChannelIDs)
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

// missing returns the ids of the JSON list ids that name no member of kind
// k, in list order.
func missing(ctx context.Context, tx *sql.Tx, k memberKind, ids string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `
		SELECT m.value FROM json_each(?) AS m
		WHERE NOT EXISTS (SELECT 1 FROM `+k.table+` WHERE id = m.value)
		ORDER BY m.key`, ids)
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

// insertMembers stores the JSON list ids as g's members of kind k, in
// list order.
func insertMembers(ctx context.Context, tx *sql.Tx, k memberKind, g *contact.Group, ids string) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO `+k.join+` (group_id, `+k.column+`, position)
		SELECT ?, value, key FROM json_each(?)`, g.ID, ids)
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
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+k.join+` WHERE group_id = ?`, groupID); err != nil {
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
		WHERE m.`+k.column+` = ?
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
	res, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE id = ?`, id)
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
	g, err := scanGroup(tx.QueryRowContext(ctx, `SELECT `+groupColumns+` FROM contact_groups WHERE `+column+` = ?`, value))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("contact group %q: %w", value, store.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("get contact group %q: %w", value, err)
	}
	return g, loadMembers(ctx, tx, []*contact.Group{g})
}

func listGroups(ctx context.Context, tx *sql.Tx, f store.GroupFilter, limit int) ([]*contact.Group, error) {
	q := `SELECT ` + groupColumns + ` FROM contact_groups WHERE id > ?`
	args := []any{f.Cursor}
	if f.Query != "" {
		q += ` AND lower(name) LIKE '%' || lower(?) || '%' ESCAPE '\'`
		args = append(args, store.EscapeLike(f.Query))
	}
	q += ` ORDER BY id LIMIT ?`
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
	list := jsonList(ids)
	rows, err := tx.QueryContext(ctx, `
		SELECT group_id, 0, contact_id, position FROM contact_group_contacts
		WHERE group_id IN (SELECT value FROM json_each(?))
		UNION ALL
		SELECT group_id, 1, channel_id, position FROM contact_group_channels
		WHERE group_id IN (SELECT value FROM json_each(?))
		ORDER BY 1, 2, 4`, list, list)
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
	var createdAt, updatedAt int64
	err := s.Scan(&g.ID, &g.Name, &g.Description, &createdAt, &updatedAt)
	g.CreatedAt, g.UpdatedAt = time.UnixMilli(createdAt).UTC(), time.UnixMilli(updatedAt).UTC()
	return &g, err
}

// jsonList is ids as a JSON array, for json_each: never null, which
// json_each would read as one NULL value.
func jsonList(ids []string) string {
	if len(ids) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(ids) // a []string always marshals
	return string(b)
}
