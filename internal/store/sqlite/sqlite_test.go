package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tocsinhq/tocsin/internal/channel"
	"github.com/tocsinhq/tocsin/internal/secret"
	"github.com/tocsinhq/tocsin/internal/store"
	"github.com/tocsinhq/tocsin/internal/store/sqlite"
	"github.com/tocsinhq/tocsin/internal/store/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, newHarness)
}

// newHarness makes a database file in a new temporary directory.
func newHarness(t *testing.T) storetest.Harness {
	path := filepath.Join(t.TempDir(), "tocsin.db")
	return storetest.Harness{
		Open: func(ctx context.Context, box *secret.Box) (store.Store, error) {
			db, err := sqlite.Open(ctx, path, box)
			if err != nil {
				return nil, err // not a typed nil in a non-nil interface
			}
			return db, nil
		},
		// Dump reads the files SQLite writes: the database, its write-ahead
		// log and the log's index. The -wal and -shm files exist only while
		// the database is open.
		Dump: func(context.Context) ([]byte, error) {
			var all []byte
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				b, err := os.ReadFile(p)
				if err != nil && !errors.Is(err, fs.ErrNotExist) {
					return nil, err
				}
				all = append(all, b...)
			}
			return all, nil
		},
	}
}

func mustOpen(tb testing.TB, path string) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(tb.Context(), path, storetest.NewBox(tb))
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// rawDB opens the file at path past the store, to look at or change its
// tables.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tocsin.db")
	if err := mustOpen(t, path).Close(); err != nil {
		t.Fatal(err)
	}
	raw := rawDB(t, path)
	if _, err := raw.ExecContext(t.Context(), `INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 'later')`); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	db, err := sqlite.Open(t.Context(), path, storetest.NewBox(t))
	if err == nil {
		db.Close()
		t.Fatal("Open of a database with schema version 9999 succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "9999") {
		t.Errorf("Open of a database with schema version 9999: error %q does not name the version", err)
	}
}

func TestOpenAppliesMigrationsOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tocsin.db")
	for range 3 {
		if err := mustOpen(t, path).Close(); err != nil {
			t.Fatal(err)
		}
	}
	var n, newest int
	if err := rawDB(t, path).QueryRowContext(t.Context(), `SELECT count(*), max(version) FROM schema_migrations`).Scan(&n, &newest); err != nil {
		t.Fatal(err)
	}
	if n != newest || n < 1 {
		t.Errorf("schema_migrations has %d rows up to version %d after three opens, want one row per version", n, newest)
	}
}

func TestOpenRefusesBadPaths(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file::memory:?cache=shared", filepath.Join(t.TempDir(), "a?b.db")} {
		if db, err := sqlite.Open(t.Context(), path, storetest.NewBox(t)); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded, want an error", path)
		}
	}
}

// benchChannel returns a channel to store b.N times under new names; the
// store only reads its settings, so the copies may share them.
func benchChannel(b *testing.B) *channel.Channel {
	return storetest.NewChannel(b, "bench")
}

func BenchmarkCreateChannel(b *testing.B) {
	db := mustOpen(b, filepath.Join(b.TempDir(), "tocsin.db"))
	tmpl := benchChannel(b)
	now := time.Now()
	i := 0
	for b.Loop() {
		ch := *tmpl
		ch.Name = fmt.Sprintf("bench-%d", i)
		if err := db.CreateChannel(b.Context(), &ch, now.Add(time.Duration(i)*time.Millisecond)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkListChannels(b *testing.B) {
	const n = 1000
	db := mustOpen(b, filepath.Join(b.TempDir(), "tocsin.db"))
	tmpl := benchChannel(b)
	now := time.Now()
	for i := range n {
		ch := *tmpl
		ch.Name = fmt.Sprintf("bench-%04d", i)
		if err := db.CreateChannel(b.Context(), &ch, now.Add(time.Duration(i)*time.Millisecond)); err != nil {
			b.Fatal(err)
		}
	}
	for _, bb := range []struct {
		name   string
		filter store.ChannelFilter
		want   int
	}{
		{"Page100", store.ChannelFilter{Limit: 100}, 100},
		{"Query", store.ChannelFilter{Query: "BENCH-00", Limit: 100}, 100},
		{"QueryRare", store.ChannelFilter{Query: "bench-0999"}, 1},
	} {
		b.Run(bb.name, func(b *testing.B) {
			for b.Loop() {
				items, _, err := db.ListChannels(b.Context(), bb.filter)
				if err != nil {
					b.Fatal(err)
				}
				if len(items) != bb.want {
					b.Fatalf("got %d channels, want %d", len(items), bb.want)
				}
			}
		})
	}
}
