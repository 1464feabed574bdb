package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/frameq/frameq/redistest"
	"github.com/frameq/frameq/tasks/job"
	"github.com/frameq/frameq/tasks/records"
)

func runCLI(t *testing.T, redisURL string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, []string{"FRAMEQ_REDIS_URL=" + redisURL}, &out, &errb)
	return out.String(), errb.String(), code
}

func TestInvalidManifestEnqueuesNothingAndNamesEveryLine(t *testing.T) {
	srv := redistest.Start(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.mov"), []byte("x"), 0o644)
	m := filepath.Join(dir, "m.jsonl")
	os.WriteFile(m, []byte(strings.Join([]string{
		`{"file":"a.mov","parent_id":"p1"}`,
		`{"file":"missing.mov","parent_id":"p1"}`,
		`{"url":"https://h/x.mov"}`,
		`{"file":"a.mov","parent_id":"p1","path":"../up"}`,
	}, "\n")), 0o644)
	out, stderr, code := runCLI(t, srv.URL(), "manifest", m)
	if code != exitUsage || out != "" {
		t.Fatalf("exit %d stdout %q; want %d and nothing on stdout", code, out, exitUsage)
	}
	for _, want := range []string{"line 2", "line 3", "parent_id", "line 4", "path"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "line 1:") {
		t.Errorf("the good line was reported:\n%s", stderr)
	}
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: srv.Addr()})
	defer insp.Close()
	if qs, _ := insp.Queues(); len(qs) != 0 {
		t.Errorf("queues %v exist after an invalid manifest", qs)
	}
}

