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
	"log/slog"
	"net"
	"net/http"
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
	key, created, err := secret.LoadOrCreateKey(cfg.SecretKeyFile)
	if err != nil {
		return nil, err
	}
	if created {
		logger.Info("generated a new secret key: back it up, channel secrets cannot be read without it", "file", cfg.SecretKeyFile)
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

	tokenHash, err := adminToken(ctx, cfg, st, stdout)
	if err != nil {
		return nil, err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	httpClient := notify.NewHTTPClient(cfg.SendTimeout)
	env := channel.Env{DingTalkRobotBase: cfg.DingTalkRobotBase(), Allow: cfg.Hosts}
	senders := &senders{
		env:      env,
		dingtalk: &dingtalk.Client{HTTP: httpClient, Now: time.Now, Timeout: cfg.SendTimeout},
	}
	api := httpapi.New(httpapi.Options{
		Store:          st,
		Sender:         senders,
		Logger:         logger.With("component", "httpapi"),
		Registry:       reg,
		AdminTokenHash: tokenHash,
		ChannelEnv:     env,
		Location:       cfg.Location,
		MaxBodyBytes:   cfg.MaxBodyBytes,
	})

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	hs := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      cfg.SendTimeout + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.With("component", "http").Handler(), slog.LevelWarn),
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
		case err := <-serveErr:
			errs = append(errs, fmt.Errorf("http server: %w", err))
		}
		shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		if err := hs.Shutdown(shutCtx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
		cancel()
		if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) && len(errs) == 0 {
			errs = append(errs, err)
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
			return nil, "", fmt.Errorf("open PostgreSQL: %s", secret.Redact(err.Error(), u))
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

// adminToken returns the hash of the admin token. A token given in the
// configuration wins. Otherwise the stored hash is used; on the very first
// start a token is generated, its hash stored, and the token printed once.
func adminToken(ctx context.Context, cfg config.Config, st store.Store, stdout io.Writer) ([32]byte, error) {
	if t := cfg.AdminToken.Reveal(); t != "" {
		return httpapi.HashToken(t), nil
	}
	var hash [32]byte
	stored, err := st.Meta(ctx, store.MetaAdminTokenHash)
	switch {
	case err == nil:
		b, err := hex.DecodeString(stored)
		if err != nil || len(b) != len(hash) {
			return hash, fmt.Errorf("the stored admin token hash is damaged: start once with --admin-token to replace it")
		}
		copy(hash[:], b)
		return hash, nil
	case !errors.Is(err, store.ErrNotFound):
		return hash, fmt.Errorf("read admin token: %w", err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return hash, fmt.Errorf("generate admin token: %w", err)
	}
	token := "tsn_" + base64.RawURLEncoding.EncodeToString(raw[:])
	hash = httpapi.HashToken(token)
	if err := st.SetMeta(ctx, store.MetaAdminTokenHash, hex.EncodeToString(hash[:])); err != nil {
		return hash, fmt.Errorf("store admin token: %w", err)
	}
	fmt.Fprintf(stdout, "Admin token (shown once, stored hashed; keep it): %s\n", token)
	return hash, nil
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
