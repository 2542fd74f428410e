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
	// box seals channel and data source secrets on the way in and opens
	// them on the way out.
	box *secret.Box
	ids store.IDs
	// SQLPipeline keeps the alert pipeline's tables.
	*store.SQLPipeline
}

var _ store.Store = (*DB)(nil)

// Open connects to the database at url (postgres://user:pass@host/db?… or
// "host=… dbname=…") and brings its schema up to date. box seals the
// channel and data source secrets; a database must be opened with the key
// it was written with to read them.
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
	db.SQLPipeline = store.NewSQLPipeline(sdb, store.Dialect{
		Dollar: true, ILike: "ILIKE",
		LockChannel: `SELECT pg_advisory_xact_lock(hashtext('tocsin-budget:' || ?::text))`,
	}, &db.ids)
	m := store.Migrator{
		FS: migrationFiles, Dir: "migrations",
		Lock: lockMigrations, Applied: appliedVersions, Record: recordVersion,
	}
	if err := m.Run(ctx, sdb); err != nil {
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

// isForeignKeyViolation reports whether err is a foreign_key_violation.
func isForeignKeyViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23503"
}

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the advisory lock key that serialises migrations: the
// ASCII of "tocsin". Replicas starting together take turns, and the later
// ones find the work done.
const migrationLock = 0x746f6373696e

// lockMigrations waits for the migration lock, which the transaction holds
// until it ends.
func lockMigrations(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
		return fmt.Errorf("take migration lock: %w", err)
	}
	return nil
}

const createSchemaMigrations = `
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer     PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)`

// appliedVersions creates schema_migrations if need be and queries the
// versions it records.
func appliedVersions(ctx context.Context, tx *sql.Tx) (*sql.Rows, error) {
	if _, err := tx.ExecContext(ctx, createSchemaMigrations); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	return tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
}

func recordVersion(ctx context.Context, tx *sql.Tx, version int) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, version)
	return err
}
