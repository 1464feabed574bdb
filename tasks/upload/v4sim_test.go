package upload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/frameq/frameq/apierr"
	"github.com/frameq/frameq/frameio"
	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/redistest"
	"github.com/frameq/frameq/tasks/job"
	"github.com/frameq/frameq/tasks/records"
)

// The guarantees of the upload state machine on V4: the real simulator
// serving only V4 over loopback, the real frameio.V4 client and a real
// Redis. Every handler verifies completion, as workers do by default.

// v4rig is a rig whose handler drives V4 over frameio.V4.
type v4rig struct {
	*rig
	v4   *frameio.V4 // addresses the token's one account
	acct string
	api  *V4 // the adapter r.h drives
}

// newV4Rig starts a V4-only simulator with cfg (parts of testPart bytes,
// route limits out of the way: these tests are about the state machine)
// and a handler over it.
func newV4Rig(t *testing.T, cfg frameiosim.Config) *v4rig {
	cfg.API, cfg.PartSize = frameiosim.APIV4, testPart
	cfg.V4Limits = map[string]frameiosim.Limit{}
	for route := range frameiosim.DefaultV4Limits() {
		cfg.V4Limits[route] = frameiosim.Limit{Limit: 1000, Window: time.Second}
	}
	sim := frameiosim.StartTest(t, cfg)
	c, err := frameio.NewV4(frameio.Options{BaseURL: sim.V4URL(), Token: frameiosim.DefaultToken})
	if err != nil {
		t.Fatal(err)
	}
	accts, err := c.Accounts(context.Background())
	if err != nil || len(accts) != 1 {
		t.Fatalf("accounts %+v, %v; want the token's one", accts, err)
	}
	r := &v4rig{rig: &rig{t: t, sim: sim, rdb: redistest.Start(t).Client(t), root: t.TempDir(), parent: sim.RootFolder(frameiosim.DefaultToken)},
		v4: c.ForAccount(accts[0].ID), acct: accts[0].ID}
	r.api = NewV4(r.v4)
	r.h = r.handler(r.api, nil)
	return r
}

