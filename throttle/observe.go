package throttle

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/redis/go-redis/v9"
)

// observeScript stores (ARGV[2] > 0) or clears an interval adopted from the
// server's rate-limit headers. KEYS: adapt. ARGV: field, interval µs, TTL ms.
const observeScript = `
if ARGV[2] == '0' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 0
`

var observeLua = redis.NewScript(observeScript)

// observation is the last value this process wrote for one adapt field.
type observation struct {
	interval int64
	at       time.Time
}

// observeRefresh: an unchanged observation is rewritten at most this
// often, because every API response carries the headers and most repeat.
const observeRefresh = time.Minute

// Observe feeds the server's x-ratelimit-limit (max) and x-ratelimit-window
// for a named limit. If the server's rate is lower than the configured one
// it is adopted for scope by every worker; otherwise the configured rate
// applies again (the headers are the live truth, but never raise a limit
// above the configuration).
func (l *Limiter) Observe(ctx context.Context, scope, limit string, max int, window time.Duration) error {
	lim, ok := l.cfg.Limits[limit]
	switch {
	case scope == "":
		return fmt.Errorf("throttle: observe: scope: must not be empty")
	case !ok:
		return fmt.Errorf("throttle: observe: limit %q: %w", limit, ErrUnknownLimit)
	case max <= 0:
		return fmt.Errorf("throttle: observe %q: x-ratelimit-limit %d: must be positive", limit, max)
	case window <= 0:
		return fmt.Errorf("throttle: observe %q: x-ratelimit-window %v: must be positive", limit, window)
	}
	observed := int64(math.Ceil(float64(window.Microseconds()) / float64(max)))
	if observed <= lim.interval().Microseconds() {
		observed = 0 // not lower than configured: clear any earlier adoption
	}
	key, field := l.key(scope, "adapt"), "o:"+limit
	if l.fresh(key+"\x00"+field, observed) {
		return nil
	}
	err := observeLua.Run(ctx, l.rdb, []string{key}, field, observed, adaptTTL.Milliseconds()).Err()
	if err != nil {
		l.forget(key + "\x00" + field)
		return fmt.Errorf("throttle: observe %q: %w", limit, err)
	}
	return nil
}

// fresh reports whether this process wrote the same value recently, and
// otherwise records that it is writing it now.
func (l *Limiter) fresh(k string, interval int64) bool {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if o, ok := l.seen[k]; ok && o.interval == interval && now.Sub(o.at) < observeRefresh {
		return true
	}
	l.seen[k] = observation{interval: interval, at: now}
	return false
}

func (l *Limiter) forget(k string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.seen, k)
}
