package throttle

import (
	"context"
	"errors"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/frameq/frameq/redistest"
)

func TestRedisDownFailsClosedAfterBoundedRetries(t *testing.T) {
	srv := redistest.Start(t)
	l, hook := newLimiterOn(t, fastFailClient(t, srv), Config{Limits: limits(5), RedisRetries: 3}, nil)
	warm(t, l, hook)
	srv.Stop()
	ctx := t.Context()

	if w, err := l.Allow(ctx, "s", "creates"); err == nil {
		t.Fatalf("Allow with Redis down = %v, nil; want an error", w)
	}
	hook.Reset()
	err := l.Wait(ctx, "s", "creates")
	if err == nil {
		t.Fatal("Wait with Redis down granted a permit")
	}
	var netErr interface{ Timeout() bool }
	if !errors.As(err, &netErr) && !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("Wait error %q does not wrap the Redis error", err)
	}
	if n := hook.Commands(); n != 3 {
		t.Errorf("Wait made %d attempts with Redis down, want RedisRetries = 3", n)
	}
}

// Redis stopped and restarted under load: no permit while it is down, a
// bounded number of attempts (no spin), and normal service afterwards
// without going over the limit.
func TestRedisRestartMidRun(t *testing.T) {
	const rate = 10
	srv := redistest.Start(t)
	log := &grantLog{}
	var hooks []*redistest.Counter
	var lims []*Limiter
	for range 3 {
		l, h := newLimiterOn(t, fastFailClient(t, srv), Config{Limits: limits(rate), RedisRetries: 3}, log)
		lims, hooks = append(lims, l), append(hooks, h)
	}
	commands := func() (n int64) {
		for _, h := range hooks {
			n += h.Commands()
		}
		return n
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	failures := 0
	for _, l := range lims {
		for range 4 {
			wg.Go(func() {
				for ctx.Err() == nil {
					if err := l.Wait(ctx, "s", "calls", "creates"); err != nil && ctx.Err() == nil {
						mu.Lock()
						failures++
						mu.Unlock()
					}
				}
			})
		}
	}
	time.Sleep(time.Second)
	srv.Stop()
	down, cpu0, cmd0 := time.Now(), cpuTime(), commands()
	time.Sleep(2 * time.Second)
	upAt, cpu1, cmd1 := time.Now(), cpuTime(), commands()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	// go-redis re-dials a pool that failed repeatedly about once a second.
	time.Sleep(3 * time.Second)
	cancel()
	wg.Wait()

	times := log.sorted()
	var before, during, after int
	firstAfter := time.Duration(-1)
	log.mu.Lock()
	for _, at := range log.decided {
		switch {
		case at.Before(down):
			before++ // reserved ones may go out just after the crash
		case at.Before(upAt):
			during++
		default:
			after++
			if d := at.Sub(upAt); firstAfter < 0 || d < firstAfter {
				firstAfter = d
			}
		}
	}
	log.mu.Unlock()
	if during != 0 {
		t.Errorf("%d permits granted while Redis was down", during)
	}
	if before == 0 || after < rate {
		t.Errorf("permits before/after the outage = %d/%d, want service on both sides", before, after)
	}
	if got := maxInWindow(times, time.Second); got > rate {
		t.Errorf("max permits in a 1s window = %d, limit %d", got, rate)
	}
	if failures == 0 {
		t.Error("no Wait failed while Redis was down")
	}
	// Three limiters, each with one head at a time, each head backing off
	// 25ms+50ms+... between its 3 attempts: a few dozen commands a second
	// at most. A spin would be thousands.
	if n, limit := cmd1-cmd0, int64(3*2*3*1000/75); n > limit {
		t.Errorf("%d Redis attempts in 2s of outage, want <= %d", n, limit)
	}
	if used := cpu1 - cpu0; used > upAt.Sub(down)/2 {
		t.Errorf("process used %v CPU in %v of outage: spinning", used, upAt.Sub(down))
	}
	t.Logf("permits before/during/after: %d/%d/%d, first %v after restart; outage: %d attempts, %d failed Waits, CPU %v",
		before, during, after, firstAfter, cmd1-cmd0, failures, cpu1-cpu0)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
