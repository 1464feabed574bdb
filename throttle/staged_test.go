package throttle

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/frameq/frameq/redistest"
	"github.com/redis/go-redis/v9"
)

// stage sends the staged tries for scope and limits, n of them, in one
// pipeline with a write of the caller's own, as an upload's claim does.
func stage(t *testing.T, l *Limiter, rdb *redis.Client, n int, scope string, limits ...string) []*Staged {
	t.Helper()
	ctx := t.Context()
	p := rdb.Pipeline()
	var out []*Staged
	for range n {
		s, err := l.Stage(ctx, p, scope, limits...)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	p.Set(ctx, "caller:own", "1", 0)
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	return out
}

// lenient is a Margin whose tolerance covers a loaded test machine's pace:
// a staged permit taken late pushes the schedule back, one script call.
const lenient = 0.4

// A granted staged permit is taken by the Reserve it was staged for,
// without a Redis call; once only.
func TestStagedPermitIsTakenWithoutAskingRedis(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	l, hook := newLimiterOn(t, rdb, Config{Limits: limits(5), Margin: lenient}, nil)
	warm(t, l, hook)
	log := &grantLog{}
	l.onGrant = log.add
	s := stage(t, l, rdb, 1, "s", "creates", "calls")[0]
	hook.Reset()
	ctx := WithStaged(t.Context(), s)
	p, err := l.Reserve(ctx, "s", "calls", "creates")
	if err != nil || p == nil {
		t.Fatalf("Reserve = %v, %v", p, err)
	}
	if n := hook.Commands(); n != 0 {
		t.Fatalf("Reserve of a staged permit made %d Redis calls, want 0", n)
	}
	if _, err := l.Reserve(ctx, "s", "calls", "creates"); err != nil {
		t.Fatal(err)
	}
	if n := hook.Commands(); n != 1 {
		t.Fatalf("a second Reserve under the same context made %d Redis calls, want 1: a staged permit is taken once", n)
	}
	if got := len(log.sorted()); got != 2 {
		t.Fatalf("%d grants logged, want 2", got)
	}
}

// A staged permit is only for its scope and limits: another request under
// the same context asks Redis and leaves it for its own.
func TestStagedPermitIsOnlyForItsScopeAndLimits(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	l, hook := newLimiterOn(t, rdb, Config{Limits: limits(5), Margin: lenient}, nil)
	warm(t, l, hook)
	ctx := WithStaged(t.Context(), stage(t, l, rdb, 1, "s", "calls", "creates")[0])
	hook.Reset()
	for _, req := range []struct {
		scope  string
		limits []string
	}{{"s", []string{"calls"}}, {"other", []string{"calls", "creates"}}} {
		if err := l.Wait(ctx, req.scope, req.limits...); err != nil {
			t.Fatal(err)
		}
	}
	if n := hook.Commands(); n != 2 {
		t.Fatalf("two other requests made %d Redis calls, want 2", n)
	}
	if err := l.Wait(ctx, "s", "creates", "calls"); err != nil {
		t.Fatal(err)
	}
	if n := hook.Commands(); n != 2 {
		t.Fatalf("the staged request made %d more Redis calls, want 0", n-2)
	}
}

// Staged tries obey the limit as Wait's reservations do (a slot at most
// one interval ahead, one interval apart), and a refused one takes no
// ticket: its caller queues through Wait, and a ticket nobody shows would
// leave a slot unused.
func TestStagedTriesKeepTheLimitAndRefusalsTakeNoTicket(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	lim := map[string]Limit{"creates": {Rate: 5, Per: time.Second}}
	l, hook := newLimiterOn(t, rdb, Config{Limits: lim, Margin: lenient}, nil)
	warm(t, l, hook)
	log := &grantLog{}
	l.onGrant = log.add
	staged := stage(t, l, rdb, 3, "s", "creates")
	ctx := t.Context()
	r, err := l.newRequest("s", []string{"creates"})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := rdb.Exists(ctx, r.keys[2]).Result(); err != nil || n != 0 {
		t.Fatalf("queue key after refused staged tries: exists=%d, %v; want none", n, err)
	}
	var granted int
	for _, s := range staged {
		hook.Reset()
		if _, err := l.Reserve(WithStaged(ctx, s), "s", "creates"); err != nil {
			t.Fatal(err)
		}
		if hook.Commands() == 0 {
			granted++
		}
	}
	// The first now, the second one interval ahead (200ms / (1-Margin));
	// the third is two intervals away, beyond the one a reservation may
	// reach.
	if granted != 2 {
		t.Fatalf("%d staged tries granted, want 2", granted)
	}
	times := log.sorted()
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap < 200*time.Millisecond-time.Millisecond {
			t.Fatalf("grants %d and %d are %v apart, want at least the 200ms interval", i-1, i, gap)
		}
	}
}

// A staged try on a Redis that has not seen the script: the first Stage
// loads it, so the caller's pipeline does not fail. One that lost it later
// (a restart) fails the try alone, and Wait takes over and loads it again.
func TestStageOnAFreshRedis(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	l, err := New(rdb, Config{Limits: limits(1000), Margin: lenient})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	s := stage(t, l, rdb, 1, "s", "calls")[0] // fails the test on a pipeline error
	if _, err := l.Reserve(WithStaged(ctx, s), "s", "calls"); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	p := rdb.Pipeline()
	own := p.Set(ctx, "caller:own", "1", 0)
	s, err = l.Stage(ctx, p, "s", "calls")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = p.Exec(ctx)
	if s.cmd == nil || own.Err() != nil || !redis.HasErrorPrefix(s.cmd.Err(), "NOSCRIPT") {
		t.Fatalf("after SCRIPT FLUSH: own command %v, try %v; want ok and NOSCRIPT", own.Err(), s.cmd.Err())
	}
	if err := l.Wait(WithStaged(ctx, s), "s", "calls"); err != nil {
		t.Fatalf("Wait after a failed try: %v", err)
	}
	stage(t, l, rdb, 1, "s", "calls") // loaded again by that Wait
}

// A staged try whose pipeline never ran (or failed) leaves Reserve to ask
// Redis as usual.
func TestUnsentStagedTryFallsBackToRedis(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	l, hook := newLimiterOn(t, rdb, Config{Limits: limits(5)}, nil)
	warm(t, l, hook)
	s, err := l.Stage(t.Context(), rdb.Pipeline(), "s", "calls")
	if err != nil {
		t.Fatal(err)
	}
	hook.Reset() // the first Stage loads the script
	if err := l.Wait(WithStaged(t.Context(), s), "s", "calls"); err != nil {
		t.Fatal(err)
	}
	if n := hook.Commands(); n != 1 {
		t.Fatalf("Wait after an unsent staged try made %d Redis calls, want 1", n)
	}
	if _, err := l.Stage(t.Context(), rdb.Pipeline(), "s", "nope"); !errors.Is(err, ErrUnknownLimit) {
		t.Fatalf("Stage of an unknown limit = %v, want ErrUnknownLimit", err)
	}
	if got := WithStaged(context.Background(), nil); got != context.Background() {
		t.Fatal("WithStaged(ctx, nil) must return ctx")
	}
}
