package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/tocsinhq/tocsin/internal/channel"
	"github.com/tocsinhq/tocsin/internal/config"
	"github.com/tocsinhq/tocsin/internal/httpapi"
	"github.com/tocsinhq/tocsin/internal/notify"
	"github.com/tocsinhq/tocsin/internal/notify/dingtalk"
	"github.com/tocsinhq/tocsin/internal/notify/dingtalkapp"
	"github.com/tocsinhq/tocsin/internal/notify/lark"
	"github.com/tocsinhq/tocsin/internal/notify/webhook"
	"github.com/tocsinhq/tocsin/internal/notify/wecom"
	"github.com/tocsinhq/tocsin/internal/secret"
	"github.com/tocsinhq/tocsin/internal/store"
	"github.com/tocsinhq/tocsin/internal/store/postgres"
	"github.com/tocsinhq/tocsin/internal/store/sqlite"
)

// shutdownTimeout bounds the HTTP drain on shutdown.
const shutdownTimeout = 15 * time.Second

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := config.Load(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	if err != nil {
		return usageError("configuration: %w", err)
	}
	srv, err := Start(ctx, cfg, stdout, stderr)
	if err != nil {
		return err
	}
	return srv.Wait()
}

// Server is a running Tocsin: everything `tocsin serve` starts. Tests start
// one on 127.0.0.1:0 with Start and stop it by cancelling the context.
type Server struct {
	cfg    config.Config
	logger *slog.Logger
	store  store.Store
	addr   net.Addr
	// done is closed when the server has stopped and released everything;
	// err is its outcome.
	done chan struct{}
	err  error
}

// cleanup is one thing to release on shutdown; they run last-first.
type cleanup struct {
	name string
	fn   func() error
}