// handler is another worker's handler on the same Redis, driving api.
func (r *v4rig) handler(api FrameIO, breaker *job.Breaker) *Handler {
	r.t.Helper()
	h, err := NewHandler(r.rdb, Options{
		Accounts:   map[string]*Account{"default": {API: api, Scope: "token:default"}},
		UploadRoot: r.root, Log: zerolog.Nop(), Breaker: breaker,
		Verify: true, VerifyTimeout: time.Minute, VerifyReuploads: 2,
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return h
}

// nested writes a file at a slash path below the upload root.
func (r *v4rig) nested(path string, n int) (*job.Upload, string) {
	r.t.Helper()
	if err := os.MkdirAll(filepath.Join(r.root, filepath.Dir(path)), 0o755); err != nil {
		r.t.Fatal(err)
	}
	return r.file(path, n)
}

// once checks that path is in Frame.io exactly once, complete and intact,
// made through V4, and that no name is held twice anywhere.
func (r *v4rig) once(path, sum string) {
	r.t.Helper()
	st := r.sim.Stats()
	n := 0
	for _, f := range st.Files {
		if f.Path != path {
			continue
		}
		n++
		if !f.Complete || f.SHA256 != sum || f.API != "v4" {
			r.t.Errorf("%s: complete %v sha %s api %q; want complete, %s, v4", path, f.Complete, f.SHA256, f.API, sum)
		}
	}
	if n != 1 || len(st.Duplicates) != 0 {
		r.t.Errorf("%s is in Frame.io %d times, duplicates %+v; want once, none", path, n, st.Duplicates)
	}
}

// created is a file an earlier attempt of u created through api, with the
// parts in put PUT and recorded, as if that attempt then crashed.
func (r *v4rig) created(api *V4, u *job.Upload, put ...int) *File {
	r.t.Helper()
	ctx := context.Background()
	key := job.IdempotencyKey(u)
	if err := r.h.progress.Creating(ctx, key, time.Now()); err != nil {
		r.t.Fatal(err)
	}
	f, err := api.CreateFile(ctx, r.parent, NewFile{Name: u.Name(), Size: u.Size})
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.h.progress.Created(ctx, key, f.ID); err != nil {
		r.t.Fatal(err)
	}
	src, err := os.Open(u.File)
	if err != nil {
		r.t.Fatal(err)
	}
	defer src.Close()
	for _, i := range put {
		if err := api.PutPart(ctx, f, f.Parts[i], src); err != nil {
			r.t.Fatal(err)
		}
		if err := r.h.progress.PartDone(ctx, key, f.ID, i); err != nil {
			r.t.Fatal(err)
		}
	}
	return f
}

func TestV4SimNestedTreeUploadsIntactWithFoldersOnce(t *testing.T) {
	r := newV4Rig(t, frameiosim.Config{})
	tree := map[string]int{
		"top.bin": 10, "shoot/a.bin": 3*testPart + 5, "shoot/day1/b.bin": 2 * testPart,
		"shoot/day1/c.bin": 1, "shoot/day2/d.bin": testPart + 1, "other/deep/er/e.mov": 100,
	}
	sums := map[string]string{}
	for path, n := range tree {
		u, sum := r.nested(path, n)
		sums[path] = sum
		if err := r.run(u); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	for path, sum := range sums {
		r.once(path, sum)
	}
	st := r.sim.Stats()
	if len(st.Folders) != 6 || st.CallsByRoute[frameiosim.RouteFolderCreate] != 6 {
		t.Errorf("folders %+v made by %d creates; want shoot, shoot/day1, shoot/day2, other, other/deep, other/deep/er, each made once",
			st.Folders, st.CallsByRoute[frameiosim.RouteFolderCreate])
	}
	if len(st.Files) != len(tree) || st.CallsByRoute[frameiosim.RouteFileCreate] != len(tree) || st.Deleted != 0 {
		t.Errorf("%d files from %d creates, %d deleted; want %d, %d, 0", len(st.Files), st.CallsByRoute[frameiosim.RouteFileCreate], st.Deleted, len(tree), len(tree))
	}
	if n := st.CallsByRoute[frameiosim.RouteListChildren]; n != 0 {
		t.Errorf("%d calls listed /children (100/min); want only /folders and /files", n)
	}
	for _, f := range st.Files {
		if f.Path == "other/deep/er/e.mov" && f.MediaType != "video/quicktime" {
			t.Errorf("e.mov media type %q, want the server's video/quicktime", f.MediaType)
		}
	}
}

func TestV4SimLostCreateAnswerIsResolvedByListingTheFolder(t *testing.T) {
	for _, fault := range []frameiosim.Faults{{LostCreate: 1}, {ResetCreate: 1}} {
		name := "lost"
		if fault.ResetCreate > 0 {
			name = "reset"
		}
		t.Run(name, func(t *testing.T) {
			r := newV4Rig(t, frameiosim.Config{})
			u, sum := r.nested("shoot/lost.bin", 2*testPart+3)
			r.sim.SetFaults(fault)
			// The first attempt's folder create, then the second's file
			// create, take effect unanswered.
			for i := 0; i < 2; i++ {
				if err := r.run(u); err == nil || !apierr.Ambiguous(err) {
					t.Fatalf("attempt %d: %v, want a lost answer", i+1, err)
				}
			}
			if p, _ := r.h.progress.Get(context.Background(), job.IdempotencyKey(u)); p.State != records.StateCreating {
				t.Fatalf("progress %+v after a lost file create, want creating", p)
			}
			r.sim.SetFaults(frameiosim.Faults{})
			before := r.sim.Stats()
			if before.LostCreates != 2 || len(before.Files) != 1 || len(before.Folders) != 1 {
				t.Fatalf("%d lost creates made %d files, %d folders; want 2, 1, 1", before.LostCreates, len(before.Files), len(before.Folders))
			}
			if err := r.run(u); err != nil {
				t.Fatal(err)
			}
			r.once("shoot/lost.bin", sum)
			st := r.sim.Stats()
			if st.CallsByRoute[frameiosim.RouteListFiles] == before.CallsByRoute[frameiosim.RouteListFiles] {
				t.Error("the last attempt did not list the folder's files")
			}
			// V4 gives upload URLs once: the file the lost answer made
			// cannot take parts, so it is found, deleted and made again.
			if st.Creates-before.Creates != 1 || st.Deleted != 1 || len(st.Files) != 1 || len(st.Folders) != 1 ||
				st.CallsByRoute[frameiosim.RouteListChildren] != 0 {
				t.Errorf("%d creates, %d deleted, %d files, folders %+v, %d /children lists; want 1, 1, 1, shoot once, 0",
					st.Creates-before.Creates, st.Deleted, len(st.Files), st.Folders, st.CallsByRoute[frameiosim.RouteListChildren])
			}
		})
	}
}

func TestV4SimSeveralLostAnswersLeaveOneFile(t *testing.T) {
	r := newV4Rig(t, frameiosim.Config{})
	ctx := context.Background()
	u, sum := r.file("twice.bin", testPart+7)
	if err := r.h.progress.Creating(ctx, job.IdempotencyKey(u), time.Now()); err != nil {
		t.Fatal(err)
	}
	r.sim.SetFaults(frameiosim.Faults{LostCreate: 1})
	for i := 0; i < 2; i++ { // two attempts' creates went through unanswered
		if _, err := r.api.CreateFile(ctx, r.parent, NewFile{Name: "twice.bin", Size: u.Size}); !apierr.Ambiguous(err) {
			t.Fatalf("create %d: %v, want a lost answer", i, err)
		}
	}
	r.sim.SetFaults(frameiosim.Faults{})
	if err := r.run(u); err != nil {
		t.Fatal(err)
	}
	r.once("twice.bin", sum)
	// One extra deleted as a duplicate, the adopted one deleted for want
	// of upload URLs, one made and filled.
	if st := r.sim.Stats(); st.Creates != 3 || st.Deleted != 2 || len(st.Files) != 1 {
		t.Errorf("%d creates, %d deleted, %d files; want 3, 2, 1", st.Creates, st.Deleted, len(st.Files))
	}
}

func TestV4SimResumePutsOnlyTheMissingParts(t *testing.T) {
	r := newV4Rig(t, frameiosim.Config{})
	u, sum := r.file("resume.bin", 3*testPart+5)
	f := r.created(r.api, u, 1)
	if len(f.Parts) != 4 {
		t.Fatalf("%d parts, want 4", len(f.Parts))
	}
	before := r.sim.Stats()
	if err := r.run(u); err != nil {
		t.Fatal(err)
	}
	after := r.sim.Stats()
	if got := after.PartsReceived - before.PartsReceived; got != 3 {
		t.Errorf("%d parts PUT on resume, want the 3 missing", got)
	}
	if after.Creates != before.Creates || after.Deleted != 0 {
		t.Errorf("resume made %d creates and %d deletes, want none", after.Creates-before.Creates, after.Deleted)
	}
	r.once("resume.bin", sum)
}

func TestV4SimAnotherWorkerReplacesAFileItCannotFill(t *testing.T) {
	r := newV4Rig(t, frameiosim.Config{})
	u, sum := r.file("moved.bin", 2*testPart+1)
	f := r.created(r.api, u, 0) // worker A made it and put part 0
	other := r.handler(NewV4(r.v4), nil)
	before := r.sim.Stats()
	b, _ := u.Encode()
	if err := other.ProcessTask(context.Background(), asynq.NewTask(job.TypeUpload, b)); err != nil {
		t.Fatal(err)
	}
	after := r.sim.Stats()
	r.once("moved.bin", sum)
	if after.Creates-before.Creates != 1 || after.Deleted != 1 || after.PartsReceived-before.PartsReceived != 3 {
		t.Errorf("%d creates, %d deleted, %d parts; want A's file deleted and one made with all 3 parts",
			after.Creates-before.Creates, after.Deleted, after.PartsReceived-before.PartsReceived)
	}
	if after.Files[0].ID == f.ID {
		t.Errorf("A's file %s was kept", f.ID)
	}
}

func TestV4SimExpiredPartURLsDeleteTheFileAndStartOver(t *testing.T) {
	r := newV4Rig(t, frameiosim.Config{})
	u, sum := r.file("late.bin", 2*testPart+9)
	r.created(r.api, u, 0)
	r.sim.AdvanceClock(frameiosim.DefaultURLExpiry + time.Minute)
	err := r.run(u)
	var re *RetryError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired URLs: %v, want a retry saying they expired", err)
	}
	if st := r.sim.Stats(); st.Deleted != 1 || len(st.Files) != 0 {
		t.Fatalf("%d deleted, %d live files; want the file with expired URLs deleted", st.Deleted, len(st.Files))
	}
	if err := r.run(u); err != nil {
		t.Fatal(err)
	}
	r.once("late.bin", sum)
	if st := r.sim.Stats(); st.Creates != 2 {
		t.Errorf("%d creates, want 2", st.Creates)
	}
}

func TestV4SimRerunUploadsNothing(t *testing.T) {
	r := newV4Rig(t, frameiosim.Config{})
	u, sum := r.nested("a/b/again.bin", 2*testPart)
	if err := r.run(u); err != nil {
		t.Fatal(err)
	}
	before := r.sim.Stats()
	if err := r.run(u); err != nil {
		t.Fatal(err)
	}
	b, _ := u.Encode() // another worker, its parts cache empty
	if err := r.handler(NewV4(r.v4), nil).ProcessTask(context.Background(), asynq.NewTask(job.TypeUpload, b)); err != nil {
		t.Fatal(err)
	}
	after := r.sim.Stats()
	if after.Calls != before.Calls || after.Creates != before.Creates || after.PartsReceived != before.PartsReceived {
		t.Errorf("re-runs made %d calls, %d creates, %d part PUTs; want none",
			after.Calls-before.Calls, after.Creates-before.Creates, after.PartsReceived-before.PartsReceived)
	}
	r.once("a/b/again.bin", sum)
}

func TestV4SimFoldersOnceUnderConcurrencyAndHealedAfterDeletion(t *testing.T) {
	r := newV4Rig(t, frameiosim.Config{})
	const n = 8
	ups := make([]*job.Upload, n)
	sums := make([]string, n)
	for i := range ups {
		ups[i], sums[i] = r.nested("x/y/z/f"+string(rune('0'+i))+".bin", testPart+i)
	}
	var wg sync.WaitGroup
	for _, u := range ups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.run(u); err != nil {
				t.Errorf("%s: %v", u.Path, err)
			}
		}()
	}
	wg.Wait()
	for i, u := range ups {
		r.once(u.Path, sums[i])
	}
	st := r.sim.Stats()
	if len(st.Folders) != 3 || st.CallsByRoute[frameiosim.RouteFolderCreate] != 3 {
		t.Fatalf("folders %+v from %d creates; want x, x/y, x/y/z made once", st.Folders, st.CallsByRoute[frameiosim.RouteFolderCreate])
	}

	// Another run that lost the folder map finds the folders by listing.
	r.rdb.FlushDB(context.Background()) // our own private Redis
	u0, sum0 := r.nested("x/y/z/later.bin", 10)
	if err := r.run(u0); err != nil {
		t.Fatal(err)
	}
	r.once("x/y/z/later.bin", sum0)
	if st := r.sim.Stats(); len(st.Folders) != 3 || st.CallsByRoute[frameiosim.RouteFolderCreate] != 3 {
		t.Fatalf("folders %+v from %d creates after the map was lost; want the 3 reused", st.Folders, st.CallsByRoute[frameiosim.RouteFolderCreate])
	}

	old := folderID(st, "x/y")
	if !r.sim.Delete(old) { // someone deletes x/y in Frame.io
		t.Fatalf("no folder x/y")
	}
	u, sum := r.nested("x/y/z/after.bin", 10)
	if err := r.run(u); err != nil {
		t.Fatalf("upload after x/y was deleted: %v", err)
	}
	r.once("x/y/z/after.bin", sum)
	st = r.sim.Stats()
	if id := folderID(st, "x/y"); id == "" || id == old || len(st.Folders) != 3 || len(st.Duplicates) != 0 {
		t.Errorf("x/y is %q (old %s), folders %+v; want x/y and x/y/z made anew once", id, old, st.Folders)
	}
}

