package throttle

import (
	"testing"
	"time"

	"github.com/frameq/frameq/redistest"
)

func TestObserveAdoptsALowerLimitForEveryClient(t *testing.T) {
	srv := redistest.Start(t)
	log := &grantLog{}
	a, _ := newLimiter(t, srv, Config{Limits: limits(5)}, nil)
	b, _ := newLimiter(t, srv, Config{Limits: limits(5)}, log)
	ctx := t.Context()
	// The server says 2 creates per 1000ms.
	if err := a.Observe(ctx, "s", "creates", 2, time.Second); err != nil {
		t.Fatal(err)
	}
	st, err := b.State(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if st.Rates["creates"] != 2 || st.Rates["calls"] != 50 {
		t.Fatalf("rates after Observe(2/s) = %v, want creates 2, calls 50", st.Rates)
	}
	for range 3 {
		if err := b.Wait(ctx, "s", "calls", "creates"); err != nil {
			t.Fatal(err)
		}
	}
	times := log.sorted()
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap < 500*time.Millisecond {
			t.Fatalf("permits %v apart under an observed 2/s, want >= 500ms", gap)
		}
	}
	// A higher limit from the server is never adopted above the
	// configuration: it restores the configured rate.
	if err := a.Observe(ctx, "s", "creates", 100, time.Second); err != nil {
		t.Fatal(err)
	}
	if st, _ := b.State(ctx, "s"); st.Rates["creates"] != 5 {
		t.Fatalf("rate after Observe(100/s) = %v, want the configured 5", st.Rates["creates"])
	}
}

func TestObserveSkipsRepeatedValues(t *testing.T) {
	srv := redistest.Start(t)
	l, hook := newLimiter(t, srv, Config{Limits: limits(5)}, nil)
	warm(t, l, hook)
	ctx := t.Context()
	for range 10 {
		if err := l.Observe(ctx, "s", "creates", 5, time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if n := hook.Commands(); n > 2 { // EVALSHA miss + EVAL the first time
		t.Fatalf("10 identical Observes cost %d Redis commands, want 1", n)
	}
	if err := l.Observe(ctx, "s", "creates", 4, time.Second); err != nil {
		t.Fatal(err)
	}
	if st, _ := l.State(ctx, "s"); st.Rates["creates"] != 4 {
		t.Fatalf("a changed observation was not written: %v", st.Rates)
	}
}

func TestMarginLowersEveryRate(t *testing.T) {
	srv := redistest.Start(t)
	l, _ := newLimiter(t, srv, Config{Limits: limits(5), Margin: 0.2}, nil)
	st, err := l.State(t.Context(), "s")
	if err != nil {
		t.Fatal(err)
	}
	if st.Rates["creates"] != 4 || st.Rates["calls"] != 40 || st.Hold != 0 {
		t.Fatalf("State with Margin 0.2 = %+v, want creates 4, calls 40, no hold", st)
	}
}
