package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/frameq/frameq/frameiosim"
)

// TestSoakBooksBalance: thousands of files (FRAMEQ_SOAK=1; a few hundred
// by default) through three workers while the API fails in every way it
// can. The books balance exactly: enqueued = done + failed, every failure
// is one we planted and carries its reason, every done file is in
// Frame.io once and intact, nothing else is.
func TestSoakBooksBalance(t *testing.T) {
	t.Parallel() // mostly waiting: overlaps the other slow scenarios
	n, timeout := 300, 4*time.Minute
	if os.Getenv("FRAMEQ_SOAK") == "1" {
		n, timeout = 3000, 20*time.Minute
	}
	const partSize = 8 << 10
	r := newRig(t, frameiosim.Config{
		CreateLimit: 50, CallLimit: 200, Enforcement: frameiosim.SlidingWindow, PartSize: partSize, Seed: 29,
	}, rigOptions{worker: []string{"FRAMEQ_CREATE_RATE=50/s", "FRAMEQ_CALL_RATE=200/s"}})
	root := r.sim.RootFolder(frameiosim.DefaultToken)
	locked := r.sim.MakeFolder(root, "locked")
	r.sim.SetFaults(frameiosim.Faults{
		Create500: 0.03, LostCreate: 0.03, ResetCreate: 0.02, PartFail: 0.03, HTMLError: 0.02,
		ForbiddenFolders: []string{locked},
	})

	dir := filepath.Join(r.root, "soak")
	files := makeTree(t, dir, n, partSize, func(i int) int { return 1 + (i*7919)%(3*partSize) })
	// Planted failures: one file in fifty where the token may not write
	// (403). (A name Frame.io refuses is now refused at enqueue: ident.)
	wantFailed := map[string]string{}
	for i := 0; i < n/50; i++ {
		rel := fmt.Sprintf("locked/x%04d.bin", i)
		writeFile(t, filepath.Join(dir, rel), 10+i)
		wantFailed[rel] = "403"
	}

	for i := 1; i <= 3; i++ {
		r.spawn(fmt.Sprintf("w%d", i))
	}
	start := time.Now()
	out, stderr, code := r.enqueue("dir", "--parent", root, dir)
	if code != 0 {
		t.Fatalf("enqueue dir: exit %d: %s", code, stderr)
	}
	batch := strings.TrimSpace(out)
	m := regexp.MustCompile(`(\d+) enqueued`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("enqueue dir did not say how many it enqueued: %s", stderr)
	}
	enqueued, _ := strconv.ParseInt(m[1], 10, 64)
	if want := int64(len(files.files) + len(wantFailed)); enqueued != want {
		t.Fatalf("%d enqueued, want %d", enqueued, want)
	}
	code, report := r.waitBatch(batch, timeout)
	took := time.Since(start)
	if code != 1 { // some files are meant to fail
		t.Fatalf("enqueue wait: exit %d, want 1 (planted failures): %s", code, tail([]byte(report), 2000))
	}

	// The batch's books.
	bs := r.status(batch)
	done, failed := bs.Counts["done"], bs.Counts["failed"]
	if bs.Total != enqueued || done+failed != enqueued {
		t.Errorf("books: enqueued %d, total %d = done %d + failed %d + other %v", enqueued, bs.Total, done, failed, bs.Counts)
	}
	if done != int64(len(files.files)) || failed != int64(len(wantFailed)) {
		t.Errorf("done %d, failed %d; want %d and %d", done, failed, len(files.files), len(wantFailed))
	}
	if len(bs.Failures) != int(failed) {
		t.Errorf("%d failure records for %d failed", len(bs.Failures), failed)
	}
	for _, f := range bs.Failures {
		status, planted := wantFailed[f.Path]
		switch {
		case !planted:
			t.Errorf("%s failed but should not have: %s %s", f.Path, f.Class, f.Reason)
		case !strings.Contains(f.Reason, status):
			t.Errorf("%s failed with reason %q, want one naming %s", f.Path, f.Reason, status)
		}
	}

	// Frame.io's books: the done files, once each, intact; nothing else.
	st := r.sim.Stats()
	checkExactlyOnceBeside(t, st, files.files, 1) // the locked folder

	// asynq's books: nothing left queued, the failures archived.
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: r.redis.Addr()})
	defer insp.Close()
	for _, list := range []struct {
		name string
		f    func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error)
		want int
	}{
		{"pending", insp.ListPendingTasks, 0}, {"active", insp.ListActiveTasks, 0},
		{"retry", insp.ListRetryTasks, 0}, {"scheduled", insp.ListScheduledTasks, 0},
		{"archived", insp.ListArchivedTasks, len(wantFailed)},
	} {
		ts, err := inQueues("default", list.f)
		if err != nil {
			t.Fatal(err)
		}
		if len(ts) != list.want {
			t.Errorf("%d tasks %s, want %d", len(ts), list.name, list.want)
		}
	}
	t.Logf("%d tasks in %v: %d done + %d failed with reasons; faults: %d failed creates, %d lost answers, %d failed parts, %d proxy 502s; %d orphans deleted",
		enqueued, took.Round(time.Second), done, failed, st.FailedCreates, st.LostCreates, st.PartsFailed, r.simLog.count(" → 502 in "), st.Deleted)
}