// Start opens the store, prepares the admin token, starts listening and
// serving, and returns. The server stops when ctx is cancelled; Wait
// returns after it has released everything.
func Start(ctx context.Context, cfg config.Config, stdout, stderr io.Writer) (_ *Server, err error) {
	logger := newLogger(cfg, stderr)
	var cleanups []cleanup
	// On a failed start, release what was opened, newest first.
	defer func() {
		if err != nil {
			runCleanups(logger, cleanups)
		}
	}()

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	// The key is written to disk only once the database has agreed to it:
	// a missing key file next to a database sealed with another key must
	// stop the start, not be replaced by a fresh key.
	key, err := secret.LoadKey(cfg.SecretKeyFile)
	freshKey := errors.Is(err, fs.ErrNotExist)
	if freshKey {
		key, err = secret.NewKey()
	}
	if err != nil {
		return nil, err
	}
	box, err := secret.NewBox(key)
	if err != nil {
		return nil, err
	}

	st, dbDesc, err := openStore(ctx, cfg, box)
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, cleanup{"store", st.Close})
	if err := checkSecretKey(ctx, cfg.SecretKeyFile, box, key, freshKey, st, logger); err != nil {
		return nil, err
	}

	tokenHash, err := adminToken(ctx, cfg, st, stdout)
	if err != nil {
		return nil, err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	httpClient := notify.NewHTTPClient(cfg.SendTimeout, dialGuard(cfg.Hosts))
	env := cfg.ChannelEnv()
	senders := &senders{
		env:      env,
		dingtalk: &dingtalk.Client{HTTP: httpClient, Now: time.Now, Timeout: cfg.SendTimeout},
		webhook:  &webhook.Client{HTTP: httpClient, Now: time.Now, Timeout: cfg.SendTimeout},
		wecom:    &wecom.Client{HTTP: httpClient, Timeout: cfg.SendTimeout},
		app:      &dingtalkapp.Client{HTTP: httpClient, Now: time.Now, Timeout: cfg.SendTimeout},
		lark:     &lark.Client{HTTP: httpClient, Now: time.Now, Timeout: cfg.SendTimeout},
	}
	pipe, err := startPipeline(ctx, cfg, st, senders, reg, logger)
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, cleanup{"pipeline", pipe.stop})
	rules, err := startRules(ctx, cfg, st, pipe.dispatcher, reg, logger)
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, cleanup{"rules", rules.stop})
	api := httpapi.New(httpapi.Options{
		Store:            st,
		Sender:           senders,
		Pipeline:         pipe.dispatcher,
		SilencesChanged:  pipe.silencesChanged,
		PoliciesChanged:  pipe.policiesChanged,
		Logger:           logger.With("component", "httpapi"),
		Registry:         reg,
		AdminTokenHash:   tokenHash,
		ChannelEnv:       env,
		Location:         cfg.Location,
		MaxBodyBytes:     cfg.MaxBodyBytes,
		Version:          Version,
		EventsReceived:   rules.ruler.EventsReceived,
		Rules:            rules.ruler,
		RulesChanged:     rules.changed,
		DatasourceClient: rules.datasources,
		MetricsWrite:     rules.metrics.WriteHandler(),
		MetricsOTLP:      rules.metrics.OTLPHandler(),
		PromAPI:          rules.promAPI,
	})

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	hs := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Long enough for a test-send and for a PromQL query, which the
		// engine stops at 2 minutes.
		WriteTimeout:   max(cfg.SendTimeout+30*time.Second, 150*time.Second),
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(logger.With("component", "http").Handler(), slog.LevelWarn),
	}
	s := &Server{cfg: cfg, logger: logger, store: st, addr: ln.Addr(), done: make(chan struct{})}
	fmt.Fprintf(stdout, "Tocsin listening on http://%s (%s)\n", ln.Addr(), dbDesc)
	logger.Info("listening", "addr", ln.Addr().String(), "database", dbDesc, "allow_hosts", cfg.Hosts.String())

	serveErr := make(chan error, 1)
	// The HTTP server goroutine is owned by the shutdown goroutine below,
	// which waits for it before releasing anything.
	go func() { serveErr <- hs.Serve(ln) }()
	go func() {
		defer close(s.done)
		var errs []error
		select {
		case <-ctx.Done():
			logger.Info("shutting down")
			shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
			if err := hs.Shutdown(shutCtx); err != nil {
				errs = append(errs, fmt.Errorf("http shutdown: %w", err))
			}
			cancel()
			if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
				errs = append(errs, fmt.Errorf("http server: %w", err))
			}
		case err := <-serveErr:
			// Serve stopped on its own (the listener failed): nothing
			// is left to drain.
			errs = append(errs, fmt.Errorf("http server: %w", err))
		}
		errs = append(errs, runCleanups(logger, cleanups))
		s.err = errors.Join(errs...)
		logger.Info("stopped")
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.addr }

// Wait blocks until the server has stopped and returns why it stopped
// (nil after a shutdown asked for by cancelling the context).
func (s *Server) Wait() error {
	<-s.done
	return s.err
}

func runCleanups(logger *slog.Logger, cs []cleanup) error {
	var errs []error
	for i := len(cs) - 1; i >= 0; i-- {
		if err := cs[i].fn(); err != nil {
			logger.Error("cleanup failed", "what", cs[i].name, "err", err)
			errs = append(errs, fmt.Errorf("close %s: %w", cs[i].name, err))
		}
	}
	return errors.Join(errs...)
}

func openStore(ctx context.Context, cfg config.Config, box *secret.Box) (store.Store, string, error) {
	if u := cfg.DatabaseURL.Reveal(); u != "" {
		db, err := postgres.Open(ctx, u, box)
		if err != nil {
			return nil, "", fmt.Errorf("open PostgreSQL: %w", err) // pgx masks the password itself
		}
		return db, "PostgreSQL", nil
	}
	path := filepath.Join(cfg.DataDir, "tocsin.db")
	db, err := sqlite.Open(ctx, path, box)
	if err != nil {
		return nil, "", err
	}
	return db, "SQLite " + path, nil
}

// keyCheckText is sealed with the secret key into the database on the first
// start; opening it on later starts proves the key is the same one.
const keyCheckText = "tocsin secret key check"

