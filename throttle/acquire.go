package throttle

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// luaCommon is shared by every script. Times are integer microseconds of
// Redis TIME, so worker clocks never matter; they stay below 2^53 and are
// written with %.0f because tostring would keep only 14 digits.
//
// The adapt hash of a scope holds the AIMD factor f as of time t, the time d
// of the last cut, "o:<limit>" = an interval adopted from the server's
// rate-limit headers, "r:<limit>" = since when the server has reported
// room to spare on that limit and "R:<limit>" = when it last did (see
// ObserveRemaining): roomy says the room has lasted a whole window and was
// still reported lately, and then the limit runs without Margin.
const luaCommon = `
local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function fmt(x) return string.format('%.0f', x) end
local function factor_of(f, t, now, slope)
  if not f or not t then return 1 end
  f = f + (now - t) * slope
  if f > 1 then return 1 end
  return f
end
local function factor(adapt, now, slope)
  local v = redis.call('HMGET', adapt, 'f', 't')
  return factor_of(tonumber(v[1]), tonumber(v[2]), now, slope)
end
local function interval_of(o, cfg, scale)
  if o and o > cfg then cfg = o end
  return math.ceil(cfg / scale)
end
local function interval(adapt, name, cfg, scale)
  return interval_of(tonumber(redis.call('HGET', adapt, 'o:' .. name)), cfg, scale)
end
local function roomy_of(s, last, now, per)
  return s ~= nil and last ~= nil and now - s >= per and now - last <= 2 * per
end
local function roomy(adapt, name, now, per)
  local v = redis.call('HMGET', adapt, 'r:' .. name, 'R:' .. name)
  return roomy_of(tonumber(v[1]), tonumber(v[2]), now, per)
end
`

