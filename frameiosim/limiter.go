package frameiosim

import (
	"sync"
	"time"
)

// rule is one rate limit: at most limit permits per window.
type rule struct {
	limit  int
	window time.Duration
}

// meter is the state of one rule for one scope.
type meter struct {
	// tat is the leaky bucket's theoretical arrival time (GCRA form): the
	// bucket is empty at tat. Integer nanoseconds keep it exact.
	tat time.Time
	// hits are the sliding window's accepted timestamps inside the
	// current window, oldest first. Never more than limit of them while the
	// limit is unchanged.
	hits []time.Time
}

// allow reports whether one more permit fits at now, and otherwise how long
// until it would.
func (m *meter) allow(e Enforcement, r rule, now time.Time) (bool, time.Duration) {
	if e == SlidingWindow {
		m.prune(r, now)
		if len(m.hits) < r.limit {
			return true, 0
		}
		// Once hits[len-limit] leaves the window, limit-1 remain.
		return false, m.hits[len(m.hits)-r.limit].Add(r.window).Sub(now)
	}
	_, tolerance := leakyParams(r)
	ahead := later(m.tat, now).Sub(now)
	if ahead <= tolerance {
		return true, 0
	}
	return false, ahead - tolerance
}

// take consumes one permit at now; allow must have said yes.
func (m *meter) take(e Enforcement, r rule, now time.Time) {
	if e == SlidingWindow {
		m.hits = append(m.hits, now)
		return
	}
	interval, _ := leakyParams(r)
	m.tat = later(m.tat, now).Add(interval)
}

// remaining is how many permits are left at now.
func (m *meter) remaining(e Enforcement, r rule, now time.Time) int {
	if e == SlidingWindow {
		m.prune(r, now)
		return max(0, r.limit-len(m.hits))
	}
	interval, tolerance := leakyParams(r)
	slack := tolerance - later(m.tat, now).Sub(now)
	if slack < 0 {
		return 0
	}
	return min(r.limit, int(slack/interval)+1)
}

// prune drops hits at or before now-window: the window is (now-window, now].
func (m *meter) prune(r rule, now time.Time) {
	edge := now.Add(-r.window)
	i := 0
	for i < len(m.hits) && !m.hits[i].After(edge) {
		i++
	}
	if i > 0 {
		m.hits = append(m.hits[:0], m.hits[i:]...)
	}
}

// leakyParams returns the emission interval and the burst tolerance that
// let a full bucket accept exactly limit permits at once.
func leakyParams(r rule) (interval, tolerance time.Duration) {
	interval = max(1, r.window/time.Duration(r.limit))
	return interval, r.window - interval
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// scopeState is every rule's state for one scope (a token or an account).
type scopeState struct {
	mu          sync.Mutex
	calls       meter
	creates     meter
	createTimes []time.Time // every accepted create, for Stats
	routes      map[string]*routeState
}

// routeState is one V4 route's meter in one scope, with its accepted
// timestamps for MaxInWindow.
type routeState struct {
	m     meter
	times []time.Time
}

// verdict is the limiter's answer to one API call.
type verdict struct {
	ok        bool
	wait      time.Duration // until the call would be accepted; 0 if ok
	limit     int           // of the route's tightest rule, for headers
	remaining int
	window    time.Duration
}

// limiter enforces the call and create rules per scope.
type limiter struct {
	enforcement Enforcement
	window      time.Duration
	now         func() time.Time

	mu          sync.Mutex
	callLimit   int
	createLimit int
	scopes      map[string]*scopeState
	accepted    int
	refused     int
	routes      map[string]rule // V4 per-route rules
	routeCounts map[string][2]int
}

func newLimiter(e Enforcement, window time.Duration, callLimit, createLimit int, now func() time.Time) *limiter {
	return &limiter{
		enforcement: e, window: window, now: now,
		callLimit: callLimit, createLimit: createLimit,
		scopes: make(map[string]*scopeState), routes: make(map[string]rule),
		routeCounts: make(map[string][2]int),
	}
}

// setRoute sets a V4 route's rule; zero fields keep the current value.
func (l *limiter) setRoute(name string, lim Limit) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.routes[name]
	if lim.Limit > 0 {
		r.limit = lim.Limit
	}
	if lim.Window > 0 {
		r.window = lim.Window
	}
	l.routes[name] = r
}

// routeLimits returns the current V4 rules.
func (l *limiter) routeLimits() map[string]Limit {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]Limit, len(l.routes))
	for name, r := range l.routes {
		out[name] = Limit{Limit: r.limit, Window: r.window}
	}
	return out
}

