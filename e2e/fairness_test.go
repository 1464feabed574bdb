package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/tasks/records"
)

// TestSmallBatchIsNotStarvedByABigOne: ten files enqueued behind a thousand
// on the same token finish while most of the thousand still wait, because
// small batches take the token's small lane, served ahead of the bulk lane.
func TestSmallBatchIsNotStarvedByABigOne(t *testing.T) {
	e := newEnv(t, frameiosim.Config{CreateLimit: 50, CallLimit: 200})
	root := e.sim.RootFolder(frameiosim.DefaultToken)
	for i := 0; i < 1000; i++ {
		writeFile(t, filepath.Join(e.root, "big", fmt.Sprintf("b%04d.bin", i)), 1)
	}
	for i := 0; i < 10; i++ {
		writeFile(t, filepath.Join(e.root, "small", fmt.Sprintf("s%02d.bin", i)), 1)
	}
	e.startWorker("w1", "FRAMEQ_CREATE_RATE=50/s", "FRAMEQ_CALL_RATE=200/s")

	out, stderr, code := e.enqueue("dir", "--parent", root, filepath.Join(e.root, "big"))
	if code != 0 {
		t.Fatalf("enqueue big: %d %s", code, stderr)
	}
	big := strings.TrimSpace(out)
	rdb := e.redis.Client(t)
	batches := records.NewBatches(rdb)
	waitFor(t, time.Minute, "the big batch under way", func() bool {
		st, _ := batches.Status(t.Context(), big)
		return st.Counts[records.Done] >= 50
	})
	out, stderr, code = e.enqueue("dir", "--parent", root, filepath.Join(e.root, "small"))
	if code != 0 {
		t.Fatalf("enqueue small: %d %s", code, stderr)
	}
	small := strings.TrimSpace(out)
	start := time.Now()
	if _, stderr, code := e.enqueue("wait", "--timeout", "2m", "--interval", "100ms", small); code != 0 {
		t.Fatalf("wait small: %d %s", code, stderr)
	}
	took := time.Since(start)
	st, _ := batches.Status(t.Context(), big)
	left := st.Total() - st.Counts[records.Done]
	t.Logf("small batch done in %s with %d of the big batch's 1000 files still to go", took.Round(time.Millisecond), left)
	if left < 500 {
		t.Errorf("the small batch finished only after the big one was mostly done (%d left): it waited its turn", left)
	}
}
