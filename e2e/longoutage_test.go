package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/redistest"
)

// TestV4RedisOutageLongerThanALease: redis-server dies (SIGKILL) for 60 s
// mid-run, twice asynq's 30 s task lease, and comes back with its
// append-only file. Uploads under way cannot ride that out in process:
// their leases end, asynq cancels them and cannot write why, so they sit in
// Redis as active tasks nobody runs. The three workers neither exit nor
// spin, make no API call while the limiter is unreachable, and once Redis
// is back they hand those orphaned tasks back to the queue at once (asynq's
// own recovery would wait for its once-a-minute recoverer), so every file
// arrives exactly once and intact, without a single 429 from Frame.io's
// algorithm, a leaky bucket.
func TestV4RedisOutageLongerThanALease(t *testing.T) {
	longRedisOutage(t, v4)
}

// TestRedisOutageLongerThanALease is the same on v2, opt-in with
// FRAMEQ_SOAK=1: CI runs the V4 one, and the lease logic does not depend
// on the API.
func TestRedisOutageLongerThanALease(t *testing.T) {
	if os.Getenv("FRAMEQ_SOAK") != "1" {
		t.Skip("85 s; FRAMEQ_SOAK=1 runs it")
	}
	longRedisOutage(t, v2)
}

// loadMargin keeps a 15 % reserve of every rate: on a loaded 2-core
// machine a permit is sometimes used ~100 ms late (seen: one worker, no
// fault, two file creates 98 ms apart), which the strict simulator's
// one-second window counts as a burst. These tests are about outages and
// files, not about the limiter's precision (see TestLimitLoweredMidRun and
// the benchmarks for that).
const loadMargin = "FRAMEQ_RATE_MARGIN=0.15"

func longRedisOutage(t *testing.T, a api) {
	t.Parallel() // mostly waiting: overlaps the other slow scenarios
	const (
		partSize = 64 << 10
		outage   = 60 * time.Second
		settle   = 2 * time.Second // for calls that already held a permit
		// A spinning worker burns a whole core (60 s over the outage); an
		// idle one ~0.3 s per 10 s with the race detector on.
		maxCPU = 6 * time.Second
		// asynq's recoverer runs once a minute: a batch still unfinished
		// this long after Redis is back waited for it.
		afterBound = 40 * time.Second
	)
	// Frame.io's algorithm, a leaky bucket, not the strict window of the
	// 10 s outage test: the simulator runs in the test process and decides
	// at handler time, and when the rush after the restart starves that
	// process a call that reached it in time is counted up to ~235 ms late,
	// into the next call's window (seen under load: a file_status poll that
	// arrived at +5.869 s decided at +6.104 s, and the one that arrived at
	// +7.100 s refused as the sixth in a second, although the arrivals on
	// the wire never held more than 5 in any second). A bucket's burst
	// tolerance absorbs that lateness, not a real burst: 6 calls at once
	// are still refused. The calls' arrival on the wire is checked below
	// against the same bucket, and their most in any second logged.
	// FRAMEQ_STRICT_WINDOW=1 runs the strict window instead, and holds the
	// arrivals to it: the worker's own promise (at load 17 the arrivals held
	// 6 in a second before permits learned when their request left).
	enforcement := frameiosim.LeakyBucket
	if os.Getenv("FRAMEQ_STRICT_WINDOW") == "1" {
		enforcement = frameiosim.SlidingWindow
	}
	r := newRig(t, frameiosim.Config{
		CreateLimit: 5, Enforcement: enforcement, PartSize: partSize, Seed: 5,
	}, rigOptions{api: a, redis: redistest.Options{AppendOnly: true}, partDelay: 300 * time.Millisecond,
		// 4 slots a worker: 12 uploads resuming at once after the outage
		// load 2 cores less than 24 with the race detector on.
		worker: []string{loadMargin, "FRAMEQ_CONCURRENCY=4"}})
	wire := r.captureAPI(t)
	root := r.sim.RootFolder(frameiosim.DefaultToken)
	files := makeTree(t, filepath.Join(r.root, "long"), 60, partSize, func(i int) int { return 2*partSize + i*1000 })
	workers := []*proc{r.spawn("w1"), r.spawn("w2"), r.spawn("w3")}
	batch := r.enqueueDir(root, files.dir)

	if !pollUntil(context.Background(), time.Minute, 50*time.Millisecond, func() bool { return len(r.sim.Stats().Files) >= 6 }) {
		t.Fatal("no progress before the outage")
	}
	insp := asynq.NewInspectorFromRedisClient(r.redis.Client(t))
	active, err := inQueues("default", insp.ListActiveTasks)
	if err != nil {
		t.Fatal(err)
	}
	if len(active) == 0 {
		t.Fatal("no upload under way when Redis went down: the test would prove nothing")
	}
	down := r.redisOutage(t, workers, outage, settle, maxCPU)
	r.logLimiterState(t, down.upAt)

	if code, report := r.waitBatch(batch, afterBound); code != 0 {
		t.Fatalf("enqueue wait: exit %d %v after Redis returned (asynq's lease recovery?): %s", code, time.Since(down.upAt).Round(time.Second), report)
	}
	finished := time.Since(down.upAt)
	st := r.sim.Stats()
	checkExactlyOnce(t, st, files.files)
	if st.RateLimited > 0 {
		t.Errorf("%d responses were 429 (by route: %v); the calls in the second before each:\n%s",
			st.RateLimited, st.RateLimitedByRoute, strings.Join(r.simLog.leadUp("→ 429", "", time.Second), "\n"))
	}
	r.checkArrivals(t, wire, down)
	reclaimed := 0
	for _, w := range workers {
		if w.exited() {
			t.Errorf("%s exited: %v", w.name, w.err)
		}
		reclaimed += strings.Count(w.logText(), "orphaned task requeued")
	}
	if reclaimed == 0 {
		t.Error("no task was left orphaned by the outage: the test proved nothing about leases")
	}
	t.Logf("%s: %v outage with %d uploads active: worker CPU %v; %d API calls during it; %d orphaned tasks requeued; all %d files done %v after the restart; %d deleted and made again; %d × 429",
		a, outage, len(active), down.cpu, down.calls, reclaimed, len(files.files), finished.Round(100*time.Millisecond), st.Deleted, st.RateLimited)
}

