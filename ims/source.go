package ims

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// DefaultURL is Adobe IMS's token endpoint.
const DefaultURL = "https://ims-na1.adobelogin.com/ims/token/v3"

// DefaultScopes are the scopes a Frame.io server-to-server integration asks
// for, comma-separated as IMS wants them.
const DefaultScopes = "openid,AdobeID,frame.s2s.all"

// Defaults of Config's zero fields.
const (
	DefaultTimeout    = 30 * time.Second
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = time.Minute
)

// Config describes one set of server-to-server credentials. Printing a
// Config with any fmt verb hides the client secret.
type Config struct {
	// Ref is the token ref the credentials belong to; errors name it.
	Ref string
	// URL is the IMS token endpoint; default DefaultURL.
	URL string
	// ClientID and ClientSecret are the OAuth server-to-server
	// credentials. The secret never appears in errors or printouts.
	ClientID     string
	ClientSecret string
	// Scopes is sent as the scope parameter, as is; default DefaultScopes.
	Scopes string
	// HTTPClient sends the token requests; default http.DefaultClient.
	HTTPClient *http.Client
	// Timeout bounds one mint attempt; default DefaultTimeout.
	Timeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between failed mint
	// attempts, doubling from the first to the second; defaults
	// DefaultMinBackoff and DefaultMaxBackoff. A 429's Retry-After wins
	// when longer.
	MinBackoff, MaxBackoff time.Duration
	// OnMint, if set, runs after every mint attempt (e.g. to count mints:
	// IMS throttles integrations that mint too often).
	OnMint func(Mint)
}

// Mint is one attempt to get an access token.
type Mint struct {
	Ref string
	// Lifetime is the new token's lifetime (expires_in); 0 on failure.
	Lifetime time.Duration
	// Took is how long the attempt took.
	Took time.Duration
	// Err is nil for a new token, else an *Error.
	Err error
}

// String describes c with the secret hidden.
func (c Config) String() string {
	secret := `""`
	if c.ClientSecret != "" {
		secret = "[REDACTED]"
	}
	return fmt.Sprintf("ims.Config{Ref:%q URL:%q ClientID:%q ClientSecret:%s Scopes:%q}", c.Ref, c.URL, c.ClientID, secret, c.Scopes)
}

// GoString is String, so %#v hides the secret too.
func (c Config) GoString() string { return c.String() }

// Format prints String for every verb, so no verb reaches the secret.
func (c Config) Format(f fmt.State, verb rune) { fmt.Fprint(f, c.String()) }

// Source mints and caches access tokens for one Config: a
// frameio.TokenSource. It is safe for concurrent use.
//
// It uses golang.org/x/oauth2/clientcredentials for the exchange (form
// encoding, the answer's JSON or form body, RFC 6749 error fields), and
// keeps its own cache: oauth2's reuse rule (a fixed 10 s before expiry, no
// renewal on demand) is not the one a fleet needs.
type Source struct {
	cfg Config
	cc  clientcredentials.Config

	mu       sync.Mutex
	cur      token
	flight   *flight   // the mint under way, if any
	failures int       // consecutive failed mints
	retryAt  time.Time // no mint attempt before this, after a failure
	lastErr  error     // the last failure, while retryAt holds
	extra    []string  // more secrets to scrub (Refresh's refresh tokens)
}

// token is an access token and when to stop using it.
type token struct {
	access    string
	refreshAt time.Time // mint a new one from here on
	expiry    time.Time // never use it from here on
}

// usable reports whether t may still be sent at now.
func (t token) usable(now time.Time) bool { return t.access != "" && now.Before(t.expiry) }

// flight is one mint that concurrent callers share.
type flight struct {
	done chan struct{}
	tok  string
	err  error
}

// New checks cfg and returns a Source for it; it mints nothing yet.
func New(cfg Config) (*Source, error) {
	if cfg.URL == "" {
		cfg.URL = DefaultURL
	}
	if cfg.Scopes == "" {
		cfg.Scopes = DefaultScopes
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.MinBackoff)
	}
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("ims: token ref %q: %w", cfg.Ref, err)
	}
	return &Source{cfg: cfg, cc: clientcredentials.Config{
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, TokenURL: cfg.URL,
		// IMS reads the credentials from the form body, and the scopes
		// as one comma-separated value (oauth2 would join a list with
		// spaces).
		Scopes:    []string{cfg.Scopes},
		AuthStyle: oauth2.AuthStyleInParams,
	}}, nil
}

// check names the first bad field; it never quotes the secret.
func (c Config) check() error {
	u, err := url.Parse(c.URL)
	switch {
	case err != nil:
		return errors.New("URL: not a valid URL")
	case u.Scheme != "https" && u.Scheme != "http", u.Host == "":
		return fmt.Errorf("URL: %q is not an http(s) URL with a host", u.Redacted())
	case u.User != nil:
		return errors.New("URL: must not contain credentials")
	case c.ClientID == "":
		return errors.New("ClientID: required")
	case !printable(c.ClientID):
		return errors.New("ClientID: contains white space or control characters")
	case c.ClientSecret == "":
		return errors.New("ClientSecret: required")
	case !printable(c.ClientSecret):
		return errors.New("ClientSecret: contains white space or control characters")
	case !printable(c.Scopes):
		return errors.New("Scopes: contains white space or control characters (separate scopes with commas)")
	}
	return nil
}

