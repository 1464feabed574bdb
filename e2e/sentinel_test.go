package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/redistest"
)

// TestSentinelFailoverMidRun: workers and enqueue find Redis through a
// Sentinel. The master is killed (SIGKILL) with uploads under way; the
// Sentinel promotes the replica and the processes follow it without a
// restart: work goes on and every file arrives complete and intact.
//
// Replication is asynchronous, so a write acknowledged by the old master
// and not yet on the replica is lost with it (docs/deployment.md). On
// loopback the replica lags by well under a millisecond, so the test
// expects nothing lost; what it sees (duplicates, orphans, recovery time) is
// logged for the deployment guide rather than asserted.
func TestSentinelFailoverMidRun(t *testing.T) {
	failover(t, redistest.SentinelOptions{})
}

// TestSentinelFailoverSafeSettings is the same run with the settings
// docs/deployment.md recommends: two replicas, min-replicas-to-write 1
// (with one replica the promoted master would refuse every write until a
// replica came back), AOF fsync every second. Slow scenarios run with
// FRAMEQ_SOAK=1.
func TestSentinelFailoverSafeSettings(t *testing.T) {
	if os.Getenv("FRAMEQ_SOAK") != "1" {
		t.Skip("set FRAMEQ_SOAK=1 to run")
	}
	failover(t, redistest.SentinelOptions{Replicas: 2, Data: redistest.Options{Args: []string{
		"--min-replicas-to-write", "1", "--min-replicas-max-lag", "10", "--appendonly", "yes", "--appendfsync", "everysec",
	}}})
}

func failover(t *testing.T, so redistest.SentinelOptions) {
	t.Parallel() // mostly waiting for the failover
	const (
		files    = 120
		partSize = 16 << 10
	)
	s := redistest.StartSentinel(t, so)
	r := newTopoRig(t, frameiosim.Config{
		CreateLimit: 10, CallLimit: 100, Enforcement: frameiosim.SlidingWindow, PartSize: partSize, Seed: 9,
	}, rigOptions{partDelay: 50 * time.Millisecond, worker: []string{"FRAMEQ_CREATE_RATE=10/s", "FRAMEQ_CALL_RATE=100/s"}},
		"FRAMEQ_REDIS_SENTINEL_ADDRS="+s.Addr(), "FRAMEQ_REDIS_SENTINEL_MASTER="+s.MasterName())
	root := r.sim.RootFolder(frameiosim.DefaultToken)
	tr := makeTree(t, filepath.Join(r.root, "failover"), files, partSize, func(i int) int { return (i%4 + 1) * partSize })
	workers := []*proc{r.spawn("w1"), r.spawn("w2")}
	batch := r.enqueueDir("default", root, tr.dir)

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	if !pollUntil(ctx, time.Minute, 20*time.Millisecond, func() bool { return len(r.sim.Stats().Files) >= 30 }) {
		t.Fatal("no progress before the failover")
	}
	old, err := s.KillMaster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	before := r.sim.Stats().Creates
	next, err := s.WaitFailover(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	promoted := time.Since(killed)
	// The worker's guard writes wait for a replica (FRAMEQ_REDIS_WAIT_REPLICAS
	// auto = 1 with Sentinel): with one replica, creates resume once the old
	// master is back as a replica, as a restart policy would bring it.
	if err := s.Rejoin(ctx, old); err != nil {
		t.Fatal(err)
	}
	var resumed time.Duration
	if pollUntil(ctx, time.Minute, 20*time.Millisecond, func() bool { return r.sim.Stats().Creates > before+5 }) {
		resumed = time.Since(killed)
	} else {
		t.Error("no create in the minute after the failover")
	}
	waitLong(t, r, batch, 4*time.Minute) // enqueue wait runs are cut at a minute
	done := time.Since(killed)

	for _, w := range workers {
		if w.exited() {
			t.Errorf("%s exited during the failover", w.name)
		}
	}
	st := r.sim.Stats()
	got := map[string]frameiosim.File{}
	incomplete := 0
	for _, f := range st.Files {
		if !f.Complete {
			incomplete++
			continue
		}
		got[f.Path] = f
	}
	for path, sum := range tr.files {
		switch f, ok := got[path]; {
		case !ok:
			t.Errorf("%s: no complete copy in Frame.io", path)
		case f.SHA256 != sum:
			t.Errorf("%s: SHA-256 %s, want %s", path, f.SHA256, sum)
		}
	}
	if m := r.sim.MaxCreatesInWindow(frameiosim.DefaultToken, time.Second); m > 10 {
		t.Errorf("%d creates in one second, limit 10", m)
	}
	r.checkUnused()
	t.Logf("master %s killed with %d of %d files in; %s promoted after %s; creates resumed after %s; batch done %s after the kill",
		old, before, files, next, promoted.Round(time.Millisecond), resumed.Round(time.Millisecond), done.Round(time.Millisecond))
	t.Logf("observed: %d duplicate names, %d incomplete assets, %d creates for %d files + %d folders, %d orphans deleted, %d 429s",
		len(st.Duplicates), incomplete, st.Creates, files, len(st.Folders), st.Deleted, st.RateLimited)
}
