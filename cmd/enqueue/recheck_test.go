package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/frameq/frameq/frameio"
	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/redistest"
	"github.com/frameq/frameq/tasks/job"
	"github.com/frameq/frameq/tasks/upload"
)

// uploadPending runs every pending task of the default token through a real
// handler against the simulator, then removes it from the queue, as a
// worker would.
func uploadPending(t *testing.T, srv *redistest.Server, sim *frameiosim.Server, root string) int {
	t.Helper()
	c, err := frameio.New(frameio.Options{BaseURL: sim.URL(), Token: frameiosim.DefaultToken})
	if err != nil {
		t.Fatal(err)
	}
	h, err := upload.NewHandler(srv.Client(t), upload.Options{
		Accounts:   map[string]*upload.Account{"default": {Client: c, Scope: "token:default"}},
		UploadRoot: root, Log: zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: srv.Addr()})
	defer insp.Close()
	n := 0
	for _, q := range job.Queues("default") {
		pending, _ := insp.ListPendingTasks(q)
		for _, ti := range pending {
			if err := h.ProcessTask(context.Background(), asynq.NewTask(ti.Type, ti.Payload)); err != nil {
				t.Fatalf("upload %s: %v", ti.ID, err)
			}
			if err := insp.DeleteTask(q, ti.ID); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	return n
}

// TestRecheckUploadsAgainWhatWasDeletedInFrameio, on both APIs: the
// simulator's two APIs share one store, so files uploaded through v2 are
// V4 files of the same account.
func TestRecheckUploadsAgainWhatWasDeletedInFrameio(t *testing.T) {
	for _, api := range []string{"v2", "v4"} {
		t.Run(api, func(t *testing.T) { recheckUploadsAgain(t, api) })
	}
}

func recheckUploadsAgain(t *testing.T, api string) {
	srv := redistest.Start(t)
	sim := frameiosim.StartTest(t, frameiosim.Config{
		CreateLimit: 1000, CallLimit: 1000,
		V4Limits: map[string]frameiosim.Limit{frameiosim.RouteShowFile: {Limit: 1000}},
	})
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "a.mov"), []byte("aaa"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.mov"), []byte("bb"), 0o644)
	parent := sim.RootFolder(frameiosim.DefaultToken)
	apiURL, lookups := sim.URL(), 2 // one GET per recorded asset
	if api == "v4" {
		apiURL, lookups = sim.V4URL(), 3 // and GET /accounts
	}
	env := []string{"FRAMEQ_REDIS_URL=" + srv.URL(), "FRAMEQ_TOKEN=" + frameiosim.DefaultToken,
		"FRAMEQ_API_VERSION=" + api, "FRAMEQ_API_URL=" + apiURL}
	cli := func(args ...string) (string, int) {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, env, &out, &errb)
		return errb.String(), code
	}
	if stderr, code := cli("dir", "--parent", parent, dir); code != 0 || !strings.Contains(stderr, "2 enqueued") {
		t.Fatalf("first dir: %d %s", code, stderr)
	}
	if n := uploadPending(t, srv, sim, dir); n != 2 {
		t.Fatalf("%d uploaded, want 2", n)
	}
	var gone frameiosim.File
	for _, f := range sim.Stats().Files {
		if f.Path == "sub/a.mov" {
			gone = f
		}
	}
	c, _ := frameio.New(frameio.Options{BaseURL: sim.URL(), Token: frameiosim.DefaultToken})
	if err := c.DeleteAsset(context.Background(), gone.ID); err != nil {
		t.Fatal(err)
	}

	// Without --recheck the done record is trusted, and no call is made.
	calls := sim.Stats().Calls
	if stderr, code := cli("dir", "--parent", parent, dir); code != 0 || !strings.Contains(stderr, "0 enqueued, 0 already queued, 2 already uploaded") {
		t.Fatalf("dir without --recheck: %d %s", code, stderr)
	}
	if sim.Stats().Calls != calls {
		t.Error("enqueue without --recheck called Frame.io")
	}
	stderr, code := cli("dir", "--recheck", "--parent", parent, dir)
	if code != 0 || !strings.Contains(stderr, "recheck: 1 ") || !strings.Contains(stderr, "1 enqueued, 0 already queued, 1 already uploaded") {
		t.Fatalf("dir --recheck: %d %s", code, stderr)
	}
	if got := sim.Stats().Calls - calls; got != lookups {
		t.Errorf("--recheck made %d calls, want %d", got, lookups)
	}
	if n := sim.Stats().CallsByRoute[frameiosim.RouteShowFile]; api == "v4" && n != 2 {
		t.Errorf("--recheck on V4: %d show-file calls, want 2", n)
	}
	if n := uploadPending(t, srv, sim, dir); n != 1 {
		t.Fatalf("%d uploaded after --recheck, want 1", n)
	}
	st := sim.Stats()
	if len(st.Files) != 2 || len(st.Duplicates) != 0 {
		t.Errorf("files %+v duplicates %v, want a.mov and b.mov once", st.Files, st.Duplicates)
	}
	for _, f := range st.Files {
		if !f.Complete || f.ID == gone.ID {
			t.Errorf("file %+v: want complete, and sub/a.mov a new asset", f)
		}
	}
}

func TestRecheckNeedsATokenAndNamesTheFileOnError(t *testing.T) {
	srv := redistest.Start(t)
	sim := frameiosim.StartTest(t, frameiosim.Config{CreateLimit: 1000, CallLimit: 1000})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.mov"), []byte("a"), 0o644)
	parent := sim.RootFolder(frameiosim.DefaultToken)
	if _, stderr, code := runCLI(t, srv.URL(), "dir", "--parent", parent, dir); code != 0 {
		t.Fatal(stderr)
	}
	uploadPending(t, srv, sim, dir)
	// No token: a usage error naming the variable, before any call.
	if _, stderr, code := runCLI(t, srv.URL(), "dir", "--recheck", "--parent", parent, dir); code != exitUsage || !strings.Contains(stderr, "FRAMEQ_TOKEN") {
		t.Errorf("no token: exit %d %s", code, stderr)
	}
	// A token Frame.io refuses: the command fails naming the file, not the token.
	var out, errb bytes.Buffer
	env := []string{"FRAMEQ_REDIS_URL=" + srv.URL(), "FRAMEQ_TOKEN=wrong-secret-token", "FRAMEQ_API_VERSION=v2", "FRAMEQ_API_URL=" + sim.URL()}
	code := run(context.Background(), []string{"dir", "--recheck", "--parent", parent, dir}, env, &out, &errb)
	if code != exitFailed || !strings.Contains(errb.String(), "a.mov") || strings.Contains(errb.String(), "wrong-secret-token") || out.Len() != 0 {
		t.Errorf("refused token: exit %d stdout %q stderr %s", code, out.String(), errb.String())
	}
	if _, stderr, code := runCLI(t, srv.URL(), "dir", "--recheck", "--force", "--parent", parent, dir); code != exitUsage {
		t.Errorf("--recheck --force: exit %d %s", code, stderr)
	}
}
