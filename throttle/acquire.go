package throttle

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// luaCommon is shared by every script. Times are integer microseconds of
// Redis TIME, so worker clocks never matter; they stay below 2^53 and are
// written with %.0f because tostring would keep only 14 digits.
//
// The adapt hash of a scope holds the AIMD factor f as of time t, the time d
// of the last cut, and "o:<limit>" = an interval adopted from the server's
// rate-limit headers.
const luaCommon = `
local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function fmt(x) return string.format('%.0f', x) end
local function factor(adapt, now, slope)
  local v = redis.call('HMGET', adapt, 'f', 't')
  local f, t = tonumber(v[1]), tonumber(v[2])
  if not f or not t then return 1 end
  f = f + (now - t) * slope
  if f > 1 then return 1 end
  return f
end
local function interval(adapt, name, cfg, scale)
  local o = tonumber(redis.call('HGET', adapt, 'o:' .. name))
  if o and o > cfg then cfg = o end
  return math.ceil(cfg / scale)
end
`

// acquireScript is GCRA over several limits, all or nothing.
// KEYS: hold, adapt, then one TAT key per limit.
// ARGV: margin, recovery slope per µs, reserve (0|1), max reservation µs,
// then per limit: name, configured interval µs, burst.
//
// Without reserve, a permit is granted only now; a refusal writes nothing
// and says exactly how long until every limit (and the scope's hold) would
// allow. With reserve (Wait), a permit that would be allowed within
// "ahead" — one interval of the slowest limit named, capped by the max
// reservation — is granted for that future instant: the TATs advance as if
// it were taken then, and the caller sleeps until it. A waiter that wakes
// late therefore loses nothing: its slot was already its own.
//
// Returns {granted 0|1, wait µs, slot µs, ahead µs}: slot is the Redis time
// the permit is (or would be) for; a refused reserving caller comes back
// after wait-ahead.
const acquireScript = luaCommon + `
local now = now_us()
local scale = (1 - tonumber(ARGV[1])) * factor(KEYS[2], now, tonumber(ARGV[2]))
local wait = 0
local hold = tonumber(redis.call('GET', KEYS[1]))
if hold and hold > now then wait = hold - now end
local n = #KEYS - 2
local tats, ivs, ahead = {}, {}, 0
for i = 1, n do
  local a = 5 + (i - 1) * 3
  local iv = interval(KEYS[2], ARGV[a], tonumber(ARGV[a + 1]), scale)
  local tat = tonumber(redis.call('GET', KEYS[2 + i])) or now
  if tat < now then tat = now end
  local w = tat - (tonumber(ARGV[a + 2]) - 1) * iv - now
  if w > wait then wait = w end
  if iv > ahead then ahead = iv end
  tats[i], ivs[i] = tat, iv
end
if ARGV[3] ~= '1' then ahead = 0 end
ahead = math.min(ahead, tonumber(ARGV[4]))
if wait > ahead then return {0, wait, now + wait, ahead} end
local slot = now + wait
for i = 1, n do
  local t = math.max(tats[i], slot) + ivs[i]
  redis.call('SET', KEYS[2 + i], fmt(t), 'PX', math.ceil((t - now) / 1000) + 1)
end
return {1, wait, slot, ahead}
`

var acquireLua = redis.NewScript(acquireScript)

// request is one validated call: a scope and the limits it needs.
type request struct {
	scope  string
	names  []string // sorted, unique
	limits []Limit
	keys   []string
	args   []any
	gate   string // names the local queue for this scope and limit set
}

// result is one answer of acquireScript.
type result struct {
	granted bool
	wait    time.Duration // until slot
	slot    time.Time     // Redis time the permit is (or would be) for
	ahead   time.Duration // how far ahead a reservation may be made
}

func (l *Limiter) newRequest(scope string, names []string) (*request, error) {
	if scope == "" {
		return nil, fmt.Errorf("throttle: scope: must not be empty")
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("throttle: limits: name at least one limit")
	}
	r := &request{scope: scope, names: uniqueSorted(names)}
	r.keys = []string{l.key(scope, "hold"), l.key(scope, "adapt")}
	r.args = []any{strconv.FormatFloat(l.cfg.Margin, 'g', -1, 64), l.slope(), 0, 0} // reserve, max: set per call
	r.gate = scope
	for _, name := range r.names {
		lim, ok := l.cfg.Limits[name]
		if !ok {
			return nil, fmt.Errorf("throttle: limit %q: %w", name, ErrUnknownLimit)
		}
		r.limits = append(r.limits, lim)
		r.keys = append(r.keys, l.key(scope, name))
		r.args = append(r.args, name, lim.interval().Microseconds(), lim.Burst)
		r.gate += "\x00" + name
	}
	return r, nil
}

// acquire runs acquireScript once; reserve allows a permit for a slot
// within one interval from now.
func (l *Limiter) acquire(ctx context.Context, r *request, reserve bool) (result, error) {
	args := slices.Clone(r.args)
	args[2], args[3] = 0, l.cfg.MaxWait.Microseconds()
	if reserve {
		args[2] = 1
	}
	v, err := acquireLua.Run(ctx, l.rdb, r.keys, args...).Int64Slice()
	if err != nil {
		return result{}, fmt.Errorf("throttle: acquire %v: %w", r.names, err)
	}
	if len(v) != 4 {
		return result{}, fmt.Errorf("throttle: acquire %v: unexpected reply %v", r.names, v)
	}
	return result{
		granted: v[0] == 1,
		wait:    time.Duration(v[1]) * time.Microsecond,
		slot:    time.UnixMicro(v[2]),
		ahead:   time.Duration(v[3]) * time.Microsecond,
	}, nil
}

func (l *Limiter) key(scope, name string) string {
	return l.cfg.Prefix + ":{" + scope + "}:" + name
}

// slope is the AIMD additive increase, in fraction of the configured rate
// per microsecond, formatted for Lua.
func (l *Limiter) slope() string {
	s := (1 - aimdFloor) / float64(l.cfg.Recover.Microseconds())
	return strconv.FormatFloat(s, 'g', -1, 64)
}

func uniqueSorted(names []string) []string {
	seen := make(map[string]bool, len(names))
	out := make([]string, 0, len(names))
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}
