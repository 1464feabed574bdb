package e2e

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/tasks/job"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// get fetches url, waiting for the listener to come up.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			return r.StatusCode, string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestTokenBreakerHoldsJobsUntilResumed: a token the account rejects (402,
// plan exceeded) stops the whole token's work after a handful of calls,
// without archiving anything; once fixed and resumed, every job completes.
func TestTokenBreakerHoldsJobsUntilResumed(t *testing.T) {
	const files = 1000
	e := newEnv(t, frameiosim.Config{CreateLimit: 200, CallLimit: 400})
	root := e.sim.RootFolder(frameiosim.DefaultToken)
	e.sim.SetFaults(frameiosim.Faults{PaymentRequiredFolders: []string{root}})
	tree := filepath.Join(e.root, "many")
	for i := 0; i < files; i++ {
		writeFile(t, filepath.Join(tree, fmt.Sprintf("f%04d.bin", i)), 1)
	}
	fast := []string{"FRAMEQ_CREATE_RATE=200/s", "FRAMEQ_CALL_RATE=400/s"}
	addr := freeAddr(t)
	e.startWorker("w1", append(fast, "FRAMEQ_HTTP_ADDR="+addr)...)
	e.startWorker("w2", fast...)

	out, stderr, code := e.enqueue("dir", "--parent", root, tree)
	if code != 0 {
		t.Fatalf("enqueue: %d %s", code, stderr)
	}
	batch := strings.TrimSpace(out)
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: e.redis.Addr()})
	defer insp.Close()
	waitFor(t, 30*time.Second, "queue paused", func() bool {
		q, err := insp.GetQueueInfo(job.Queue("default"))
		return err == nil && q.Paused
	})
	time.Sleep(3 * time.Second) // let anything in flight land
	held := e.sim.Stats().Calls
	time.Sleep(3 * time.Second)
	if later := e.sim.Stats().Calls; later != held {
		t.Errorf("API calls went on while the breaker was open: %d → %d", held, later)
	}
	// 2 × GET /me, then at most one create per task slot that was already running.
	if held > 2+2*16 {
		t.Errorf("%d API calls with a rejected token, want a handful", held)
	}
	_, body := get(t, "http://"+addr+"/metrics")
	if !strings.Contains(body, `frameq_token_breaker_open{token_ref="default"} 1`) {
		t.Errorf("metrics do not show the open breaker")
	}
	out, _, _ = e.enqueue("status", "--json", batch)
	if !strings.Contains(out, `"failed":0`) {
		t.Errorf("held jobs counted as failures: %s", out)
	}
	t.Logf("%d API calls while the token was rejected; status %s", held, out)
	// Wherever a held job shows, it says the breaker holds it and how to
	// release it: status, wait, and the error asynq stores on the task.
	const release = "enqueue resume --token-ref default"
	text, _, _ := e.enqueue("status", batch)
	if !strings.Contains(text, `held by the token breaker of token ref "default"`) || !strings.Contains(text, release) {
		t.Errorf("status does not say why jobs are held:\n%s", text)
	}
	_, waited, code := e.enqueue("wait", "--timeout", "1s", batch)
	if code != 3 || !strings.Contains(waited, release) || strings.Contains(waited, "rate limited") {
		t.Errorf("wait: exit %d, want 3 naming %q:\n%s", code, release, tail([]byte(waited), 2000))
	}
	// Held tasks went back with their error; the scheduler moves them from
	// retry to pending (paused) after 5 s, error kept.
	var withErr []*asynq.TaskInfo
	for _, list := range []func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){insp.ListRetryTasks, insp.ListPendingTasks} {
		tasks, err := list(job.Queue("default"), asynq.PageSize(files))
		if err != nil {
			t.Fatal(err)
		}
		for _, ti := range tasks {
			if ti.LastErr != "" {
				withErr = append(withErr, ti)
			}
		}
	}
	if len(withErr) == 0 {
		t.Errorf("no held task carries an error in asynq; want those that were running")
	}
	for _, ti := range withErr {
		if !strings.Contains(ti.LastErr, release) || strings.Contains(ti.LastErr, "rate limited") {
			t.Errorf("task %s: asynq's last error %q, want it held naming %q", ti.ID, ti.LastErr, release)
		}
	}

	e.sim.SetFaults(frameiosim.Faults{}) // the operator fixes the account
	if _, stderr, code := e.enqueue("resume", "--token-ref", "default"); code != 0 {
		t.Fatalf("resume: %d %s", code, stderr)
	}
	if _, stderr, code := e.enqueue("wait", "--timeout", "3m", "--interval", "500ms", batch); code != 0 {
		t.Fatalf("wait after resume: %d %s", code, tail([]byte(stderr), 2000))
	}
	if n := len(e.sim.Stats().Files); n != files {
		t.Errorf("%d files in Frame.io, want %d", n, files)
	}
}

