package ims

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
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
// keeps its own cache (Cache): oauth2's reuse rule (a fixed 10 s before
// expiry, no renewal on demand) is not the one a fleet needs.
type Source struct {
	cfg   Config
	cc    clientcredentials.Config
	cache *Cache   // nil in Refresh's throwaway Source
	extra []string // more secrets to scrub (Refresh's refresh tokens)
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
	s := &Source{cfg: cfg, cc: clientcredentials.Config{
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, TokenURL: cfg.URL,
		// IMS reads the credentials from the form body, and the scopes
		// as one comma-separated value (oauth2 would join a list with
		// spaces).
		Scopes:    []string{cfg.Scopes},
		AuthStyle: oauth2.AuthStyleInParams,
	}}
	s.cache = NewCache(s.fetch, cfg.Timeout, cfg.MinBackoff, cfg.MaxBackoff)
	return s, nil
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

// Token returns a valid access token (see Cache.Token).
func (s *Source) Token(ctx context.Context) (string, error) { return s.cache.Token(ctx) }

// Renew returns a token other than rejected (see Cache.Renew).
func (s *Source) Renew(ctx context.Context, rejected string) (string, error) {
	return s.cache.Renew(ctx, rejected)
}

// fetch mints once and reports it. The report comes before the cache's
// waiters go on, so a count is never behind what they have seen.
func (s *Source) fetch(ctx context.Context) (Token, error) {
	start := time.Now()
	tok, lifetime, err := s.mint(ctx, start)
	if s.cfg.OnMint != nil {
		s.cfg.OnMint(Mint{Ref: s.cfg.Ref, Lifetime: lifetime, Took: time.Since(start), Err: err})
	}
	return tok, err
}

// mint asks IMS for a token. Its lifetime counts from start, when the
// request left, so clock and network delays only shorten it.
func (s *Source) mint(ctx context.Context, start time.Time) (Token, time.Duration, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, s.cfg.HTTPClient)
	t, err := s.cc.Token(ctx)
	if err != nil {
		return Token{}, 0, s.fail(err)
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
		return Token{}, 0, s.newError(0, "", "IMS answered without a positive expires_in", nil, false)
	case t.TokenType != "" && !strings.EqualFold(t.TokenType, "bearer"):
		return Token{}, 0, s.newError(0, "", fmt.Sprintf("IMS answered token_type %q, want bearer", clip(t.TokenType)), nil, false)
	case !printable(t.AccessToken):
		return Token{}, 0, s.newError(0, "", "IMS answered an access token with white space or control characters", nil, false)
	}
	return Token{
		Access:    t.AccessToken,
		RefreshAt: start.Add(RefreshAfter(lifetime)),
		Expiry:    start.Add(lifetime),
	}, lifetime, nil
}

// RefreshAfter is how long after its mint a token of lifetime l is
// replaced: at 80 % of l, or 5 minutes before it expires if that is
// earlier, but never before half of l (a token living seconds, as in tests,
// would otherwise be replaced on every call).
func RefreshAfter(l time.Duration) time.Duration {
	return l - max(l/5, min(5*time.Minute, l/2))
}
