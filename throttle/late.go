package throttle

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// lateScript pushes a scope's schedule back after a permit was used late.
// KEYS: one TAT key per limit. ARGV: push µs.
const lateScript = luaCommon + `
local now = now_us()
for i = 1, #KEYS do
  local t = tonumber(redis.call('GET', KEYS[i]))
  if t then
    t = t + tonumber(ARGV[1])
    redis.call('SET', KEYS[i], fmt(t), 'PX', math.ceil((t - now) / 1000) + 1)
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
// Lateness beyond that pushes every later permit back by the excess, which
// costs throughput only when it happens and one script call, never a 429.
// Limits whose bit is set in roomy are left alone: the server reports room
// to spare on them, so a late permit cannot crowd it (ObserveRemaining).
// Best effort: the permit is already ours, so a Redis error is ignored.
func (l *Limiter) pushBackIfLate(ctx context.Context, r *request, late time.Duration, roomy uint64) {
	tolerance := l.lateTolerance(r)
	if late <= max(tolerance, lateFloor) {
		return
	}
	var keys []string
	for i, k := range r.keys[3:] { // the TAT keys
		if roomy&(1<<i) == 0 {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return
	}
	_ = lateLua.Run(ctx, l.rdb, keys, (late - tolerance).Microseconds()).Err()
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