// captureAPI records the API calls' arrival on the wire, or nil where
// packet sockets are not allowed.
func (r *rig) captureAPI(t *testing.T) *arrivals {
	u, err := url.Parse(r.api)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	a, err := captureArrivals(t, port)
	if err != nil {
		t.Logf("arrivals not captured: %v", err)
	}
	return a
}

// logLimiterState logs the limiter's keys as Redis came back: what the
// append-only file kept of them (schedules and tickets live at most a
// wait, so only the adapt hash is expected).
func (r *rig) logLimiterState(t *testing.T, upAt time.Time) {
	ctx := context.Background()
	rdb := r.redis.Client(t)
	keys, _ := rdb.Keys(ctx, "frameq:rl:*").Result()
	for _, k := range keys {
		typ, _ := rdb.Type(ctx, k).Result()
		if typ == "hash" {
			h, _ := rdb.HGetAll(ctx, k).Result()
			t.Logf("after restart (+%v): %s %v", time.Since(upAt), k, h)
		} else {
			v, _ := rdb.Get(ctx, k).Result()
			t.Logf("after restart (+%v): %s %s", time.Since(upAt), k, v)
		}
	}
}

// checkArrivals replays each V4 route's calls, as they arrived on the
// wire, through the simulator's algorithm: none may be refused there
// either, and none may have arrived while Redis was down (refused calls
// included, which the simulator's count of calls leaves out). It logs the
// most calls of each route in any sliding window, at arrival and where the
// simulator decided them. (v2 is not classified.)
func (r *rig) checkArrivals(t *testing.T, wire *arrivals, down outageSeen) {
	t.Helper()
	if wire == nil {
		return
	}
	if d := wire.drops(); d > 0 {
		t.Logf("arrivals not checked: %d packets dropped by the capture", d)
		return
	}
	byRoute := map[string][]time.Time{}
	var during []string
	for _, a := range wire.since(time.Time{}) {
		path, _, _ := strings.Cut(a.path, "?")
		rt := frameiosim.V4RouteOf(a.method, path)
		if rt == "" {
			continue
		}
		byRoute[rt] = append(byRoute[rt], a.at)
		if a.at.After(down.quiet) && a.at.Before(down.upAt) {
			during = append(during, a.method+" "+path)
		}
	}
	if len(during) > 0 {
		t.Errorf("%d API calls arrived while Redis (and so the limiter) was down: %q", len(during), during)
	}
	for route, l := range r.sim.V4Limits() {
		arrived, decided := byRoute[route], r.sim.RouteCalls(frameiosim.DefaultToken, route)
		if len(arrived) == 0 {
			continue
		}
		t.Logf("%s (%d per %v): %d calls; most in a sliding %v: %d as they arrived, %d as the simulator decided them",
			route, l.Limit, l.Window, len(arrived), l.Window, frameiosim.PeakInWindow(arrived, l.Window), frameiosim.PeakInWindow(decided, l.Window))
		over := refusedByBucket(arrived, l.Limit, l.Window) > 0
		if r.cfg.Enforcement == frameiosim.SlidingWindow {
			over = frameiosim.PeakInWindow(arrived, l.Window) > l.Limit
		}
		if over {
			t.Errorf("%s: %q enforcement would refuse calls as they arrived (s after Redis returned):%s\nas the simulator decided them:%s",
				route, r.cfg.Enforcement, offsets(arrived, down.upAt), offsets(decided, down.upAt))
		}
	}
}

// refusedByBucket replays sorted arrival times through a leaky bucket of
// limit per window that holds limit calls at once (GCRA, the simulator's
// LeakyBucket) and counts the calls it refuses.
func refusedByBucket(times []time.Time, limit int, window time.Duration) int {
	interval := window / time.Duration(limit)
	tolerance := window - interval
	var tat time.Time
	refused := 0
	for _, at := range times {
		if tat.Before(at) {
			tat = at
		}
		if tat.Sub(at) > tolerance {
			refused++
			continue
		}
		tat = tat.Add(interval)
	}
	return refused
}

func offsets(times []time.Time, from time.Time) string {
	var b strings.Builder
	for _, at := range times {
		fmt.Fprintf(&b, " %+.3f", at.Sub(from).Seconds())
	}
	return b.String()
}
