package chain

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/frameq/frameq/apierr"
	"github.com/frameq/frameq/ims"
)

// Defaults of Config's zero fields.
const (
	// DefaultLockTTL bounds how long a refresher holds the lock; its IMS
	// request is cut at half of it, so the lock never lapses while a
	// refresh token is in flight.
	DefaultLockTTL = 30 * time.Second
	DefaultPoll    = 100 * time.Millisecond
)

// LoginAgain is the reason a refused refresh gives.
const LoginAgain = "refresh token rejected: log in again (enqueue auth import)"

// Config is one token ref's shared chain. Printing it hides every secret.
type Config struct {
	// Client is the user OAuth client; Client.Ref names the token ref.
	Client ims.RefreshConfig
	// Redis holds the chain.
	Redis redis.UniversalClient
	// Key seals the chain: KeySize bytes (FRAMEQ_SECRET_KEY).
	Key []byte
	// Bootstrap is the refresh token to start the chain with when Redis
	// has none for the ref; ignored otherwise.
	Bootstrap string
	// LockTTL: see DefaultLockTTL. Poll is how often a process waiting for
	// another's refresh looks at the chain; default DefaultPoll.
	LockTTL, Poll time.Duration
	// MinBackoff and MaxBackoff bound the wait after a failed refresh
	// (IMS 429/5xx, network); defaults ims.DefaultMinBackoff and
	// ims.DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// OnRefresh, if set, runs after every refresh this process attempted
	// (not those it adopted from another process).
	OnRefresh func(Refresh)
}

// String describes c without secrets.
func (c Config) String() string {
	return fmt.Sprintf("chain.Config{Client:%v Bootstrap:%s Key:[REDACTED]}", c.Client, redacted(c.Bootstrap))
}

// GoString is String.
func (c Config) GoString() string { return c.String() }

// Format prints String for every verb.
func (c Config) Format(f fmt.State, verb rune) { fmt.Fprint(f, c.String()) }

func redacted(s string) string {
	if s == "" {
		return `""`
	}
	return "[REDACTED]"
}

// Refresh is one refresh this process attempted.
type Refresh struct {
	Ref string
	// Lifetime is the new access token's; 0 on failure.
	Lifetime, Took time.Duration
	// Chain describes the stored chain after the refresh (zero on failure).
	Chain Summary
	// Err is nil on success.
	Err error
}

// Source is a frameio.TokenSource over the shared chain. Safe for
// concurrent use; one refresh at a time per process (ims.Cache), and
// through the Redis lock one per fleet.
type Source struct {
	cfg   Config
	seal  *sealer
	cache *ims.Cache

	mu  sync.Mutex
	bad string // an access token the API refused: never adopt it again
}

// New checks cfg; it touches neither Redis nor IMS.
func New(cfg Config) (*Source, error) {
	ref := cfg.Client.Ref
	if err := cfg.Client.Check(); err != nil {
		return nil, fmt.Errorf("ims: token ref %q: %w", ref, err)
	}
	if cfg.Redis == nil {
		return nil, fmt.Errorf("ims: token ref %q: Redis: required for a shared refresh chain", ref)
	}
	if cfg.Bootstrap != "" && strings.ContainsAny(cfg.Bootstrap, " \t\r\n") {
		return nil, fmt.Errorf("ims: token ref %q: the bootstrap refresh token contains white space", ref)
	}
	if cfg.LockTTL <= 0 {
		cfg.LockTTL = DefaultLockTTL
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = ims.DefaultMinBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(ims.DefaultMaxBackoff, cfg.MinBackoff)
	}
	s, err := newSealer(cfg.Key, ref)
	if err != nil {
		return nil, fmt.Errorf("ims: token ref %q: user OAuth needs %w", ref, err)
	}
	src := &Source{cfg: cfg, seal: s}
	src.cache = ims.NewCache(src.sync, 2*cfg.LockTTL, cfg.MinBackoff, cfg.MaxBackoff)
	return src, nil
}

