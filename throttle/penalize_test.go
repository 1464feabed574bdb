package throttle

import (
	"context"
	"math"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/frameq/frameq/redistest"
)

// A 429 seen by one worker pauses every worker of the scope, in every
// process, until the hold ends on Redis's clock.
func TestPenalizePausesEveryClient(t *testing.T) {
	srv := redistest.Start(t)
	log := &grantLog{}
	var lims []*Limiter
	for range 3 {
		l, _ := newLimiter(t, srv, Config{Limits: limits(10)}, log)
		lims = append(lims, l)
	}
	rdb := srv.Client(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var wg sync.WaitGroup
	for _, l := range lims {
		for range 3 {
			wg.Go(func() {
				for l.Wait(ctx, "s", "calls", "creates") == nil {
				}
			})
		}
	}
	time.Sleep(500 * time.Millisecond)
	if err := lims[0].Penalize(ctx, "s", 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	v, err := rdb.Get(ctx, "frameq:rl:{s}:hold").Int64()
	if err != nil {
		t.Fatal(err)
	}
	holdUntil := time.UnixMicro(v)
	st, err := lims[1].State(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if st.Hold <= time.Second || st.Hold > 1500*time.Millisecond {
		t.Errorf("State.Hold right after Penalize(1.5s) = %v", st.Hold)
	}
	time.Sleep(2500 * time.Millisecond)
	cancel()
	wg.Wait()

	var in, reserved, after int
	heldFrom := holdUntil.Add(-1500 * time.Millisecond)
	log.mu.Lock()
	defer log.mu.Unlock()
	for i, at := range log.times {
		switch {
		case at.After(heldFrom) && at.Before(holdUntil) && log.decided[i].Before(heldFrom):
			reserved++ // reserved before the 429, for an instant after it
		case at.After(heldFrom) && at.Before(holdUntil):
			in++
		case !at.Before(holdUntil):
			after++
		}
	}
	if in != 0 {
		t.Errorf("%d permits granted during the hold", in)
	}
	// Reservations reach one interval (100ms) ahead and are 100ms apart.
	if reserved > 1 {
		t.Errorf("%d permits reserved before the hold went out during it, want <= 1", reserved)
	}
	if after == 0 {
		t.Error("no permit after the hold ended")
	}
}

func TestPenalizeWithoutRetryAfterHoldsOneSlowestWindow(t *testing.T) {
	srv := redistest.Start(t)
	cfg := Config{Limits: map[string]Limit{
		"calls":  {Rate: 50, Per: time.Second},
		"hourly": {Rate: 3600, Per: time.Hour}, // 1/s: the slowest
		"fast":   {Rate: 100, Per: 2 * time.Second},
	}}
	l, _ := newLimiter(t, srv, cfg, nil)
	ctx := t.Context()
	if err := l.Penalize(ctx, "s", 0); err != nil {
		t.Fatal(err)
	}
	st, err := l.State(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if st.Hold <= 59*time.Minute || st.Hold > time.Hour {
		t.Fatalf("Hold after Penalize(0) = %v, want one window of the slowest limit (1h)", st.Hold)
	}
	// A shorter Retry-After never shortens an existing hold.
	if err := l.Penalize(ctx, "s", time.Second); err != nil {
		t.Fatal(err)
	}
	if st, _ := l.State(ctx, "s"); st.Hold <= 59*time.Minute {
		t.Fatalf("Hold after a shorter Penalize = %v, want it kept", st.Hold)
	}
}

// AIMD: a 429 halves the rate once per episode, repeated episodes compound
// down to the floor, and the rate climbs back linearly to the configured
// one over Recover.
func TestAIMDDecreaseAndRecovery(t *testing.T) {
	srv := redistest.Start(t)
	const recover = 2 * time.Second
	l, _ := newLimiter(t, srv, Config{Limits: limits(10), Recover: recover}, nil)
	other, _ := newLimiter(t, srv, Config{Limits: limits(10), Recover: recover}, nil)
	ctx := t.Context()
	rate := func() float64 {
		st, err := other.State(ctx, "s")
		if err != nil {
			t.Fatal(err)
		}
		return st.Rates["creates"]
	}
	if r := rate(); r != 10 {
		t.Fatalf("rate before any 429 = %v, want 10", r)
	}
	start := time.Now()
	for range 5 { // one burst of 429s from five workers: one episode
		if err := l.Penalize(ctx, "s", 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	r0 := rate()
	// Recovery adds 0.9 of the rate per Recover: allow for time passed.
	climbed := 10 * 0.9 * time.Since(start).Seconds() / recover.Seconds()
	if r0 < 5-0.01 || r0 > 5+climbed+0.01 {
		t.Fatalf("rate after one episode = %v, want 5 (+%.2f recovered)", r0, climbed)
	}
	// Recovery is gradual and reaches the configured rate.
	prev := r0
	deadline := time.Now().Add(10 * recover)
	for prev < 10 && time.Now().Before(deadline) {
		time.Sleep(recover / 8)
		r := rate()
		if r < prev {
			t.Fatalf("rate fell from %v to %v while recovering", prev, r)
		}
		prev = r
	}
	if prev < 10 {
		t.Fatalf("rate %v never recovered to 10", prev)
	}
	if r := rate(); r != 10 {
		t.Fatalf("recovered rate %v overshoots 10", r)
	}
}

func TestAIMDFloorAndEpisodes(t *testing.T) {
	srv := redistest.Start(t)
	l, _ := newLimiter(t, srv, Config{Limits: limits(10), Recover: time.Hour}, nil)
	rdb := srv.Client(t)
	ctx := t.Context()
	factor := func() float64 {
		f, err := rdb.HGet(ctx, "frameq:rl:{s}:adapt", "f").Result()
		if err != nil {
			t.Fatal(err)
		}
		v, _ := strconv.ParseFloat(f, 64)
		return v
	}
	want := 1.0
	for i := range 6 {
		// Each Penalize is a new episode once the last cut is older than
		// max(wait, slowest window); fake that by ageing the cut.
		if i > 0 {
			rdb.HSet(ctx, "frameq:rl:{s}:adapt", "d", 0)
		}
		if err := l.Penalize(ctx, "s", time.Millisecond); err != nil {
			t.Fatal(err)
		}
		want = math.Max(want*0.5, aimdFloor)
		if f := factor(); math.Abs(f-want) > 1e-3 {
			t.Fatalf("factor after %d episodes = %v, want %v", i+1, f, want)
		}
	}
}

// The cut applies to permits, not only to State: after a 429 consecutive
// permits are twice as far apart.
func TestAIMDCutSpacesPermits(t *testing.T) {
	srv := redistest.Start(t)
	log := &grantLog{}
	l, _ := newLimiter(t, srv, Config{Limits: limits(10)}, log) // Recover 30s
	ctx := t.Context()
	if err := l.Penalize(ctx, "s", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if err := l.Wait(ctx, "s", "creates"); err != nil {
			t.Fatal(err)
		}
	}
	times := log.sorted()
	for i := 1; i < len(times); i++ {
		// 100ms/f with f = 0.5 + 0.9×elapsed/30s, i.e. >= 190ms within 1.5s.
		if gap := times[i].Sub(times[i-1]); gap < 190*time.Millisecond {
			t.Fatalf("permits %v apart after a 429, want about 200ms", gap)
		}
	}
}