// statusLog records Frame.io's verdicts as the state machine sees them.
type statusLog struct {
	FrameIO
	mu   sync.Mutex
	seen []UploadState
}

func (s *statusLog) UploadStatus(ctx context.Context, id string) (UploadState, error) {
	st, err := s.FrameIO.UploadStatus(ctx, id)
	if err == nil {
		s.mu.Lock()
		s.seen = append(s.seen, st)
		s.mu.Unlock()
	}
	return st, err
}

func TestV4SimFileIsDoneOnlyOnceFrameioSaysSo(t *testing.T) {
	r := newV4Rig(t, frameiosim.Config{CompleteAfter: 300 * time.Millisecond})
	log := &statusLog{FrameIO: r.api}
	r.h = r.handler(log, nil)
	u, sum := r.file("slow.mov", 2*testPart+1)
	if err := r.run(u); err != nil {
		t.Fatal(err)
	}
	if len(log.seen) < 2 || log.seen[0] != UploadPending || log.seen[len(log.seen)-1] != UploadComplete {
		t.Errorf("verdicts %v, want pending first (verifying), complete last", log.seen)
	}
	if got := r.batchState(u); got != records.Done {
		t.Errorf("batch state %q, want done", got)
	}
	r.once("slow.mov", sum)
}

func TestV4SimSlowAssemblyIsHandedBackAsVerifying(t *testing.T) {
	r := newV4Rig(t, frameiosim.Config{CompleteAfter: time.Hour})
	u, sum := r.file("slower.mov", testPart+1)
	if err := r.run(u); !errors.Is(err, errVerifying) || IsFailure(err) {
		t.Fatalf("pending after the in-process polls: %v, want verifying without spending a retry", err)
	}
	if got := r.batchState(u); got != records.Verifying {
		t.Errorf("batch state %q, want verifying", got)
	}
	before := r.sim.Stats()
	r.sim.AdvanceClock(time.Hour)
	if err := r.run(u); err != nil {
		t.Fatal(err)
	}
	after := r.sim.Stats()
	if after.Creates != before.Creates || after.PartsReceived != before.PartsReceived {
		t.Errorf("the follow-up made %d creates, %d PUTs; want it only to ask", after.Creates-before.Creates, after.PartsReceived-before.PartsReceived)
	}
	if got := r.batchState(u); got != records.Done {
		t.Errorf("batch state %q, want done", got)
	}
	r.once("slower.mov", sum)
}

