package upload

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/frameq/frameq/frameio"
	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/redistest"
	"github.com/frameq/frameq/tasks/job"
	"github.com/frameq/frameq/tasks/records"
	"github.com/frameq/frameq/throttle"
)

// rig is a handler over a real Redis and the simulator, with no limiter:
// these tests are about the upload state machine.
type rig struct {
	t      *testing.T
	sim    *frameiosim.Server
	rdb    redis.UniversalClient
	client *frameio.Client
	h      *Handler
	root   string // upload root
	parent string // Frame.io root folder
}

const testPart = 64 << 10

func newRig(t *testing.T) *rig {
	sim := frameiosim.StartTest(t, frameiosim.Config{PartSize: testPart, CreateLimit: 1000, CallLimit: 1000})
	c, err := frameio.New(frameio.Options{BaseURL: sim.URL(), Token: frameiosim.DefaultToken})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, sim: sim, rdb: redistest.Start(t).Client(t), client: c, root: t.TempDir(), parent: sim.RootFolder(frameiosim.DefaultToken)}
	r.h, err = NewHandler(r.rdb, Options{
		Accounts:   map[string]*Account{"default": {Client: c, Scope: "token:default"}},
		UploadRoot: r.root, Log: zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// file writes name with n bytes under the upload root and returns its payload and SHA-256.
func (r *rig) file(name string, n int) (*job.Upload, string) {
	r.t.Helper()
	p := filepath.Join(r.root, name)
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		r.t.Fatal(err)
	}
	info, _ := os.Stat(p)
	sum := sha256.Sum256(b)
	return &job.Upload{V: 1, Batch: "b", TokenRef: "default", ParentID: r.parent, Path: name, File: p,
		Size: int64(n), MtimeNS: info.ModTime().UnixNano(), Filetype: "application/octet-stream"}, hex.EncodeToString(sum[:])
}

func (r *rig) run(u *job.Upload) error {
	b, _ := u.Encode()
	return r.h.ProcessTask(context.Background(), asynq.NewTask(job.TypeUpload, b))
}

func (r *rig) complete(name, sum string) {
	r.t.Helper()
	st := r.sim.Stats()
	for _, f := range st.Files {
		if f.Path == name {
			if !f.Complete || f.SHA256 != sum {
				r.t.Errorf("%s: complete %v sha %s, want %s", name, f.Complete, f.SHA256, sum)
			}
			return
		}
	}
	r.t.Errorf("%s not in Frame.io", name)
}

func TestResumeUploadsOnlyMissingParts(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	u, sum := r.file("a.bin", 3*testPart+5)
	// An earlier attempt created the asset and put part 1, then crashed.
	a, err := r.client.CreateAsset(ctx, r.parent, frameio.CreateAsset{Type: "file", Name: "a.bin", Filetype: u.Filetype, Filesize: u.Size})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(u.File)
	defer f.Close()
	parts := frameio.Parts(u.Size, len(a.UploadURLs))
	if err := r.client.UploadPart(ctx, a.UploadURLs[1], u.Filetype, f, parts[1].Offset, parts[1].Size); err != nil {
		t.Fatal(err)
	}
	key := job.IdempotencyKey(u)
	r.h.progress.Created(ctx, key, a.ID)
	r.h.progress.PartDone(ctx, key, a.ID, 1)
	before := r.sim.Stats()

	if err := r.run(u); err != nil {
		t.Fatal(err)
	}
	after := r.sim.Stats()
	if got := after.PartsReceived - before.PartsReceived; got != len(parts)-1 {
		t.Errorf("%d parts PUT on resume, want %d", got, len(parts)-1)
	}
	if after.Creates != before.Creates {
		t.Errorf("resume created another asset")
	}
	r.complete("a.bin", sum)
}

func TestUncertainCreateAdoptsTheAssetAndDeletesExtras(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	u, sum := r.file("b.bin", 2*testPart)
	key := job.IdempotencyKey(u)
	r.h.progress.Creating(ctx, key, time.Now())
	// Two lost answers: the create went through twice.
	for i := 0; i < 2; i++ {
		if _, err := r.client.CreateAsset(ctx, r.parent, frameio.CreateAsset{Type: "file", Name: "b.bin", Filetype: u.Filetype, Filesize: u.Size}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.run(u); err != nil {
		t.Fatal(err)
	}
	st := r.sim.Stats()
	if st.Creates != 2 || st.Deleted != 1 || len(st.Duplicates) != 0 || len(st.Files) != 1 {
		t.Errorf("creates %d deleted %d duplicates %v files %d; want the first adopted, the second deleted", st.Creates, st.Deleted, st.Duplicates, len(st.Files))
	}
	r.complete("b.bin", sum)
}

func TestUncertainCreateThatMadeNothingCreates(t *testing.T) {
	r := newRig(t)
	u, sum := r.file("c.bin", 10)
	r.h.progress.Creating(context.Background(), job.IdempotencyKey(u), time.Now())
	if err := r.run(u); err != nil {
		t.Fatal(err)
	}
	if st := r.sim.Stats(); st.Creates != 1 {
		t.Errorf("%d creates, want 1", st.Creates)
	}
	r.complete("c.bin", sum)
}

func TestRecordedAssetGoneIsCreatedAnew(t *testing.T) {
	r := newRig(t)
	u, sum := r.file("d.bin", testPart+1)
	r.h.progress.Created(context.Background(), job.IdempotencyKey(u), "deleted-by-someone")
	if err := r.run(u); err != nil {
		t.Fatal(err)
	}
	r.complete("d.bin", sum)
}

func TestDoneFileMakesNoCall(t *testing.T) {
	r := newRig(t)
	u, _ := r.file("e.bin", 10)
	if err := r.run(u); err != nil {
		t.Fatal(err)
	}
	calls := r.sim.Stats().Calls
	if err := r.run(u); err != nil {
		t.Fatal(err)
	}
	if got := r.sim.Stats().Calls; got != calls {
		t.Errorf("a done file made %d more API calls", got-calls)
	}
}

func TestFoldersAreCreatedOnceUnderConcurrency(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	f := records.NewFolders(r.rdb)
	ids := make(chan string, 16)
	for i := 0; i < 16; i++ {
		go func() {
			id, err := f.EnsureChain(ctx, NewV2(r.client), "s", r.parent, []string{"x", "y", "z"})
			if err != nil {
				t.Error(err)
			}
			ids <- id
		}()
	}
	first := <-ids
	for i := 1; i < 16; i++ {
		if id := <-ids; id != first {
			t.Errorf("folder ids differ: %s vs %s", id, first)
		}
	}
	st := r.sim.Stats()
	if len(st.Folders) != 3 || len(st.Duplicates) != 0 {
		t.Errorf("folders %d duplicates %v, want 3 and none", len(st.Folders), st.Duplicates)
	}
	// A second run (new Redis map) finds the existing folders instead of making new ones.
	r.rdb.FlushDB(ctx) // our own private Redis
	if _, err := f.EnsureChain(ctx, NewV2(r.client), "s", r.parent, []string{"x", "y", "z"}); err != nil {
		t.Fatal(err)
	}
	if st := r.sim.Stats(); len(st.Folders) != 3 {
		t.Errorf("%d folders after a rerun, want the 3 reused", len(st.Folders))
	}
}

func TestBadPayloadIsArchivedAndRecordedOnItsBatch(t *testing.T) {
	r := newRig(t)
	bad := []byte(`{"v":2,"batch":"bb","token_ref":"default","parent_id":"p","path":"x.mov","file":"/x.mov"}`)
	err := r.h.ProcessTask(context.Background(), asynq.NewTask(job.TypeUpload, bad))
	if !errors.Is(err, asynq.SkipRetry) || !strings.Contains(err.Error(), "field v") {
		t.Fatalf("error %v, want SkipRetry naming field v", err)
	}
	fails, _ := r.h.batches.Failures(context.Background(), "bb")
	if len(fails) != 1 || fails[0].Class != ClassInput || fails[0].Path != "x.mov" {
		t.Errorf("failures %+v", fails)
	}
	if r.sim.Stats().Calls != 0 {
		t.Error("a bad payload made an API call")
	}
}

// roundTrips counts commands and pipelines sent to Redis.
// The bookkeeping of exactly-once costs round trips on every file; this
// pins how many a one-part file takes, so a change that adds one is seen.
func TestOnePartFileTakesThreeRedisRoundTrips(t *testing.T) {
	r := newRig(t)
	var rt redistest.Counter
	r.rdb.(*redis.Client).AddHook(&rt)
	u, sum := r.file("one.bin", 1000)
	if err := r.run(u); err != nil { // warms the script cache
		t.Fatal(err)
	}
	u2, _ := r.file("two.bin", 1000)
	rt.Reset()
	if err := r.run(u2); err != nil {
		t.Fatal(err)
	}
	// A first attempt: the claim (active + creating on a new record),
	// created, complete (done + batch).
	if got := rt.RoundTrips(); got != 3 {
		t.Errorf("%d Redis round trips for a one-part file, want 3", got)
	}
	r.complete("one.bin", sum)
}

// With the create's permit staged in the claim's pipeline (as the worker
// wires it), a first attempt's permit costs no round trip of its own: the
// whole one-part file, limiter included, still takes 3.
func TestStagedCreatePermitRidesWithTheClaim(t *testing.T) {
	sim := frameiosim.StartTest(t, frameiosim.Config{PartSize: testPart, CreateLimit: 1000, CallLimit: 1000})
	rdb := redistest.Start(t).Client(t)
	// A Margin that covers a loaded machine's pace: a permit used late
	// pushes the schedule back, a round trip of its own.
	lim, err := throttle.New(rdb, throttle.Config{Margin: 0.4, Limits: map[string]throttle.Limit{
		frameio.LimitCalls: {Rate: 1000, Per: time.Second}, frameio.LimitCreates: {Rate: 1000, Per: time.Second}}})
	if err != nil {
		t.Fatal(err)
	}
	const scope = "token:default"
	var permits, staged atomic.Int64
	c, err := frameio.New(frameio.Options{BaseURL: sim.URL(), Token: frameiosim.DefaultToken,
		Permit: func(ctx context.Context, call frameio.Call) (func(time.Time), error) {
			permits.Add(1)
			_, err := lim.Reserve(ctx, scope, call.Limits...)
			return nil, err
		}})
	if err != nil {
		t.Fatal(err)
	}
	acct := &Account{Client: c, Scope: scope, StageCreate: func(ctx context.Context, p redis.Pipeliner) *throttle.Staged {
		staged.Add(1)
		s, err := lim.Stage(ctx, p, scope, c.CreateLimits()...)
		if err != nil {
			t.Error(err)
		}
		return s
	}}
	r := &rig{t: t, sim: sim, rdb: rdb, client: c, root: t.TempDir(), parent: sim.RootFolder(frameiosim.DefaultToken)}
	if r.h, err = NewHandler(rdb, Options{Accounts: map[string]*Account{"default": acct}, UploadRoot: r.root, Log: zerolog.Nop()}); err != nil {
		t.Fatal(err)
	}
	var rt redistest.Counter
	rdb.AddHook(&rt)
	u, _ := r.file("one.bin", 1000)
	if err := r.run(u); err != nil { // warms the script cache
		t.Fatal(err)
	}
	u2, sum := r.file("two.bin", 1000)
	rt.Reset()
	permits.Store(0)
	staged.Store(0)
	if err := r.run(u2); err != nil {
		t.Fatal(err)
	}
	if got := rt.RoundTrips(); got != 3 {
		t.Errorf("%d Redis round trips for a one-part file with its permit, want 3", got)
	}
	if permits.Load() != 1 || staged.Load() != 1 {
		t.Errorf("%d permits taken, %d staged; want 1 each", permits.Load(), staged.Load())
	}
	r.complete("two.bin", sum)
}

// A part URL that storage refuses (here: expired) cannot be renewed: the
// asset is deleted, and the next attempt uploads a new one.
func TestExpiredPartURLsDeleteTheAssetAndStartOver(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	u, sum := r.file("late.bin", 2*testPart+9)
	a, err := r.client.CreateAsset(ctx, r.parent, frameio.CreateAsset{Type: "file", Name: "late.bin", Filetype: u.Filetype, Filesize: u.Size})
	if err != nil {
		t.Fatal(err)
	}
	r.h.progress.Created(ctx, job.IdempotencyKey(u), a.ID)
	r.sim.AdvanceClock(frameiosim.DefaultURLExpiry + time.Minute)
	err = r.run(u)
	var re *RetryError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired URLs: %v, want a retry saying they expired", err)
	}
	if st := r.sim.Stats(); st.Deleted != 1 || len(st.Files) != 0 {
		t.Fatalf("%d deleted, %d live files; want the asset with expired URLs deleted", st.Deleted, len(st.Files))
	}
	if err := r.run(u); err != nil {
		t.Fatal(err)
	}
	if st := r.sim.Stats(); st.Creates != 2 || len(st.Files) != 1 || len(st.Duplicates) != 0 {
		t.Errorf("%d creates, %d files, duplicates %v; want 2, 1, none", st.Creates, len(st.Files), st.Duplicates)
	}
	r.complete("late.bin", sum)
}

// TestSecondRunOfAnAttemptWaitsForTheFirstsCreate: a Sentinel failover that
// lost asynq's dequeue hands one attempt to two workers. The second run
// finds the first's "creating" mark while that create is still out: it
// neither creates nor judges the mark by a listing (which could not see the
// file yet) until the first run records the asset, then resumes that one.
func TestSecondRunOfAnAttemptWaitsForTheFirstsCreate(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	u, sum := r.file("g.bin", 2*testPart)
	key := job.IdempotencyKey(u)
	if err := r.h.progress.Claim(ctx, key, records.CreateOwner{Run: "first", Attempt: 0}, time.Now(), time.Minute); err != nil {
		t.Fatal(err)
	}
	second := make(chan error, 1)
	go func() { second <- r.run(u) }()
	time.Sleep(2500 * time.Millisecond) // the second run reads the mark, waits, reads it again
	if st := r.sim.Stats(); st.Creates != 0 {
		t.Fatalf("the second run created while the first run's create was out: %d creates", st.Creates)
	}
	// The first run's create answers and is recorded.
	a, err := r.client.CreateAsset(ctx, r.parent, frameio.CreateAsset{Type: "file", Name: "g.bin", Filetype: u.Filetype, Filesize: u.Size})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.h.progress.Created(ctx, key, a.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-second:
		if err != nil {
			t.Fatalf("second run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the second run did not finish once the asset was recorded")
	}
	if st := r.sim.Stats(); st.Creates != 1 || len(st.Duplicates) != 0 {
		t.Errorf("%d creates, duplicates %v: want the first run's asset only", st.Creates, st.Duplicates)
	}
	r.complete("g.bin", sum)
}
