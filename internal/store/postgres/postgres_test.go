package postgres_test

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"testing"

	"github.com/tocsinhq/tocsin/internal/secret"
	"github.com/tocsinhq/tocsin/internal/store"
	"github.com/tocsinhq/tocsin/internal/store/postgres"
	"github.com/tocsinhq/tocsin/internal/store/postgres/pgtest"
	"github.com/tocsinhq/tocsin/internal/store/storetest"
)

// TestMain stops the throwaway PostgreSQL cluster, if the tests started one.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestPostgres(t *testing.T) {
	storetest.Run(t, newHarness)
}

// newHarness makes a new database, dropped when t ends.
func newHarness(t *testing.T) storetest.Harness {
	url := pgtest.NewDatabase(t)
	return storetest.Harness{
		Open: func(ctx context.Context, box *secret.Box) (store.Store, error) {
			db, err := postgres.Open(ctx, url, box)
			if err != nil {
				return nil, err // not a typed nil in a non-nil interface
			}
			return db, nil
		},
		Dump: func(ctx context.Context) ([]byte, error) { return pgtest.Dump(ctx, url) },
	}
}

func mustOpen(t *testing.T, url string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(t.Context(), url, storetest.NewBox(t))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// rawDB connects to url past the store, to look at or change its tables.
func rawDB(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestPostgresRefusesNewerSchema(t *testing.T) {
	url := pgtest.NewDatabase(t)
	if err := mustOpen(t, url).Close(); err != nil {
		t.Fatal(err)
	}
	raw := rawDB(t, url)
	if _, err := raw.ExecContext(t.Context(), `INSERT INTO schema_migrations (version) VALUES (9999)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	db, err := postgres.Open(t.Context(), url, storetest.NewBox(t))
	if err == nil {
		db.Close()
		t.Fatal("Open of a database with schema version 9999 succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "9999") {
		t.Errorf("Open of a database with schema version 9999: error %q does not name the version", err)
	}
}

func TestPostgresAppliesMigrationsOnce(t *testing.T) {
	url := pgtest.NewDatabase(t)
	for range 3 {
		if err := mustOpen(t, url).Close(); err != nil {
			t.Fatal(err)
		}
	}
	var n, newest int
	if err := rawDB(t, url).QueryRowContext(t.Context(), `SELECT count(*), max(version) FROM schema_migrations`).Scan(&n, &newest); err != nil {
		t.Fatal(err)
	}
	if n != newest || n < 1 {
		t.Errorf("schema_migrations has %d rows up to version %d after three opens, want one row per version", n, newest)
	}
}

func TestPostgresOpenBadURL(t *testing.T) {
	db, err := postgres.Open(t.Context(), "postgres://user:hunter2@127.0.0.1:bad/db", storetest.NewBox(t))
	if err == nil {
		db.Close()
		t.Fatal("Open with a bad URL succeeded")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Open's error shows the password: %v", err)
	}
}
