package throttle

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// lateScript pushes a scope's schedule back after a permit was used late.
// KEYS: adapt, then one TAT key per limit. ARGV: push µs, then per limit:
// name, that limit's total push-back when the permit was granted.
//
// The adapt hash keeps each limit's total push-back ("p:<limit>"). A limit
// is moved back only by what other late permits have not already moved it
// since this one was granted: on a loaded machine many permits are late by
// about the same time at once, and each moving the schedule by its full
// lateness would add those up into a schedule far in the future.
const lateScript = luaCommon + `
local now = now_us()
local want = tonumber(ARGV[1])
for i = 2, #KEYS do
  local a = 2 + (i - 2) * 2
  local field = 'p:' .. ARGV[a]
  local total = tonumber(redis.call('HGET', KEYS[1], field)) or 0
  local push = want - (total - tonumber(ARGV[a + 1]))
  local t = tonumber(redis.call('GET', KEYS[i]))
  if t and push > 0 then
    t = t + push
    redis.call('SET', KEYS[i], fmt(t), 'PX', math.ceil((t - now) / 1000) + 1)
    redis.call('HSET', KEYS[1], field, fmt(total + push))
    redis.call('PEXPIRE', KEYS[1], ARGV[#ARGV])
  end
end
return 0
`

var lateLua = redis.NewScript(lateScript)

// pushBackIfLate handles a permit used late: a process stalled past its
// reserved slot (a loaded machine, a GC pause) sends its request closer to
// the next ones than the schedule says, and a strict window could then see
// one too many. Margin absorbs some of that: the slack it leaves in one
// window of the slowest limit, halved to keep room for network jitter.
// Lateness beyond that pushes every later permit back by the excess, less
// what other late permits already pushed since this one was granted (they
// moved the same schedule), which costs throughput only when it happens and
// one script call, never a 429.
// Limits whose bit is set in roomy are left alone: the server reports room
// to spare on them, so a late permit cannot crowd it (ObserveRemaining).
// Best effort: the permit is already ours, so a Redis error is ignored.
func (l *Limiter) pushBackIfLate(ctx context.Context, r *request, late time.Duration, roomy uint64, pushed []int64) {
	tolerance := l.lateTolerance(r)
	if late <= max(tolerance, lateFloor) {
		return
	}
	keys := []string{r.keys[1]} // adapt, then the TAT keys to move
	args := []any{(late - tolerance).Microseconds()}
	for i, k := range r.keys[3:] {
		if roomy&(1<<i) == 0 {
			keys = append(keys, k)
			args = append(args, r.names[i], pushed[i])
		}
	}
	if len(keys) == 1 {
		return
	}
	args = append(args, adaptTTL.Milliseconds())
	_ = lateLua.Run(ctx, l.rdb, keys, args...).Err()
}

// lateFloor: lateness below this is timer and scheduling noise, not a
// stall, and is left to Margin (with Margin 0 the caller chose no slack).
const lateFloor = 5 * time.Millisecond

// lateTolerance is half the slack Margin leaves in one window of the
// slowest limit of r: Per×(1/(1-Margin)-1)/2.
func (l *Limiter) lateTolerance(r *request) time.Duration {
	var slowest Limit
	for _, lim := range r.limits {
		if slowest.Rate == 0 || lim.interval() > slowest.interval() {
			slowest = lim
		}
	}
	slack := float64(slowest.Per) * (1/(1-l.cfg.Margin) - 1)
	return time.Duration(slack / 2)
}
