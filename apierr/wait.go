package apierr

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxWait caps any server-requested wait, so a broken or hostile header
// (Retry-After: 99999999999) cannot stall a worker for years or overflow a
// time.Duration.
const MaxWait = 24 * time.Hour

// ParseRetryAfter parses a Retry-After header value, delta seconds or an
// HTTP-date, relative to now. A date in the past gives 0; waits are capped at
// MaxWait. ok is false for an empty or malformed value.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if isDigits(v) {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil || secs > int64(MaxWait/time.Second) {
			return MaxWait, true // all digits: only overflow can fail
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return clampWait(t.Sub(now)), true
}

// waitFrom is the wait a response asks for: Retry-After, else for a 429 the
// rate-limit window (milliseconds), which is when the bucket has surely
// drained.
func waitFrom(status int, h http.Header, now time.Time) time.Duration {
	if h == nil {
		return 0
	}
	if d, ok := ParseRetryAfter(h.Get("Retry-After"), now); ok {
		return d
	}
	if status != http.StatusTooManyRequests {
		return 0
	}
	v := strings.TrimSpace(h.Get("X-Ratelimit-Window"))
	if !isDigits(v) {
		return 0
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms > int64(MaxWait/time.Millisecond) {
		return MaxWait
	}
	return time.Duration(ms) * time.Millisecond
}

func clampWait(d time.Duration) time.Duration {
	return min(max(d, 0), MaxWait)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
