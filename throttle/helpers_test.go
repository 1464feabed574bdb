package throttle

import (
	"context"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frameq/frameq/redistest"
	"github.com/redis/go-redis/v9"
)

// grantLog records the Redis server time of every grant, across limiters:
// the instant it is for and the instant it was decided (earlier for a
// reservation).
type grantLog struct {
	mu      sync.Mutex
	times   []time.Time
	decided []time.Time
}

func (g *grantLog) add(_ string, slot, decided time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.times = append(g.times, slot)
	g.decided = append(g.decided, decided)
}

func (g *grantLog) sorted() []time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := append([]time.Time(nil), g.times...)
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// maxInWindow is the most times in any interval (t-w, t], the window a
// sliding-window server uses. times must be sorted.
func maxInWindow(times []time.Time, w time.Duration) int {
	best, lo := 0, 0
	for hi, t := range times {
		for !times[lo].After(t.Add(-w)) {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

// newLimiter returns a limiter on its own client to srv, with a command
// counter, recording grants into log when log is not nil.
func newLimiter(t *testing.T, srv *redistest.Server, cfg Config, log *grantLog) (*Limiter, *redistest.Counter) {
	t.Helper()
	return newLimiterOn(t, srv.Client(t), cfg, log)
}

// fastFailClient fails a command at once when Redis is down: go-redis's own
// retries (by default 3 retries × 5 dials, seconds per command) would hide
// the limiter's retry policy, which is what the outage tests look at.
func fastFailClient(t *testing.T, srv *redistest.Server) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newLimiterOn(t *testing.T, rdb *redis.Client, cfg Config, log *grantLog) (*Limiter, *redistest.Counter) {
	t.Helper()
	hook := &redistest.Counter{}
	rdb.AddHook(hook)
	l, err := New(rdb, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if log != nil {
		l.onGrant = log.add
	}
	return l, hook
}

// warm loads the scripts and opens a connection, so that command counts
// that follow are the limiter's own work.
func warm(t *testing.T, l *Limiter, hook *redistest.Counter) {
	t.Helper()
	if _, err := l.Allow(t.Context(), "warm-up", sortedNames(l.cfg.Limits)...); err != nil {
		t.Fatal(err)
	}
	if _, err := l.State(t.Context(), "warm-up"); err != nil {
		t.Fatal(err)
	}
	hook.Reset()
}

func limits(rate int) map[string]Limit {
	return map[string]Limit{
		"calls":   {Rate: rate * 10, Per: time.Second},
		"creates": {Rate: rate, Per: time.Second},
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// acquireCalls is a go-redis hook that counts runs of acquireScript only:
// a permit used late adds a lateScript call, which is not a refusal.
type acquireCalls struct{ n atomic.Int64 }

func (c *acquireCalls) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *acquireCalls) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if args := cmd.Args(); len(args) > 1 && (args[1] == acquireLua.Hash() || args[1] == acquireScript) {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (c *acquireCalls) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