// String describes s without secrets.
func (s *Source) String() string {
	return "chain.Source{" + strings.TrimPrefix(s.cfg.String(), "chain.Config{")
}

// GoString is String.
func (s *Source) GoString() string { return s.String() }

// Format prints String for every verb.
func (s *Source) Format(f fmt.State, verb rune) { fmt.Fprint(f, s.String()) }

// Token returns a valid access token: this process's until it is due,
// then still it while the chain is renewed in the background; without a
// valid one it waits for the chain (another process's refresh, or its
// own). A refused refresh token is an error saying to log in again.
func (s *Source) Token(ctx context.Context) (string, error) { return s.cache.Token(ctx) }

// Renew returns a token other than rejected: this process's newer one, the
// chain's newer one, or a new one from IMS.
func (s *Source) Renew(ctx context.Context, rejected string) (string, error) {
	s.mu.Lock()
	s.bad = rejected
	s.mu.Unlock()
	return s.cache.Renew(ctx, rejected)
}

// sync takes the chain's access token if it is fresh, else refreshes the
// chain under the lock, or waits for the process that holds it.
func (s *Source) sync(ctx context.Context) (ims.Token, error) {
	rdb := s.cfg.Redis
	for {
		st, err := s.seal.load(ctx, rdb)
		if err != nil {
			return ims.Token{}, s.fatal(err)
		}
		if tok, ok := s.adopt(st); ok {
			return tok, nil
		}
		if st != nil && st.Rejected != "" {
			return ims.Token{}, s.rejected(st.Rejected)
		}
		lock, err := tryLock(ctx, rdb, s.cfg.Client.Ref, s.cfg.LockTTL)
		if err != nil {
			return ims.Token{}, err
		}
		if lock != "" {
			return s.refreshLocked(ctx, lock)
		}
		if err := ims.Sleep(ctx, s.cfg.Poll); err != nil {
			return ims.Token{}, fmt.Errorf("ims: token ref %q: waiting for another worker's refresh: %w", s.cfg.Client.Ref, err)
		}
	}
}

