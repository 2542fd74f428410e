package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// migration is one file of a backend's embedded migrations directory,
// named NNNN_what.sql: applied in version order, each once.
type migration struct {
	version int
	name    string // the file name, for messages
	sql     string
}

// loadMigrations reads the *.sql files of dir in fsys in version order.
// Every name must start with its version and an underscore, and the
// versions must run 1, 2, 3… with none missing or repeated: a gap means a
// file was lost or misnamed, and running the rest would build a schema no
// release has.
func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	ms := make([]migration, 0, len(names))
	for _, name := range names {
		base := path.Base(name)
		v, ok := migrationVersion(base)
		if !ok {
			return nil, fmt.Errorf("migration %s: want a name like 0001_what.sql, starting with its version", base)
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("load migrations: %w", err)
		}
		ms = append(ms, migration{version: v, name: base, sql: string(body)})
	}
	// Versions are zero-padded, so the names are in order already; sorting
	// by number makes that true of any names that parse.
	slices.SortStableFunc(ms, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: want version %04d here (versions start at 1 and go up by one)", m.name, i+1)
		}
	}
	return ms, nil
}

// migrationVersion returns the version that name starts with: the digits
// before its first underscore.
func migrationVersion(name string) (int, bool) {
	prefix, _, found := strings.Cut(name, "_")
	if !found || prefix == "" || strings.Trim(prefix, "0123456789") != "" {
		return 0, false
	}
	v, err := strconv.Atoi(prefix)
	return v, err == nil && v > 0
}

// checkSchemaVersion refuses a database some of whose applied versions are
// newer than the known ones: a newer Tocsin has written it, and this one
// cannot know what changed.
func checkSchemaVersion(applied []int, known int) error {
	if len(applied) == 0 {
		return nil
	}
	if newest := slices.Max(applied); newest > known {
		return fmt.Errorf("database schema is at version %d, newer than this Tocsin knows (%d): a newer Tocsin has used this database; run that version, or restore a backup taken before the upgrade", newest, known)
	}
	return nil
}

// Migrator applies a backend's migrations: first a transaction that reads
// the applied versions (refusing a database newer than the migrations),
// then one transaction per missing migration, which checks again that the
// migration is missing, runs it and records it. The backend supplies the
// files and the SQL: Lock, Applied and Record each run in the transaction
// they are given.
type Migrator struct {
	// FS holds the backend's migrations (embedded), in Dir, named as
	// loadMigrations says.
	FS  fs.FS
	Dir string
	// Lock, if set, runs first in every transaction and makes other
	// processes migrating the same database wait until that transaction
	// ends, so they take turns and the later ones find the work done. A
	// backend whose write transactions take a database-wide lock as they
	// begin (SQLite's BEGIN IMMEDIATE) leaves it nil.
	Lock func(ctx context.Context, tx *sql.Tx) error
	// Applied creates the table of applied versions if need be and queries
	// the versions it holds, one a row.
	Applied func(ctx context.Context, tx *sql.Tx) (*sql.Rows, error)
	// Record adds version to the table of applied versions.
	Record func(ctx context.Context, tx *sql.Tx, version int) error
}

// Run brings db's schema up to date, applying the migrations it lacks in
// version order.
func (m Migrator) Run(ctx context.Context, db *sql.DB) error {
	ms, err := loadMigrations(m.FS, m.Dir)
	if err != nil {
		return err
	}
	applied, err := InTxValue(ctx, db, nil, func(tx *sql.Tx) ([]int, error) {
		return m.appliedVersions(ctx, tx)
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := checkSchemaVersion(applied, len(ms)); err != nil {
		return err
	}
	for _, mig := range ms {
		if slices.Contains(applied, mig.version) {
			continue
		}
		if err := InTx(ctx, db, nil, func(tx *sql.Tx) error { return m.apply(ctx, tx, mig) }); err != nil {
			return fmt.Errorf("migration %s: %w", mig.name, err)
		}
	}
	return nil
}

// appliedVersions takes the lock, if any, and returns the applied versions.
func (m Migrator) appliedVersions(ctx context.Context, tx *sql.Tx) ([]int, error) {
	if m.Lock != nil {
		if err := m.Lock(ctx, tx); err != nil {
			return nil, err
		}
	}
	rows, err := m.Applied(ctx, tx)
	if err != nil {
		return nil, err
	}
	vs, err := CollectRows(rows, func(s Scanner) (int, error) {
		var v int
		err := s.Scan(&v)
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("read applied versions: %w", err)
	}
	return vs, nil
}

func (m Migrator) apply(ctx context.Context, tx *sql.Tx, mig migration) error {
	// Another process may have applied it since Run looked.
	applied, err := m.appliedVersions(ctx, tx)
	if err != nil {
		return err
	}
	if slices.Contains(applied, mig.version) {
		return nil
	}
	// With no arguments, both drivers run every statement of the file
	// (pgx sends it as one simple query).
	if _, err := tx.ExecContext(ctx, mig.sql); err != nil {
		return err
	}
	if err := m.Record(ctx, tx, mig.version); err != nil {
		return fmt.Errorf("record: %w", err)
	}
	return nil
}
