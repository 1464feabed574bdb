package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frameq/frameq/frameiosim"
)

// TestV4FileGrowingDuringItsUpload: one file of a batch is appended to
// while its parts go up (a camera card still being copied). It never ends
// up in Frame.io with bytes of two versions: the half-made file is
// deleted, and once the file has been still for FRAMEQ_SETTLE it is
// uploaded whole; every other file goes on meanwhile, each once.
func TestV4FileGrowingDuringItsUpload(t *testing.T) {
	t.Parallel() // mostly waiting on slow parts
	const partSize = 16 << 10
	cfg := frameiosim.Config{Enforcement: frameiosim.SlidingWindow, PartSize: partSize, Seed: 13}
	r := newRig(t, cfg, rigOptions{api: v4, partDelay: 200 * time.Millisecond, worker: []string{
		"FRAMEQ_PART_CONCURRENCY=1", "FRAMEQ_SETTLE=1s", loadMargin}})
	root := r.sim.RootFolder(frameiosim.DefaultToken)
	files := makeTree(t, filepath.Join(r.root, "card"), 8, partSize, func(i int) int { return partSize + i*100 })
	grow := filepath.Join(files.dir, "clip.mov")
	files.files["clip.mov"] = writeFile(t, grow, 10*partSize)
	w1 := r.spawn("w1")
	batch := r.enqueueDir(root, files.dir)

	// Append once its upload is under way in Frame.io: created, not complete.
	var uploading bool
	if !pollUntil(context.Background(), time.Minute, 20*time.Millisecond, func() bool {
		for _, f := range r.sim.Stats().Files {
			if f.Path == "clip.mov" {
				uploading = !f.Complete && f.SHA256 == ""
				return true
			}
		}
		return false
	}) {
		t.Fatal("clip.mov was never created in Frame.io")
	}
	if !uploading {
		t.Fatal("clip.mov was complete before it grew: the test would prove nothing")
	}
	w, err := os.OpenFile(grow, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, 3*partSize)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	grown := time.Now()
	b, _ := os.ReadFile(grow)
	sum := sha256.Sum256(b)
	files.files["clip.mov"] = hex.EncodeToString(sum[:])

	if code, report := r.waitBatch(batch, 2*time.Minute); code != 0 {
		t.Fatalf("enqueue wait: exit %d: %s", code, report)
	}
	took := time.Since(grown)
	st := r.sim.Stats()
	checkExactlyOnce(t, st, files.files) // clip.mov: the grown version's SHA-256
	r.checkNeverOver(t)
	if st.Deleted != 1 {
		t.Errorf("%d files deleted; want the 1 half-made clip.mov", st.Deleted)
	}
	if !strings.Contains(w1.logText(), "file changed while uploading") {
		t.Error("the worker never said it saw clip.mov change")
	}
	// Recorded done as it is now: the same enqueue again uploads nothing.
	if _, stderr, code := r.enqueue("dir", "--parent", root, files.dir); code != 0 || !strings.Contains(stderr, "0 enqueued") {
		t.Errorf("second enqueue: exit %d, %s; want 0 enqueued", code, stderr)
	}
	t.Logf("clip.mov grew mid-upload: %d deleted, uploaded whole %v after it grew; %d files once each", st.Deleted, took.Round(100*time.Millisecond), len(st.Files))
}
