package frameio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultBaseURL is Frame.io's v2 API.
const DefaultBaseURL = "https://api.frame.io/v2"

// Defaults applied by New to zero Options fields.
const (
	DefaultUserAgent     = "frameq/dev"
	DefaultAPITimeout    = 45 * time.Second // longer than the server's own 30 s limit
	DefaultUploadMinRate = 1 << 20          // bytes/s
	// uploadBaseTimeout is a part PUT's allowance before its bytes count.
	uploadBaseTimeout = 60 * time.Second
)

// Options configures a Client. Printing Options with any fmt verb hides the
// token and never calls the token source.
type Options struct {
	// BaseURL is the API root; default DefaultBaseURL. It must be http(s),
	// without credentials, query or fragment; a trailing slash is tolerated.
	BaseURL string
	// Token is the bearer token. It never appears in errors, logs or panics.
	// Set it or Tokens, not both.
	Token string
	// Tokens supplies tokens that change over time (e.g. minted by Adobe
	// IMS) instead of a static Token: each call takes the current one and
	// renews it once on a 401 (see TokenSource). Every token it returns is
	// redacted like Token.
	Tokens TokenSource
	// UserAgent defaults to DefaultUserAgent.
	UserAgent string
	// HTTPClient defaults to a client with a tuned Transport (keep-alives,
	// 64 idle connections per host) and no global timeout: timeouts are
	// per call (APITimeout, UploadMinRate).
	HTTPClient *http.Client
	// APITimeout bounds each API call, body included; default
	// DefaultAPITimeout.
	APITimeout time.Duration
	// UploadMinRate (bytes/s) bounds a part PUT of n bytes to
	// 60s + n/UploadMinRate; default DefaultUploadMinRate.
	UploadMinRate int64
	// BeforeCall runs before every API request (not before part uploads:
	// presigned URLs are not rate limited), e.g. to wait for a rate-limit
	// permit. A non-nil error aborts the call and is returned wrapped in an
	// *apierr.Error with NotSent set.
	BeforeCall func(ctx context.Context, c Call) error
	// Permit, when set, runs instead of BeforeCall and may return sent,
	// which is called with the time the request was written to the
	// connection: when a rate limiter's permit was really used, however
	// long the process was starved after the permit (throttle.Permit.Sent).
	Permit func(ctx context.Context, c Call) (sent func(at time.Time), err error)
	// AfterCall runs after every API request and every part upload that was
	// attempted, with what happened.
	AfterCall func(ctx context.Context, c Call, r Result)
	// LegacyTokenAuth sends x-frameio-legacy-token-auth: true on every API
	// call (never on part PUTs): V4 accepts a legacy developer token only
	// with it, on accounts migrated to V4 but not yet on the Admin Console.
	LegacyTokenAuth bool
}

// String describes o with the token hidden.
func (o Options) String() string {
	return fmt.Sprintf("frameio.Options{BaseURL:%q Token:%s Tokens:%t UserAgent:%q APITimeout:%v UploadMinRate:%d HTTPClient:%t BeforeCall:%t Permit:%t AfterCall:%t LegacyTokenAuth:%t}",
		o.BaseURL, hidden(o.Token), o.Tokens != nil, o.UserAgent, o.APITimeout, o.UploadMinRate,
		o.HTTPClient != nil, o.BeforeCall != nil, o.Permit != nil, o.AfterCall != nil, o.LegacyTokenAuth)
}

// GoString is String, so %#v hides the token too.
func (o Options) GoString() string { return o.String() }

// Format prints String for every verb, so no verb (%+v, %x, ...) reaches the
// token through reflection.
func (o Options) Format(f fmt.State, verb rune) { fmt.Fprint(f, o.String()) }

// hidden says whether a secret is set without showing it.
func hidden(secret string) string {
	if secret == "" {
		return `""`
	}
	return "[REDACTED]"
}

// config is validated Options with defaults applied.
type config struct {
	base          *url.URL
	token         string
	tokens        TokenSource // nil: token is static
	seen          *secrets    // tokens the source returned, for redaction
	userAgent     string
	hc            *http.Client
	apiTimeout    time.Duration
	uploadMinRate int64
	before        func(context.Context, Call) (func(time.Time), error)
	after         func(context.Context, Call, Result)
	legacyAuth    bool
}

// validate checks o and fills in defaults. Errors name the field and never
// echo the token or URL credentials.
func (o Options) validate() (config, error) {
	c := config{
		token:         o.Token,
		tokens:        o.Tokens,
		seen:          &secrets{},
		userAgent:     o.UserAgent,
		hc:            o.HTTPClient,
		apiTimeout:    o.APITimeout,
		uploadMinRate: o.UploadMinRate,
		before:        o.Permit,
		after:         o.AfterCall,
		legacyAuth:    o.LegacyTokenAuth,
	}
	switch {
	case o.Permit != nil && o.BeforeCall != nil:
		return config{}, errors.New("frameio: Options.BeforeCall and Options.Permit: set one, not both")
	case o.BeforeCall != nil:
		c.before = func(ctx context.Context, call Call) (func(time.Time), error) { return nil, o.BeforeCall(ctx, call) }
	}
	base, err := parseBaseURL(o.BaseURL)
	if err != nil {
		return config{}, fmt.Errorf("frameio: Options.BaseURL: %w", err)
	}
	c.base = base
	switch {
	case o.Tokens != nil && o.Token != "":
		return config{}, errors.New("frameio: Options.Token and Options.Tokens: set one, not both")
	case o.Tokens == nil:
		if err := checkToken(o.Token); err != nil {
			return config{}, fmt.Errorf("frameio: Options.Token: %w", err)
		}
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	if !validHeaderValue(c.userAgent) {
		return config{}, errors.New("frameio: Options.UserAgent: contains control characters")
	}
	switch {
	case c.apiTimeout < 0:
		return config{}, fmt.Errorf("frameio: Options.APITimeout: must not be negative, got %v", c.apiTimeout)
	case c.apiTimeout == 0:
		c.apiTimeout = DefaultAPITimeout
	}
	switch {
	case c.uploadMinRate < 0:
		return config{}, fmt.Errorf("frameio: Options.UploadMinRate: must not be negative, got %d", c.uploadMinRate)
	case c.uploadMinRate == 0:
		c.uploadMinRate = DefaultUploadMinRate
	}
	if c.hc == nil {
		c.hc = defaultHTTPClient()
	}
	return c, nil
}

// parseBaseURL accepts an absolute http(s) URL and drops a trailing slash.
func parseBaseURL(s string) (*url.URL, error) {
	if s == "" {
		s = DefaultBaseURL
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, errors.New("not a valid URL") // url's error would echo credentials
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("scheme must be http or https, got %q", u.Scheme)
	case u.Host == "":
		return nil, errors.New("missing host")
	case u.User != nil:
		return nil, errors.New("must not contain credentials (use Options.Token)")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, errors.New("must not have a query or fragment")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	return u, nil
}

// checkToken rejects tokens that cannot be sent in a header; the message
// never includes the token.
func checkToken(t string) error {
	switch {
	case t == "":
		return errors.New("required")
	case strings.TrimSpace(t) != t:
		return errors.New("has leading or trailing white space")
	case !validHeaderValue(t):
		return errors.New("contains control characters")
	}
	return nil
}

// validHeaderValue reports whether v can be sent as a header value.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// defaultHTTPClient keeps many connections to one host alive (workers run
// dozens of concurrent calls) and has no global timeout.
func defaultHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}}
}