// TestOperatorSurfaces: the dashboard serves read-only, metrics move with a
// run, and failed files can be listed and retried.
func TestOperatorSurfaces(t *testing.T) {
	e := newEnv(t, frameiosim.Config{CreateLimit: 50, CallLimit: 100})
	root := e.sim.RootFolder(frameiosim.DefaultToken)
	locked := e.sim.MakeFolder(root, "locked")
	e.sim.SetFaults(frameiosim.Faults{ForbiddenFolders: []string{locked}})
	tree := filepath.Join(e.root, "t")
	writeFile(t, filepath.Join(tree, "ok.bin"), 3*part)
	writeFile(t, filepath.Join(tree, "locked", "a.bin"), 5)
	writeFile(t, filepath.Join(tree, "locked", "b.bin"), 5)
	addr := freeAddr(t)
	e.startWorker("w1", "FRAMEQ_HTTP_ADDR="+addr, "FRAMEQ_CREATE_RATE=50/s", "FRAMEQ_CALL_RATE=100/s")

	base := "http://" + addr
	if code, body := get(t, base+"/monitoring/"); code != 200 || !strings.Contains(body, "<html") {
		t.Errorf("dashboard: %d", code)
	}
	r, err := http.Post(base+"/monitoring/api/queues/"+job.Queue("default")+":pause", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusForbidden {
		t.Errorf("read-only dashboard answered a POST with %d, want 403", r.StatusCode)
	}
	_, before := get(t, base+"/metrics")

	out, stderr, code := e.enqueue("dir", "--parent", root, tree)
	if code != 0 {
		t.Fatalf("enqueue: %d %s", code, stderr)
	}
	batch := strings.TrimSpace(out)
	if _, _, code := e.enqueue("wait", "--timeout", "1m", "--interval", "200ms", batch); code != 1 {
		t.Fatalf("wait: exit %d, want 1 (two files are forbidden)", code)
	}
	_, after := get(t, base+"/metrics")
	for _, want := range []string{
		`frameq_files_total{result="done",type="frameio:asset.upload"} 1`,
		`frameq_files_total{result="terminal",type="frameio:asset.upload"} 2`,
		`frameq_uploaded_bytes_total 196608`,
		`frameq_queue_tasks{queue="upload:default:small",state="archived"} 2`,
		`frameq_api_responses_total{route="POST /assets/:id/children",status="403"} 2`,
	} {
		if strings.Contains(before, want) || !strings.Contains(after, want) {
			t.Errorf("metrics: %q did not appear after the run", want)
		}
	}

	out, _, code = e.enqueue("failed", batch)
	if code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(out, "403") || !strings.Contains(out, "locked/a.bin") {
		t.Errorf("failed: exit %d:\n%s", code, out)
	}
	e.sim.SetFaults(frameiosim.Faults{}) // access granted
	if _, stderr, code := e.enqueue("retry", "--class", "terminal", batch); code != 0 {
		t.Fatalf("retry: %d %s", code, stderr)
	}
	if _, stderr, code := e.enqueue("wait", "--timeout", "1m", "--interval", "200ms", batch); code != 0 {
		t.Fatalf("wait after retry: %d %s", code, stderr)
	}
	if n := len(e.sim.Stats().Files); n != 3 {
		t.Errorf("%d files, want 3", n)
	}
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// listActive lists a token's active tasks in both of its lanes.
func listActive(insp *asynq.Inspector, ref string) ([]*asynq.TaskInfo, error) {
	var all []*asynq.TaskInfo
	for _, q := range job.Queues(ref) {
		active, err := insp.ListActiveTasks(q)
		if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
			return nil, err
		}
		all = append(all, active...)
	}
	return all, nil
}
