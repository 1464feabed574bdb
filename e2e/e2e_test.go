// Package e2e runs frameq as a user would: real redis-server, the Frame.io
// simulator over loopback HTTP, worker and enqueue as separate processes.
package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/redistest"
	"github.com/frameq/frameq/tasks/job"
)

// bin holds the binaries built once by TestMain.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "frameq-e2e-bin-")
	if err != nil {
		panic(err)
	}
	build := exec.Command("go", "build", "-race", "-o", dir+"/", "../cmd/worker", "../cmd/enqueue")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
	bin = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is everything a test's processes share.
type env struct {
	t     *testing.T
	redis *redistest.Server
	sim   *frameiosim.Server
	root  string // upload root
	// enqueueEnv are KEY=value settings of every enqueue command.
	enqueueEnv []string
}

// payloadKey is the FRAMEQ_SECRET_KEY of the tests whose producers give
// presigned source URLs: enqueue seals their queries, workers open them.
const payloadKey = "cGF5bG9hZC1rZXktMzItYnl0ZXMtZm9yLWUyZS10ZXM="

func newEnv(t *testing.T, simCfg frameiosim.Config) *env {
	e := &env{t: t, redis: redistest.Start(t), sim: frameiosim.StartTest(t, simCfg), root: t.TempDir()}
	return e
}

func (e *env) environ(extra ...string) []string {
	return append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"FRAMEQ_REDIS_URL=" + e.redis.URL(),
		"FRAMEQ_API_VERSION=v2", "FRAMEQ_API_URL=" + e.sim.URL(),
		"FRAMEQ_TOKEN=" + frameiosim.DefaultToken,
		"FRAMEQ_UPLOAD_ROOT=" + e.root,
		"FRAMEQ_HTTP_ADDR=127.0.0.1:0",
		"FRAMEQ_CONCURRENCY=8",
		// Race-built processes on a loaded 2-core machine jitter far more
		// than a deployment does, and the simulator's strict sliding window
		// answers any jitter with a 429: 4 % of the rate absorbs it.
		"FRAMEQ_RATE_MARGIN=0.04",
		"FRAMEQ_MAX_RETRY=15",
		"FRAMEQ_RETRY_MAX_DELAY=2s",
		"FRAMEQ_LOG_LEVEL=debug",
	}, extra...)
}

// startWorker runs a worker process until the test ends; its log is kept.
// extra are more KEY=value settings, which win over the defaults.
func (e *env) startWorker(name string, extra ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(bin, "worker"))
	cmd.Env = e.environ(extra...)
	logf, err := os.Create(filepath.Join(e.t.TempDir(), name+".log"))
	if err != nil {
		e.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		logf.Close()
		if e.t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			e.t.Logf("%s log (last 4 KiB):\n%s", name, tail(b, 4096))
		}
	})
	return cmd
}

