package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tocsinhq/tocsin/internal/contact"
	"github.com/tocsinhq/tocsin/internal/store"
)

// CreateContact stores c with a new ID and CreatedAt = UpdatedAt = now, and
// sets those fields of c. On error c is left as it was.
func (db *DB) CreateContact(ctx context.Context, c *contact.Contact, now time.Time) error {
	n := store.NewContact(db.ids.New(now), c, now)
	err := store.InTx(ctx, db.db, nil, func(tx *sql.Tx) error {
		return insertContact(ctx, tx, &n)
	})
	if err != nil {
		return err
	}
	c.ID, c.CreatedAt, c.UpdatedAt = n.ID, n.CreatedAt, n.UpdatedAt
	return nil
}

// GetContact returns the contact with that id.
func (db *DB) GetContact(ctx context.Context, id string) (*contact.Contact, error) {
	return store.InTxValue(ctx, db.db, readOnly, func(tx *sql.Tx) (*contact.Contact, error) {
		return findContact(ctx, tx, "id", id)
	})
}

// GetContactByName returns the contact with exactly that name.
func (db *DB) GetContactByName(ctx context.Context, name string) (*contact.Contact, error) {
	return store.InTxValue(ctx, db.db, readOnly, func(tx *sql.Tx) (*contact.Contact, error) {
		return findContact(ctx, tx, "name", name)
	})
}

// UpdateContact replaces the contact c.ID with c, setting UpdatedAt to now.
// It sets c.UpdatedAt, and c.CreatedAt from the stored contact.
func (db *DB) UpdateContact(ctx context.Context, c *contact.Contact, now time.Time) error {
	n := *c
	n.UpdatedAt = store.StoredTime(now)
	createdAt, err := store.InTxValue(ctx, db.db, nil, func(tx *sql.Tx) (time.Time, error) {
		return updateContact(ctx, tx, &n)
	})
	if err != nil {
		return err
	}
	c.CreatedAt, c.UpdatedAt = createdAt, n.UpdatedAt
	return nil
}

// DeleteContact removes the contact with that id, unless a group holds it.
func (db *DB) DeleteContact(ctx context.Context, id string) error {
	return store.InTx(ctx, db.db, nil, func(tx *sql.Tx) error {
		if err := refuseHeld(ctx, tx, contactMembers, refKind{}, id); err != nil {
			return err
		}
		return deleteByID(ctx, tx, "contacts", "contact", id, store.InGroups("contact "+id, nil))
	})
}

// ListContacts returns a page of contacts in id order. f.Query matches
// names, mobiles and emails case-insensitively for ASCII letters only, as
// in ListChannels.
func (db *DB) ListContacts(ctx context.Context, f store.ContactFilter) ([]*contact.Contact, string, error) {
	limit := store.PageLimit(f.Limit)
	cs, err := store.InTxValue(ctx, db.db, readOnly, func(tx *sql.Tx) ([]*contact.Contact, error) {
		return listContacts(ctx, tx, f, limit+1)
	})
	if err != nil {
		return nil, "", err
	}
	page, next := store.Page(cs, limit, func(c *contact.Contact) string { return c.ID })
	return page, next, nil
}

const contactColumns = `id, name, mobile, dingtalk_user_id, lark_open_id, wecom_user_id, email, created_at, updated_at`

func insertContact(ctx context.Context, tx *sql.Tx, c *contact.Contact) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO contacts (`+contactColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, c.Mobile, c.DingTalkUserID, c.LarkOpenID, c.WeComUserID, c.Email,
		c.CreatedAt.UnixMilli(), c.UpdatedAt.UnixMilli())
	switch {
	case isUniqueViolation(err):
		return fmt.Errorf("contact name %q is taken: %w", c.Name, store.ErrConflict)
	case err != nil:
		return fmt.Errorf("create contact %q: %w", c.Name, err)
	}
	return nil
}

// updateContact writes every column but id and created_at, and returns
// created_at.
func updateContact(ctx context.Context, tx *sql.Tx, c *contact.Contact) (time.Time, error) {
	var createdAt int64
	err := tx.QueryRowContext(ctx, `
		UPDATE contacts
		SET name = ?, mobile = ?, dingtalk_user_id = ?, lark_open_id = ?, wecom_user_id = ?, email = ?, updated_at = ?
		WHERE id = ?
		RETURNING created_at`,
		c.Name, c.Mobile, c.DingTalkUserID, c.LarkOpenID, c.WeComUserID, c.Email, c.UpdatedAt.UnixMilli(), c.ID,
	).Scan(&createdAt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return time.Time{}, fmt.Errorf("contact %s: %w", c.ID, store.ErrNotFound)
	case isUniqueViolation(err):
		return time.Time{}, fmt.Errorf("contact name %q is taken: %w", c.Name, store.ErrConflict)
	case err != nil:
		return time.Time{}, fmt.Errorf("update contact %s: %w", c.ID, err)
	}
	return time.UnixMilli(createdAt).UTC(), nil
}

// findContact returns the contact whose column (id or name) is value.
func findContact(ctx context.Context, tx *sql.Tx, column, value string) (*contact.Contact, error) {
	c, err := scanContact(tx.QueryRowContext(ctx, `SELECT `+contactColumns+` FROM contacts WHERE `+column+` = ?`, value))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("contact %q: %w", value, store.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("get contact %q: %w", value, err)
	}
	return c, nil
}

func listContacts(ctx context.Context, tx *sql.Tx, f store.ContactFilter, limit int) ([]*contact.Contact, error) {
	q := `SELECT ` + contactColumns + ` FROM contacts WHERE id > ?`
	args := []any{f.Cursor}
	if f.Query != "" {
		// As in listChannels: lower() on both sides, LIKE's escapes.
		q += ` AND (lower(name) LIKE '%' || lower(?) || '%' ESCAPE '\'
		         OR lower(mobile) LIKE '%' || lower(?) || '%' ESCAPE '\'
		         OR lower(email) LIKE '%' || lower(?) || '%' ESCAPE '\')`
		like := store.EscapeLike(f.Query)
		args = append(args, like, like, like)
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, limit)
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list contacts: %w", err)
	}
	cs, err := store.CollectRows(rows, scanContact)
	if err != nil {
		return nil, fmt.Errorf("list contacts: %w", err)
	}
	return cs, nil
}

func scanContact(s store.Scanner) (*contact.Contact, error) {
	var c contact.Contact
	var createdAt, updatedAt int64
	err := s.Scan(&c.ID, &c.Name, &c.Mobile, &c.DingTalkUserID, &c.LarkOpenID, &c.WeComUserID, &c.Email, &createdAt, &updatedAt)
	c.CreatedAt, c.UpdatedAt = time.UnixMilli(createdAt).UTC(), time.UnixMilli(updatedAt).UTC()
	return &c, err
}
