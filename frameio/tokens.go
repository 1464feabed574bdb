package frameio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
)

// TokenSource supplies bearer tokens that change while a client runs, such
// as access tokens minted by Adobe IMS (package ims). Set it as
// Options.Tokens instead of a static Options.Token.
//
// Every API call takes Token just before it is sent (after BeforeCall, so a
// long limiter wait never sends a stale token). When the API answers 401,
// the call asks Renew once, passing the token that was refused, and tries
// once more with what Renew returned; a second 401 is returned to the
// caller (apierr.TokenRejected: the token breaker's business).
//
// Implementations must be safe for concurrent use. Renew must not mint a
// new token for every caller: when many calls saw the same token refused,
// the first renews and the others get its newer token (single flight).
type TokenSource interface {
	// Token returns the token to send now.
	Token(ctx context.Context) (string, error)
	// Renew returns a token other than rejected: the source's newer one if
	// it already has one, else a freshly obtained one.
	Renew(ctx context.Context, rejected string) (string, error)
}

// secrets are the tokens a client has sent: all of them are redacted from
// every error, since an API may echo a token it refused long after the
// source moved on.
type secrets struct {
	mu   sync.RWMutex
	seen []string
	set  map[string]bool
}

// add records tok.
func (s *secrets) add(tok string) {
	s.mu.RLock()
	known := s.set[tok]
	s.mu.RUnlock()
	if known || tok == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set == nil {
		s.set = map[string]bool{}
	}
	if !s.set[tok] {
		s.set[tok] = true
		s.seen = append(s.seen, tok)
	}
}

// all returns every recorded token.
func (s *secrets) all() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]string(nil), s.seen...)
}

// errTokenSource marks a token source's failure before a call was sent.
var errTokenSource = errors.New("token source")

// token returns the token for a call: the static one, or the source's
// current one (renew: a newer one than rejected). The source's errors are
// wrapped so that Classify still sees what they say (apierr.ErrTokenRejected
// for refused credentials).
func (c *Client) token(ctx context.Context, renew bool, rejected string) (string, error) {
	if c.cfg.tokens == nil {
		return c.cfg.token, nil
	}
	var tok string
	var err error
	if renew {
		tok, err = c.cfg.tokens.Renew(ctx, rejected)
	} else {
		tok, err = c.cfg.tokens.Token(ctx)
	}
	if err != nil {
		return "", fmt.Errorf("%w: %w", errTokenSource, err)
	}
	if err := checkToken(tok); err != nil {
		return "", fmt.Errorf("%w: the token it returned %v", errTokenSource, err)
	}
	c.cfg.seen.add(tok)
	return tok, nil
}

// secretsToRedact are the static token and every token a source returned.
func (c *Client) secretsToRedact() []string {
	if c.cfg.tokens == nil {
		return []string{c.cfg.token}
	}
	return c.cfg.seen.all()
}

// renewable reports whether a call that got status may be tried again with
// a renewed token: only a 401, and only with a token source.
func (c *Client) renewable(status int) bool {
	return c.cfg.tokens != nil && status == http.StatusUnauthorized
}
