package ims

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// RefreshConfig is a user OAuth client (web app, single-page or native
// app credentials) whose refresh tokens Refresh exchanges. Printing it with
// any fmt verb hides the secret.
type RefreshConfig struct {
	// Ref is the token ref; errors name it.
	Ref string
	// URL is the IMS token endpoint; default DefaultURL.
	URL string
	// ClientID is required; ClientSecret only for web-app credentials.
	ClientID     string
	ClientSecret string
	// HTTPClient sends the request; default http.DefaultClient.
	HTTPClient *http.Client
}

// String describes c with the secret hidden.
func (c RefreshConfig) String() string {
	secret := `""`
	if c.ClientSecret != "" {
		secret = "[REDACTED]"
	}
	return fmt.Sprintf("ims.RefreshConfig{Ref:%q URL:%q ClientID:%q ClientSecret:%s}", c.Ref, c.URL, c.ClientID, secret)
}

// GoString is String.
func (c RefreshConfig) GoString() string { return c.String() }

// Format prints String for every verb.
func (c RefreshConfig) Format(f fmt.State, verb rune) { fmt.Fprint(f, c.String()) }

// Check names the first bad field, never quoting the secret.
func (c RefreshConfig) Check() error {
	cc := Config{URL: c.URL, ClientID: c.ClientID, ClientSecret: c.ClientSecret, Scopes: DefaultScopes}
	if cc.URL == "" {
		cc.URL = DefaultURL
	}
	if cc.ClientSecret == "" {
		cc.ClientSecret = "-" // optional here: native apps have none
	}
	return cc.check()
}

// Grant is what one refresh returned.
type Grant struct {
	// AccessToken and RefreshToken are secrets: the refresh token used is
	// revoked, RefreshToken is the chain's next link.
	AccessToken, RefreshToken string
	// Lifetime is the access token's (expires_in).
	Lifetime time.Duration
}

// Refresh exchanges refreshToken (grant_type=refresh_token) for an access
// token and the next refresh token. Failures are *Error, scrubbed of
// every secret; IMS refusing the refresh token or the client (invalid_grant,
// invalid_client: a 4xx other than 408 and 429) is Rejected. An answer
// without a new refresh token keeps refreshToken (IMS may not rotate).
func Refresh(ctx context.Context, c RefreshConfig, refreshToken string) (Grant, error) {
	if c.URL == "" {
		c.URL = DefaultURL
	}
	if c.HTTPClient == nil {
		c.HTTPClient = http.DefaultClient
	}
	src := &Source{cfg: Config{Ref: c.Ref, ClientID: c.ClientID, ClientSecret: c.ClientSecret}}
	src.extra = []string{refreshToken}
	if refreshToken == "" {
		return Grant{}, src.newError(0, "", "", errors.New("no refresh token"), true)
	}
	oc := &oauth2.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret,
		Endpoint: oauth2.Endpoint{TokenURL: c.URL, AuthStyle: oauth2.AuthStyleInParams}}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.HTTPClient)
	start := time.Now()
	tok, err := oc.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		return Grant{}, src.fail(err)
	}
	g := Grant{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Lifetime: tok.Expiry.Sub(start)}
	if tok.Expiry.IsZero() {
		g.Lifetime = time.Hour // IMS always says; an hour is a safe guess
	}
	if g.AccessToken == "" || strings.ContainsAny(g.AccessToken, " \r\n") {
		src.extra = append(src.extra, g.RefreshToken)
		return Grant{}, src.newError(0, "", "", errors.New("IMS answered without a usable access token"), false)
	}
	return g, nil
}
