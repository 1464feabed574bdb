package apierr

import (
	"strconv"
	"strings"
	"unicode"
)

// Class says what the caller should do about an error.
type Class int

// The classes Classify returns.
const (
	OK            Class = iota // err == nil
	Retryable                  // 5xx, network errors, timeouts, cancellations, undecodable 2xx bodies: back off and retry
	RateLimited                // 429: wait WaitOf(err), then retry without spending a retry
	Terminal                   // 400, 403, 404, 409, 422, any other 4xx, unexpected 3xx, invalid input: give up on this job
	TokenRejected              // 401, 402, a 403 saying the account is locked (V4's 402): every job on that token or account will fail too
)

// String returns the class's snake_case name, suitable as a metric label.
func (c Class) String() string {
	switch c {
	case OK:
		return "ok"
	case Retryable:
		return "retryable"
	case RateLimited:
		return "rate_limited"
	case Terminal:
		return "terminal"
	case TokenRejected:
		return "token_rejected"
	}
	return "Class(" + strconv.Itoa(int(c)) + ")"
}

// errorClass maps an Error carrying an HTTP status to a Class.
func errorClass(e *Error) Class {
	switch status := e.Status; {
	case status == 401, status == 402, status == 403 && saysLocked(e):
		return TokenRejected
	case status == 429:
		return RateLimited
	case status >= 400 && status < 500:
		return Terminal
	case status >= 300 && status < 400:
		// A redirect that reached us was not followable (no Location, or
		// 304): retrying the same request cannot change that.
		return Terminal
	}
	// 5xx, undecodable 2xx, and statuses outside the HTTP range.
	return Retryable
}

// saysLocked reports whether e's title or detail has the word "locked": V4
// answers a locked account (v2's 402, plan limits) with a 403 that says so,
// and every other job on that account would fail the same way. A whole word,
// so that a name such as "Unlocked footage" quoted in an ordinary 403 does
// not stop every job.
func saysLocked(e *Error) bool {
	notLetter := func(r rune) bool { return !unicode.IsLetter(r) }
	for _, w := range strings.FieldsFunc(e.Title+" "+e.Detail, notLetter) {
		if strings.EqualFold(w, "locked") {
			return true
		}
	}
	return false
}
