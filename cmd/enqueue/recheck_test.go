package main

import (
	"bytes"
	"context"
	"fmt"
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
// handler against the simulator on API version api, then removes it from
// the queue, as a worker would.
func uploadPending(t *testing.T, srv *redistest.Server, sim *frameiosim.Server, root, api string) int {
	t.Helper()
	acct := &upload.Account{Scope: "token:default"}
	if api == "v4" {
		v, err := frameio.NewV4(frameio.Options{BaseURL: sim.V4URL(), Token: frameiosim.DefaultToken})
		if err != nil {
			t.Fatal(err)
		}
		acct.API = upload.NewV4(v.ForAccount(frameiosim.DefaultAccount))
	} else {
		c, err := frameio.New(frameio.Options{BaseURL: sim.URL(), Token: frameiosim.DefaultToken})
		if err != nil {
			t.Fatal(err)
		}
		acct.Client = c
	}
	h, err := upload.NewHandler(srv.Client(t), upload.Options{
		Accounts:   map[string]*upload.Account{"default": acct},
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

func TestRecheckUploadsAgainWhatWasDeletedInFrameio(t *testing.T) {
	for _, api := range []string{"v4", "v2"} {
		t.Run(api, func(t *testing.T) { testRecheckUploadsAgain(t, api) })
	}
}

func testRecheckUploadsAgain(t *testing.T, api string) {
	srv := redistest.Start(t)
	sim := frameiosim.StartTest(t, frameiosim.Config{CreateLimit: 1000, CallLimit: 1000})
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "a.mov"), []byte("aaa"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.mov"), []byte("bb"), 0o644)
	parent := sim.RootFolder(frameiosim.DefaultToken)
	env := []string{"FRAMEQ_REDIS_URL=" + srv.URL(), "FRAMEQ_TOKEN=" + frameiosim.DefaultToken, "FRAMEQ_API_VERSION=" + api, "FRAMEQ_API_URL=" + apiURL(sim, api)}
	cli := func(args ...string) (string, int) {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, env, &out, &errb)
		return errb.String(), code
	}
	if stderr, code := cli("dir", "--parent", parent, dir); code != 0 || !strings.Contains(stderr, "2 enqueued") {
		t.Fatalf("first dir: %d %s", code, stderr)
	}
	if n := uploadPending(t, srv, sim, dir, api); n != 2 {
		t.Fatalf("%d uploaded, want 2", n)
	}
	var gone frameiosim.File
	for _, f := range sim.Stats().Files {
		if f.Path == "sub/a.mov" {
			gone = f
		}
	}
	if !sim.Delete(gone.ID) {
		t.Fatalf("could not delete %s in the simulator", gone.ID)
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
	// One GET per recorded file; V4 first lists the token's accounts.
	want := map[string]int{"v2": 2, "v4": 3}[api]
	if got := sim.Stats().Calls - calls; got != want {
		t.Errorf("--recheck made %d calls, want %d", got, want)
	}
	if n := uploadPending(t, srv, sim, dir, api); n != 1 {
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

// apiURL is the simulator's base URL of API version api.
func apiURL(sim *frameiosim.Server, api string) string {
	if api == "v4" {
		return sim.V4URL()
	}
	return sim.URL()
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
	uploadPending(t, srv, sim, dir, "v4")
	// No token: a usage error naming the variable, before any call.
	if _, stderr, code := runCLI(t, srv.URL(), "dir", "--recheck", "--parent", parent, dir); code != exitUsage || !strings.Contains(stderr, "FRAMEQ_TOKEN") {
		t.Errorf("no token: exit %d %s", code, stderr)
	}
	// A token Frame.io refuses: the command fails naming the file, not the token.
	var out, errb bytes.Buffer
	env := []string{"FRAMEQ_REDIS_URL=" + srv.URL(), "FRAMEQ_TOKEN=wrong-secret-token", "FRAMEQ_API_URL=" + sim.V4URL()}
	code := run(context.Background(), []string{"dir", "--recheck", "--parent", parent, dir}, env, &out, &errb)
	if code != exitFailed || !strings.Contains(errb.String(), "a.mov") || strings.Contains(errb.String(), "wrong-secret-token") || out.Len() != 0 {
		t.Errorf("refused token: exit %d stdout %q stderr %s", code, out.String(), errb.String())
	}
	if _, stderr, code := runCLI(t, srv.URL(), "dir", "--recheck", "--force", "--parent", parent, dir); code != exitUsage {
		t.Errorf("--recheck --force: exit %d %s", code, stderr)
	}
}

// TestRecheckWithIMSCredentials: --recheck gets its token from Adobe IMS
// for a ref with server-to-server credentials, as the worker does.
func TestRecheckWithIMSCredentials(t *testing.T) {
	const secret = "recheck-IMS-S3CR3T-1b2c3d"
	srv := redistest.Start(t)
	sim := frameiosim.StartTest(t, frameiosim.Config{CreateLimit: 1000, CallLimit: 1000,
		IMSClients: map[string]frameiosim.IMSClient{"cli-1": {Secret: secret, Account: frameiosim.DefaultAccount}}})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.mov"), []byte("a"), 0o644)
	parent := sim.RootFolder(frameiosim.DefaultToken)
	if _, stderr, code := runCLI(t, srv.URL(), "dir", "--parent", parent, dir); code != 0 {
		t.Fatal(stderr)
	}
	uploadPending(t, srv, sim, dir, "v4")
	var out, errb bytes.Buffer
	env := []string{"FRAMEQ_REDIS_URL=" + srv.URL(), "FRAMEQ_API_URL=" + sim.V4URL(), "FRAMEQ_IMS_URL=" + sim.IMSURL(),
		"FRAMEQ_IMS_CLIENT_ID=cli-1", "FRAMEQ_IMS_CLIENT_SECRET=" + secret}
	code := run(context.Background(), []string{"dir", "--recheck", "--parent", parent, dir}, env, &out, &errb)
	if code != 0 || !strings.Contains(errb.String(), "1 already uploaded") || strings.Contains(errb.String(), secret) {
		t.Errorf("recheck with IMS credentials: exit %d %s", code, errb.String())
	}
	if n := sim.Stats().IMSMints["cli-1"]; n != 1 {
		t.Errorf("%d mints, want 1", n)
	}
}

// A 429 during --recheck is a wait, not a failure: the scope is held for the
// server's Retry-After and the lookup goes again (before, the first 429
// ended enqueue with exit 1 and nothing enqueued).
func TestRecheckWaitsOutRateLimits(t *testing.T) {
	srv := redistest.Start(t)
	sim := frameiosim.StartTest(t, frameiosim.Config{CreateLimit: 1000, CallLimit: 1000})
	dir := t.TempDir()
	for i := range 8 {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d.mov", i)), []byte("abc"), 0o644)
	}
	parent := sim.RootFolder(frameiosim.DefaultToken)
	env := []string{"FRAMEQ_REDIS_URL=" + srv.URL(), "FRAMEQ_TOKEN=" + frameiosim.DefaultToken, "FRAMEQ_API_VERSION=v2",
		"FRAMEQ_API_URL=" + sim.URL(), "FRAMEQ_CALL_RATE=100/s"}
	cli := func(args ...string) (string, int) {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, env, &out, &errb)
		return errb.String(), code
	}
	if stderr, code := cli("dir", "--parent", parent, dir); code != 0 {
		t.Fatalf("first dir: %d %s", code, stderr)
	}
	if n := uploadPending(t, srv, sim, dir, "v2"); n != 8 {
		t.Fatalf("%d uploaded, want 8", n)
	}
	gone := sim.Stats().Files[0]
	if !sim.Delete(gone.ID) {
		t.Fatalf("could not delete %s in the simulator", gone.ID)
	}
	sim.SetLimits(3, 0) // the server allows less than we were told: 429s
	stderr, code := cli("dir", "--recheck", "--parent", parent, dir)
	if sim.Stats().RateLimited == 0 {
		t.Fatal("no 429 was answered: the test did not test anything")
	}
	if code != 0 || !strings.Contains(stderr, "recheck: 1 ") || !strings.Contains(stderr, "1 enqueued, 0 already queued, 7 already uploaded") {
		t.Fatalf("dir --recheck under 429s: %d %s", code, stderr)
	}
}