// adopt takes st's access token if it is fresh and not the refused one.
func (s *Source) adopt(st *State) (ims.Token, bool) {
	now := time.Now()
	if st == nil || st.AccessToken == "" || !now.Before(st.refreshAt()) || !now.Before(st.AccessExpiry) {
		return ims.Token{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.AccessToken == s.bad {
		return ims.Token{}, false
	}
	return st.token(), true
}

// refreshLocked refreshes the chain while holding lock: read it again
// (another process may have refreshed since), exchange its refresh token
// (or the bootstrap one if there is no chain), store the new link.
func (s *Source) refreshLocked(ctx context.Context, lock string) (ims.Token, error) {
	rdb, ref := s.cfg.Redis, s.cfg.Client.Ref
	st, err := s.seal.load(ctx, rdb)
	if err != nil {
		release(ctx, rdb, ref, lock)
		return ims.Token{}, s.fatal(err)
	}
	if tok, ok := s.adopt(st); ok {
		release(ctx, rdb, ref, lock)
		return tok, nil
	}
	if st != nil && st.Rejected != "" {
		release(ctx, rdb, ref, lock)
		return ims.Token{}, s.rejected(st.Rejected)
	}
	if st == nil {
		if s.cfg.Bootstrap == "" {
			release(ctx, rdb, ref, lock)
			return ims.Token{}, s.fatal(fmt.Errorf("no refresh token: set FRAMEQ_IMS_REFRESH_TOKEN%s or run enqueue auth import --token-ref %s", refSuffix(ref), ref))
		}
		st = &State{RefreshToken: s.cfg.Bootstrap, LoginAt: time.Now().UTC()}
	}
	// Cut the exchange well inside the lock's life: a lock that lapsed
	// mid-refresh would let another process spend the same token.
	rctx, cancel := context.WithTimeout(ctx, s.cfg.LockTTL/2)
	start := time.Now()
	g, err := ims.Refresh(rctx, s.cfg.Client, st.RefreshToken)
	cancel()
	took := time.Since(start)
	if err != nil {
		if errors.Is(err, apierr.ErrTokenRejected) {
			st.Rejected = LoginAgain + ": " + err.Error()
			st.Generation++
			if serr := s.seal.save(ctx, rdb, st, lock); serr != nil {
				release(ctx, rdb, ref, lock)
			}
			err = s.rejected(st.Rejected)
		} else {
			release(ctx, rdb, ref, lock)
		}
		s.report(Refresh{Ref: ref, Took: took, Err: err})
		return ims.Token{}, err
	}
	now := time.Now().UTC()
	next := *st
	next.RefreshToken = g.RefreshToken
	if next.RefreshToken == "" {
		next.RefreshToken = st.RefreshToken
	}
	next.AccessToken, next.AccessIssued, next.AccessExpiry = g.AccessToken, start.UTC(), start.Add(g.Lifetime).UTC()
	next.LastRenewal = now
	next.Mints = recent(st.Mints, now)
	next.Mints = append(next.Mints, now)
	next.Generation++
	if err := s.saveHard(ctx, &next, lock); err != nil {
		// The new refresh token exists only here now: keep serving the
		// access token; the next refresh will fail and ask for a login.
		s.report(Refresh{Ref: ref, Took: took, Err: err})
		return ims.Token{}, err
	}
	s.report(Refresh{Ref: ref, Lifetime: g.Lifetime, Took: took, Chain: next.Summary(ref, now)})
	return next.token(), nil
}

// saveHard stores a rotated chain, trying a few times: the old refresh
// token is already revoked.
func (s *Source) saveHard(ctx context.Context, st *State, lock string) error {
	var err error
	for try := 0; try < 5; try++ {
		if err = s.seal.save(context.WithoutCancel(ctx), s.cfg.Redis, st, lock); err == nil {
			return nil
		}
		_ = ims.Sleep(ctx, time.Duration(try+1)*200*time.Millisecond)
	}
	return err
}

func (s *Source) report(r Refresh) {
	if s.cfg.OnRefresh != nil {
		s.cfg.OnRefresh(r)
	}
}

// Status describes the stored chain without a secret; nil without one.
func (s *Source) Status(ctx context.Context) (*Summary, error) {
	st, err := s.seal.load(ctx, s.cfg.Redis)
	if err != nil || st == nil {
		return nil, err
	}
	sum := st.Summary(s.cfg.Client.Ref, time.Now())
	return &sum, nil
}

// rejected is the error for a refused refresh token.
func (s *Source) rejected(reason string) error {
	return &Error{Ref: s.cfg.Client.Ref, Reason: reason}
}

// fatal marks err as needing an operator (wrong key, no token): the token
// breaker holds the ref's jobs with it.
func (s *Source) fatal(err error) error {
	return &Error{Ref: s.cfg.Client.Ref, Reason: err.Error()}
}

// Error is a chain that cannot give tokens until an operator acts. It
// wraps apierr.ErrTokenRejected.
type Error struct {
	Ref, Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("ims: token ref %q: %s", e.Ref, e.Reason) }

// Unwrap is apierr.ErrTokenRejected.
func (e *Error) Unwrap() error { return apierr.ErrTokenRejected }

// recent keeps the times of the last hour.
func recent(ts []time.Time, now time.Time) []time.Time {
	var out []time.Time
	for _, t := range ts {
		if now.Sub(t) < time.Hour {
			out = append(out, t)
		}
	}
	return out
}

func refSuffix(ref string) string {
	if ref == "default" {
		return ""
	}
	return "_" + strings.ToUpper(ref)
}

// refreshAfter is ims.RefreshAfter.
func refreshAfter(l time.Duration) time.Duration { return ims.RefreshAfter(l) }
