// Package sqlite is the SQLite store: Tocsin's default, one file next to the
// binary, no server to run. It implements store.Store with its own SQL and
// its own migrations (migrations/*.sql, embedded), on the pure-Go driver
// modernc.org/sqlite so the binary needs no C toolchain.
//
// Every connection runs in WAL mode (readers never wait for the writer),
// with foreign keys on and a busy timeout, and begins write transactions
// IMMEDIATE: a deferred transaction that reads and then writes can fail at
// once with SQLITE_BUSY when another connection wrote in between, because
// SQLite cannot upgrade its read snapshot; taking the write lock at BEGIN
// makes writers queue under the busy timeout instead.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strconv"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tocsinhq/tocsin/internal/secret"
	"github.com/tocsinhq/tocsin/internal/store"
)

// DB is a SQLite store. It is safe for concurrent use.
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

// busyTimeoutMS is how long a connection waits for another one's lock before
// it gives up with SQLITE_BUSY. Write transactions are short (milliseconds),
// so reaching it means something is wrong, not merely busy.
const busyTimeoutMS = 5000

// Open opens (creating if need be) the database file at path and brings its
// schema up to date. box seals the channel and data source secrets; a
// database must be opened with the key it was written with to read them.
func Open(ctx context.Context, path string, box *secret.Box) (*DB, error) {
	if box == nil {
		return nil, errors.New("open sqlite store: no secret box")
	}
	switch {
	case path == "":
		return nil, errors.New("open sqlite store: no database path")
	case path == ":memory:" || strings.HasPrefix(path, "file::memory:"):
		// Every pooled connection would get its own empty database.
		return nil, errors.New("open sqlite store: in-memory databases are not supported: give a file path")
	case strings.Contains(path, "?"):
		// The driver splits its options off at the first '?'.
		return nil, fmt.Errorf("open sqlite store: database path %q must not contain '?'", path)
	}
	sdb, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	// SQLite has one writer at a time; a bounded pool makes goroutines queue
	// in database/sql (in order, honouring their contexts) rather than poll
	// in SQLite's busy handler, while WAL still lets readers run side by
	// side. Idle connections are kept so their pragmas are not redone.
	conns := max(4, runtime.GOMAXPROCS(0))
	sdb.SetMaxOpenConns(conns)
	sdb.SetMaxIdleConns(conns)
	db := &DB{db: sdb, box: box}
	db.SQLPipeline = store.NewSQLPipeline(sdb, store.Dialect{ILike: "LIKE", SerialWrites: true}, &db.ids)
	if err := db.init(ctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	return db, nil
}

// dsn adds the connection settings to path. They go in the DSN, not in an
// Exec after Open, because database/sql opens connections as it pleases and
// each must get them.
func dsn(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.Itoa(busyTimeoutMS)+")")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	// A larger page cache keeps the alert tables' b-trees in memory: alerts
	// are keyed by a hash, so a batch touches pages all over the table.
	q.Add("_pragma", "cache_size(-65536)")
	// Checkpoint the WAL every 32 MiB rather than every 4: a page written
	// by many commits in between is copied back once.
	q.Add("_pragma", "wal_autocheckpoint(8192)")
	// Statement journals (multi-row upserts keep one) stay in memory.
	q.Add("_pragma", "temp_store(memory)")
	q.Set("_txlock", "immediate")
	return path + "?" + q.Encode()
}

func (db *DB) init(ctx context.Context) error {
	// Some file systems (network mounts) cannot hold a WAL; SQLite then
	// keeps its old journal mode without an error. Refuse rather than run
	// with readers and writers blocking each other.
	var mode string
	if err := db.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("cannot use write-ahead logging (journal_mode is %q): put the database on a local file system", mode)
	}
	// Write transactions begin IMMEDIATE, so two processes opening one new
	// file at once take turns, and the second finds the work done: the
	// migrations need no lock of their own.
	m := store.Migrator{
		FS: migrationFiles, Dir: "migrations",
		Applied: appliedVersions, Record: recordVersion,
	}
	return m.Run(ctx, db.db)
}

// Ping checks the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite: %w", err)
	}
	return nil
}

// Close closes the database; closing it again does nothing. Closing the
// last connection checkpoints the WAL into the database file.
func (db *DB) Close() error {
	return db.db.Close()
}

// isUniqueViolation reports whether err is a UNIQUE constraint failure, by
// its extended result code (the driver turns extended codes on).
func isUniqueViolation(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// isForeignKeyViolation reports whether err is a FOREIGN KEY constraint
// failure.
func isForeignKeyViolation(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

//go:embed migrations/*.sql
var migrationFiles embed.FS

const createSchemaMigrations = `
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    applied_at TEXT    NOT NULL
) STRICT`

// appliedVersions creates schema_migrations if need be and queries the
// versions it records.
func appliedVersions(ctx context.Context, tx *sql.Tx) (*sql.Rows, error) {
	if _, err := tx.ExecContext(ctx, createSchemaMigrations); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	return tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
}

func recordVersion(ctx context.Context, tx *sql.Tx, version int) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`, version)
	return err
}