func TestV4SimFailedUploadIsDeletedAndUploadedAgain(t *testing.T) {
	r := newV4Rig(t, frameiosim.Config{Faults: frameiosim.Faults{UploadFailed: 1}})
	u, sum := r.file("broken.mov", 2*testPart+5)
	err := r.run(u)
	var re *RetryError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "upload failed") {
		t.Fatalf("failed upload: %v, want a retry saying Frame.io failed it", err)
	}
	st := r.sim.Stats()
	if len(st.FailedUploads) != 1 || st.FailedUploads[0].Name != "broken.mov" || len(st.Files) != 0 {
		t.Fatalf("failed uploads %+v, live files %d; want broken.mov failed and deleted", st.FailedUploads, len(st.Files))
	}
	r.sim.SetFaults(frameiosim.Faults{})
	if err := r.run(u); err != nil {
		t.Fatal(err)
	}
	r.once("broken.mov", sum)
	if st := r.sim.Stats(); st.Creates != 2 || len(st.Files) != 1 || len(st.FailedUploads) != 1 {
		t.Errorf("%d creates, %d live files, %d failed; want 2, 1, 1", st.Creates, len(st.Files), len(st.FailedUploads))
	}
}

func TestV4SimLockedAccountTripsTheBreaker(t *testing.T) {
	r := newV4Rig(t, frameiosim.Config{})
	ctx := context.Background()
	r.sim.SetFaults(frameiosim.Faults{LockedAccounts: []string{r.acct}})
	_, err := r.api.CreateFile(ctx, r.parent, NewFile{Name: "l.bin", Size: 10})
	if apierr.Classify(err) != apierr.TokenRejected || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("locked account: %v (%v), want token rejected saying locked", err, apierr.Classify(err))
	}
	breaker := job.NewBreaker(r.rdb)
	r.h = r.handler(r.api, breaker)
	u, _ := r.nested("d/l.bin", 10)
	if err := r.run(u); !isHeld(err) {
		t.Fatalf("upload on a locked account: %v, want held by the breaker", err)
	}
	reason, _ := breaker.Reason(ctx, "default")
	if !breaker.Open(ctx, "default") || !strings.Contains(reason, "locked") {
		t.Errorf("breaker open %v, reason %q; want open saying locked", breaker.Open(ctx, "default"), reason)
	}
	if st := r.sim.Stats(); st.Creates != 0 {
		t.Errorf("%d creates on a locked account", st.Creates)
	}
}

