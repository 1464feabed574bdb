package e2e

import (
	"context"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/frameq/frameq/frameiosim"
)

// TestAPIMisbehaviour: each way Frame.io (or what stands in front of it)
// misbehaves is handled with zero duplicates and every file intact. Each
// case checks that its fault really fired, so a pass proves something.
func TestAPIMisbehaviour(t *testing.T) {
	t.Parallel() // mostly waiting: overlaps the other slow scenarios
	cases := []struct {
		name   string
		faults frameiosim.Faults
		worker []string
		// fired reports how often the fault hit, from the simulator.
		fired func(r *rig, st frameiosim.Stats) int
	}{{
		// Answers slower than FRAMEQ_API_TIMEOUT: the create happened, the
		// client gave up; the next attempt adopts what it made.
		name:   "latency beyond the client timeout",
		faults: frameiosim.Faults{SlowProb: 0.2, SlowDelay: 1500 * time.Millisecond},
		worker: []string{"FRAMEQ_API_TIMEOUT=1s"},
		fired:  func(r *rig, _ frameiosim.Stats) int { return r.simLog.count(" → 0 in ") }, // client gone
	}, {
		name:   "connection reset after the create",
		faults: frameiosim.Faults{ResetCreate: 0.2},
		fired:  func(_ *rig, st frameiosim.Stats) int { return st.LostCreates },
	}, {
		name:   "HTML error pages from a proxy",
		faults: frameiosim.Faults{HTMLError: 0.2},
		fired:  func(r *rig, _ frameiosim.Stats) int { return r.simLog.count(" → 502 in ") },
	}, {
		name:   "10% of create answers lost",
		faults: frameiosim.Faults{LostCreate: 0.1},
		fired:  func(_ *rig, st frameiosim.Stats) int { return st.LostCreates },
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			const partSize = 32 << 10
			r := newRig(t, frameiosim.Config{
				CreateLimit: 20, CallLimit: 100, Enforcement: frameiosim.SlidingWindow, PartSize: partSize, Seed: 17,
			}, rigOptions{worker: append([]string{"FRAMEQ_CREATE_RATE=20/s", "FRAMEQ_CALL_RATE=100/s"}, c.worker...)})
			r.sim.SetFaults(c.faults)
			root := r.sim.RootFolder(frameiosim.DefaultToken)
			files := makeTree(t, filepath.Join(r.root, "m"), 30, partSize, func(i int) int { return 1 + i*3000 })
			r.spawn("w1")
			r.spawn("w2")
			batch := r.enqueueDir(root, files.dir)
			if code, report := r.waitBatch(batch, 3*time.Minute); code != 0 {
				t.Fatalf("enqueue wait: exit %d: %s", code, report)
			}
			st := r.sim.Stats()
			checkExactlyOnce(t, st, files.files)
			if max := r.sim.MaxCreatesInWindow(frameiosim.DefaultToken, time.Second); max > 20 {
				t.Errorf("%d creates in one second, limit 20", max)
			}
			n := c.fired(r, st)
			if n == 0 {
				t.Errorf("the fault never fired")
			}
			t.Logf("fault fired %d times; %d creates for %d files + %d folders, %d orphans deleted, %d 429s",
				n, st.Creates, len(st.Files), len(st.Folders), st.Deleted, st.RateLimited)
		})
	}
}

// TestLimitLoweredMidRun: Frame.io lowers the create limit from 10/s to 3/s
// mid-run and answers 429 without Retry-After. The burst of 429s is
// absorbed (every worker pauses), the new limit is read from the
// x-ratelimit-* headers and adopted by the shared limiter: from two seconds
// after the change no 429 and never more than 3 creates in a second.
func TestLimitLoweredMidRun(t *testing.T) {
	const (
		partSize = 32 << 10
		settle   = 2 * time.Second
	)
	r := newRig(t, frameiosim.Config{
		CreateLimit: 10, CallLimit: 100, Enforcement: frameiosim.SlidingWindow, NoRetryAfter: true, PartSize: partSize, Seed: 23,
	}, rigOptions{worker: []string{"FRAMEQ_CREATE_RATE=10/s", "FRAMEQ_CALL_RATE=100/s"}})
	root := r.sim.RootFolder(frameiosim.DefaultToken)
	files := makeTree(t, filepath.Join(r.root, "low"), 40, partSize, func(i int) int { return 100 + i })
	r.spawn("w1")
	r.spawn("w2")
	batch := r.enqueueDir(root, files.dir)
	if !pollUntil(context.Background(), time.Minute, 20*time.Millisecond, func() bool { return len(r.sim.Stats().Files) >= 10 }) {
		t.Fatal("no progress before the limit change")
	}
	r.sim.SetLimits(0, 3)
	lowered := time.Now()
	if code, report := r.waitBatch(batch, 3*time.Minute); code != 0 {
		t.Fatalf("enqueue wait: exit %d: %s", code, report)
	}
	st := r.sim.Stats()
	checkExactlyOnce(t, st, files.files)
	burst := r.simLog.between(lowered, lowered.Add(settle))
	late := r.simLog.between(lowered.Add(settle), time.Now())
	var burst429, late429 int
	for _, l := range burst {
		if strings.Contains(l, " → 429 in ") {
			burst429++
		}
	}
	for _, l := range late {
		if strings.Contains(l, " → 429 in ") {
			late429++
		}
	}
	if burst429 == 0 {
		t.Error("no 429 after the limit was lowered: the test proved nothing")
	}
	if late429 > 0 {
		t.Errorf("%d 429s from %v after the change: the lower limit was not adopted", late429, settle)
	}
	var after []time.Time
	for _, at := range st.CreatesByScope[frameiosim.DefaultToken] {
		if at.After(lowered.Add(settle)) {
			after = append(after, at)
		}
	}
	if max := maxPerWindow(after, time.Second); max > 3 {
		t.Errorf("%d creates in one second after adopting the limit of 3", max)
	}
	t.Logf("limit 10/s → 3/s: %d 429s (no Retry-After) in the first %v, %d after; %d creates after, max %d in a second",
		burst429, settle, late429, len(after), maxPerWindow(after, time.Second))
}

// maxPerWindow is the most times in any interval (t-w, t].
func maxPerWindow(times []time.Time, w time.Duration) int {
	ts := append([]time.Time(nil), times...)
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	best, lo := 0, 0
	for hi := range ts {
		for !ts[lo].After(ts[hi].Add(-w)) {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}
