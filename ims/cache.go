package ims

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"
)

// Token is an access token and when to renew and to drop it.
type Token struct {
	Access string
	// RefreshAt: fetch a new one from here on (see RefreshAfter).
	RefreshAt time.Time
	// Expiry: never send it from here on.
	Expiry time.Time
}

// usable reports whether t may still be sent at now.
func (t Token) usable(now time.Time) bool { return t.Access != "" && now.Before(t.Expiry) }

// Fetch gets a new access token: a mint (Source) or a shared refresh chain
// (package chain). An error wrapping apierr.ErrTokenRejected means the
// credentials were refused: retrying cannot help, so callers get it at
// once until the back-off ends. Other errors are retried with back-off,
// or after an *Error's Wait if that is longer.
type Fetch func(ctx context.Context) (Token, error)

// Cache is the token cache every token source shares: it keeps one access
// token, renews it in the background from its refresh time while it is
// still valid (no call waits for IMS while the token in hand works), lets
// concurrent callers share one fetch (IMS throttles integrations that
// mint too often), and backs off after failures. Safe for concurrent use.
type Cache struct {
	fetch                  Fetch
	timeout                time.Duration
	minBackoff, maxBackoff time.Duration

	mu       sync.Mutex
	cur      Token
	flight   *flight   // the fetch under way, if any
	failures int       // consecutive failed fetches
	retryAt  time.Time // no fetch before this, after a failure
	lastErr  error     // the last failure, while retryAt holds
}

// flight is one fetch that concurrent callers share.
type flight struct {
	done chan struct{}
	tok  string
	err  error
}

// NewCache returns a Cache over fetch. Each fetch runs on its own context
// bounded by timeout, so a caller that gives up does not fail the others;
// failed fetches wait minBackoff doubling to maxBackoff, with jitter.
func NewCache(fetch Fetch, timeout, minBackoff, maxBackoff time.Duration) *Cache {
	return &Cache{fetch: fetch, timeout: timeout, minBackoff: minBackoff, maxBackoff: maxBackoff}
}

// Token returns a valid access token: the cached one until its refresh
// time; from then on still the cached one while a new one is fetched in the
// background; without a valid one it waits for a fetch. While fetches fail
// it retries with back-off until ctx ends, meanwhile returning the cached
// token as long as it is valid.
func (c *Cache) Token(ctx context.Context) (string, error) {
	for {
		c.mu.Lock()
		now := time.Now()
		cur, backingOff := c.cur, now.Before(c.retryAt)
		refused := backingOff && isRejected(c.lastErr)
		switch {
		case cur.usable(now) && (now.Before(cur.RefreshAt) || backingOff && !refused):
			c.mu.Unlock()
			return cur.Access, nil
		case cur.usable(now) && !backingOff:
			c.startLocked()
			c.mu.Unlock()
			return cur.Access, nil
		case refused:
			err := c.lastErr
			c.mu.Unlock()
			return "", err
		case backingOff:
			wait, last := c.retryAt.Sub(now), c.lastErr
			c.mu.Unlock()
			if err := Sleep(ctx, wait); err != nil {
				return "", errors.Join(err, last)
			}
			continue
		}
		f := c.startLocked()
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-f.done:
		}
		if f.err == nil {
			return f.tok, nil
		}
		if isRejected(f.err) {
			return "", f.err
		}
		// A retryable failure set retryAt: the loop waits it out.
	}
}

// Renew returns a token other than rejected: the current one if another
// caller already replaced rejected, else a new one (the rejected token is
// dropped from the cache first, so no one sends it again).
func (c *Cache) Renew(ctx context.Context, rejected string) (string, error) {
	c.mu.Lock()
	if c.cur.usable(time.Now()) && c.cur.Access != rejected {
		tok := c.cur.Access
		c.mu.Unlock()
		return tok, nil
	}
	if c.cur.Access == rejected {
		c.cur = Token{}
	}
	c.mu.Unlock()
	return c.Token(ctx)
}

// current is the cached access token, if any ("" on a nil Cache).
func (c *Cache) current() string {
	if c == nil {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur.Access
}

// startLocked joins the fetch under way or starts one.
func (c *Cache) startLocked() *flight {
	if c.flight != nil {
		return c.flight
	}
	f := &flight{done: make(chan struct{})}
	c.flight = f
	go c.run(f)
	return f
}

// run fetches once and records the outcome for every caller.
func (c *Cache) run(f *flight) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	tok, err := c.fetch(ctx)
	c.mu.Lock()
	if err == nil {
		c.cur, c.failures, c.retryAt, c.lastErr = tok, 0, time.Time{}, nil
	} else {
		c.failures++
		c.retryAt, c.lastErr = time.Now().Add(c.backoff(err)), err
	}
	c.flight = nil
	f.tok, f.err = tok.Access, err
	c.mu.Unlock()
	close(f.done)
}

// backoff is the wait after the failures-th consecutive failure: doubling
// from minBackoff to maxBackoff with ±20 % jitter (so a fleet restarted at
// once does not retry in step), or the server's Retry-After if longer.
func (c *Cache) backoff(err error) time.Duration {
	d := c.minBackoff
	for i := 1; i < c.failures && d < c.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.maxBackoff)
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	var e *Error
	if errors.As(err, &e) && e.Wait > d {
		d = e.Wait
	}
	return d
}

// Sleep waits d or until ctx ends, whichever is first, and then returns
// ctx's error if it ended: the one wait of the IMS token sources.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