func TestManifestAndDirEnqueueOnceAndPrintOnlyTheBatch(t *testing.T) {
	srv := redistest.Start(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "tree", "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "tree", "a.mov"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(dir, "tree", "sub", "b.mov"), []byte("bb"), 0o644)
	os.WriteFile(filepath.Join(dir, "tree", ".DS_Store"), []byte("x"), 0o644)
	out, stderr, code := runCLI(t, srv.URL(), "dir", "--parent", "root1", filepath.Join(dir, "tree"))
	if code != 0 || strings.Count(out, "\n") != 1 || !strings.Contains(stderr, "2 enqueued") {
		t.Fatalf("dir: exit %d out %q err %s", code, out, stderr)
	}
	batch := strings.TrimSpace(out)
	_, stderr, _ = runCLI(t, srv.URL(), "dir", "--parent", "root1", filepath.Join(dir, "tree"))
	if !strings.Contains(stderr, "0 enqueued, 2 already queued") {
		t.Errorf("second dir: %s", stderr)
	}
	out, _, code = runCLI(t, srv.URL(), "status", batch)
	if code != 0 || !strings.Contains(out, "2 files") || !strings.Contains(out, "pending   2") {
		t.Errorf("status: %d\n%s", code, out)
	}
	csv := filepath.Join(dir, "m.csv")
	os.WriteFile(csv, []byte("url,parent_id,path\nhttps://cdn.example.com/x.mov?sig=secret,root1,remote/x.mov\n"), 0o644)
	// A presigned URL without FRAMEQ_SECRET_KEY: refused, naming it.
	out, stderr, code = runCLI(t, srv.URL(), "manifest", "--token-ref", "acme", csv)
	if code != exitUsage || out != "" || !strings.Contains(stderr, "source_url") || !strings.Contains(stderr, "FRAMEQ_SECRET_KEY") || strings.Contains(stderr, "sig=secret") {
		t.Fatalf("manifest without a key: exit %d out %q err %s", code, out, stderr)
	}
	var o, e bytes.Buffer
	code = run(context.Background(), []string{"manifest", "--token-ref", "acme", "--completed-retention", "2h", csv},
		[]string{"FRAMEQ_REDIS_URL=" + srv.URL(), "FRAMEQ_SECRET_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}, &o, &e)
	if code != 0 || strings.TrimSpace(o.String()) == "" {
		t.Fatalf("manifest: %d %s", code, e.String())
	}
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: srv.Addr()})
	defer insp.Close()
	pending, err := insp.ListPendingTasks(job.SmallQueue("acme"))
	if err != nil || len(pending) != 1 || pending[0].Type != job.TypeRemoteUpload {
		t.Fatalf("acme queue: %v %v", pending, err)
	}
	if p := string(pending[0].Payload); strings.Contains(p, "sig=") || !strings.Contains(p, `"source_sealed"`) || pending[0].Retention != 2*time.Hour {
		t.Errorf("remote task: payload %s retention %v; want the query sealed, 2h", p, pending[0].Retention)
	}
}

func TestDryRunAndUsageErrors(t *testing.T) {
	srv := redistest.Start(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.mov"), []byte("a"), 0o644)
	out, stderr, code := runCLI(t, srv.URL(), "dir", "--dry-run", "--parent", "p", dir)
	if code != 0 || out != "" || !strings.Contains(stderr, "1 files would be enqueued") {
		t.Errorf("dry run: %d %q %s", code, out, stderr)
	}
	for _, args := range [][]string{
		{"dir", dir},                       // no --parent
		{"dir", "--parent", "p"},           // no path
		{"nope"},                           // unknown command
		{"wait", "--timeout", "soon", "b"}, // bad duration
		{"status"},                         // no batch
		{"status", "--vanish-grace", "-1s", "b"},
		{"wait", "--vanish-grace", "-1s", "b"},
		{"resume"}, // no ref
	} {
		_, stderr, code := runCLI(t, srv.URL(), args...)
		if code != exitUsage || stderr == "" {
			t.Errorf("%v: exit %d, want %d with a message", args, code, exitUsage)
		}
		if len(args) > 1 && args[1] == "--vanish-grace" && !strings.Contains(stderr, "--vanish-grace") {
			t.Errorf("%v: %q does not name the flag", args, stderr)
		}
	}
}

// A re-run over an uploaded tree (dir and manifest) makes a batch that
// wait reports finished at once and status shows as skipped.
func TestRerunOfUploadedTreeWaitsNotAtAll(t *testing.T) {
	srv := redistest.Start(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "tree"), 0o755)
	os.WriteFile(filepath.Join(dir, "tree", "a.mov"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(dir, "tree", "b.mov"), []byte("bb"), 0o644)
	m := filepath.Join(dir, "m.jsonl")
	os.WriteFile(m, []byte(`{"file":"tree/a.mov","parent_id":"root1","path":"a.mov"}`+"\n"), 0o644)
	ctx := context.Background()
	rdb := srv.Client(t)
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: srv.Addr()})
	defer insp.Close()
	for _, args := range [][]string{{"dir", "--parent", "root1", filepath.Join(dir, "tree")}, {"manifest", m}} {
		out, stderr, code := runCLI(t, srv.URL(), args...)
		if code != 0 {
			t.Fatalf("%s: %d %s", args[0], code, stderr)
		}
		// Upload them the way a worker records it: the progress record done.
		for _, q := range job.Queues("default") {
			pend, _ := insp.ListPendingTasks(q)
			for _, ti := range pend {
				u, err := job.DecodeUpload(ti.Type, ti.Payload)
				if err != nil {
					t.Fatal(err)
				}
				records.NewProgresses(rdb).Done(ctx, job.IdempotencyKey(u), "asset")
				insp.DeleteTask(q, ti.ID)
			}
		}
		out, stderr, code = runCLI(t, srv.URL(), args...)
		if code != 0 || !strings.Contains(stderr, "0 enqueued, 0 already queued") {
			t.Fatalf("re-run %s: %d %s", args[0], code, stderr)
		}
		batch := strings.TrimSpace(out)
		_, stderr, code = runCLI(t, srv.URL(), "wait", "--timeout", "3s", batch)
		if code != exitOK {
			t.Errorf("%s: wait on an all-skipped batch: exit %d\n%s", args[0], code, stderr)
		}
		out, stderr, code = runCLI(t, srv.URL(), "status", "--json", batch)
		if code != 0 || !strings.Contains(out, `"skipped":`) || strings.Contains(out, `"skipped":0`) {
			t.Errorf("%s: status --json: %d %s %s", args[0], code, out, stderr)
		}
		out, _, _ = runCLI(t, srv.URL(), "status", batch)
		if !strings.Contains(out, "skipped") {
			t.Errorf("%s: status text lacks skipped:\n%s", args[0], out)
		}
	}
}