func TestV4SimForbiddenFolderAndInvalidNameFailWithTheReason(t *testing.T) {
	r := newV4Rig(t, frameiosim.Config{})
	ctx := context.Background()
	closed := r.sim.MakeFolder(r.parent, "closed")
	r.sim.SetFaults(frameiosim.Faults{ForbiddenFolders: []string{closed}})
	u, _ := r.file("f.bin", 10)
	u.ParentID = closed
	err := r.run(u)
	if !errors.Is(err, asynq.SkipRetry) || classOf(err) != apierr.Terminal.String() {
		t.Fatalf("forbidden folder: %v (class %s), want terminal", err, classOf(err))
	}
	for _, want := range []string{"403", "permission", closed} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("reason %q lacks %q", err, want)
		}
	}

	long := strings.Repeat("n", 252) + ".bin" // 256 characters
	u2, _ := r.file("short.bin", 10)
	u2.Path = "d/" + long
	err = r.run(u2)
	if !errors.Is(err, asynq.SkipRetry) || classOf(err) != apierr.Terminal.String() {
		t.Fatalf("256-character name: %v (class %s), want terminal", err, classOf(err))
	}
	for _, want := range []string{"name", "longer than 255"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("reason %q lacks %q", err, want)
		}
	}
	fails, _ := r.h.batches.Failures(ctx, "b") // outside asynq both tasks are task ""
	if len(fails) != 1 || fails[0].Path != u2.Path || fails[0].Reason != err.Error() {
		t.Errorf("batch failures %+v, want the name's reason recorded", fails)
	}
	// The client refuses the name before spending a create on it.
	if st := r.sim.Stats(); len(st.Files) != 0 || st.CallsByRoute[frameiosim.RouteFileCreate] != 1 {
		t.Errorf("%d files from %d creates; want none from the forbidden one alone", len(st.Files), st.CallsByRoute[frameiosim.RouteFileCreate])
	}
}

