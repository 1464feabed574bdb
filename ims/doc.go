// Package ims gets Frame.io V4 access tokens from Adobe IMS with
// server-to-server (OAuth client credentials) credentials, and is a
// frameio.TokenSource:
//
//	src, err := ims.New(ims.Config{
//		Ref: "default", URL: ims.DefaultURL, ClientID: id, ClientSecret: secret,
//		Scopes: ims.DefaultScopes,
//		OnMint: func(m ims.Mint) { metrics.IMSMint(m.Ref) },
//	})
//	if err != nil { ... }
//	if _, err := src.Token(ctx); err != nil { ... } // the first mint: are the credentials good?
//	v4, err := frameio.NewV4(frameio.Options{Tokens: src, ...})
//
// A Source mints with POST <URL> (form: grant_type=client_credentials,
// client_id, client_secret, scope) and keeps the access token in memory
// only. It mints again before the token expires (at 80 % of its lifetime,
// or 5 minutes before it expires if that is earlier, but never before half
// of it), in the background while the old token still serves, and when the
// API refuses the token (Renew). One mint at a time per
// Source: concurrent callers share it, and a Renew for a token that was
// already replaced returns the replacement without minting. A token is
// never handed out at or after its expiry.
//
// IMS refusing the credentials (a 400 or 401 answer: invalid_client,
// unauthorized_client, invalid_scope, ...) is an *Error wrapping
// apierr.ErrTokenRejected, so apierr.Classify calls it TokenRejected.
// IMS 429, 5xx, bad answers and network failures are retried with
// exponential back-off (Retry-After honoured), shared by every caller of the
// Source, until the caller's context ends; meanwhile a still-valid token
// keeps being used, and without one no API call is sent.
//
// Refresh exchanges one user OAuth refresh token (grant_type=refresh_token)
// for an access token and the next refresh token, with the same error
// rules; package ims/chain shares the resulting chain among a fleet.
//
// The client secret, refresh tokens and access tokens never appear in an
// error, a log line or a printed Config, RefreshConfig or Source.
package ims
