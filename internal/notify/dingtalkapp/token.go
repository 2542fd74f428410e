package dingtalkapp

import (
	"context"
	"crypto/sha256"
	"time"

	"github.com/tocsinhq/tocsin/internal/notify"
)

// defaultExpireIn is DingTalk's documented token lifetime, assumed when an
// answer does not state one. If it is wrong, the call that meets the
// expired token fetches a new one.
const defaultExpireIn = 7200 * time.Second

// refreshMargin is how long before it expires a token is replaced: a tenth
// of its lifetime but at least 5 minutes — DingTalk's own advice is to
// cache a 7200-second token for about 7000 — and never more than half of
// it, or a short-lived token would be fetched again on every send.
func refreshMargin(life time.Duration) time.Duration {
	return min(max(life/10, 5*time.Minute), life/2)
}

// tokenKey names an app's credentials. The secret is part of it, hashed:
// two channels with the same Client ID and different secrets must not
// share a token, or a channel with a wrong secret would send with the
// token another channel's right one obtained.
type tokenKey struct {
	baseURL  string
	clientID string
	secret   [sha256.Size]byte
}

func keyOf(app App) tokenKey {
	return tokenKey{app.baseURL(), app.ClientID, sha256.Sum256([]byte(app.ClientSecret.Reveal()))}
}

// tokenEntry is one app's cached token. Client.mu guards it.
type tokenEntry struct {
	token   string    // "" until fetched, and after DingTalk refused it
	refresh time.Time // from then on, the next send fetches a new token
	expires time.Time // DingTalk stops accepting token then
	// flight is the fetch under way, if any. There is at most one per
	// app: DingTalk rate-limits the token endpoint, and a hundred sends
	// starting together must not fetch a hundred tokens.
	flight *flight
}

// flight is one fetch of a token. The fetching goroutine sets token or
// err, then closes done; the goroutines waiting for it read them after.
type flight struct {
	done  chan struct{}
	token string
	err   *notify.Error
}

// token returns the app's access token: the cached one while it is fresh,
// else a new one. Only one call per app fetches; the others wait for its
// result, or, while the old token is still valid, go on with that.
func (c *Client) token(ctx context.Context, app App) (string, *notify.Error) {
	key := keyOf(app)
	for {
		c.mu.Lock()
		now := c.now()
		e := c.entry(key, now)
		valid := e.token != "" && now.Before(e.expires)
		if valid && (now.Before(e.refresh) || e.flight != nil) {
			tok := e.token
			c.mu.Unlock()
			return tok, nil
		}
		if f := e.flight; f != nil {
			c.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return "", transport(ctx.Err()).With(0, "", ctx.Err())
			}
			// The fetcher's own context ending says nothing about the
			// app: fetch again, unless ours has ended too.
			if f.err != nil && f.err.Code == notify.Canceled.Code && ctx.Err() == nil {
				continue
			}
			return f.token, f.err
		}
		f := &flight{done: make(chan struct{})}
		e.flight = f
		old := ""
		if valid {
			old = e.token
		}
		c.mu.Unlock()

		tok, life, err := c.fetchToken(ctx, app)

		c.mu.Lock()
		if err == nil {
			// Lifetimes count from before the request, so the cache never
			// outlives the token.
			e.token, e.refresh, e.expires = tok, now.Add(life-refreshMargin(life)), now.Add(life)
		}
		e.flight = nil
		c.mu.Unlock()
		f.token, f.err = tok, err
		close(f.done)
		if err != nil && old != "" {
			// An early refresh failed, but the old token still works: use
			// it. The next send tries the refresh again.
			return old, nil
		}
		return tok, err
	}
}

// entry returns key's entry, creating it. Creating one first drops the
// entries that hold nothing of use (an app whose secret was changed leaves
// its old entry behind), so the map does not grow without bound.
// c.mu is held.
func (c *Client) entry(key tokenKey, now time.Time) *tokenEntry {
	if e := c.tokens[key]; e != nil {
		return e
	}
	for k, e := range c.tokens {
		if e.flight == nil && !now.Before(e.expires) {
			delete(c.tokens, k)
		}
	}
	if c.tokens == nil {
		c.tokens = make(map[tokenKey]*tokenEntry)
	}
	e := &tokenEntry{}
	c.tokens[key] = e
	return e
}

// invalidate forgets the app's token after DingTalk refused it, unless
// another call has already replaced it with a new one.
func (c *Client) invalidate(app App, token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.tokens[keyOf(app)]; e != nil && e.token == token {
		e.token, e.refresh, e.expires = "", time.Time{}, time.Time{}
	}
}

// tokenRequest and tokenAnswer are the token endpoint's JSON (chat-apis
// §2.1). DingTalk still calls the Client ID and Secret appKey and appSecret.
type tokenRequest struct {
	AppKey    string `json:"appKey"`
	AppSecret string `json:"appSecret"`
}

type tokenAnswer struct {
	AccessToken string `json:"accessToken"`
	ExpireIn    int64  `json:"expireIn"` // seconds
}

// fetchToken asks DingTalk for a token for the app.
func (c *Client) fetchToken(ctx context.Context, app App) (string, time.Duration, *notify.Error) {
	var a tokenAnswer
	req := tokenRequest{AppKey: app.ClientID, AppSecret: app.ClientSecret.Reveal()}
	if err := c.post(ctx, app, tokenPath, "", req, &a); err != nil {
		return "", 0, err
	}
	if a.AccessToken == "" {
		return "", 0, notDingTalk.With(0, "", errNoToken)
	}
	life := time.Duration(a.ExpireIn) * time.Second
	if a.ExpireIn <= 0 || a.ExpireIn > int64(24*time.Hour/time.Second) {
		life = defaultExpireIn
	}
	return a.AccessToken, life, nil
}
