package ims

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/frameq/frameq/apierr"
)

// maxText bounds text quoted from an IMS answer.
const maxText = 200

// Error is a failed mint. It names the token ref and the client id, never
// the secret.
type Error struct {
	Ref, ClientID string
	// Status is IMS's HTTP status; 0 when no answer came (or the answer
	// was unusable).
	Status int
	// Code and Description are the OAuth error fields (invalid_client,
	// ...), or a short excerpt of a non-OAuth answer.
	Code, Description string
	// Rejected reports that IMS refused the credentials (a 4xx other than
	// 408 and 429): retrying cannot help. Such an Error wraps
	// apierr.ErrTokenRejected.
	Rejected bool
	// Wait is a 429's Retry-After.
	Wait time.Duration
	// Err is the transport error, scrubbed of the secret.
	Err error
}

// Error says who was refused and why, e.g. `ims: token ref "default"
// (client id "abc"): IMS refused the credentials: 401 invalid_client:
// invalid client_secret parameter`.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ims: token ref %q (client id %q): ", e.Ref, e.ClientID)
	if e.Rejected {
		b.WriteString("IMS refused the credentials: ")
	} else {
		b.WriteString("no token: ")
	}
	parts := []string{}
	if e.Status != 0 {
		parts = append(parts, strconv.Itoa(e.Status))
	}
	if e.Code != "" {
		parts = append(parts, e.Code)
	}
	msg := strings.Join(parts, " ")
	if e.Description != "" {
		msg = strings.TrimPrefix(msg+": "+e.Description, ": ")
	}
	if e.Err != nil {
		msg = strings.TrimPrefix(msg+": "+e.Err.Error(), ": ")
	}
	b.WriteString(msg)
	if e.Wait > 0 {
		fmt.Fprintf(&b, " (retry after %v)", e.Wait)
	}
	return b.String()
}

// Unwrap gives apierr.ErrTokenRejected for refused credentials, and the
// transport error.
func (e *Error) Unwrap() []error {
	var out []error
	if e.Rejected {
		out = append(out, apierr.ErrTokenRejected)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// isRejected reports whether err says the credentials were refused.
func isRejected(err error) bool { return errors.Is(err, apierr.ErrTokenRejected) }

// fail turns an oauth2 or transport error into an *Error.
func (s *Source) fail(err error) *Error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		status := re.Response.StatusCode
		desc := re.ErrorDescription
		if re.ErrorCode == "" && desc == "" {
			desc = string(re.Body)
		}
		rejected := status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests
		e := s.newError(status, re.ErrorCode, desc, nil, rejected)
		if status == http.StatusTooManyRequests {
			e.Wait = retryAfter(re.Response.Header.Get("Retry-After"))
		}
		return e
	}
	for {
		ue, ok := err.(*url.Error)
		if !ok {
			break
		}
		err = ue.Err // its message would repeat the URL
	}
	return s.newError(0, "", "", err, false)
}

// newError builds an *Error with every quoted text scrubbed of the secret
// and clipped.
func (s *Source) newError(status int, code, desc string, err error, rejected bool) *Error {
	e := &Error{Ref: s.cfg.Ref, ClientID: s.cfg.ClientID, Status: status,
		Code: clip(s.scrub(code)), Description: clip(s.scrub(desc)), Rejected: rejected}
	if err != nil {
		if msg := s.scrub(err.Error()); msg != err.Error() {
			err = errors.New(msg) // the secret was in it: keep only the text
		}
		e.Err = err
	}
	return e
}

// scrub removes the client secret and access token from text.
func (s *Source) scrub(text string) string {
	secrets := []string{s.cfg.ClientSecret, url.QueryEscape(s.cfg.ClientSecret)}
	for _, x := range s.extra {
		secrets = append(secrets, x, url.QueryEscape(x))
	}
	for _, secret := range secrets {
		if secret != "" {
			text = strings.ReplaceAll(text, secret, "[REDACTED]")
		}
	}
	if cur := s.cache.current(); cur != "" {
		text = strings.ReplaceAll(text, cur, "[REDACTED]")
	}
	return text
}

// clip makes text one short line.
func clip(text string) string {
	text = strings.Join(strings.FieldsFunc(text, func(r rune) bool { return r < ' ' || r == 0x7f }), " ")
	text = strings.TrimSpace(text)
	if len(text) > maxText {
		text = text[:maxText] + "…"
	}
	return text
}

// retryAfter parses delta seconds (IMS sends no HTTP dates); 0 if absent.
func retryAfter(v string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		return 0
	}
	return min(time.Duration(n)*time.Second, time.Hour)
}
