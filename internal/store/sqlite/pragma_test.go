package sqlite

import (
	"crypto/rand"
	"path/filepath"
	"testing"

	"github.com/tocsinhq/tocsin/internal/secret"
)

// TestConnectionSettings holds several connections at once, so the pool
// must open new ones, and checks each got the DSN's settings.
func TestConnectionSettings(t *testing.T) {
	key := make([]byte, secret.KeySize)
	rand.Read(key)
	box, err := secret.NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "tocsin.db"), box)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range 3 {
		conn, err := db.db.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close() // held to the end, so the next one is new
		var journal string
		var foreignKeys, busyTimeout int
		if err := conn.QueryRowContext(t.Context(), `SELECT journal_mode, foreign_keys, timeout FROM pragma_journal_mode, pragma_foreign_keys, pragma_busy_timeout`).Scan(&journal, &foreignKeys, &busyTimeout); err != nil {
			t.Fatal(err)
		}
		if journal != "wal" || foreignKeys != 1 || busyTimeout != busyTimeoutMS {
			t.Errorf("connection %d: journal_mode %q, foreign_keys %d, busy_timeout %d; want wal, 1, %d", i, journal, foreignKeys, busyTimeout, busyTimeoutMS)
		}
	}
}
