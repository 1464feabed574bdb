package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/redistest"
)

// TestRedisOutageMidRun: redis-server dies (SIGKILL) for 10 s mid-run and
// comes back with its append-only file. The workers neither exit nor spin
// (their CPU time over the outage stays small), make no API call without a
// permit from the Redis limiter (none at all once in-flight calls have
// landed), and finish every file exactly once afterwards, never over the
// create limit (on V4: any route's limit).
func TestRedisOutageMidRun(t *testing.T) { redisOutageMidRun(t, v2) }

// TestV4RedisOutageMidRun is TestRedisOutageMidRun on V4.
func TestV4RedisOutageMidRun(t *testing.T) { redisOutageMidRun(t, v4) }

func redisOutageMidRun(t *testing.T, a api) {
	t.Parallel() // mostly waiting: overlaps the other slow scenarios
	const (
		partSize = 64 << 10
		outage   = 10 * time.Second
		settle   = 2 * time.Second // for calls that already held a permit
		// A spinning worker burns a whole core (10 s over the outage); an
		// idle one a few hundred ms with the race detector on.
		maxCPU = 3 * time.Second
	)
	r := newRig(t, frameiosim.Config{
		CreateLimit: 5, Enforcement: frameiosim.SlidingWindow, PartSize: partSize, Seed: 3,
	}, rigOptions{api: a, redis: redistest.Options{AppendOnly: true}})
	root := r.sim.RootFolder(frameiosim.DefaultToken)
	files := makeTree(t, filepath.Join(r.root, "outage"), 40, partSize, func(i int) int { return partSize/2 + i*1000 })
	workers := []*proc{r.spawn("w1"), r.spawn("w2")}
	batch := r.enqueueDir(root, files.dir)

	if !pollUntil(context.Background(), time.Minute, 50*time.Millisecond, func() bool { return len(r.sim.Stats().Files) >= 10 }) {
		t.Fatal("no progress before the outage")
	}
	down := r.redisOutage(t, workers, outage, settle, maxCPU)

	if code, report := r.waitBatch(batch, 3*time.Minute); code != 0 {
		t.Fatalf("enqueue wait: exit %d: %s", code, report)
	}
	finished := time.Since(down.upAt)
	st := r.sim.Stats()
	checkExactlyOnce(t, st, files.files)
	r.checkNeverOver(t)
	// Tasks under way rode the outage out in process: none failed into
	// asynq while Redis was down, where the failure would be lost and the
	// task left to lease recovery (1-2 min).
	rode := 0
	for _, w := range workers {
		if w.exited() {
			t.Errorf("%s exited: %v", w.name, w.err)
		}
		log := w.logText()
		rode += strings.Count(log, "redis is back: resuming")
		if n := strings.Count(log, "Will retry syncing"); n > 0 {
			t.Errorf("%s: %d task outcomes not written to Redis, left to lease recovery", w.name, n)
		}
	}
	if rode == 0 {
		t.Error("no upload was under way during the outage: the test proved nothing")
	}
	maxCreates := r.sim.MaxCreatesInWindow(frameiosim.DefaultToken, time.Second)
	if a == v4 {
		maxCreates = r.sim.MaxInWindow(frameiosim.DefaultToken, frameiosim.RouteFileCreate, time.Second)
	}
	t.Logf("%s: %v outage: worker CPU %v; %d API calls during it; %d uploads waited for Redis; all %d files done %v after the restart; max %d creates/s",
		a, outage, down.cpu, down.calls, rode, len(files.files), finished.Round(100*time.Millisecond), maxCreates)
}

// outageSeen is what redisOutage saw of the workers while Redis was down.
type outageSeen struct {
	cpu   []time.Duration // each worker's CPU time over the outage
	calls int             // API calls after the settle time
	quiet time.Time       // when the settle time ended
	upAt  time.Time       // when Redis was back
}

// redisOutage kills r's redis-server (SIGKILL) for outage and restarts it
// from its append-only file. Over the outage no worker exits or uses more
// than maxCPU (it would be spinning), and no API call lands once settle has
// passed (calls that held a permit before may still land): without Redis
// there is no permit.
func (r *rig) redisOutage(t *testing.T, workers []*proc, outage, settle, maxCPU time.Duration) outageSeen {
	t.Helper()
	return r.outageOf(t, workers, outage, settle, maxCPU, r.redis.Stop, r.redis.Restart)
}

// outageOf is redisOutage for any Redis deployment: stop takes it all down
// (SIGKILL), start brings it back.
func (r *rig) outageOf(t *testing.T, workers []*proc, outage, settle, maxCPU time.Duration, stop func(), start func() error) outageSeen {
	t.Helper()
	stop()
	downAt := time.Now()
	cpu0 := make([]time.Duration, len(workers))
	for i, w := range workers {
		cpu0[i] = w.cpu()
	}
	time.Sleep(settle)
	calls0 := r.sim.Stats().Calls
	time.Sleep(outage - time.Since(downAt))
	seen := outageSeen{calls: r.sim.Stats().Calls - calls0, quiet: downAt.Add(settle)}
	for i, w := range workers {
		if !alive(w.pid()) {
			t.Fatalf("%s exited during the outage", w.name)
		}
		seen.cpu = append(seen.cpu, w.cpu()-cpu0[i])
		if seen.cpu[i] > maxCPU {
			t.Errorf("%s used %v of CPU during a %v outage: spinning", w.name, seen.cpu[i], outage)
		}
	}
	if seen.calls != 0 {
		t.Errorf("%d API calls while Redis (and so the limiter) was down: %q", seen.calls, r.simLog.between(downAt.Add(settle), time.Now()))
	}
	if err := start(); err != nil {
		t.Fatal(err)
	}
	seen.upAt = time.Now()
	return seen
}
