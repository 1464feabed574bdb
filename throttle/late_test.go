package throttle

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/frameq/frameq/redistest"
)

// A permit used 60ms late pushes the schedule back by the lateness that
// Margin cannot absorb: 60ms minus half the 1s window's slack at 2%.
func TestLatePermitPushesTheScheduleBack(t *testing.T) {
	srv := redistest.Start(t)
	l, _ := newLimiter(t, srv, Config{Limits: limits(10), Margin: 0.02}, nil)
	rdb := srv.Client(t)
	ctx := t.Context()
	r, err := l.newRequest("s", []string{"calls", "creates"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.acquire(ctx, r, true, time.Time{})
	if err != nil || !res.granted {
		t.Fatalf("acquire = %+v, %v", res, err)
	}
	before, err := rdb.Get(ctx, "frameq:rl:{s}:creates").Int64()
	if err != nil {
		t.Fatal(err)
	}
	// Pretend Redis was asked 60ms ago: the caller is now 60ms late.
	if err := l.takeReserved(ctx, r, res, time.Now().Add(-60*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	after, err := rdb.Get(ctx, "frameq:rl:{s}:creates").Int64()
	if err != nil {
		t.Fatal(err)
	}
	tol := l.lateTolerance(r)
	if tol < 10*time.Millisecond || tol > 11*time.Millisecond {
		t.Fatalf("tolerance %v, want about 10.2ms", tol)
	}
	pushed := time.Duration(after-before) * time.Microsecond
	if pushed < 60*time.Millisecond-tol || pushed > 80*time.Millisecond-tol {
		t.Fatalf("schedule pushed back %v, want about %v", pushed, 60*time.Millisecond-tol)
	}
	// On time: nothing is pushed. (The push put the next slot out of
	// reach: take a ticket and come back.)
	asked := time.Now()
	res, err = l.acquire(ctx, r, true, time.Time{})
	if err == nil && !res.granted {
		time.Sleep(res.wait - res.ahead)
		asked = time.Now()
		res, err = l.acquire(ctx, r, true, res.slot)
	}
	if err != nil || !res.granted {
		t.Fatalf("second acquire = %+v, %v", res, err)
	}
	if before, err = rdb.Get(ctx, "frameq:rl:{s}:creates").Int64(); err != nil {
		t.Fatal(err)
	}
	if err := l.takeReserved(ctx, r, res, asked); err != nil {
		t.Fatal(err)
	}
	after, err = rdb.Get(ctx, "frameq:rl:{s}:creates").Int64()
	if err != nil {
		t.Fatal(err)
	}
	if late := time.Since(asked.Add(res.wait)); after != before && late < lateFloor {
		t.Fatalf("a permit %v late moved the schedule by %dµs", late, after-before)
	}
}

// A permit whose answer reaches the caller late is used late by as much:
// Redis decided the slot, then the answer was held back (redis-server
// with appendfsync always answers only after its fsync; a slow network
// or a stalled process does the same). That lateness must push the
// schedule back like any other, or the strict window ending at the fifth
// permit after the late one holds six: the 429 that e2e
// TestRedisOutageMidRun saw, whose Redis runs with appendfsync always.
// Two processes take turns, as two workers do, so that neither one's local
// guard (which sees only its own permits) hides the crowding.
func TestLateAnswerPushesTheScheduleBack(t *testing.T) {
	for name, take := range map[string]func(context.Context, *Limiter) error{
		"Wait": func(ctx context.Context, l *Limiter) error { return l.Wait(ctx, "s", "creates") },
		"Allow": func(ctx context.Context, l *Limiter) error {
			for {
				w, err := l.Allow(ctx, "s", "creates")
				if err != nil || w == 0 {
					return err
				}
				time.Sleep(w)
			}
		},
	} {
		t.Run(name, func(t *testing.T) { lateAnswerCrowds(t, take) })
	}
}

func lateAnswerCrowds(t *testing.T, take func(context.Context, *Limiter) error) {
	const rate, lag = 5, 100 * time.Millisecond
	srv := redistest.Start(t)
	slow := &slowAnswer{}
	grants := &grantLog{}
	var procs []*Limiter
	for range 2 {
		rdb := srv.Client(t)
		rdb.AddHook(slow)
		l, hook := newLimiterOn(t, rdb, Config{Limits: map[string]Limit{"creates": {Rate: rate, Per: time.Second}}, Margin: 0.02}, nil)
		warm(t, l, hook) // loads the scripts: no NOSCRIPT round trip below
		l.onGrant = grants.add
		procs = append(procs, l)
	}
	ctx := t.Context()
	var used []time.Time
	for i := range 2 * rate {
		if i == 2 {
			slow.delay.Store(int64(lag))
		}
		if err := take(ctx, procs[i%2]); err != nil {
			t.Fatal(err)
		}
		used = append(used, time.Now())
	}
	// Redis and the test share the host's clock.
	if late := used[2].Sub(grants.sorted()[2]); late < lag {
		t.Fatalf("the held answer made the third permit only %v late, want at least %v: the test proved nothing", late, lag)
	}
	if n := maxInWindow(used, time.Second); n > rate {
		t.Errorf("%d permits used within one second, limit %d: a strict server answers 429 (used at %v)", n, rate, offsets(used))
	}
}

// slowAnswer is a go-redis hook that, once delay is set, holds back the
// next answer of the acquire script that grants a permit: Redis has
// decided, the caller just hears of it late.
type slowAnswer struct {
	delay atomic.Int64 // nanoseconds
}

func (s *slowAnswer) DialHook(next redis.DialHook) redis.DialHook { return next }

func (s *slowAnswer) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if c, ok := cmd.(*redis.Cmd); ok && err == nil && (c.Name() == "evalsha" || c.Name() == "eval") {
			if v, verr := c.Int64Slice(); verr == nil && len(v) >= 4 && v[0] == 1 {
				if d := s.delay.Swap(0); d > 0 {
					time.Sleep(time.Duration(d))
				}
			}
		}
		return err
	}
}

func (s *slowAnswer) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// offsets are times as offsets from the first, for failure messages.
func offsets(times []time.Time) []time.Duration {
	out := make([]time.Duration, len(times))
	for i, t := range times {
		out[i] = t.Sub(times[0]).Round(time.Millisecond)
	}
	return out
}

// Permits granted together and used equally late (a loaded machine delays
// them all) move the schedule back once, not once each: each push would
// otherwise add up to a schedule far in the future, and a worker whose
// every permit is a few round trips late would stall.
func TestPermitsLateTogetherPushTheScheduleOnce(t *testing.T) {
	srv := redistest.Start(t)
	l, _ := newLimiter(t, srv, Config{Limits: map[string]Limit{"creates": {Rate: 10, Per: time.Second, Burst: 5}}, Margin: 0.02}, nil)
	ctx := t.Context()
	r, err := l.newRequest("s", []string{"creates"})
	if err != nil {
		t.Fatal(err)
	}
	var grants []result
	for range 4 {
		res, err := l.acquire(ctx, r, true, time.Time{})
		if err != nil || !res.granted {
			t.Fatalf("acquire = %+v, %v", res, err)
		}
		grants = append(grants, res)
	}
	before := tat(t, srv, "creates")
	late := 200 * time.Millisecond
	for _, res := range grants {
		l.pushBackIfLate(ctx, r, late, res.roomy, res.pushed)
	}
	want := (late - l.lateTolerance(r)).Microseconds()
	if d := tat(t, srv, "creates") - before; d != want {
		t.Fatalf("4 permits 200ms late moved the schedule %dµs, want %d (once)", d, want)
	}
	// A permit granted after that push and then late moves it again.
	res, err := l.acquire(ctx, r, true, time.Time{})
	if err == nil && !res.granted {
		time.Sleep(res.wait - res.ahead)
		res, err = l.acquire(ctx, r, true, res.slot)
	}
	if err != nil || !res.granted {
		t.Fatalf("acquire after the push = %+v, %v", res, err)
	}
	before = tat(t, srv, "creates")
	l.pushBackIfLate(ctx, r, late, res.roomy, res.pushed)
	if d := tat(t, srv, "creates") - before; d != want {
		t.Fatalf("a later late permit moved the schedule %dµs, want %d", d, want)
	}
}

// A request that leaves long after its permit was taken (the process
// starved between Reserve and the write) pushes the schedule back like a
// permit taken late; one that leaves on time pushes nothing; and lateness
// already pushed when the permit was taken is not pushed twice.
func TestRequestSentLateAfterItsPermitPushesTheScheduleBack(t *testing.T) {
	srv := redistest.Start(t)
	l, _ := newLimiter(t, srv, Config{Limits: limits(1), Margin: 0.02}, nil)
	ctx := t.Context()
	p, err := l.Reserve(ctx, "s", "creates")
	if err != nil {
		t.Fatal(err)
	}
	before := tat(t, srv, "creates")
	p.Sent(ctx, time.Now())
	if d := tat(t, srv, "creates") - before; d != 0 {
		t.Fatalf("a request sent on time pushed the schedule %dµs, want 0", d)
	}
	p.Sent(ctx, p.due.Add(200*time.Millisecond))
	want := (200*time.Millisecond - l.lateTolerance(p.r)).Microseconds()
	if d := tat(t, srv, "creates") - before; d < want-1000 || d > want+1000 {
		t.Fatalf("a request sent 200ms late pushed the schedule %dµs, want about %d", d, want)
	}
	// Told again, later: only what was not pushed yet.
	p.Sent(ctx, p.due.Add(250*time.Millisecond))
	if d := tat(t, srv, "creates") - before; d < want+49_000 || d > want+51_000 {
		t.Fatalf("told 250ms after 200ms, the schedule moved %dµs in all, want about %d", d, want+50_000)
	}
}