// remote is a remote upload job of name declaring size (0: unknown).
func (r *rig) remote(name string, size int64) *job.Upload {
	return &job.Upload{V: 1, Batch: "b", TokenRef: "default", ParentID: r.parent, Path: name,
		SourceURL: "https://media.example.com/" + name + "?token=s3cr3t", Size: size}
}

func runRemote(h *Handler, u *job.Upload) error {
	b, _ := u.Encode()
	return h.ProcessTask(context.Background(), asynq.NewTask(job.TypeRemoteUpload, b))
}

func TestV4SimRemoteUploadIsDoneOnceVerified(t *testing.T) {
	r := newV4Rig(t, frameiosim.Config{CompleteAfter: 300 * time.Millisecond})
	log := &statusLog{FrameIO: r.api}
	r.h = r.handler(log, nil)
	u := r.remote("far.mov", 0)
	if err := runRemote(r.h, u); err != nil {
		t.Fatal(err)
	}
	if len(log.seen) < 2 || log.seen[0] != UploadPending || log.seen[len(log.seen)-1] != UploadComplete {
		t.Errorf("verdicts %v, want pending first, complete last", log.seen)
	}
	st := r.sim.Stats()
	if len(st.Files) != 1 || !st.Files[0].Complete || st.Files[0].API != "v4" || st.Files[0].Name != "far.mov" {
		t.Errorf("files %+v, want far.mov complete through V4", st.Files)
	}
	if got := r.batchState(u); got != records.Done {
		t.Errorf("batch state %q, want done", got)
	}
}

