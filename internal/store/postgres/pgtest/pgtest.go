// Package pgtest gives tests PostgreSQL databases, each new and empty and
// dropped when its test ends. They live on the server named by
// TOCSIN_TEST_POSTGRES_URL or, when that is unset, on a throwaway cluster
// that pgtest starts on first use (initdb and pg_ctl from PATH or
// /usr/lib/postgresql/*/bin, in a temporary directory, listening on
// 127.0.0.1 only) and stops when the test binary's tests end.
//
// Without a URL or binaries, tests that ask for a database are skipped,
// unless TOCSIN_REQUIRE_POSTGRES=1 (as in CI): then they fail, so a broken
// setup cannot pass as green.
//
// A package using pgtest calls Main from its TestMain.
package pgtest

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Environment variables pgtest reads.
const (
	// EnvURL names a server to create test databases on, as a URL or
	// keyword/value string whose user may CREATE DATABASE. The database it
	// names is only connected to, never changed.
	EnvURL = "TOCSIN_TEST_POSTGRES_URL"
	// EnvRequire, set to 1, turns "no PostgreSQL available" from a skip
	// into a failure.
	EnvRequire = "TOCSIN_REQUIRE_POSTGRES"
)

// errUnavailable is why there is no server when there is neither a URL nor
// a way to start a cluster: a reason to skip, not a failure.
var errUnavailable = errors.New("no PostgreSQL available")

// shared is the one server of the test binary, started by the first test
// that asks for a database and stopped by Main.
var shared struct {
	once sync.Once
	srv  *server
	err  error
}

// server is a PostgreSQL server tests make databases on.
type server struct {
	connString string  // to the maintenance database
	admin      *sql.DB // on connString: creates and drops the test databases
	about      string  // which server this is, for the log
	stop       func() error
}

// Main runs m's tests, then stops the throwaway cluster if one was
// started, and returns the exit code:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	if shared.srv != nil {
		if err := shared.srv.close(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// NewDatabase returns a connection string for a new, empty database, which
// is dropped when tb ends (after tb's later cleanups, which close its
// stores). It skips tb when no PostgreSQL is available (fails it under
// TOCSIN_REQUIRE_POSTGRES=1).
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	shared.once.Do(func() {
		start := time.Now()
		shared.srv, shared.err = startServer()
		if shared.err == nil {
			tb.Logf("pgtest: using %s (ready in %v)", shared.srv.about, time.Since(start).Round(time.Millisecond))
		}
	})
	switch err := shared.err; {
	case errors.Is(err, errUnavailable) && os.Getenv(EnvRequire) != "1":
		tb.Skipf("skipping: %v (set %s=1 to fail instead)", err, EnvRequire)
	case err != nil:
		tb.Fatalf("pgtest: %v", err)
	}
	srv := shared.srv
	name := "tocsin_test_" + hex.EncodeToString(randomBytes(8))
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := srv.admin.ExecContext(tb.Context(), "CREATE DATABASE "+ident); err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		// FORCE ends connections a failed test left open.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := srv.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			tb.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	connString, err := withDatabase(srv.connString, name)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	return connString
}

