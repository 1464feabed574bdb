package apierr

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidInput marks a request that was refused before it was sent
// because its input was invalid (an empty id, an unparsable upload URL, a
// source file shorter than the part). Classify reports Terminal for it and
// Ambiguous reports false.
var ErrInvalidInput = errors.New("invalid input")

// ErrTokenRejected marks a failure to get a token at all because its issuer
// refused the credentials behind it (e.g. Adobe IMS answering invalid_client
// to a client-credentials grant). Classify reports TokenRejected for it:
// every job on those credentials would fail the same way.
var ErrTokenRejected = errors.New("credentials rejected by the token issuer")

// Error is a failed Frame.io API or upload call.
type Error struct {
	Method string // "POST"
	// Path is the URL path only, e.g. "/v2/assets/abc/children": never the
	// query string (presigned URLs are credentials) nor the host's userinfo.
	Path   string
	Status int    // HTTP status; 0 for transport errors
	Code   int    // Frame.io error code from the body, if any
	Title  string // from body errors[0].title, or http.StatusText
	// Detail comes from body errors[0].detail or message; for HTML or other
	// non-JSON bodies it is a short sanitised excerpt (<= 200 characters,
	// tags stripped), or "".
	Detail string
	// Wait is the server's requested wait: Retry-After (delta seconds or
	// HTTP-date), else for 429 the x-ratelimit-window; 0 if none.
	Wait time.Duration
	// Err is the underlying transport error, sanitised: a *url.Error is
	// unwrapped so its URL does not leak.
	Err error
	// NotSent reports that the request never left this process (dial
	// failure, refused connection, DNS failure, a hook refused the call), so
	// it cannot have taken effect on the server.
	NotSent bool
}

// Error returns a one-line message, e.g.
// `POST /v2/assets/abc/children: 422 Invalid arguments: name must not be empty`.
func (e *Error) Error() string {
	var b strings.Builder
	if op := strings.TrimSpace(e.Method + " " + e.Path); op != "" {
		b.WriteString(op)
		b.WriteString(": ")
	}
	if e.Status == 0 {
		switch {
		case e.Err != nil:
			b.WriteString(e.Err.Error())
		case e.Detail != "":
			b.WriteString(e.Detail)
		default:
			b.WriteString("transport error")
		}
		return b.String()
	}
	b.WriteString(strconv.Itoa(e.Status))
	if e.Title != "" {
		b.WriteByte(' ')
		b.WriteString(e.Title)
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.Wait > 0 {
		b.WriteString(" (retry after ")
		b.WriteString(e.Wait.String())
		b.WriteByte(')')
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error, if any.
func (e *Error) Unwrap() error { return e.Err }

// Redact removes every occurrence of the given secrets (e.g. the bearer
// token, which a misbehaving proxy may echo in a body) from Title, Detail and
// Err's message. Empty secrets are ignored.
func (e *Error) Redact(secrets ...string) {
	r := redactor{}
	r.add(secrets...)
	e.Title = r.apply(e.Title)
	e.Detail = r.apply(e.Detail)
	e.Err = r.wrap(e.Err)
}

// FromResponse builds an Error from a non-2xx response. body may be JSON,
// XML, HTML, text, empty or truncated; only its first 64 KiB are looked at.
// now anchors an HTTP-date Retry-After.
func FromResponse(method string, u *url.URL, status int, h http.Header, body []byte, now time.Time) *Error {
	r := redactorFor(u)
	msg := parseBody(body)
	limit := maxField
	if msg.excerpt {
		limit = maxExcerpt
	}
	// Redact before truncating, so a cut never leaves part of a secret.
	e := &Error{
		Method: method,
		Path:   pathOf(u),
		Status: status,
		Code:   msg.code,
		Title:  truncate(r.apply(msg.title), maxField),
		Detail: truncate(r.apply(msg.detail), limit),
		Wait:   waitFrom(status, h, now),
	}
	if e.Title == "" {
		e.Title = statusText(status)
	}
	if strings.EqualFold(e.Detail, e.Title) || strings.EqualFold(e.Detail, http.StatusText(status)) {
		e.Detail = ""
	}
	return e
}

// FromTransport wraps an error from http.Client.Do (or from reading a
// response body) for method and u. A *url.Error is unwrapped, so the URL it
// carries does not leak, and any text resembling u's query string or a URL's
// query is scrubbed from the message.
func FromTransport(method string, u *url.URL, err error) *Error {
	if err == nil {
		err = errors.New("unknown transport error")
	}
	for {
		ue, ok := err.(*url.Error)
		if !ok || ue.Err == nil {
			break
		}
		err = ue.Err
	}
	return &Error{
		Method:  method,
		Path:    pathOf(u),
		Err:     redactorFor(u).wrap(err),
		NotSent: notSent(err),
	}
}

// pathOf returns u's escaped path: never its query, fragment or userinfo.
func pathOf(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.EscapedPath()
}

// statusText is http.StatusText with a fallback for unknown codes.
func statusText(status int) string {
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "HTTP status " + strconv.Itoa(status)
}
