package throttle

import (
	"testing"
	"time"

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
	// Pretend the answer arrived 60ms ago: the caller is now 60ms late.
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
	res, err = l.acquire(ctx, r, true, time.Time{})
	if err == nil && !res.granted {
		time.Sleep(res.wait - res.ahead)
		res, err = l.acquire(ctx, r, true, res.slot)
	}
	if err != nil || !res.granted {
		t.Fatalf("second acquire = %+v, %v", res, err)
	}
	replied := time.Now()
	if before, err = rdb.Get(ctx, "frameq:rl:{s}:creates").Int64(); err != nil {
		t.Fatal(err)
	}
	if err := l.takeReserved(ctx, r, res, replied); err != nil {
		t.Fatal(err)
	}
	after, err = rdb.Get(ctx, "frameq:rl:{s}:creates").Int64()
	if err != nil {
		t.Fatal(err)
	}
	if late := time.Since(replied.Add(res.wait)); after != before && late < lateFloor {
		t.Fatalf("a permit %v late moved the schedule by %dµs", late, after-before)
	}
}
