package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/tasks/job"
)

// TestWaitDrawsOneLineAt80Columns: enqueue wait on a terminal of 80
// columns (tmux) while a real batch drains shows one line, redrawn in
// place (no wrap, no stacked lines), with the percent and the bytes.
// About 10 s.
func TestWaitDrawsOneLineAt80Columns(t *testing.T) {
	t.Parallel() // mostly waiting on the 5/s create limit
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux not installed")
	}
	e := newEnv(t, frameiosim.Config{CreateLimit: 5, CallLimit: 100})
	root := e.sim.RootFolder(frameiosim.DefaultToken)
	tree := filepath.Join(e.root, "t")
	for i := range 30 {
		writeFile(t, filepath.Join(tree, fmt.Sprintf("f%02d.bin", i)), part+i*1000)
	}
	out, stderr, code := e.enqueue("dir", "--parent", root, tree)
	if code != 0 {
		t.Fatalf("enqueue: %d %s", code, stderr)
	}
	batch := strings.TrimSpace(out)

	sock := fmt.Sprintf("frameq-e2e-%d", os.Getpid())
	tmux := func(args ...string) string {
		b, err := exec.Command("tmux", append([]string{"-L", sock, "-f", "/dev/null"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v: %s", args, err, b)
		}
		return string(b)
	}
	script := fmt.Sprintf("env -i %s %s wait --interval 200ms %s; sleep 600",
		strings.Join(quoteAll(e.environ("TERM=xterm-256color")), " "), filepath.Join(bin, "enqueue"), batch)
	tmux("new-session", "-d", "-x", "80", "-y", "24", script)
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", sock, "kill-server").Run() })
	e.startWorker("w1", "FRAMEQ_CREATE_RATE=5/s", "FRAMEQ_CALL_RATE=100/s")

	bar := regexp.MustCompile(`^\s*(\d+)% \|.*\| .*/.* (B|KiB|MiB)\s+(\d+)/30 files`)
	midway, screens := 0, 0
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		screen := tmux("capture-pane", "-p", "-t", "0")
		if strings.Contains(screen, "batch "+batch+":") { // wait's closing report
			break
		}
		screens++
		var lines []string
		for _, l := range strings.Split(screen, "\n") {
			if strings.TrimSpace(l) != "" {
				lines = append(lines, l)
			}
		}
		if len(lines) > 1 {
			t.Fatalf("%d lines on the screen while waiting, want 1 redrawn in place:\n%s", len(lines), screen)
		}
		if len(lines) == 1 {
			m := bar.FindStringSubmatch(lines[0])
			if m == nil || len([]rune(lines[0])) > 80 {
				t.Fatalf("progress line %q: want percent, bytes and files within 80 columns", lines[0])
			}
			if m[1] != "0" && m[1] != "100" {
				midway++
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	final := tmux("capture-pane", "-p", "-t", "0")
	if !strings.Contains(final, "batch "+batch+": 30 files") || !strings.Contains(final, "100%") {
		t.Fatalf("wait did not finish at 100%%:\n%s", final)
	}
	if midway == 0 {
		t.Errorf("no line seen midway through %d screens", screens)
	}
	t.Logf("%d screens while draining, %d midway; last:\n%s", screens, midway, final)
}

func quoteAll(env []string) []string {
	out := make([]string, len(env))
	for i, kv := range env {
		out[i] = "'" + strings.ReplaceAll(kv, "'", `'\''`) + "'"
	}
	return out
}

// TestWaitAndStatusNoticeTasksDeletedOutsideFrameq: a task deleted with
// asynq's own Inspector no longer leaves its batch waiting forever: wait
// returns (exit 1, a file failed) and status says why. About 10 s.
func TestWaitAndStatusNoticeTasksDeletedOutsideFrameq(t *testing.T) {
	e := newEnv(t, frameiosim.Config{CreateLimit: 50, CallLimit: 100})
	root := e.sim.RootFolder(frameiosim.DefaultToken)
	tree := filepath.Join(e.root, "t")
	for i := range 3 {
		writeFile(t, filepath.Join(tree, fmt.Sprintf("f%d.bin", i)), 1000+i)
	}
	out, stderr, code := e.enqueue("dir", "--parent", root, tree)
	if code != 0 {
		t.Fatalf("enqueue: %d %s", code, stderr)
	}
	batch := strings.TrimSpace(out)
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: e.redis.Addr()})
	defer insp.Close()
	pending, err := insp.ListPendingTasks(job.SmallQueue("default"))
	if err != nil || len(pending) != 3 {
		t.Fatalf("pending %d, %v; want the batch's 3", len(pending), err)
	}
	gone := pending[1].ID
	if err := insp.DeleteTask(job.SmallQueue("default"), gone); err != nil {
		t.Fatal(err)
	}
	e.startWorker("w1", "FRAMEQ_CREATE_RATE=50/s", "FRAMEQ_CALL_RATE=100/s")

	start := time.Now()
	_, stderr, code = e.enqueue("wait", "--timeout", "60s", "--interval", "250ms", "--vanish-grace", "1s", batch)
	if code != 1 {
		t.Fatalf("wait: exit %d, want 1 (a file failed): %s", code, tail([]byte(stderr), 2000))
	}
	const reason = "vanished from the queue: deleted outside frameq?"
	if !strings.Contains(stderr, reason) {
		t.Errorf("wait's report lacks %q:\n%s", reason, stderr)
	}
	out, _, _ = e.enqueue("status", batch)
	if !strings.Contains(out, "task "+gone+" [vanished] "+reason) || !strings.Contains(out, "done      2") || !strings.Contains(out, "failed    1") {
		t.Errorf("status:\n%s", out)
	}
	t.Logf("wait returned %v after the worker started:\n%s", time.Since(start).Round(time.Millisecond), out)
}
