package e2e

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/tasks/records"
)

// TestWorkerKilledMidUpload: a worker dies (SIGKILL) with several uploads
// half done. Its tasks stay "active" in Redis until asynq's lease expires
// and a recoverer hands them back; they then resume from their progress
// records on another worker: every file arrives once and intact, no asset
// is made twice, none is left half-uploaded.
//
// Recovery cannot be hurried through asynq v0.26's public Config: the lease
// is 30 s (rdb.LeaseDuration, extended every 5 s by the heartbeater), the
// recoverer only takes tasks whose lease ended 30 s ago (clock-skew margin),
// and it runs when a server starts and then every minute. A replacement
// worker started at once, as a supervisor does, recovers them about 60 s
// after the kill. The test runs in parallel with the others: it mostly waits.
func TestWorkerKilledMidUpload(t *testing.T) { workerKilledMidUpload(t, v2) }

// TestV4WorkerKilledMidUpload is TestWorkerKilledMidUpload on V4.
func TestV4WorkerKilledMidUpload(t *testing.T) { workerKilledMidUpload(t, v4) }

func workerKilledMidUpload(t *testing.T, a api) {
	t.Parallel()
	const partSize = 16 << 10
	cfg := frameiosim.Config{Enforcement: frameiosim.SlidingWindow, PartSize: partSize, Seed: 11}
	r := newRig(t, cfg, rigOptions{api: a, partDelay: 300 * time.Millisecond, worker: append(a.limits(&cfg, 20, 100),
		"FRAMEQ_CONCURRENCY=6", "FRAMEQ_PART_CONCURRENCY=1")})
	root := r.sim.RootFolder(frameiosim.DefaultToken)
	files := makeTree(t, filepath.Join(r.root, "crash"), 48, partSize, func(i int) int { return 5*partSize + i })

	victim := r.spawn("victim")
	r.spawn("survivor")
	batch := r.enqueueDir(root, files.dir)

	// Kill the victim once it holds several uploads that have parts in.
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: r.redis.Addr()})
	defer insp.Close()
	ctx := context.Background()
	busy := pollUntil(ctx, time.Minute, 50*time.Millisecond, func() bool {
		active, err := listActive(insp, "default")
		return err == nil && len(active) >= 10 && r.sim.Stats().PartsReceived >= 15
	})
	if !busy {
		t.Fatal("the workers never had 10 uploads under way")
	}
	victim.signal(syscall.SIGKILL)
	killed := time.Now()
	if !victim.waitExit(10 * time.Second) {
		t.Fatal("victim survived SIGKILL")
	}
	halfDone := 0
	for _, f := range r.sim.Stats().Files {
		if !f.Complete {
			halfDone++
		}
	}
	r.spawn("replacement") // as restart: unless-stopped would

	batches := records.NewBatches(r.redis.Client(t))
	// Watch the orphans: active with no live worker, until recovered.
	var orphans int
	var orphanedAt time.Duration
	finished := pollUntil(ctx, 4*time.Minute, 250*time.Millisecond, func() bool {
		if active, err := listActive(insp, "default"); err == nil {
			n := 0
			for _, a := range active {
				if a.IsOrphaned {
					n++
				}
			}
			if n > 0 && orphanedAt == 0 {
				orphanedAt = time.Since(killed)
			}
			orphans = max(orphans, n)
		}
		st, err := batches.Status(ctx, batch)
		return err == nil && st.Finished()
	})
	recovered := time.Since(killed)
	if !finished {
		t.Fatalf("batch not finished %v after the kill", recovered.Round(time.Second))
	}
	if code, report := r.waitBatch(batch, time.Minute); code != 0 {
		t.Fatalf("enqueue wait: exit %d: %s", code, report)
	}
	st := r.sim.Stats()
	checkExactlyOnce(t, st, files.files)
	r.checkNeverOver(t)
	if orphans == 0 || halfDone == 0 {
		t.Errorf("kill left %d orphaned tasks and %d half-uploaded assets; the test proved nothing", orphans, halfDone)
	}
	checkRestarts(t, a, st.Deleted, halfDone)
	t.Logf("%s: SIGKILL with %d uploads half done, %d tasks orphaned; leases seen expired after %v; all done %v after the kill; %d started over; %d part PUTs repeated",
		a, halfDone, orphans, orphanedAt.Round(time.Second), recovered.Round(time.Second), st.Deleted, st.PartsReceived-files.parts)
}