// checkSecretKey makes sure box holds the key this database's secrets were
// sealed with. On a new database it records a check value (and writes a
// freshly generated key file first); on a known one it refuses a key that
// cannot open the check value, naming the likely cause.
func checkSecretKey(ctx context.Context, path string, box *secret.Box, key []byte, fresh bool, st store.Store, logger *slog.Logger) error {
	stored, err := st.Meta(ctx, store.MetaSecretKeyCheck)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if fresh {
			if err := secret.WriteKey(path, key); err != nil {
				return err
			}
			logger.Info("generated a new secret key: back it up, channel secrets cannot be read without it; replicas sharing a database must share this file", "file", path)
		}
		sealed, err := box.Seal([]byte(keyCheckText), []byte(store.MetaSecretKeyCheck))
		if err != nil {
			return err
		}
		// Another replica may have initialised the database at the same
		// moment: whatever is stored now must open with our key.
		if stored, err = st.InitMeta(ctx, store.MetaSecretKeyCheck, base64.StdEncoding.EncodeToString(sealed)); err != nil {
			return fmt.Errorf("record secret key check: %w", err)
		}
	case err != nil:
		return fmt.Errorf("read secret key check: %w", err)
	}
	blob, err := base64.StdEncoding.DecodeString(stored)
	if err == nil {
		_, err = box.Open(blob, []byte(store.MetaSecretKeyCheck))
	}
	if err == nil {
		return nil
	}
	if fresh {
		return fmt.Errorf("the secret key file %s does not exist, but this database holds channel secrets sealed with a key: restore the key file from your backup (or point --secret-key-file at it)", path)
	}
	return fmt.Errorf("the secret key in %s is not the key this database's channel secrets were sealed with: use the key file from the first start (replicas sharing a database must share one key file)", path)
}

// adminToken returns the hash of the admin token. A token given in the
// configuration replaces the stored hash (that is how a lost token is
// replaced). Otherwise the stored hash is used; on the very first start a
// token is generated, its hash stored, and the token printed once.
func adminToken(ctx context.Context, cfg config.Config, st store.Store, stdout io.Writer) ([32]byte, error) {
	if t := cfg.AdminToken.Reveal(); t != "" {
		hash := httpapi.HashToken(t)
		if err := st.SetMeta(ctx, store.MetaAdminTokenHash, hex.EncodeToString(hash[:])); err != nil {
			return hash, fmt.Errorf("store admin token: %w", err)
		}
		return hash, nil
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return [32]byte{}, fmt.Errorf("generate admin token: %w", err)
	}
	token := "tsn_" + base64.RawURLEncoding.EncodeToString(raw[:])
	ours := httpapi.HashToken(token)
	// InitMeta keeps the first replica's token when several start at once.
	stored, err := st.InitMeta(ctx, store.MetaAdminTokenHash, hex.EncodeToString(ours[:]))
	if err != nil {
		return [32]byte{}, fmt.Errorf("store admin token: %w", err)
	}
	var hash [32]byte
	b, err := hex.DecodeString(stored)
	if err != nil || len(b) != len(hash) {
		return hash, fmt.Errorf("the stored admin token hash is damaged: start once with --admin-token to replace it")
	}
	copy(hash[:], b)
	if hash == ours {
		fmt.Fprintf(stdout, "Admin token (shown once, stored hashed; keep it): %s\n", token)
	}
	return hash, nil
}

// dialGuard lets Tocsin connect to public addresses, and to private,
// loopback or link-local ones only through hosts the operator allowed with
// --allow-hosts: a platform host name that resolves to 127.0.0.1 or a cloud
// metadata address is refused at connect time.
func dialGuard(allow channel.HostList) notify.DialGuard {
	return func(addr string, ip netip.Addr) error {
		if allow.AllowsAddr(addr, ip) || ip.IsGlobalUnicast() && !ip.IsPrivate() {
			return nil
		}
		return fmt.Errorf("%s resolves to %s, which is not a public address: %w", addr, ip, notify.ErrAddressRefused)
	}
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
