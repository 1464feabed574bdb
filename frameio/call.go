package frameio

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Kind groups calls by the rate limit they count against.
type Kind string

// The kinds of calls.
const (
	KindRead   Kind = "read"
	KindCreate Kind = "create"
	KindDelete Kind = "delete"
	KindUpload Kind = "upload"
)

// Routes, as Call.Route reports them: templated, so they make low-cardinality
// metric labels.
const (
	RouteMe             = "GET /me"
	RouteGetAsset       = "GET /assets/:id"
	RouteListChildren   = "GET /assets/:id/children"
	RouteCreateChildren = "POST /assets/:id/children"
	RouteDeleteAsset    = "DELETE /assets/:id"
	RouteUpload         = "PUT upload"
)

// Limit names: the budgets of the shared limiter that v2 calls draw on.
// Frame.io v2 counts every API call against one limit and asset creations
// against a second, lower one; another API version names its own.
const (
	LimitCalls   = "calls"
	LimitCreates = "creates"
)

// Call identifies a request for the BeforeCall and AfterCall hooks.
type Call struct {
	Method string // "POST"
	Route  string // one of the Route constants, e.g. RouteCreateChildren
	Kind   Kind
	// Limits are the limiter budgets the call draws on, broadest first.
	// The last is the one its x-ratelimit-* answer headers describe. A
	// part upload (presigned, not rate limited) has none.
	Limits []string
}

// Budgets of the v2 calls, shared by every Call value.
var (
	callLimits   = []string{LimitCalls}
	createLimits = []string{LimitCalls, LimitCreates}
)

// Result is what happened to one request.
type Result struct {
	Status    int       // 0 on transport error
	RateLimit RateLimit // from the response's x-ratelimit-* headers
	Err       error     // *apierr.Error or nil
	Duration  time.Duration
}

// RateLimit is the server's view of the caller's rate limit.
type RateLimit struct {
	Limit, Remaining int
	Window           time.Duration
	Present          bool // all three headers were present and valid
}

// ParseRateLimit reads x-ratelimit-limit, -remaining and -window (ms). It is
// lenient: missing or malformed headers give Present false, with the valid
// ones still filled in.
func ParseRateLimit(h http.Header) RateLimit {
	var rl RateLimit
	limit, okL := headerInt(h, "X-Ratelimit-Limit")
	remaining, okR := headerInt(h, "X-Ratelimit-Remaining")
	window, okW := headerInt(h, "X-Ratelimit-Window")
	okW = okW && window > 0 && window <= int(24*time.Hour/time.Millisecond)
	if okL {
		rl.Limit = limit
	}
	if okR {
		rl.Remaining = remaining
	}
	if okW {
		rl.Window = time.Duration(window) * time.Millisecond
	}
	rl.Present = okL && okR && okW
	return rl
}

// headerInt parses a non-negative decimal header value.
func headerInt(h http.Header, key string) (int, bool) {
	v := strings.TrimSpace(h.Get(key))
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || strings.HasPrefix(v, "+") {
		return 0, false
	}
	return n, true
}
