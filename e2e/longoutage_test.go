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
// spin, make no API call while the limiter is unreachable (0 × 429 at the
// strict simulator), and once Redis is back they hand those orphaned tasks
// back to the queue at once (asynq's own recovery would wait for its
// once-a-minute recoverer), so every file arrives exactly once and intact.
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
	r := newRig(t, frameiosim.Config{
		CreateLimit: 5, Enforcement: frameiosim.SlidingWindow, PartSize: partSize, Seed: 5,
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
	// 429s are logged with what led up to them, not failed: on a loaded
	// 2-core machine the rush of resumed uploads after the outage starves
	// processes, the simulator's included, and calls then reach its strict
	// one-second window in bunches (seen: two status polls and two creates
	// within 21 ms beside an 18 ms answer; three creates within 155 ms),
	// whatever the limiter did. A call made
	// without a permit is caught above (0 calls during the outage);
	// TestV4RedisOutageMidRun and the benchmarks hold the limiter to 0 × 429.
	for _, at := range r.simLog.times("→ 429") {
		t.Logf("a 429 %+.1fs after Redis returned", at.Sub(down.upAt).Seconds())
	}
	if st.RateLimited > 0 {
		t.Logf("the calls in the second before each 429:\n%s", strings.Join(r.simLog.leadUp("→ 429", "", time.Second), "\n"))
	}
	r.logBunches(t, wire, down.upAt)
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

// times returns when each line containing s was logged.
func (l *lineLog) times(s string) []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []time.Time
	for i, line := range l.lines {
		if strings.Contains(line, s) {
			out = append(out, l.at[i])
		}
	}
	return out
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

// logLimiterState logs the limiter's adapt hashes as Redis came back.
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

// logBunches logs, per V4 route, the most calls in any sliding second
// since from: at arrival on the wire and at the simulator's limiter.
func (r *rig) logBunches(t *testing.T, wire *arrivals, from time.Time) {
	byRoute := map[string][]time.Time{}
	if wire != nil {
		for _, a := range wire.since(from) {
			path, _, _ := strings.Cut(a.path, "?")
			if rt := frameiosim.V4RouteOf(a.method, path); rt != "" {
				byRoute[rt] = append(byRoute[rt], a.at)
			}
		}
		t.Logf("wire: %d packet drops", wire.drops())
	}
	refused := r.sim.Stats().RateLimitedByRoute
	for route, l := range r.sim.V4Limits() {
		var sim []time.Time
		for _, at := range r.sim.RouteCalls(frameiosim.DefaultToken, route) {
			if !at.Before(from) {
				sim = append(sim, at)
			}
		}
		if len(sim) == 0 {
			continue
		}
		wireMax, simMax := maxInSlidingWindow(byRoute[route], l.Window), maxInSlidingWindow(sim, l.Window)
		t.Logf("%s (limit %d/%v): %d calls, %d refused; max in a sliding %v: %d at arrival, %d at the simulator",
			route, l.Limit, l.Window, len(sim), refused[route], l.Window, wireMax, simMax)
		if wireMax > l.Limit || refused[route] > 0 {
			t.Logf("%s arrivals: %s", route, offsets(byRoute[route], from))
			t.Logf("%s at the simulator: %s", route, offsets(sim, from))
		}
	}
}

func offsets(times []time.Time, from time.Time) string {
	var b strings.Builder
	for _, at := range times {
		fmt.Fprintf(&b, " %+.3f", at.Sub(from).Seconds())
	}
	return b.String()
}
