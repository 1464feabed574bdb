package throttle

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// penalizeScript records a 429 for a scope.
// KEYS: hold, adapt.
// ARGV: hold µs, decrease factor, recovery slope per µs, floor factor,
// episode µs, adapt TTL ms.
// The hold only ever moves later. The rate is cut at most once per episode
// (the longer of the hold and the slowest window): the workers that all got
// a 429 from the same burst report one congestion event, not N.
// Returns {remaining hold µs, factor now as a string}.
const penalizeScript = luaCommon + `
local now = now_us()
local want = now + tonumber(ARGV[1])
local hold = tonumber(redis.call('GET', KEYS[1]))
if not hold or hold < want then
  hold = want
  redis.call('SET', KEYS[1], fmt(hold), 'PX', math.ceil((hold - now) / 1000) + 1)
end
local f = factor(KEYS[2], now, tonumber(ARGV[3]))
local last = tonumber(redis.call('HGET', KEYS[2], 'd'))
if not last or now - last >= tonumber(ARGV[5]) then
  f = math.max(f * tonumber(ARGV[2]), tonumber(ARGV[4]))
  redis.call('HSET', KEYS[2], 'f', tostring(f), 't', fmt(now), 'd', fmt(now))
  redis.call('PEXPIRE', KEYS[2], ARGV[6])
end
return {hold - now, tostring(f)}
`

var penalizeLua = redis.NewScript(penalizeScript)

// adaptTTL bounds how long a scope's AIMD and header state outlive the last
// write: long past any recovery, and rate-limit headers arrive with every
// response, so live state is refreshed constantly.
const adaptTTL = time.Hour

// Penalize records a 429 seen by any worker on scope: every worker's
// permits for scope are refused for wait (the server's Retry-After; if 0,
// one window of the slowest limit, i.e. the limit with the fewest permits
// per second), and the scope's effective rates are cut by Config.Decrease
// (at most once per episode), then climb back linearly (Config.Recover).
func (l *Limiter) Penalize(ctx context.Context, scope string, wait time.Duration) error {
	if scope == "" {
		return fmt.Errorf("throttle: penalize: scope: must not be empty")
	}
	if wait < 0 {
		return fmt.Errorf("throttle: penalize: wait %v: must not be negative", wait)
	}
	window := l.slowestWindow()
	if wait == 0 {
		wait = window
	}
	keys := []string{l.key(scope, "hold"), l.key(scope, "adapt")}
	err := penalizeLua.Run(ctx, l.rdb, keys,
		wait.Microseconds(),
		strconv.FormatFloat(l.cfg.Decrease, 'g', -1, 64),
		l.slope(),
		strconv.FormatFloat(aimdFloor, 'g', -1, 64),
		max(wait, window).Microseconds(),
		adaptTTL.Milliseconds(),
	).Err()
	if err != nil {
		return fmt.Errorf("throttle: penalize: %w", err)
	}
	return nil
}

// slowestWindow is Per of the limit with the fewest permits per second.
func (l *Limiter) slowestWindow() time.Duration {
	var slowest Limit
	for _, name := range sortedNames(l.cfg.Limits) {
		lim := l.cfg.Limits[name]
		if slowest.Rate == 0 || lim.interval() > slowest.interval() {
			slowest = lim
		}
	}
	return slowest.Per
}