// acquireScript is GCRA over several limits, all or nothing, with a
// queue of waiting processes.
// KEYS: hold, adapt, queue, then one TAT key per limit.
// ARGV: margin, recovery slope per µs, reserve (0|1|2), max wait µs,
// ticket µs (0 = none), then per limit: name, configured interval µs,
// burst, window µs. Reserve 2 is a staged try (Stage): a reservation like
// 1, but a refusal takes no ticket, since its caller asks again through
// Wait.
//
// Without reserve (Allow), a permit is granted only now; a refusal writes
// nothing and says how long until every limit (and the scope's hold) would
// allow. With reserve (Wait), a permit that would be allowed within
// "ahead" — one interval of the slowest limit named — is granted for that
// future instant: the TATs advance as if it were taken then, and the caller
// sleeps until it. A waiter that wakes late therefore loses nothing: its
// slot was already its own.
//
// The queue holds the last ticket handed out: the slot a refused waiter
// was told to come back for (at ticket-ahead). Tickets are one interval
// apart, so each comes back just as its slot gets within reach and takes it
// with one call: no herd of waiters asking for the same slot, and waiters
// of all processes are served in order. A caller without a ticket takes a
// slot only if no ticket is out for it; a waiter whose ticket was
// overtaken (a hold, a rate cut, a stall) takes a slot no ticket is out for,
// like any caller, or else queues again at the end. (Without the first, a
// ticket for an interval shorter than a round trip is always overtaken by
// the time it is shown, and two waiters queue again forever.)
//
// Returns {granted 0|1, wait µs, slot µs, ahead µs, roomy, then on a grant
// per limit the µs its schedule was pushed back so far}: slot is the Redis
// time the permit is for, or the refused caller's ticket; bit i-1 of roomy
// is set when limit i ran without Margin because the server has room to
// spare on it. The pushes let a late permit move the schedule only by what
// other late permits did not already move it since (see lateScript).
const acquireScript = luaCommon + `
local now = now_us()
local n = #KEYS - 3
-- Everything the script reads, in two calls (a call each was 14 for two
-- limits): limit i's adapt fields r:, R:, o:, p: are av[b+1..b+4] with
-- b = 2 + 4(i-1), its TAT is kv[2 + i].
local fields = {'f', 't'}
for i = 1, n do
  local name, b = ARGV[6 + (i - 1) * 4], 2 + (i - 1) * 4
  fields[b + 1], fields[b + 2], fields[b + 3], fields[b + 4] = 'r:' .. name, 'R:' .. name, 'o:' .. name, 'p:' .. name
end
local av = redis.call('HMGET', KEYS[2], unpack(fields))
local kv = redis.call('MGET', KEYS[1], KEYS[3], unpack(KEYS, 4))
local f = factor_of(tonumber(av[1]), tonumber(av[2]), now, tonumber(ARGV[2]))
local margin = tonumber(ARGV[1])
local wait = 0
local hold = tonumber(kv[1])
if hold and hold > now then wait = hold - now end
local tats, ivs, iv_max, roomy_mask = {}, {}, 0, 0
for i = 1, n do
  local a, b = 6 + (i - 1) * 4, 2 + (i - 1) * 4
  local scale = (1 - margin) * f
  if roomy_of(tonumber(av[b + 1]), tonumber(av[b + 2]), now, tonumber(ARGV[a + 3])) then
    scale = f
    roomy_mask = roomy_mask + 2 ^ (i - 1)
  end
  local iv = interval_of(tonumber(av[b + 3]), tonumber(ARGV[a + 1]), scale)
  local tat = tonumber(kv[2 + i]) or now
  if tat < now then tat = now end
  local w = tat - (tonumber(ARGV[a + 2]) - 1) * iv - now
  if w > wait then wait = w end
  if iv > iv_max then iv_max = iv end
  tats[i], ivs[i] = tat, iv
end
local slot = now + wait
local reserve, maxwait, ticket = ARGV[3] ~= '0', tonumber(ARGV[4]), tonumber(ARGV[5])
local queued = tonumber(kv[2]) or 0
local ahead = 0
if reserve then ahead = math.min(iv_max, maxwait) end
local turn = queued < slot
if ticket > 0 then turn = turn or slot <= ticket + iv_max / 2 end
if turn and wait <= ahead then
  for i = 1, n do
    local t = math.max(tats[i], slot) + ivs[i]
    redis.call('SET', KEYS[3 + i], fmt(t), 'PX', math.ceil((t - now) / 1000) + 1)
  end
  local out = {1, wait, slot, ahead, roomy_mask}
  for i = 1, n do out[5 + i] = tonumber(av[6 + (i - 1) * 4]) or 0 end
  return out
end
if not turn then slot = math.max(queued + iv_max, slot) end
if ARGV[3] == '1' and slot > queued and slot - now <= maxwait then
  redis.call('SET', KEYS[3], fmt(slot), 'PX', math.ceil((slot - now) / 1000) + 1)
end
return {0, slot - now, slot, ahead, roomy_mask}
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
	slot    time.Time     // Redis time the permit is for, or the ticket
	ahead   time.Duration // how far ahead a reservation may be made
	roomy   uint64        // bit i: limit i ran without Margin, the server has room
	pushed  []int64       // per limit, its schedule's total push-back at the grant
}

func (l *Limiter) newRequest(scope string, names []string) (*request, error) {
	if scope == "" {
		return nil, fmt.Errorf("throttle: scope: must not be empty")
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("throttle: limits: name at least one limit")
	}
	r := &request{scope: scope, names: uniqueSorted(names)}
	r.keys = []string{l.key(scope, "hold"), l.key(scope, "adapt"), l.key(scope, "queue:"+strings.Join(r.names, ","))}
	// reserve, max wait and ticket are set per call.
	r.args = []any{strconv.FormatFloat(l.cfg.Margin, 'g', -1, 64), l.slope(), 0, 0, 0}
	r.gate = scope
	for _, name := range r.names {
		lim, ok := l.cfg.Limits[name]
		if !ok {
			return nil, fmt.Errorf("throttle: limit %q: %w", name, ErrUnknownLimit)
		}
		r.limits = append(r.limits, lim)
		r.keys = append(r.keys, l.key(scope, name))
		r.args = append(r.args, name, lim.interval().Microseconds(), lim.Burst, lim.Per.Microseconds())
		r.gate += "\x00" + name
	}
	return r, nil
}

// acquire runs acquireScript once. reserve (Wait) allows a permit for a
// slot within one interval from now and queues a refused caller; ticket is
// the caller's place in that queue, zero at first.
func (l *Limiter) acquire(ctx context.Context, r *request, reserve bool, ticket time.Time) (result, error) {
	mode := modeAllow
	if reserve {
		mode = modeReserve
	}
	return r.parse(acquireLua.Run(ctx, l.rdb, r.keys, l.acquireArgs(r, mode, ticket)...).Int64Slice())
}

// acquireScript's modes (ARGV[3]).
const (
	modeAllow   = 0
	modeReserve = 1
	modeStaged  = 2
)

func (l *Limiter) acquireArgs(r *request, mode int, ticket time.Time) []any {
	args := slices.Clone(r.args)
	args[2], args[3], args[4] = mode, l.cfg.MaxWait.Microseconds(), int64(0)
	if !ticket.IsZero() {
		args[4] = ticket.UnixMicro()
	}
	return args
}

// parse reads acquireScript's reply.
func (r *request) parse(v []int64, err error) (result, error) {
	if err != nil {
		return result{}, fmt.Errorf("throttle: acquire %v: %w", r.names, err)
	}
	if len(v) < 5 || (v[0] == 1 && len(v) != 5+len(r.names)) {
		return result{}, fmt.Errorf("throttle: acquire %v: unexpected reply %v", r.names, v)
	}
	return result{
		granted: v[0] == 1,
		wait:    time.Duration(v[1]) * time.Microsecond,
		slot:    time.UnixMicro(v[2]),
		ahead:   time.Duration(v[3]) * time.Microsecond,
		roomy:   uint64(v[4]),
		pushed:  v[5:],
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
	return slices.Compact(slices.Sorted(slices.Values(names)))
}
