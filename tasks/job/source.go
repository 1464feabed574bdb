package job

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"

	"github.com/frameq/frameq/seal"
)

// PublicURL splits a source URL into what may sit in Redis in plaintext
// (scheme, host, path) and reports whether it has more: user info, a query
// (a presigned URL's signature lives there) or a fragment.
func PublicURL(raw string) (public string, secret bool) {
	su, err := url.Parse(raw)
	if err != nil {
		return raw, false
	}
	if su.User == nil && su.RawQuery == "" && !su.ForceQuery && su.Fragment == "" {
		return raw, false
	}
	return (&url.URL{Scheme: su.Scheme, Host: su.Host, Path: su.Path, RawPath: su.RawPath}).String(), true
}

// sourceAD binds a sealed source URL to its public part: a sealed value
// moved to another task, or a source_url edited beside it, does not open.
func sourceAD(public string) []byte { return []byte("frameq source_url v1 " + public) }

// minSealed is the shortest well-formed source_sealed: version, nonce, tag.
const minSealed = 1 + 12 + 16

// sealSource moves the credentials of SourceURL into SourceSealed, so the
// payload in Redis holds them only under box's key. Without a box a URL
// with credentials is refused: the field and the key are named.
func (u *Upload) sealSource(box *seal.Box) error {
	if u.SourceSealed != "" {
		return nil // sealed already (a batch checked twice)
	}
	public, secret := PublicURL(u.SourceURL)
	if !secret {
		return nil
	}
	if box == nil {
		return fmt.Errorf("payload field source_url: carries credentials (user info, or a query such as a presigned URL's signature) that would sit in Redis in plaintext; set %s (openssl rand -base64 32, the same on every worker) to store them sealed, or give a URL without them", seal.KeyVar)
	}
	sealed := box.Seal([]byte(u.SourceURL), sourceAD(public))
	u.SourceURL, u.SourceSealed = public, base64.RawURLEncoding.EncodeToString(sealed)
	return nil
}

// ErrSealed is a source URL that cannot be unsealed: no key, another key,
// or an altered payload. Retrying does not help.
var ErrSealed = errors.New("sealed source URL")

// Source returns the URL Frame.io fetches: SourceURL, with the user info
// and query that SourceSealed holds restored by box. Payloads enqueued
// before sealing (SourceURL whole, no SourceSealed) need no box.
func (u *Upload) Source(box *seal.Box) (string, error) {
	if u.SourceSealed == "" {
		return u.SourceURL, nil
	}
	if box == nil {
		return "", fmt.Errorf("%w: payload field source_sealed: the source URL's credentials are sealed, and this worker has no %s to open them", ErrSealed, seal.KeyVar)
	}
	b, err := base64.RawURLEncoding.DecodeString(u.SourceSealed)
	if err == nil {
		b, err = box.Open(b, sourceAD(u.SourceURL))
	}
	if err != nil {
		return "", fmt.Errorf("%w: payload field source_sealed: cannot be opened: %s is not the key it was sealed with, or source_url or source_sealed was altered", ErrSealed, seal.KeyVar)
	}
	if public, _ := PublicURL(string(b)); public != u.SourceURL {
		return "", fmt.Errorf("%w: payload field source_sealed: holds a URL other than source_url", ErrSealed)
	}
	return string(b), nil
}

// validateSealed checks a payload's source_sealed: well-formed, beside a
// source_url that carries no credentials of its own.
func (u *Upload) validateSealed() error {
	if u.SourceSealed == "" {
		return nil
	}
	if u.SourceURL == "" {
		return errors.New("payload field source_sealed: needs source_url")
	}
	if _, secret := PublicURL(u.SourceURL); secret {
		return errors.New("payload field source_url: has user info, a query or a fragment beside source_sealed, which holds them")
	}
	b, err := base64.RawURLEncoding.DecodeString(u.SourceSealed)
	if err != nil || len(b) < minSealed || b[0] != seal.Version {
		return errors.New("payload field source_sealed: not a sealed value (unpadded base64url of a seal)")
	}
	return nil
}
