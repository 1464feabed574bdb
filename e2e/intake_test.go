package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/tasks/notify"
)

const (
	intakeKey     = "e2e-producer-key-0123456789"
	webhookSecret = "e2e-webhook-secret"
)

// intakeProc is a running `enqueue serve`.
type intakeProc struct {
	url    string
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	done   chan error
}

// stop sends SIGTERM and returns how the process ended.
func (p *intakeProc) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(30 * time.Second):
		return errors.New("enqueue serve still running 30 s after SIGTERM")
	}
}

// startIntake runs `enqueue serve` until the test ends; it has printed its URL.
func (e *env) startIntake(extra ...string) *intakeProc {
	e.t.Helper()
	keys := filepath.Join(e.t.TempDir(), "keys")
	if err := os.WriteFile(keys, []byte("# name key refs\nproducer "+intakeKey+" default\n"), 0o600); err != nil {
		e.t.Fatal(err)
	}
	p := &intakeProc{cmd: exec.Command(filepath.Join(bin, "enqueue"), "serve"), stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	p.cmd.Env = e.environ(append([]string{"FRAMEQ_INTAKE_ADDR=127.0.0.1:0", "FRAMEQ_INTAKE_KEYS_FILE=" + keys,
		"FRAMEQ_WEBHOOK_HOSTS=127.0.0.1", "FRAMEQ_WEBHOOK_SECRET=" + webhookSecret}, extra...)...)
	p.cmd.Stderr = p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	go func() { p.done <- p.cmd.Wait() }()
	e.t.Cleanup(func() {
		_ = p.stop()
		if e.t.Failed() {
			e.t.Logf("enqueue serve log (last 4 KiB):\n%s", tail(p.stderr.Bytes(), 4096))
		}
	})
	var u struct{ URL string }
	if err != nil || json.Unmarshal([]byte(line), &u) != nil || !strings.HasPrefix(u.URL, "http://127.0.0.1:") {
		e.t.Fatalf("enqueue serve printed %q (%v), want {\"url\":...}", line, err)
	}
	p.url = u.URL
	return p
}

// TestIntakeFromPython is issue 14's proof: a producer in another language
// (Python's standard library) pushes local files and remote URLs over HTTP
// to `enqueue serve`, two V4 workers upload them into the simulator, the
// producer polls status and receives a signed webhook; every file arrives
// once, and replaying the request with its Idempotency-Key enqueues nothing.
func TestIntakeFromPython(t *testing.T) {
	t.Parallel() // mostly waiting on the upload and the webhook
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	e := newEnv(t, frameiosim.Config{PartSize: part, CompleteAfter: 50 * time.Millisecond})
	root := e.sim.RootFolder(frameiosim.DefaultToken)
	want := map[string]string{}
	var items []map[string]any
	for i := range 8 {
		rel := fmt.Sprintf("shoot/day%d/clip%02d.mov", i%2+1, i)
		file := filepath.Join(e.root, "media", fmt.Sprintf("clip%02d.mov", i))
		want[rel] = writeFile(t, file, []int{1, part, 2*part + 5, 100}[i%4])
		items = append(items, map[string]any{"file": file, "parent_id": root, "path": rel})
	}
	for i := range 3 {
		rel := fmt.Sprintf("remote/r%d.mov", i)
		want[rel] = "" // Frame.io fetches it; no bytes pass through frameq
		items = append(items, map[string]any{"url": fmt.Sprintf("https://cdn.example.com/r%d.mov?X-Amz-Signature=s3cr3t", i), "parent_id": root, "path": rel, "size": 1000 + i})
	}
	itemsFile := filepath.Join(t.TempDir(), "items.json")
	b, _ := json.Marshal(items)
	if err := os.WriteFile(itemsFile, b, 0o644); err != nil {
		t.Fatal(err)
	}

	intake := e.startIntake("FRAMEQ_SECRET_KEY=" + payloadKey) // seals the presigned URLs' queries
	v4 := []string{"FRAMEQ_API_VERSION=v4", "FRAMEQ_API_URL=" + e.sim.V4URL(),
		"FRAMEQ_WEBHOOK_HOSTS=127.0.0.1", "FRAMEQ_WEBHOOK_SECRET=" + webhookSecret, "FRAMEQ_SECRET_KEY=" + payloadKey}
	e.startWorker("worker1", v4...)
	e.startWorker("worker2", v4...)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	py := exec.CommandContext(ctx, "python3", "testdata/intake_client.py", intake.url, itemsFile)
	py.Env = []string{"PATH=" + os.Getenv("PATH"), "FRAMEQ_KEY=" + intakeKey, "FRAMEQ_WEBHOOK_SECRET=" + webhookSecret}
	var out, stderr bytes.Buffer
	py.Stdout, py.Stderr = &out, &stderr
	err := py.Run()
	t.Logf("python client: %s", strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatalf("python client: %v\n%s", err, stderr.String())
	}
	var seen struct {
		Created struct {
			Batch    string
			Enqueued int
		}
		Webhook struct {
			Batch               string
			Files, Done, Failed int
			Skipped             int
			FinishedAt          string `json:"finished_at"`
		}
		Webhooks int
	}
	if err := json.Unmarshal(out.Bytes(), &seen); err != nil {
		t.Fatal(err)
	}
	if seen.Created.Enqueued != len(items) || seen.Webhook.Batch != seen.Created.Batch ||
		seen.Webhook.Files != len(items) || seen.Webhook.Done != len(items) || seen.Webhook.Failed != 0 || seen.Webhooks != 1 {
		t.Errorf("python saw %+v; want %d enqueued and one webhook of %d done", seen, len(items), len(items))
	}
	checkExactlyOnce(t, e.sim.Stats(), want)

	// The replays enqueued nothing: one batch in Redis, no upload task left.
	rdb := e.redis.Client(t)
	if n, _ := rdb.ZCard(ctx, "frameq:batches").Result(); n != 1 {
		t.Errorf("%d batches recorded, want 1", n)
	}
	insp := asynq.NewInspectorFromRedisClient(rdb)
	qs, _ := insp.Queues()
	for _, q := range qs {
		info, err := insp.GetQueueInfo(q)
		if err != nil {
			t.Fatal(err)
		}
		if info.Pending+info.Active+info.Retry+info.Scheduled+info.Archived != 0 {
			t.Errorf("queue %s: %+v left", q, info)
		}
		if q == notify.Queue && info.Completed != 1 {
			t.Errorf("webhook queue: %d completed, want 1 (one delivery)", info.Completed)
		}
	}
	// SIGTERM stops it cleanly.
	if err := intake.stop(); err != nil || !strings.Contains(intake.stderr.String(), "intake stopped") {
		t.Errorf("enqueue serve after SIGTERM: %v; log lacks \"intake stopped\"", err)
	}
	if strings.Contains(intake.stderr.String(), intakeKey) || strings.Contains(intake.stderr.String(), "s3cr3t") {
		t.Error("the intake's log shows a key or a URL's query")
	}
}

// TestIntakeRefusesToStartWithoutAKey: exit 2, saying why.
func TestIntakeRefusesToStartWithoutAKey(t *testing.T) {
	cmd := exec.Command(filepath.Join(bin, "enqueue"), "serve")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "FRAMEQ_INTAKE_ADDR=127.0.0.1:0"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), "FRAMEQ_INTAKE_KEY") {
		t.Fatalf("enqueue serve without a key: %v, %q; want exit 2 naming FRAMEQ_INTAKE_KEY", err, stderr.String())
	}
}