// Dump returns every row of every table of the database at connString, as
// PostgreSQL prints them (row::text; bytea in hex), one row per line: all
// the data a database account can read.
func Dump(ctx context.Context, connString string) ([]byte, error) {
	db, err := openDB(connString)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	tables, err := queryStrings(ctx, db, `
		SELECT format('%I.%I', table_schema, table_name) FROM information_schema.tables
		WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')
		ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("dump: list tables: %w", err)
	}
	var out bytes.Buffer
	for _, table := range tables {
		// table is quoted by format's %I.
		rows, err := queryStrings(ctx, db, `SELECT t::text FROM `+table+` t`)
		if err != nil {
			return nil, fmt.Errorf("dump %s: %w", table, err)
		}
		for _, r := range rows {
			fmt.Fprintf(&out, "%s %s\n", table, r)
		}
	}
	return out.Bytes(), nil
}

func queryStrings(ctx context.Context, db *sql.DB, q string) ([]string, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func openDB(connString string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		return nil, err
	}
	return stdlib.OpenDB(*cfg), nil
}

// withDatabase returns connString with its database replaced by name.
func withDatabase(connString, name string) (string, error) {
	if strings.HasPrefix(connString, "postgres://") || strings.HasPrefix(connString, "postgresql://") {
		u, err := url.Parse(connString)
		if err != nil {
			return "", fmt.Errorf("%s is not a valid URL", EnvURL)
		}
		u.Path = "/" + name
		u.RawPath = ""
		return u.String(), nil
	}
	// A keyword/value string: the last setting of a keyword wins.
	return connString + " dbname=" + name, nil
}

func startServer() (*server, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if connString := os.Getenv(EnvURL); connString != "" {
		srv, err := connect(ctx, connString, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvURL, err)
		}
		srv.about += " from " + EnvURL
		return srv, nil
	}
	return startCluster(ctx)
}

// connect opens the admin connection of a server; stop, if not nil, stops
// the server when the connection is closed.
func connect(ctx context.Context, connString string, stop func() error) (*server, error) {
	admin, err := openDB(connString)
	if err != nil {
		return nil, err
	}
	var version string
	if err := admin.QueryRowContext(ctx, "SHOW server_version").Scan(&version); err != nil {
		admin.Close()
		return nil, err
	}
	return &server{connString: connString, admin: admin, about: "PostgreSQL " + version, stop: stop}, nil
}

func (s *server) close() error {
	err := s.admin.Close()
	if s.stop != nil {
		err = errors.Join(err, s.stop())
	}
	return err
}

// startCluster makes a cluster in a new temporary directory and starts it.
// Durability is off (fsync, full-page writes, synchronous commit): the
// cluster lives as long as the tests, and starting it and creating each
// database stay fast.
func startCluster(ctx context.Context) (*server, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	owner, err := clusterOwner()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "tocsin-pg-")
	if err != nil {
		return nil, err
	}
	removeDir := func() error { return os.RemoveAll(dir) }
	if err := owner.own(dir); err != nil {
		removeDir()
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := owner.run(ctx, dir, filepath.Join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		removeDir()
		return nil, err
	}
	pgCtl := filepath.Join(bin, "pg_ctl")
	logFile := filepath.Join(dir, "postgres.log")
	// A port found free may be taken before the server binds it; try again.
	var port int
	for attempt := 1; ; attempt++ {
		port, err = freePort()
		if err == nil {
			err = writeConfig(data, dir, port)
		}
		if err == nil {
			err = owner.run(ctx, dir, pgCtl, "-D", data, "-l", logFile, "-w", "-t", "60", "start")
		}
		if err == nil {
			break
		}
		if attempt == 3 {
			log, _ := os.ReadFile(logFile)
			removeDir()
			return nil, fmt.Errorf("start cluster: %w\n%s", err, log)
		}
	}
	stop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err := owner.run(ctx, dir, pgCtl, "-D", data, "-m", "fast", "-w", "stop")
		return errors.Join(err, removeDir())
	}
	connString := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	srv, err := connect(ctx, connString, stop)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("connect to the cluster: %w", err), stop())
	}
	srv.about = fmt.Sprintf("a throwaway %s cluster (%s) on 127.0.0.1:%d", srv.about, bin, port)
	return srv, nil
}

// writeConfig sets the cluster's address, socket directory and speed
// settings. Appended settings override initdb's.
func writeConfig(data, socketDir string, port int) error {
	f, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	_, err = fmt.Fprintf(f, "\n# pgtest\nlisten_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = %s\nfsync = off\nfull_page_writes = off\nsynchronous_commit = off\n",
		port, quote(socketDir))
	return errors.Join(err, f.Close())
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// findBinaries returns the directory holding initdb and pg_ctl: the one of
// initdb on PATH, else the newest /usr/lib/postgresql/*/bin (Debian and
// Ubuntu keep them there, off PATH).
func findBinaries() (string, error) {
	var dirs []string
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	versioned, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(versioned, func(a, b string) int {
		va, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(a)), 64)
		vb, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(b)), 64)
		return cmp.Compare(vb, va) // newest first
	})
	dirs = append(dirs, versioned...)
	for _, dir := range dirs {
		if isFile(filepath.Join(dir, "initdb")) && isFile(filepath.Join(dir, "pg_ctl")) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("%w: %s is not set, and there are no initdb and pg_ctl on PATH or under /usr/lib/postgresql/*/bin", errUnavailable, EnvURL)
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails
	return b
}

// run runs a PostgreSQL program in dir, returning its output with any
// error.
func (o owner) run(ctx context.Context, dir, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	// The cluster's owner may not be allowed into our working directory,
	// and initdb and pg_ctl fail when they cannot read theirs.
	cmd.Dir = dir
	cmd.WaitDelay = 10 * time.Second
	o.setCredential(cmd)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return nil
}
