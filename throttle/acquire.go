package throttle

import (
	"context"
	"fmt"
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
// ARGV: margin, recovery slope per µs, then per limit: name, configured
// interval µs, burst.
// Returns {granted 0|1, wait µs, now µs}: a refusal writes nothing and says
// exactly how long until every limit (and the scope's hold) would allow.
const acquireScript = luaCommon + `
local now = now_us()
local scale = (1 - tonumber(ARGV[1])) * factor(KEYS[2], now, tonumber(ARGV[2]))
local wait = 0
local hold = tonumber(redis.call('GET', KEYS[1]))
if hold and hold > now then wait = hold - now end
local n = #KEYS - 2
local tats, ivs = {}, {}
for i = 1, n do
  local a = 3 + (i - 1) * 3
  local iv = interval(KEYS[2], ARGV[a], tonumber(ARGV[a + 1]), scale)
  local tat = tonumber(redis.call('GET', KEYS[2 + i])) or now
  if tat < now then tat = now end
  local w = tat - (tonumber(ARGV[a + 2]) - 1) * iv - now
  if w > wait then wait = w end
  tats[i], ivs[i] = tat, iv
end
if wait > 0 then return {0, wait, now} end
for i = 1, n do
  local t = tats[i] + ivs[i]
  redis.call('SET', KEYS[2 + i], fmt(t), 'PX', math.ceil((t - now) / 1000) + 1)
end
return {1, 0, now}
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
	wait    time.Duration
	now     time.Time // Redis server time of the decision
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
	r.args = []any{strconv.FormatFloat(l.cfg.Margin, 'g', -1, 64), l.slope()}
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

// acquire runs acquireScript once.
func (l *Limiter) acquire(ctx context.Context, r *request) (result, error) {
	v, err := acquireLua.Run(ctx, l.rdb, r.keys, r.args...).Int64Slice()
	if err != nil {
		return result{}, fmt.Errorf("throttle: acquire %v: %w", r.names, err)
	}
	if len(v) != 3 {
		return result{}, fmt.Errorf("throttle: acquire %v: unexpected reply %v", r.names, v)
	}
	return result{
		granted: v[0] == 1,
		wait:    time.Duration(v[1]) * time.Microsecond,
		now:     time.UnixMicro(v[2]),
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
