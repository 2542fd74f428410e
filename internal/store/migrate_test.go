package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	_ "modernc.org/sqlite" // the "sqlite" driver, for Migrator.Run
)

// files returns a file system holding an empty migration for each name,
// in the directory "migrations".
func files(names ...string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for _, name := range names {
		fsys["migrations/"+name] = &fstest.MapFile{Data: []byte("-- " + name)}
	}
	return fsys
}

func TestLoadMigrations(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fsys  fstest.MapFS
		want  []string // names, in the order loaded
		fault string   // the file an error must name; "" for none
	}{
		{"none", files(), []string{}, ""},
		{"in order", files("0001_init.sql", "0002_more.sql", "0003_last.sql"), []string{"0001_init.sql", "0002_more.sql", "0003_last.sql"}, ""},
		{"ordered by number, not name", files("9_i.sql", "10_j.sql", "1_a.sql", "2_b.sql", "3_c.sql", "4_d.sql", "5_e.sql", "6_f.sql", "7_g.sql", "8_h.sql"),
			[]string{"1_a.sql", "2_b.sql", "3_c.sql", "4_d.sql", "5_e.sql", "6_f.sql", "7_g.sql", "8_h.sql", "9_i.sql", "10_j.sql"}, ""},
		{"other files ignored", files("0001_init.sql", "README.md", "0002_x.sql.orig"), []string{"0001_init.sql"}, ""},
		{"other directories ignored", fstest.MapFS{
			"migrations/0001_init.sql": {Data: []byte("--")},
			"other/0002_more.sql":      {Data: []byte("--")},
		}, []string{"0001_init.sql"}, ""},

		{"no version", files("0001_init.sql", "init.sql"), nil, "init.sql"},
		{"no underscore", files("0001.sql"), nil, "0001.sql"},
		{"letters in the version", files("00x1_init.sql"), nil, "00x1_init.sql"},
		{"signed version", files("+1_init.sql"), nil, "+1_init.sql"},
		{"version zero", files("0000_init.sql", "0001_more.sql"), nil, "0000_init.sql"},
		{"empty version", files("_init.sql"), nil, "_init.sql"},
		{"not starting at 1", files("0002_more.sql"), nil, "0002_more.sql"},
		{"gap", files("0001_init.sql", "0002_more.sql", "0004_last.sql"), nil, "0004_last.sql"},
		{"repeated version", files("0001_init.sql", "0002_a.sql", "0002_b.sql"), nil, "0002_b.sql"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := loadMigrations(tt.fsys, "migrations")
			if tt.fault != "" {
				if err == nil || !strings.Contains(err.Error(), tt.fault) {
					t.Fatalf("got error %v, want one naming %s", err, tt.fault)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for i, m := range ms {
				got = append(got, m.name)
				if m.version != i+1 || m.sql != "-- "+m.name && m.sql != "--" {
					t.Errorf("migration %d: version %d, SQL %q", i, m.version, m.sql)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("loaded %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCheckSchemaVersion(t *testing.T) {
	for _, tt := range []struct {
		applied []int
		known   int
		ok      bool
	}{
		{nil, 0, true},
		{nil, 3, true},
		{[]int{1, 2}, 3, true},
		{[]int{1, 2, 3}, 3, true},
		{[]int{3, 1, 2}, 3, true},
		{[]int{1, 2, 3, 4}, 3, false},
		{[]int{9999, 1}, 3, false},
		{[]int{1}, 0, false},
	} {
		err := checkSchemaVersion(tt.applied, tt.known)
		if (err == nil) != tt.ok {
			t.Errorf("checkSchemaVersion(%v, %d) = %v, want ok %v", tt.applied, tt.known, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "newer") {
			t.Errorf("checkSchemaVersion(%v, %d) = %v: want it to say the database is newer", tt.applied, tt.known, err)
		}
	}
}

// openSQLite opens a new SQLite database file, past any store.
func openSQLite(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// testMigrator is a Migrator on a SQLite schema_migrations table, counting
// the transactions that took its lock.
func testMigrator(fsys fstest.MapFS, locks *int) Migrator {
	return Migrator{
		FS:  fsys,
		Dir: "migrations",
		Lock: func(ctx context.Context, tx *sql.Tx) error {
			*locks++
			return nil
		},
		Applied: func(ctx context.Context, tx *sql.Tx) (*sql.Rows, error) {
			if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)`); err != nil {
				return nil, err
			}
			return tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
		},
		Record: func(ctx context.Context, tx *sql.Tx, version int) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, version)
			return err
		},
	}
}

func tables(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `SELECT name FROM sqlite_schema WHERE type = 'table' AND name != 'schema_migrations' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := CollectRows(rows, func(s Scanner) (string, error) {
		var name string
		err := s.Scan(&name)
		return name, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestMigratorRun(t *testing.T) {
	ctx := t.Context()
	db := openSQLite(t)
	fsys := fstest.MapFS{
		"migrations/0001_a.sql": {Data: []byte(`CREATE TABLE a (x INTEGER); CREATE TABLE b (x INTEGER);`)},
		"migrations/0002_c.sql": {Data: []byte(`CREATE TABLE c (x INTEGER); CREATE TABLE nope (;`)},
	}
	var locks int

	// The second migration fails: the first stays, and none of the second.
	err := testMigrator(fsys, &locks).Run(ctx, db)
	if err == nil || !strings.Contains(err.Error(), "0002_c.sql") {
		t.Fatalf("Run with a bad migration: got error %v, want one naming 0002_c.sql", err)
	}
	if got := tables(t, db); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("after a failed second migration the tables are %q, want a and b", got)
	}
	if locks != 3 {
		t.Errorf("Run took the lock in %d transactions, want 3 (read, then one a migration)", locks)
	}

	// Fixed, it applies only what is missing; again, it does nothing.
	fsys["migrations/0002_c.sql"] = &fstest.MapFile{Data: []byte(`CREATE TABLE c (x INTEGER);`)}
	for range 2 {
		if err := testMigrator(fsys, &locks).Run(ctx, db); err != nil {
			t.Fatal(err)
		}
	}
	if got := tables(t, db); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("after Run the tables are %q, want a, b and c", got)
	}

	// A database that a later release migrated is refused.
	delete(fsys, "migrations/0002_c.sql")
	err = testMigrator(fsys, &locks).Run(ctx, db)
	if err == nil || !strings.Contains(err.Error(), "version 2") {
		t.Errorf("Run on a database newer than the migrations: got error %v, want one naming version 2", err)
	}
}

func TestInTx(t *testing.T) {
	ctx := t.Context()
	db := openSQLite(t)
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	insert := func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO t (x) VALUES (1)`)
		return err
	}
	count := func() int {
		n, err := InTxValue(ctx, db, &sql.TxOptions{ReadOnly: true}, func(tx *sql.Tx) (n int, err error) {
			err = tx.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n)
			return n, err
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	if err := InTx(ctx, db, nil, insert); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Errorf("after a committed insert, %d rows, want 1", n)
	}

	errFail := errors.New("fail")
	err := InTx(ctx, db, nil, func(tx *sql.Tx) error {
		if err := insert(tx); err != nil {
			return err
		}
		return errFail
	})
	if err != errFail {
		t.Errorf("InTx returned %v, want fn's error as it is", err)
	}
	if n := count(); n != 1 {
		t.Errorf("after an insert in a failed transaction, %d rows, want 1: it was not rolled back", n)
	}
}
