package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/tasks/job"
)

// TestBadSettingsOneLineExit2: a bad flag, argument or FRAMEQ_* value stops
// worker and enqueue before they do anything, with exit status 2 and one
// line on stderr that names the offender (no usage dump, no panic), besides
// any structured log lines.
func TestBadSettingsOneLineExit2(t *testing.T) {
	r := newRig(t, frameiosim.Config{}, rigOptions{})
	cases := []struct {
		bin      string
		env      []string
		args     []string
		offender string
	}{
		{"worker", nil, []string{"--concurrency=abc"}, "-concurrency"},
		{"worker", nil, []string{"--part-concurrency", "0"}, "-part-concurrency"},
		{"worker", nil, []string{"--nosuch"}, "-nosuch"},
		{"worker", nil, []string{"--token=abc"}, "-token"}, // there is no such flag
		{"worker", nil, []string{"stray"}, `"stray"`},
		{"worker", []string{"FRAMEQ_CONCURRENCY=0"}, nil, "FRAMEQ_CONCURRENCY"},
		{"worker", []string{"FRAMEQ_MAX_RETRY=-3"}, nil, "FRAMEQ_MAX_RETRY"},
		{"worker", []string{"FRAMEQ_CREATE_RATE=fast"}, nil, "FRAMEQ_CREATE_RATE"},
		{"worker", []string{"FRAMEQ_CALL_RATE=5/fortnight"}, nil, "FRAMEQ_CALL_RATE"},
		{"worker", []string{"FRAMEQ_RATE_MARGIN=0.9"}, nil, "FRAMEQ_RATE_MARGIN"},
		{"worker", []string{"FRAMEQ_LIMIT_SCOPE=galaxy"}, nil, "FRAMEQ_LIMIT_SCOPE"},
		{"worker", []string{"FRAMEQ_API_TIMEOUT=soon"}, nil, "FRAMEQ_API_TIMEOUT"},
		{"worker", []string{"FRAMEQ_SHUTDOWN_TIMEOUT=-1s"}, nil, "FRAMEQ_SHUTDOWN_TIMEOUT"},
		{"worker", []string{"FRAMEQ_LOG_LEVEL=loud"}, nil, "FRAMEQ_LOG_LEVEL"},
		{"worker", []string{"FRAMEQ_REDIS_URL=http://127.0.0.1:1"}, nil, "FRAMEQ_REDIS_URL"},
		{"worker", []string{"FRAMEQ_TOKEN_BAD!=x"}, nil, "FRAMEQ_TOKEN_BAD!"},
		{"worker", []string{"FRAMEQ_TOKENS_FILE=/nonexistent/tokens"}, nil, "FRAMEQ_TOKENS_FILE"},
		{"worker", []string{"FRAMEQ_UPLOAD_ROOT="}, nil, "FRAMEQ_UPLOAD_ROOT"},
		{"worker", []string{"FRAMEQ_API_URL=ftp://example.com/v2"}, nil, "scheme"},
		{"worker", []string{"FRAMEQ_HTTP_ADDR=nonsense"}, nil, "FRAMEQ_HTTP_ADDR"},
		{"enqueue", nil, []string{"dir", "--parent"}, "-parent"},
		{"enqueue", nil, []string{"dir", "--max-retry=3", "--parent", "p", r.root}, "-max-retry"}, // a worker setting now
		{"enqueue", nil, []string{"wait", "--timeout=never", "b1"}, "-timeout"},
		{"enqueue", nil, []string{"status"}, "batch id"},
		{"enqueue", []string{"FRAMEQ_LOG_FORMAT=xml"}, []string{"status", "b1"}, "FRAMEQ_LOG_FORMAT"},
		{"enqueue", []string{"FRAMEQ_REDIS_URL=http://x"}, []string{"status", "b1"}, "FRAMEQ_REDIS_URL"},
	}
	for _, c := range cases {
		t.Run(c.bin+" "+strings.Join(append(c.env, c.args...), " "), func(t *testing.T) {
			out, stderr, code := r.run(c.bin, c.env, c.args...)
			// Structured log lines (JSON) written before the check are
			// not the message; there must be one line besides them.
			var lines []string
			for _, l := range strings.Split(strings.TrimRight(stderr, "\n"), "\n") {
				if !strings.HasPrefix(l, "{") {
					lines = append(lines, l)
				}
			}
			switch {
			case code != 2:
				t.Errorf("exit %d, want 2; stderr:\n%s", code, stderr)
			case len(lines) != 1:
				t.Errorf("%d lines on stderr, want one:\n%s", len(lines), stderr)
			case !strings.Contains(stderr, c.offender):
				t.Errorf("stderr %q does not name %q", stderr, c.offender)
			case out != "":
				t.Errorf("stdout %q, want nothing", out)
			}
		})
	}
}

