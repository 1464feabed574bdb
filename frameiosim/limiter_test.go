package frameiosim

import (
	"math/rand/v2"
	"testing"
	"time"
)

// fakeClock is a settable clock for limiter unit tests.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestSlidingWindowIsHalfOpen(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	l := newLimiter(SlidingWindow, time.Second, 100, 3, clk.now)
	for i := range 3 {
		if v := l.admit("k", true); !v.ok || v.remaining != 2-i || v.limit != 3 {
			t.Fatalf("create %d: %+v", i, v)
		}
		clk.advance(100 * time.Millisecond)
	}
	// t0+300ms: three in (t-1s, t] → refused until t0 leaves the window.
	v := l.admit("k", true)
	if v.ok || v.wait != 700*time.Millisecond || v.remaining != 0 {
		t.Fatalf("4th create: %+v", v)
	}
	clk.advance(699 * time.Millisecond)
	if v := l.admit("k", true); v.ok || v.wait != time.Millisecond {
		t.Fatalf("1ms early: %+v", v)
	}
	clk.advance(time.Millisecond) // exactly t0+1s: t0 is out of (t-1s, t]
	if v := l.admit("k", true); !v.ok {
		t.Fatalf("at t0+window: %+v", v)
	}
	if got := PeakInWindow(l.createTimes()["k"], time.Second); got != 3 {
		t.Fatalf("max in window %d", got)
	}
}

func TestRefusedCallConsumesNothing(t *testing.T) {
	for _, e := range []Enforcement{SlidingWindow, LeakyBucket} {
		t.Run(string(e), func(t *testing.T) {
			clk := &fakeClock{t: time.Unix(1000, 0)}
			l := newLimiter(e, time.Second, 3, 1, clk.now)
			if !l.admit("k", true).ok {
				t.Fatal("first create")
			}
			for range 5 { // refused by the create rule: must not eat calls
				if l.admit("k", true).ok {
					t.Fatal("second create accepted")
				}
			}
			if v := l.admit("k", false); !v.ok || v.remaining != 1 {
				t.Fatalf("call after refused creates: %+v", v)
			}
			if v := l.admit("k", false); !v.ok || v.remaining != 0 {
				t.Fatalf("last call: %+v", v)
			}
			if v := l.admit("k", false); v.ok {
				t.Fatalf("calls exhausted: %+v", v)
			}
			if acc, ref := l.counts(); acc != 3 || ref != 6 {
				t.Fatalf("counts %d accepted %d refused", acc, ref)
			}
			if n := len(l.createTimes()["k"]); n != 1 {
				t.Fatalf("%d create timestamps, want 1", n)
			}
		})
	}
}

func TestLeakyBucketBurstThenSteady(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	l := newLimiter(LeakyBucket, time.Second, 100, 5, clk.now)
	for i := range 5 { // a full bucket takes a burst of 5
		if v := l.admit("k", true); !v.ok || v.remaining != 4-i {
			t.Fatalf("burst %d: %+v", i, v)
		}
	}
	v := l.admit("k", true)
	if v.ok || v.wait != 200*time.Millisecond {
		t.Fatalf("6th: %+v", v)
	}
	clk.advance(100 * time.Millisecond) // half a drop: still no room
	if v := l.admit("k", true); v.ok || v.wait != 100*time.Millisecond {
		t.Fatalf("after 100ms: %+v", v)
	}
	for range 10 { // then exactly one per 200ms
		clk.advance(100 * time.Millisecond)
		if v := l.admit("k", true); !v.ok || v.remaining != 0 {
			t.Fatalf("steady: %+v", v)
		}
		if v := l.admit("k", true); v.ok {
			t.Fatalf("steady double: %+v", v)
		}
		clk.advance(100 * time.Millisecond)
	}
	clk.advance(10 * time.Second) // idle refills to the full burst, no more
	if v := l.admit("k", false); v.remaining != 99 {
		t.Fatalf("calls remaining after idle: %+v", v)
	}
	if v := l.admit("k", true); !v.ok || v.remaining != 4 {
		t.Fatalf("after idle: %+v", v)
	}
}

func TestSetLimitsChangesHeadersAtOnce(t *testing.T) {
	for _, e := range []Enforcement{SlidingWindow, LeakyBucket} {
		clk := &fakeClock{t: time.Unix(1000, 0)}
		l := newLimiter(e, time.Second, 50, 5, clk.now)
		l.admit("k", true)
		l.setLimits(0, 2) // 0 leaves calls as is
		v := l.admit("k", true)
		if !v.ok || v.limit != 2 || v.remaining != 0 {
			t.Fatalf("%s: after SetLimits(0,2): %+v", e, v)
		}
		l.setLimits(1, 100) // calls are now the tightest rule of a create
		if v := l.admit("k", true); v.ok || v.limit != 1 {
			t.Fatalf("%s: tightest rule: %+v", e, v)
		}
	}
}

// TestSlidingWindowNeverOverLimitRandomized drives the limiter with random
// arrival gaps and checks the invariant against a brute-force count.
func TestSlidingWindowNeverOverLimitRandomized(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	clk := &fakeClock{t: time.Unix(1000, 0)}
	const limit, window = 5, time.Second
	l := newLimiter(SlidingWindow, window, 1000, limit, clk.now)
	accepted := 0
	for range 20000 {
		clk.advance(time.Duration(r.IntN(120)) * time.Millisecond)
		if l.admit("k", true).ok {
			accepted++
		}
	}
	times := l.createTimes()["k"]
	for i, t0 := range times { // brute force over every window ending at an acceptance
		n := 0
		for j := i; j >= 0 && times[j].After(t0.Add(-window)); j-- {
			n++
		}
		if n > limit {
			t.Fatalf("%d creates in (t-1s, t] at %v", n, t0)
		}
	}
	if got := PeakInWindow(times, window); got != limit {
		t.Fatalf("PeakInWindow = %d, want %d (saturated)", got, limit)
	}
	if accepted != len(times) || accepted < 20000*60/1000*limit/2 {
		t.Fatalf("accepted %d of %d timestamps: limiter too strict", accepted, len(times))
	}
}

func TestMaxInWindow(t *testing.T) {
	at := func(ms ...int) []time.Time {
		var out []time.Time
		for _, m := range ms {
			out = append(out, time.Unix(0, 0).Add(time.Duration(m)*time.Millisecond))
		}
		return out
	}
	cases := []struct {
		times []int
		w     time.Duration
		want  int
	}{
		{nil, time.Second, 0},
		{[]int{0}, time.Second, 1},
		{[]int{0, 1000}, time.Second, 1}, // (t-w, t] excludes t-w
		{[]int{0, 999}, time.Second, 2},
		{[]int{0, 10, 20, 1005, 1011, 1012}, time.Second, 4},
		{[]int{5, 5, 5}, time.Millisecond, 3},
		{[]int{0, 1}, 0, 0},
	}
	for _, tt := range cases {
		if got := PeakInWindow(at(tt.times...), tt.w); got != tt.want {
			t.Errorf("PeakInWindow(%v, %v) = %d, want %d", tt.times, tt.w, got, tt.want)
		}
	}
}
