package throttle

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// roomScript records what the server said is left of one limit.
// KEYS: adapt, the limit's TAT key.
// ARGV: limit name, room (0|1), window µs, push µs, adapt TTL ms, busy µs.
//
// Room counts only while the limit is busy: its schedule (TAT) booked at
// least busy µs ahead of Redis TIME, i.e. callers queue for it. Room on an
// idle limit says nothing about a burst: a strict window answers "9 of 10
// left" to a lone call and refuses the 11th of a burst at the full rate.
// Busy room starts "r:<limit>" at Redis TIME (if unset, or if the last
// report, "R:<limit>", is over two windows old) and stamps "R:<limit>":
// once a whole window has passed with room on every answer, and room was
// reported within the last two windows (each process reports room at most
// once a window), acquireScript drops Margin for the limit. A silence says
// nothing either: room reported before a Redis outage, or before the limit
// went idle, must not count as room over the silence, or the calls that
// rush in after it run without Margin into what may be a strict window.
// No room deletes both fields; if Margin was off, the limit's schedule
// moves back by push = Margin×window, the slack Margin would have left in
// that window, so permits reserved without Margin just before never crowd
// one window of a strict server.
// Returns 1 when it moved the schedule back.
const roomScript = luaCommon + `
local now = now_us()
local per = tonumber(ARGV[3])
local start, last = 'r:' .. ARGV[1], 'R:' .. ARGV[1]
if ARGV[2] == '1' then
  local booked = tonumber(redis.call('GET', KEYS[2]))
  if not booked or booked - now < tonumber(ARGV[6]) then return 0 end
  local seen = tonumber(redis.call('HGET', KEYS[1], last))
  if not seen or now - seen > 2 * per then
    redis.call('HSET', KEYS[1], start, fmt(now))
  end
  redis.call('HSET', KEYS[1], last, fmt(now))
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return 0
end
local was = roomy(KEYS[1], ARGV[1], now, per)
redis.call('HDEL', KEYS[1], start, last)
if not was then return 0 end
local t = tonumber(redis.call('GET', KEYS[2]))
if not t then return 1 end
t = t + tonumber(ARGV[4])
redis.call('SET', KEYS[2], fmt(t), 'PX', math.ceil((t - now) / 1000) + 1)
return 1
`

var roomLua = redis.NewScript(roomScript)

// minRoom is the least x-ratelimit-remaining, after a call, that counts as
// room to spare under a server limit of size per window: size-2, and at
// least 2. A leaky bucket paced at its rate answers max-1, or max-2 when
// a call arrives early. A strict window answers 0 once a window is under
// way at that pace, and after a pause less than size-2 from the third call
// of a window on, so the first calls after a pause tell it apart.
func minRoom(size int) int { return max(2, size-2) }

// ObserveRemaining feeds the server's x-ratelimit-limit (size) and
// x-ratelimit-remaining for a named limit, from an answer to a call that
// took its permit.
//
// Margin exists because a strict window counts two permits sent one
// interval apart into the same window when the network delays one of them.
// A server that keeps answering "size-2 or more left" for a whole window
// while we run at its rate (callers queue for the limit; see roomScript) is
// not strict: it has room for a burst (Frame.io
// documents a leaky bucket, whose capacity is its limit), so jitter cannot
// make it refuse, and the limit runs at the full rate, and late permits no
// longer push the schedule back. The first answer with less room restores
// Margin at once, and moves the schedule back by the slack Margin would
// have left meanwhile (see roomScript).
//
// Answers with room are written at most once a window per process (every
// answer carries the headers); answers without room always are, because
// they are what keeps Margin on.
func (l *Limiter) ObserveRemaining(ctx context.Context, scope, limit string, size, remaining int) error {
	lim, ok := l.cfg.Limits[limit]
	switch {
	case scope == "":
		return fmt.Errorf("throttle: observe remaining: scope: must not be empty")
	case !ok:
		return fmt.Errorf("throttle: observe remaining: limit %q: %w", limit, ErrUnknownLimit)
	case size <= 0:
		return fmt.Errorf("throttle: observe remaining %q: x-ratelimit-limit %d: must be positive", limit, size)
	case remaining < 0:
		return fmt.Errorf("throttle: observe remaining %q: x-ratelimit-remaining %d: must not be negative", limit, remaining)
	}
	room := remaining >= minRoom(size)
	key, field := l.key(scope, "adapt"), "r:"+limit
	if room && l.reportedRoom(key+"\x00"+field, lim.Per) {
		return nil
	}
	push := time.Duration(float64(lim.Per) * l.cfg.Margin)
	flag := 0
	if room {
		flag = 1
	} else {
		l.forgetRoom(key + "\x00" + field)
	}
	err := roomLua.Run(ctx, l.rdb, []string{key, l.key(scope, limit)}, limit, flag,
		lim.Per.Microseconds(), push.Microseconds(), adaptTTL.Milliseconds(), (2 * lim.interval()).Microseconds()).Err()
	if err != nil {
		l.forgetRoom(key + "\x00" + field)
		return fmt.Errorf("throttle: observe remaining %q: %w", limit, err)
	}
	return nil
}

// reportedRoom reports whether this process wrote room for k less than
// one window ago, and otherwise records that it is writing it now.
func (l *Limiter) reportedRoom(k string, window time.Duration) bool {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if at, ok := l.rooms[k]; ok && now.Sub(at) < window {
		return true
	}
	l.rooms[k] = now
	return false
}

func (l *Limiter) forgetRoom(k string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.rooms, k)
}