// printable reports whether s is free of white space and control
// characters.
func printable(s string) bool {
	for _, r := range s {
		if r <= ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// String describes s with the secret hidden and no token.
func (s *Source) String() string {
	return "ims.Source{" + strings.TrimPrefix(s.cfg.String(), "ims.Config{")
}

// GoString is String.
func (s *Source) GoString() string { return s.String() }

// Format prints String for every verb.
func (s *Source) Format(f fmt.State, verb rune) { fmt.Fprint(f, s.String()) }

// Token returns a valid access token: the cached one until its refresh
// time; from then on still the cached one while a new one is minted in the
// background; without a valid one it waits for a mint. While IMS fails it
// retries with back-off until ctx ends, meanwhile returning the cached
// token as long as it is valid.
func (s *Source) Token(ctx context.Context) (string, error) {
	for {
		s.mu.Lock()
		now := time.Now()
		cur, backingOff := s.cur, now.Before(s.retryAt)
		switch {
		case cur.usable(now) && (now.Before(cur.refreshAt) || backingOff && !isRejected(s.lastErr)):
			s.mu.Unlock()
			return cur.access, nil
		case cur.usable(now) && !backingOff:
			// Due for renewal but still valid: renew in the background, so
			// no call waits for IMS while the token in hand still works.
			s.startLocked()
			s.mu.Unlock()
			return cur.access, nil
		case backingOff && isRejected(s.lastErr):
			err := s.lastErr
			s.mu.Unlock()
			return "", err
		case backingOff:
			wait, last := s.retryAt.Sub(now), s.lastErr
			s.mu.Unlock()
			if err := sleep(ctx, wait); err != nil {
				return "", errors.Join(err, last)
			}
			continue
		}
		f := s.startLocked()
		s.mu.Unlock()
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
func (s *Source) Renew(ctx context.Context, rejected string) (string, error) {
	s.mu.Lock()
	now := time.Now()
	if s.cur.usable(now) && s.cur.access != rejected {
		tok := s.cur.access
		s.mu.Unlock()
		return tok, nil
	}
	if s.cur.access == rejected {
		s.cur = token{}
	}
	s.mu.Unlock()
	return s.Token(ctx)
}

// startLocked joins the mint under way or starts one. The mint runs on its
// own context, so a caller that gives up does not fail the others.
func (s *Source) startLocked() *flight {
	if s.flight != nil {
		return s.flight
	}
	f := &flight{done: make(chan struct{})}
	s.flight = f
	go s.run(f)
	return f
}

// run mints once, records the outcome for every caller, and reports it.
func (s *Source) run(f *flight) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	defer cancel()
	start := time.Now()
	tok, lifetime, err := s.mint(ctx, start)
	s.mu.Lock()
	if err == nil {
		s.cur, s.failures, s.retryAt, s.lastErr = tok, 0, time.Time{}, nil
	} else {
		s.failures++
		s.retryAt, s.lastErr = time.Now().Add(s.backoff(err)), err
	}
	s.flight = nil
	f.tok, f.err = tok.access, err
	s.mu.Unlock()
	// Reported before the waiters go on, so a count is never behind what
	// they have seen.
	if s.cfg.OnMint != nil {
		s.cfg.OnMint(Mint{Ref: s.cfg.Ref, Lifetime: lifetime, Took: time.Since(start), Err: err})
	}
	close(f.done)
}

// backoff is the wait after the failures-th consecutive failure: doubling
// from MinBackoff to MaxBackoff with ±20 % jitter (so a fleet restarted at
// once does not retry in step), or the server's Retry-After if longer.
func (s *Source) backoff(err error) time.Duration {
	d := s.cfg.MinBackoff
	for i := 1; i < s.failures && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.cfg.MaxBackoff)
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	var e *Error
	if errors.As(err, &e) && e.Wait > d {
		d = e.Wait
	}
	return d
}

// mint asks IMS for a token. Its lifetime counts from start, when the
// request left, so clock and network delays only shorten it.
func (s *Source) mint(ctx context.Context, start time.Time) (token, time.Duration, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, s.cfg.HTTPClient)
	t, err := s.cc.Token(ctx)
	if err != nil {
		return token{}, 0, s.fail(err)
	}
	var lifetime time.Duration
	switch {
	case t.ExpiresIn > 0:
		lifetime = time.Duration(t.ExpiresIn) * time.Second
	case !t.Expiry.IsZero():
		lifetime = t.Expiry.Sub(start)
	}
	switch {
	case lifetime <= 0:
		return token{}, 0, s.newError(0, "", "IMS answered without a positive expires_in", nil, false)
	case t.TokenType != "" && !strings.EqualFold(t.TokenType, "bearer"):
		return token{}, 0, s.newError(0, "", fmt.Sprintf("IMS answered token_type %q, want bearer", clip(t.TokenType)), nil, false)
	case !printable(t.AccessToken):
		return token{}, 0, s.newError(0, "", "IMS answered an access token with white space or control characters", nil, false)
	}
	return token{
		access:    t.AccessToken,
		refreshAt: start.Add(RefreshAfter(lifetime)),
		expiry:    start.Add(lifetime),
	}, lifetime, nil
}

// RefreshAfter is how long after its mint a token of lifetime l is
// replaced: at 80 % of l, or 5 minutes before it expires if that is
// earlier, but never before half of l (a token living seconds, as in tests,
// would otherwise be replaced on every call).
func RefreshAfter(l time.Duration) time.Duration {
	return l - max(l/5, min(5*time.Minute, l/2))
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