// A lost remote create is adopted whatever size the listing shows: V4
// lists a file it has not fetched yet with file_size 0, and a declared
// size is only what the manifest said.
func TestRemoteLostAnswerIsAdoptedOnBothAPIs(t *testing.T) {
	type setup struct {
		sim *frameiosim.Server
		h   *Handler
	}
	apis := map[string]func(t *testing.T, complete time.Duration) setup{
		"v2": func(t *testing.T, _ time.Duration) setup { r := newRig(t); return setup{r.sim, r.h} },
		"v4": func(t *testing.T, complete time.Duration) setup {
			r := newV4Rig(t, frameiosim.Config{CompleteAfter: complete})
			return setup{r.sim, r.h}
		},
	}
	for api, start := range apis {
		for _, complete := range []time.Duration{0, time.Hour} {
			for _, size := range []int64{0, 1 << 20} {
				t.Run(fmt.Sprintf("%s/complete_after_%v/size_%d", api, complete, size), func(t *testing.T) {
					s := start(t, complete)
					u := (&rig{parent: s.sim.RootFolder(frameiosim.DefaultToken)}).remote("far.mov", size)
					s.sim.SetFaults(frameiosim.Faults{LostCreate: 1})
					if err := runRemote(s.h, u); !apierr.Ambiguous(err) || strings.Contains(err.Error(), "s3cr3t") {
						t.Fatalf("lost answer: %v, want ambiguous, without the source URL's secret", err)
					}
					s.sim.SetFaults(frameiosim.Faults{})
					err := runRemote(s.h, u)
					if complete > 0 && api == "v4" {
						if !errors.Is(err, errVerifying) {
							t.Fatalf("adopted, not yet fetched: %v, want verifying", err)
						}
						s.sim.AdvanceClock(complete)
						err = runRemote(s.h, u)
					}
					if err != nil {
						t.Fatal(err)
					}
					if st := s.sim.Stats(); st.Creates != 1 || len(st.Files) != 1 || len(st.Duplicates) != 0 {
						t.Errorf("%d creates, %d files, duplicates %+v; want the lost create's file adopted", st.Creates, len(st.Files), st.Duplicates)
					}
				})
			}
		}
	}
}

// Without a limiter in front, 12 uploads at once into a new tree meet V4's
// own per-route limits in strict windows: the 429s are waited out and
// nothing is made twice.
func TestV4SimRouteLimitsMakeNothingTwice(t *testing.T) {
	sim := frameiosim.StartTest(t, frameiosim.Config{API: frameiosim.APIV4, PartSize: testPart, Enforcement: frameiosim.SlidingWindow})
	c, err := frameio.NewV4(frameio.Options{BaseURL: sim.V4URL(), Token: frameiosim.DefaultToken})
	if err != nil {
		t.Fatal(err)
	}
	r := &v4rig{rig: &rig{t: t, sim: sim, rdb: redistest.Start(t).Client(t), root: t.TempDir(), parent: sim.RootFolder(frameiosim.DefaultToken)},
		v4: c.ForAccount(frameiosim.DefaultAccount), acct: frameiosim.DefaultAccount}
	r.api = NewV4(r.v4)
	r.h = r.handler(r.api, nil)
	const n = 12
	ups := make([]*job.Upload, n)
	sums := make([]string, n)
	for i := range ups {
		ups[i], sums[i] = r.nested(fmt.Sprintf("d%d/e/f%d.bin", i%4, i), testPart+i)
	}
	var wg sync.WaitGroup
	for _, u := range ups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.run(u); err != nil {
				t.Errorf("%s: %v", u.Path, err)
			}
		}()
	}
	wg.Wait()
	for i, u := range ups {
		r.once(u.Path, sums[i])
	}
	st := r.sim.Stats()
	if st.RateLimited == 0 {
		t.Errorf("no 429 answered: the test did not meet the route limits (%+v)", st.CallsByRoute)
	}
	if len(st.Folders) != 8 || st.CallsByRoute[frameiosim.RouteFolderCreate] != 8 || st.CallsByRoute[frameiosim.RouteFileCreate] != n {
		t.Errorf("%d folders from %d creates, %d file creates; want 8, 8, %d (429s: %v)", len(st.Folders),
			st.CallsByRoute[frameiosim.RouteFolderCreate], st.CallsByRoute[frameiosim.RouteFileCreate], n, st.RateLimitedByRoute)
	}
	t.Logf("429s by route: %v", st.RateLimitedByRoute)
}

// failPart makes storage refuse one part's first PUT with a 500 (a
// retryable failure), through the simulator's PartFail fault.
type failPart struct {
	FrameIO
	sim    *frameiosim.Server
	number int
	once   sync.Once
}