// enqueue runs the enqueue command and returns stdout, stderr, exit code.
func (e *env) enqueue(args ...string) (string, string, int) {
	cmd := exec.Command(filepath.Join(bin, "enqueue"), args...)
	cmd.Env = e.environ(e.enqueueEnv...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("enqueue %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// writeFile writes a file of n deterministic bytes and returns its SHA-256.
func writeFile(t *testing.T, path string, n int) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*13 + n)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

const part = 64 << 10

// TestBulkUploadUnderFaults is the product's promise: every file arrives
// exactly once and intact, at the limit and never over it, despite 500s,
// lost create answers and failed part uploads; what cannot succeed ends
// archived with a reason that enqueue wait reports.
func TestBulkUploadUnderFaults(t *testing.T) {
	e := newEnv(t, frameiosim.Config{
		CreateLimit: 5, Enforcement: frameiosim.SlidingWindow, PartSize: part, Seed: 7,
	})
	root := e.sim.RootFolder(frameiosim.DefaultToken)
	forbidden := e.sim.MakeFolder(root, "locked")
	e.sim.SetFaults(frameiosim.Faults{
		Create500: 0.1, LostCreate: 0.1, PartFail: 0.1, ForbiddenFolders: []string{forbidden},
	})

	tree := filepath.Join(e.root, "shoot")
	sizes := []int{0, 1, part, 3*part + 17, 100, 2 * part}
	want := map[string]string{} // Frame.io path below root → SHA-256
	for i := 0; i < 60; i++ {   // enough creates that each 10 % fault occurs (P(none) ≈ 0.1 %)
		rel := filepath.Join([]string{"", "a", "a/b", "a/b/c", "d", "d/e"}[i%6], fmt.Sprintf("f%02d.bin", i))
		want[filepath.ToSlash(rel)] = writeFile(t, filepath.Join(tree, rel), sizes[i%len(sizes)])
	}
	for i := 1; i <= 3; i++ {
		e.startWorker(fmt.Sprintf("worker%d", i))
	}

	out, stderr, code := e.enqueue("dir", "--parent", root, tree)
	if code != 0 {
		t.Fatalf("enqueue dir: exit %d: %s", code, stderr)
	}
	batch := strings.TrimSpace(out)
	if strings.Count(out, "\n") != 1 || batch == "" {
		t.Fatalf("enqueue dir stdout = %q, want only the batch id", out)
	}
	if _, stderr, code := e.enqueue("wait", "--timeout", "3m", "--interval", "200ms", batch); code != 0 {
		t.Fatalf("enqueue wait: exit %d: %s", code, stderr)
	}

	stats := e.sim.Stats()
	checkExactlyOnceBeside(t, stats, want, 1) // "locked" was made by the test
	if stats.RateLimited != 0 {
		t.Errorf("%d responses were 429", stats.RateLimited)
	}
	if max := e.sim.MaxCreatesInWindow(frameiosim.DefaultToken, time.Second); max > 5 {
		t.Errorf("%d creates in one second, limit 5", max)
	}
	// The faults really happened, so the checks above proved something.
	if stats.LostCreates == 0 || stats.FailedCreates == 0 || stats.PartsFailed == 0 {
		t.Errorf("faults not exercised: %d lost creates, %d failed creates, %d failed parts", stats.LostCreates, stats.FailedCreates, stats.PartsFailed)
	}
	t.Logf("creates %d (lost answers %d, refused %d), deleted orphans %d, failed part PUTs %d",
		stats.Creates, stats.LostCreates, stats.FailedCreates, stats.Deleted, stats.PartsFailed)

	// The same enqueue again uploads nothing.
	_, stderr, code = e.enqueue("dir", "--parent", root, tree)
	if code != 0 || !strings.Contains(stderr, "0 enqueued") {
		t.Errorf("second enqueue: exit %d, %s; want 0 enqueued", code, stderr)
	}

	// A name no Frame.io asset can have (a control character) is refused
	// when it is enqueued, naming the file, and nothing of that tree is
	// enqueued; a file aimed at a folder the token may not write to (403)
	// is archived at once, with the reason.
	bad := filepath.Join(e.root, "bad")
	writeFile(t, filepath.Join(bad, "locked", "ok.bin"), 10)
	writeFile(t, filepath.Join(bad, "bad\x01name.bin"), 10)
	out, stderr, code = e.enqueue("dir", "--parent", root, bad)
	if code != 2 || strings.TrimSpace(out) != "" || !strings.Contains(stderr, "bad\x01name.bin") || !strings.Contains(stderr, "path") {
		t.Fatalf("enqueue dir with a control character in a name: exit %d, stdout %q, stderr %q; want exit 2 naming the file and the field", code, out, stderr)
	}
	if err := os.Remove(filepath.Join(bad, "bad\x01name.bin")); err != nil {
		t.Fatal(err)
	}
	out, stderr, code = e.enqueue("dir", "--parent", root, bad)
	if code != 0 {
		t.Fatalf("enqueue dir: exit %d: %s", code, stderr)
	}
	badBatch := strings.TrimSpace(out)
	_, stderr, code = e.enqueue("wait", "--timeout", "1m", "--interval", "200ms", badBatch)
	if code != 1 {
		t.Errorf("wait on a failing batch: exit %d, want 1; %s", code, stderr)
	}
	if !strings.Contains(stderr, "403") {
		t.Errorf("wait output lacks the 403 reason:\n%s", stderr)
	}
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: e.redis.Addr()})
	defer insp.Close()
	archived, err := insp.ListArchivedTasks(job.SmallQueue("default")) // a 1-file batch takes the small lane
	if err != nil {
		t.Fatal(err)
	}
	if len(archived) != 1 {
		t.Errorf("%d archived tasks, want 1", len(archived))
	}
	for _, a := range archived {
		if a.Retried != 0 || a.LastErr == "" {
			t.Errorf("archived %s after %d retries with reason %q; want at once, with a reason", a.ID, a.Retried, a.LastErr)
		}
	}
}