// TestWorkerTakesNoTokenFlag: a token on the command line is visible to
// every user in ps; the worker has no flag that could take one (a boolean
// like -legacy-token-auth takes no value, so it cannot carry one).
func TestWorkerTakesNoTokenFlag(t *testing.T) {
	r := newRig(t, frameiosim.Config{}, rigOptions{})
	help, _, code := r.run("worker", nil, "--help") // help asked for is on stdout
	if code != 0 || !strings.Contains(help, "-upload-root") {
		t.Fatalf("worker --help: exit %d:\n%s", code, help)
	}
	for _, line := range strings.Split(help, "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[0], "-") && strings.Contains(strings.ToLower(f[0]), "token") {
			t.Errorf("worker has a token flag: %s", line)
		}
	}
}

// TestPushedJobConfinedToUploadRoot: a job pushed straight into Redis by any
// producer (no enqueue CLI, no validation on the way in) naming a file
// outside the upload root is archived at once with that reason, and the
// worker makes no API call for it.
func TestPushedJobConfinedToUploadRoot(t *testing.T) {
	r := newRig(t, frameiosim.Config{}, rigOptions{})
	root := r.sim.RootFolder(frameiosim.DefaultToken)
	w := r.spawn("w1")
	if !pollUntil(context.Background(), 30*time.Second, 50*time.Millisecond, func() bool {
		return strings.Contains(w.logText(), "worker started")
	}) {
		t.Fatal("worker did not start")
	}
	calls := r.sim.Stats().Calls // GET /me at start
	outside := filepath.Join(t.TempDir(), "secret.txt")
	writeFile(t, outside, 10)
	link := filepath.Join(r.root, "innocent.bin")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: r.redis.Addr()})
	defer client.Close()
	for i, file := range []string{"/etc/passwd", outside, link} {
		payload, _ := json.Marshal(map[string]any{
			"v": 1, "batch": "pushed", "token_ref": "default", "parent_id": root,
			"path": "x" + string(rune('0'+i)) + ".bin", "file": file, "size": 10,
		})
		if _, err := client.Enqueue(asynq.NewTask(job.TypeUpload, payload), asynq.Queue(job.Queue("default")), asynq.MaxRetry(5)); err != nil {
			t.Fatal(err)
		}
	}
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: r.redis.Addr()})
	defer insp.Close()
	var archived []*asynq.TaskInfo
	pollUntil(context.Background(), time.Minute, 100*time.Millisecond, func() bool {
		archived, _ = inQueues("default", insp.ListArchivedTasks)
		return len(archived) == 3
	})
	if len(archived) != 3 {
		t.Fatalf("%d of 3 pushed jobs archived", len(archived))
	}
	for _, a := range archived {
		if a.Retried != 0 || !strings.Contains(a.LastErr, "outside upload root") {
			t.Errorf("archived after %d retries with %q; want at once, outside upload root", a.Retried, a.LastErr)
		}
	}
	if n := r.sim.Stats().Calls - calls; n != 0 {
		t.Errorf("%d API calls for jobs outside the upload root", n)
	}
}