func (f *failPart) PutPart(ctx context.Context, file *File, p Part, r io.ReaderAt) error {
	failed := false
	if p.Number == f.number {
		f.once.Do(func() { failed = true })
	}
	if failed {
		f.sim.SetFaults(frameiosim.Faults{PartFail: 1})
		defer f.sim.SetFaults(frameiosim.Faults{})
	}
	return f.FrameIO.PutPart(ctx, file, p, r)
}

// An attempt that fails on its third part leaves two parts recorded; the
// next attempt in the same worker PUTs only the other two, to the URLs the
// adapter remembered from the create.
func TestV4SimAttemptCutShortResumesWithTheRememberedURLs(t *testing.T) {
	r := newV4Rig(t, frameiosim.Config{})
	h, err := NewHandler(r.rdb, Options{
		Accounts:   map[string]*Account{"default": {API: &failPart{FrameIO: r.api, sim: r.sim, number: 2}, Scope: "token:default"}},
		UploadRoot: r.root, Log: zerolog.Nop(), PartConcurrency: 1, PartRetries: 1,
		Verify: true, VerifyTimeout: time.Minute, VerifyReuploads: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.h = h
	u, sum := r.file("cut.bin", 3*testPart+5) // 4 parts
	if err := r.run(u); err == nil || apierr.Classify(err) != apierr.Retryable {
		t.Fatalf("part 3 refused: %v, want a retryable failure", err)
	}
	before := r.sim.Stats()
	if before.PartsReceived != 2 || before.PartsFailed != 1 || before.Deleted != 0 {
		t.Fatalf("%d parts in, %d failed, %d deleted; want 2, 1, 0", before.PartsReceived, before.PartsFailed, before.Deleted)
	}
	if err := r.run(u); err != nil {
		t.Fatal(err)
	}
	after := r.sim.Stats()
	if got := after.PartsReceived - before.PartsReceived; got != 2 || after.Creates != before.Creates {
		t.Errorf("the next attempt PUT %d parts and made %d creates; want the 2 missing and none", got, after.Creates-before.Creates)
	}
	r.once("cut.bin", sum)
}

// Folders and files the state machine looks for may sit beyond the first
// page of 500: a folder made earlier is found and reused, and a lost
// create's file is found and replaced, not duplicated.
func TestV4SimFindsFoldersAndFilesBeyondTheFirstPage(t *testing.T) {
	r := newV4Rig(t, frameiosim.Config{})
	ctx := context.Background()
	for i := 0; i < frameio.V4FolderPageSize; i++ {
		if r.sim.MakeFolder(r.parent, fmt.Sprintf("filler-%03d", i)) == "" {
			t.Fatal("MakeFolder failed")
		}
	}
	shoot := r.sim.MakeFolder(r.parent, "shoot") // listed on page 2
	for i := 0; i < frameio.V4FolderPageSize; i++ {
		if _, err := r.v4.LocalUpload(ctx, shoot, fmt.Sprintf("filler-%03d.bin", i), 1); err != nil {
			t.Fatal(err)
		}
	}
	u, sum := r.nested("shoot/late.bin", testPart+1)
	r.sim.SetFaults(frameiosim.Faults{LostCreate: 1})
	if err := r.run(u); !apierr.Ambiguous(err) {
		t.Fatalf("lost answer: %v", err)
	}
	r.sim.SetFaults(frameiosim.Faults{})
	before := r.sim.Stats()
	if err := r.run(u); err != nil {
		t.Fatal(err)
	}
	r.once("shoot/late.bin", sum)
	after := r.sim.Stats()
	if after.CallsByRoute[frameiosim.RouteFolderCreate] != 0 || after.Deleted != 1 || after.Creates-before.Creates != 1 {
		t.Errorf("%d folder creates, %d deleted, %d file creates; want shoot reused, the lost file replaced once",
			after.CallsByRoute[frameiosim.RouteFolderCreate], after.Deleted, after.Creates-before.Creates)
	}
	if n := after.CallsByRoute[frameiosim.RouteListFiles]; n < 2 {
		t.Errorf("%d file list calls, want both pages read", n)
	}
}
