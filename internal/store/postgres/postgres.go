// Package postgres is the PostgreSQL store, for running several Tocsin
// replicas on one database. It implements store.Store with its own SQL and
// its own migrations (migrations/*.sql, embedded), through database/sql on
// the pgx driver. It keeps the same data as store/sqlite in PostgreSQL's
// types: bytea for sealed secrets, jsonb for settings, timestamptz for
// times; the contract suite in store/storetest keeps the two in agreement.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/tocsinhq/tocsin/internal/secret"
	"github.com/tocsinhq/tocsin/internal/store"
)

// DB is a PostgreSQL store. It is safe for concurrent use.
type DB struct {
	db *sql.DB
	// box seals channel secrets on the way in and opens them on the way out.
	box *secret.Box
}

var _ store.Store = (*DB)(nil)

// Open connects to the database at url (postgres://user:pass@host/db?… or
// "host=… dbname=…") and brings its schema up to date. box seals the
// channel secrets; a database must be opened with the key it was written
// with to read its channels.
func Open(ctx context.Context, url string, box *secret.Box) (*DB, error) {
	if box == nil {
		return nil, errors.New("open postgres store: no secret box")
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgx masks the password in its message.
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	sdb := stdlib.OpenDB(*cfg)
	// Each PostgreSQL connection is a server process: bound the pool, and
	// keep enough idle connections that bursts do not reconnect each time.
	sdb.SetMaxOpenConns(10)
	sdb.SetMaxIdleConns(10)
	sdb.SetConnMaxIdleTime(5 * time.Minute)
	db := &DB{db: sdb, box: box}
	if err := migrate(ctx, sdb); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("open postgres database %s on %s: %w", cfg.Database, cfg.Host, err)
	}
	return db, nil
}

// Ping checks the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w", err)
	}
	return nil
}

// Close closes the connections; closing again does nothing.
func (db *DB) Close() error {
	return db.db.Close()
}

// isUniqueViolation reports whether err is a unique_violation, by SQLSTATE.
func isUniqueViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one file of migrations/: NNNN_what.sql, applied in version
// order, each once.
type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	// Glob returns names sorted, and versions are zero-padded, so this is
	// version order; the check below catches a badly named file.
	var ms []migration
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		prefix, _, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(prefix)
		if err != nil || v != len(ms)+1 {
			return nil, fmt.Errorf("migration %s: want a name starting with version %04d", base, len(ms)+1)
		}
		body, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(body)})
	}
	return ms, nil
}

// migrationLock is the advisory lock key that serialises migrations: the
// ASCII of "tocsin". Replicas starting together take turns, and the later
// ones find the work done.
const migrationLock = 0x746f6373696e

const createSchemaMigrations = `
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer     PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)`

// migrate applies the migrations the database lacks, each in its own
// transaction holding the migration lock.
func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	if err := lockMigrations(ctx, tx); err != nil {
		return err
	}
	applied, err := appliedMigrations(ctx, tx, len(ms))
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, m := range ms {
		if !applied[m.version] {
			if err := applyMigration(ctx, db, m); err != nil {
				return err
			}
		}
	}
	return nil
}

// lockMigrations waits for the migration lock, which the transaction holds
// until it ends.
func lockMigrations(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
		return fmt.Errorf("take migration lock: %w", err)
	}
	return nil
}

// appliedMigrations creates schema_migrations if need be and returns the
// versions it records. A version newer than latest means a newer Tocsin has
// written this database: refuse, since this one cannot know what changed.
func appliedMigrations(ctx context.Context, tx *sql.Tx, latest int) (map[int]bool, error) {
	if _, err := tx.ExecContext(ctx, createSchemaMigrations); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	applied := map[int]bool{}
	newest := 0
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		applied[v] = true
		newest = max(newest, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	if newest > latest {
		return nil, fmt.Errorf("database schema is at version %d, newer than this Tocsin knows (%d): a newer Tocsin has used this database; run that version, or restore a backup taken before the upgrade", newest, latest)
	}
	return applied, nil
}

func applyMigration(ctx context.Context, db *sql.DB, m migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	defer tx.Rollback()
	if err := lockMigrations(ctx, tx); err != nil {
		return err
	}
	// Another replica may have applied it since migrate looked.
	var done bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.version).Scan(&done); err != nil {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	if done {
		return nil
	}
	// Without arguments pgx sends the file as one simple query, so it may
	// hold several statements.
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.version); err != nil {
		return fmt.Errorf("migration %s: record: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	return nil
}
