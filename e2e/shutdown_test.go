package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/frameq/frameq/frameiosim"
)

// TestGracefulStopMidRun: SIGTERM stops a worker within its shutdown
// grace. Uploads that finish in time are done; the rest go back to the
// queue at once (not orphaned until lease recovery, no retry spent) and
// resume elsewhere from their progress: nothing lost, nothing made twice.
func TestGracefulStopMidRun(t *testing.T) { gracefulStopMidRun(t, v2) }

// TestV4GracefulStopMidRun is TestGracefulStopMidRun on V4.
func TestV4GracefulStopMidRun(t *testing.T) { gracefulStopMidRun(t, v4) }

func gracefulStopMidRun(t *testing.T, a api) {
	t.Parallel() // mostly waiting: overlaps the other slow scenarios
	const partSize = 16 << 10
	const grace = 1500 * time.Millisecond
	cfg := frameiosim.Config{Enforcement: frameiosim.SlidingWindow, PartSize: partSize, Seed: 5}
	r := newRig(t, cfg, rigOptions{api: a, partDelay: 250 * time.Millisecond, worker: append(a.limits(&cfg, 20, 100),
		"FRAMEQ_CONCURRENCY=8", "FRAMEQ_PART_CONCURRENCY=1")})
	root := r.sim.RootFolder(frameiosim.DefaultToken)
	// One file in three takes 3 parts (0.75 s), shorter than the grace; the
	// others 12 parts (3 s), longer.
	files := makeTree(t, filepath.Join(r.root, "term"), 24, partSize, func(i int) int {
		if i%3 == 0 {
			return 3*partSize - i
		}
		return 12*partSize - i
	})

	stopping := r.spawn("stopping", "FRAMEQ_SHUTDOWN_TIMEOUT="+grace.String())
	batch := r.enqueueDir(root, files.dir)
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: r.redis.Addr()})
	defer insp.Close()
	busy := pollUntil(context.Background(), time.Minute, 50*time.Millisecond, func() bool {
		active, err := inQueues("default", insp.ListActiveTasks)
		return err == nil && len(active) == 8 && r.sim.Stats().PartsReceived >= 10
	})
	if !busy {
		t.Fatal("the worker never had 8 uploads under way")
	}
	stopping.signal(syscall.SIGTERM)
	termAt := time.Now()
	// The bound is the grace plus generous room for a loaded machine; a
	// worker that ignored its grace would take the full upload time.
	if !stopping.waitExit(grace + 15*time.Second) {
		t.Fatalf("worker still running %v after SIGTERM (grace %v)", time.Since(termAt).Round(time.Millisecond), grace)
	}
	stoppedIn := time.Since(termAt)
	if stopping.err != nil {
		t.Errorf("worker exit after SIGTERM: %v, want status 0", stopping.err)
	}

	// Nothing is left active: every task was finished or requeued.
	active, err := inQueues("default", insp.ListActiveTasks)
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != 0 {
		t.Errorf("%d tasks left active after a graceful stop: orphaned until lease recovery", len(active))
	}
	pending, err := inQueues("default", insp.ListPendingTasks)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pending {
		if p.Retried != 0 {
			t.Errorf("task %s spent %d retries on a graceful stop", p.ID, p.Retried)
		}
	}
	log := stopping.logText()
	afterStop := log[strings.Index(log, "stopping: finishing active tasks"):]
	finishedInGrace := strings.Count(afterStop, `"message":"uploaded"`)
	requeued := strings.Count(afterStop, "Quitting worker")
	if requeued == 0 {
		t.Errorf("no upload outlasted the %v grace: the test proved nothing about requeueing", grace)
	}

	r.spawn("resumer")
	if code, report := r.waitBatch(batch, 2*time.Minute); code != 0 {
		t.Fatalf("enqueue wait: exit %d: %s", code, report)
	}
	st := r.sim.Stats()
	checkExactlyOnce(t, st, files.files)
	r.checkNeverOver(t)
	checkRestarts(t, a, st.Deleted, requeued)
	t.Logf("%s: SIGTERM with 8 uploads active: stopped in %v (grace %v); %d finished within the grace, %d requeued, %d pending with no retry spent; %d started over; %d part PUTs repeated (cancelled after their bytes went out)",
		a, stoppedIn.Round(time.Millisecond), grace, finishedInGrace, requeued, len(pending), st.Deleted, st.PartsReceived-files.parts)
}
