package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tocsinhq/tocsin/internal/store"
)

// DefaultIngestTokenTTL is how long the server trusts its copy of the
// ingest tokens before reading them again, when Options.IngestTokenTTL is
// zero: the most a token created or deleted through another replica takes
// to count here.
const DefaultIngestTokenTTL = 10 * time.Second

// tokenRetry is how long a copy of the tokens that could not be refreshed
// (the database did not answer) is used before the next attempt.
const tokenRetry = time.Second

// tokenCache holds the hashes of the ingest tokens, so that intake, at
// thousands of requests a second, checks a token without a database read.
// A copy is read when none is held or the one held is older than ttl;
// invalidate drops it when this server creates or deletes a token.
//
// When the copy is stale, one request reads the tokens again while the
// others go on with the stale copy rather than queue behind the read; only
// with no copy at all (at start, and after invalidate) do they wait.
type tokenCache struct {
	list   func(ctx context.Context) ([]*store.IngestToken, error)
	ttl    time.Duration
	now    func() time.Time
	logger *slog.Logger

	// mu serialises reads of the tokens and invalidate, so a read that
	// began before a token was created cannot store its copy after
	// invalidate dropped the old one.
	mu sync.Mutex
	// snap is the copy held, nil when there is none. Readers load it
	// without mu; only holders of mu store it.
	snap atomic.Pointer[tokenSnapshot]
}

type tokenSnapshot struct {
	hashes  map[[32]byte]bool
	expires time.Time
}

// has reports whether an ingest token has that hash.
func (c *tokenCache) has(ctx context.Context, hash [32]byte) (bool, error) {
	hashes, err := c.hashes(ctx)
	return hashes[hash], err
}

// invalidate drops the copy held: the next check reads the tokens.
func (c *tokenCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.snap.Store(nil)
}

func (c *tokenCache) hashes(ctx context.Context) (map[[32]byte]bool, error) {
	s := c.snap.Load()
	switch {
	case s != nil && c.now().Before(s.expires):
		return s.hashes, nil
	case s == nil:
		c.mu.Lock()
	case !c.mu.TryLock():
		return s.hashes, nil // another request is reading the tokens
	}
	defer c.mu.Unlock()
	return c.refresh(ctx)
}

// refresh reads the tokens, unless another request did while this one
// waited for c.mu, which it holds.
func (c *tokenCache) refresh(ctx context.Context) (map[[32]byte]bool, error) {
	now := c.now()
	s := c.snap.Load()
	if s != nil && now.Before(s.expires) {
		return s.hashes, nil
	}
	ts, err := c.list(ctx)
	if err != nil {
		if s == nil {
			return nil, fmt.Errorf("read ingest tokens: %w", err)
		}
		// Refusing every sender while the database is away helps no one;
		// the tokens it last had are kept a little longer.
		c.logger.WarnContext(ctx, "could not refresh the ingest tokens; using the copy read before", "err", err)
		c.snap.Store(&tokenSnapshot{hashes: s.hashes, expires: now.Add(tokenRetry)})
		return s.hashes, nil
	}
	hashes := make(map[[32]byte]bool, len(ts))
	for _, t := range ts {
		hashes[t.Hash] = true
	}
	c.snap.Store(&tokenSnapshot{hashes: hashes, expires: now.Add(c.ttl)})
	return hashes, nil
}