// B2 re-enqueues files B1 queued: wait on B2 waits for them, and finishes
// as soon as B1's tasks are recorded done (the worker's Batches.Set path).
func TestWaitOnAlreadyQueuedFilesFinishesWithThem(t *testing.T) {
	srv := redistest.Start(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.mov"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.mov"), []byte("bb"), 0o644)
	out1, _, _ := runCLI(t, srv.URL(), "dir", "--parent", "root1", dir)
	out2, stderr, code := runCLI(t, srv.URL(), "dir", "--parent", "root1", dir)
	if code != 0 || !strings.Contains(stderr, "2 already queued") {
		t.Fatalf("second dir: %d %s", code, stderr)
	}
	b1, b2 := strings.TrimSpace(out1), strings.TrimSpace(out2)
	if _, _, code := runCLI(t, srv.URL(), "wait", "--timeout", "1500ms", "--interval", "100ms", b2); code != exitTimeout {
		t.Fatalf("wait on B2 before any upload: exit %d, want timeout", code)
	}
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: srv.Addr()})
	defer insp.Close()
	pend, _ := insp.ListPendingTasks(job.SmallQueue("default"))
	if len(pend) != 2 {
		t.Fatalf("pending %d, want 2", len(pend))
	}
	b := records.NewBatches(srv.Client(t))
	for _, ti := range pend {
		if err := b.Set(context.Background(), b1, ti.ID, records.Done, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, stderr, code := runCLI(t, srv.URL(), "wait", "--timeout", "5s", "--interval", "100ms", b2); code != exitOK {
		t.Errorf("wait on B2 after B1's files are done: exit %d\n%s", code, stderr)
	}
}

func TestServeRefusesToStartMisconfigured(t *testing.T) {
	keys := filepath.Join(t.TempDir(), "keys")
	os.WriteFile(keys, []byte("acme short *\n"), 0o600)
	for _, c := range []struct {
		env  []string
		want string
	}{
		{nil, "FRAMEQ_INTAKE_KEY or FRAMEQ_INTAKE_KEYS_FILE"},
		{[]string{"FRAMEQ_INTAKE_KEY=tooshort"}, "FRAMEQ_INTAKE_KEY"},
		{[]string{"FRAMEQ_INTAKE_KEYS_FILE=" + keys}, "line 1"},
		{[]string{"FRAMEQ_INTAKE_KEY=0123456789abcdef0", "FRAMEQ_WEBHOOK_HOSTS=hooks.example.com"}, "FRAMEQ_WEBHOOK_SECRET"},
		{[]string{"FRAMEQ_INTAKE_KEY=0123456789abcdef0", "FRAMEQ_WEBHOOK_HOSTS=a/b"}, "FRAMEQ_WEBHOOK_HOSTS"},
	} {
		var out, errb bytes.Buffer
		env := append([]string{"FRAMEQ_REDIS_URL=redis://127.0.0.1:1/0", "FRAMEQ_INTAKE_ADDR=127.0.0.1:0"}, c.env...)
		code := run(context.Background(), []string{"serve"}, env, &out, &errb)
		if code != exitUsage || !strings.Contains(errb.String(), c.want) || out.Len() != 0 {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 naming %s", c.env, code, errb.String(), c.want)
		}
		if strings.Contains(errb.String(), "0123456789abcdef0") || strings.Contains(errb.String(), "tooshort") {
			t.Errorf("%v: stderr shows the key: %s", c.env, errb.String())
		}
	}
}

// With FRAMEQ_REDIS_WAIT_REPLICAS, enqueue reports a batch only once
// replicas hold it: against a Redis with none it fails (exit 1, no batch
// id on stdout) saying what it enqueued and that running it again is safe.
func TestEnqueueFailsWhenNoReplicaHoldsTheBatch(t *testing.T) {
	srv := redistest.Start(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.mov"), []byte("x"), 0o644)
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"dir", "--parent", "p1", dir},
		[]string{"FRAMEQ_REDIS_URL=" + srv.URL(), "FRAMEQ_REDIS_WAIT_REPLICAS=1", "FRAMEQ_REDIS_WAIT_TIMEOUT=50ms"}, &out, &errb)
	if code != exitFailed || out.Len() != 0 {
		t.Fatalf("exit %d stdout %q; want %d and no batch id", code, out.String(), exitFailed)
	}
	for _, want := range []string{"1 enqueued", "0 of 1 replicas", "run the same command again"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
}
