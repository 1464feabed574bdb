package apierr

import "strconv"

// Class says what the caller should do about an error.
type Class int

// The classes Classify returns.
const (
	OK            Class = iota // err == nil
	Retryable                  // 5xx, network errors, timeouts, cancellations, undecodable 2xx bodies: back off and retry
	RateLimited                // 429: wait WaitOf(err), then retry without spending a retry
	Terminal                   // 400, 403, 404, 409, 422, any other 4xx, unexpected 3xx, invalid input: give up on this job
	TokenRejected              // 401, 402: every job on that token or account will fail too
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

// statusClass maps an HTTP status carried by an Error to a Class.
func statusClass(status int) Class {
	switch {
	case status == 401, status == 402:
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
