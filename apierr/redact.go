package apierr

import (
	"cmp"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// redacted replaces a secret. Its brackets cannot occur in a query value
// worth hiding, so a replacement never completes a new occurrence.
const redacted = "[REDACTED]"

// minQueryValue is the shortest query value treated as a secret on its own:
// shorter ones ("1", "private") carry no credential and replacing them would
// garble messages.
const minQueryValue = 8

// urlQuery matches a URL with a query string or userinfo inside free text
// (e.g. a Location header quoted by a redirect error), whatever URL the
// caller knows about.
var urlQuery = regexp.MustCompile(`(?i)\bhttps?://(?:[^/\s"'<>@]*@)?[^\s"'<>?#]*(?:\?[^\s"'<>#]*)?`)

// redactor removes known secrets, then any URL query or userinfo, from text.
type redactor struct {
	secrets []string
}

// redactorFor knows the secrets in u: its raw query, each long query value
// (raw and decoded) and its userinfo.
func redactorFor(u *url.URL) redactor {
	r := redactor{}
	if u == nil {
		return r
	}
	if u.User != nil {
		r.add(u.User.String())
		if p, ok := u.User.Password(); ok {
			r.add(p)
		}
	}
	if u.RawQuery == "" {
		return r
	}
	r.add(u.RawQuery)
	for _, kv := range strings.Split(u.RawQuery, "&") {
		_, v, _ := strings.Cut(kv, "=")
		if len(v) < minQueryValue {
			continue
		}
		r.add(v)
		if dv, err := url.QueryUnescape(v); err == nil && len(dv) >= minQueryValue {
			r.add(dv)
		}
	}
	return r
}

// add records non-empty secrets, longest first so that a secret containing
// another is replaced whole.
func (r *redactor) add(secrets ...string) {
	for _, s := range secrets {
		if s != "" {
			r.secrets = append(r.secrets, s)
		}
	}
	slices.SortStableFunc(r.secrets, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
}

// apply returns s without secrets, URL queries or URL userinfo.
func (r redactor) apply(s string) string {
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, redacted)
	}
	return urlQuery.ReplaceAllStringFunc(s, RedactURL)
}

// wrap returns err unchanged when its message holds no secret, else an error
// with the scrubbed message that still unwraps to err (so errors.Is and
// Classify keep working).
func (r redactor) wrap(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := r.apply(msg)
	if clean == msg {
		return err
	}
	return &redactedError{msg: clean, err: err}
}

// redactedError shows a scrubbed message for an error whose own message
// leaked a secret.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// RedactURL is the one way a URL is shown in logs, errors, messages and the
// dashboard. It keeps the scheme, host and path; the userinfo (a password,
// e.g. Redis's), the query (a presigned signature) and the fragment are
// credentials or may be, so each is replaced by [REDACTED]:
//
//	https://user:pw@media.example.com/a.mov?X-Amz-Signature=s#f
//	-> https://[REDACTED]@media.example.com/a.mov?[REDACTED]#[REDACTED]
//
// A URL that does not parse (a mistyped setting) is still shown so it can be
// fixed: everything up to its last '@' after the scheme is replaced, and
// everything from the first '?' or '#' after that.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return redactUnparsed(raw)
	}
	var b strings.Builder
	if u.Scheme != "" {
		b.WriteString(u.Scheme + ":")
	}
	if u.Scheme != "" || u.Host != "" || u.User != nil {
		b.WriteString("//")
	}
	if u.User != nil {
		b.WriteString(redacted + "@")
	}
	// url.Parse unescapes the host ("%80" becomes a raw byte): escape it
	// again, as url.URL.String does, so no byte of it breaks UTF-8 or a line.
	host := strings.TrimPrefix((&url.URL{Host: u.Host}).String(), "//")
	b.WriteString(host + u.EscapedPath())
	if u.RawQuery != "" || u.ForceQuery {
		b.WriteString("?" + redacted)
	}
	if u.Fragment != "" {
		b.WriteString("#" + redacted)
	}
	return b.String()
}

// redactUnparsed is RedactURL for text url.Parse refused: without its
// structure, whatever could be userinfo or a query is hidden.
func redactUnparsed(raw string) string {
	start := 0
	if i := strings.Index(raw, "://"); i >= 0 {
		start = i + len("://")
	}
	s := raw
	if at := strings.LastIndex(raw, "@"); at >= start {
		s = raw[:start] + redacted + raw[at:]
	}
	if i := strings.IndexAny(s[start:], "?#"); i >= 0 {
		s = s[:start+i] + "?" + redacted
	}
	return s
}