// admitRoute decides one V4 call of route name for scope key, like admit.
func (l *limiter) admitRoute(key, name string) verdict {
	l.mu.Lock()
	r := l.routes[name]
	l.mu.Unlock()
	s := l.scope(key)
	s.mu.Lock()
	rs := s.routes[name]
	if rs == nil {
		if s.routes == nil {
			s.routes = make(map[string]*routeState)
		}
		rs = &routeState{}
		s.routes[name] = rs
	}
	now := l.now()
	ok, wait := rs.m.allow(l.enforcement, r, now)
	if ok {
		rs.m.take(l.enforcement, r, now)
		rs.times = append(rs.times, now)
	}
	v := verdict{ok: ok, wait: wait, limit: r.limit, window: r.window,
		remaining: rs.m.remaining(l.enforcement, r, now)}
	s.mu.Unlock()
	l.mu.Lock()
	c := l.routeCounts[name]
	if ok {
		l.accepted++
		c[0]++
	} else {
		l.refused++
		c[1]++
	}
	l.routeCounts[name] = c
	l.mu.Unlock()
	return v
}

// routeStats returns accepted and refused V4 calls per route.
func (l *limiter) routeStats() (accepted, refused map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	accepted, refused = make(map[string]int), make(map[string]int)
	for name, c := range l.routeCounts {
		accepted[name], refused[name] = c[0], c[1]
	}
	return accepted, refused
}

// routeTimes returns a copy of scope's accepted timestamps of route.
func (l *limiter) routeTimes(key, name string) []time.Time {
	l.mu.Lock()
	s := l.scopes[key]
	l.mu.Unlock()
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rs := s.routes[name]; rs != nil {
		return append([]time.Time(nil), rs.times...)
	}
	return nil
}

// scopeKeys lists the scopes seen so far.
func (l *limiter) scopeKeys() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return sortedKeys(l.scopes)
}

// setLimits changes the limits; values <= 0 leave a limit unchanged.
func (l *limiter) setLimits(callLimit, createLimit int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if callLimit > 0 {
		l.callLimit = callLimit
	}
	if createLimit > 0 {
		l.createLimit = createLimit
	}
}

func (l *limiter) rules() (calls, creates rule) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return rule{l.callLimit, l.window}, rule{l.createLimit, l.window}
}

func (l *limiter) scope(key string) *scopeState {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.scopes[key]
	if !ok {
		s = &scopeState{}
		l.scopes[key] = s
	}
	return s
}

// admit decides one API call for scope key. All rules are checked before
// any is consumed, so a refused call consumes nothing. now is read under
// the scope's lock so accepted timestamps are in acceptance order.
func (l *limiter) admit(key string, create bool) verdict {
	callRule, createRule := l.rules()
	s := l.scope(key)
	s.mu.Lock()
	now := l.now()
	ok, wait := s.calls.allow(l.enforcement, callRule, now)
	if create {
		cok, cwait := s.creates.allow(l.enforcement, createRule, now)
		ok, wait = ok && cok, max(wait, cwait)
	}
	if ok {
		s.calls.take(l.enforcement, callRule, now)
		if create {
			s.creates.take(l.enforcement, createRule, now)
			s.createTimes = append(s.createTimes, now)
		}
	}
	v := verdict{ok: ok, wait: wait, window: l.window}
	// Headers describe the route's tightest rule (creates on ties).
	if create && createRule.limit <= callRule.limit {
		v.limit, v.remaining = createRule.limit, s.creates.remaining(l.enforcement, createRule, now)
	} else {
		v.limit, v.remaining = callRule.limit, s.calls.remaining(l.enforcement, callRule, now)
	}
	s.mu.Unlock()
	l.count(ok)
	return v
}

func (l *limiter) count(ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ok {
		l.accepted++
	} else {
		l.refused++
	}
}

// counts returns accepted and refused calls so far.
func (l *limiter) counts() (accepted, refused int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.accepted, l.refused
}

// createTimes returns a copy of every scope's accepted create timestamps.
func (l *limiter) createTimes() map[string][]time.Time {
	l.mu.Lock()
	keys := make(map[string]*scopeState, len(l.scopes))
	for k, s := range l.scopes {
		keys[k] = s
	}
	l.mu.Unlock()
	out := make(map[string][]time.Time, len(keys))
	for k, s := range keys {
		s.mu.Lock()
		if len(s.createTimes) > 0 {
			out[k] = append([]time.Time(nil), s.createTimes...)
		}
		s.mu.Unlock()
	}
	return out
}

// PeakInWindow is the largest number of times in any interval (t-w, t]:
// the count a sliding-window server holds to its limit.
// times must be sorted.
func PeakInWindow(times []time.Time, w time.Duration) int {
	if w <= 0 {
		return 0 // (t, t] is empty
	}
	best, lo := 0, 0
	for hi, t := range times {
		edge := t.Add(-w)
		for !times[lo].After(edge) {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}
