package upload

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/frameq/frameq/tasks/job"
	"github.com/frameq/frameq/tasks/records"
)

// verdicts drives the real V2 client against the simulator but answers
// UploadStatus from a script, so a test can hold Frame.io's verdict back or
// make it fail. The last verdict repeats.
type verdicts struct {
	FrameIO
	mu     sync.Mutex
	script []UploadState
	asked  int
}

func (v *verdicts) UploadStatus(ctx context.Context, id string) (UploadState, error) {
	if _, err := v.FrameIO.UploadStatus(ctx, id); err != nil {
		return UploadPending, err // the real call still goes out: 404s stay real
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	st := v.script[min(v.asked, len(v.script)-1)]
	v.asked++
	return st, nil
}

func (v *verdicts) set(script ...UploadState) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.script, v.asked = script, 0
}

// verifyRig is a rig whose handler verifies uploads through a verdicts script.
func verifyRig(t *testing.T, reuploads int, timeout time.Duration, script ...UploadState) (*rig, *verdicts) {
	r := newRig(t)
	v := &verdicts{FrameIO: NewV2(r.client), script: script}
	var err error
	r.h, err = NewHandler(r.rdb, Options{
		Accounts:   map[string]*Account{"default": {Client: r.client, API: v, Scope: "token:default"}},
		UploadRoot: r.root, Log: zerolog.Nop(),
		Verify: true, VerifyTimeout: timeout, VerifyReuploads: reuploads,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r, v
}

// batchState reads the task's state in its batch record. Outside asynq a
// task has no id, so the record's field is "".
func (r *rig) batchState(u *job.Upload) string {
	r.t.Helper()
	st, err := r.rdb.HGet(context.Background(), "frameq:batch:{"+u.Batch+"}:state", "").Result()
	if err != nil {
		r.t.Fatalf("batch state: %v", err)
	}
	return st
}

func TestVerifyingFileIsHandedBackWithoutARetryAndDoneWhenFrameioSaysSo(t *testing.T) {
	r, v := verifyRig(t, 2, time.Hour, UploadPending)
	u, sum := r.file("v.bin", 2*testPart+1)
	err := r.run(u)
	var w *waitError
	if !errors.As(err, &w) || IsFailure(err) || !errors.Is(err, errVerifying) {
		t.Fatalf("pending verdict: got %v, want a wait that spends no retry", err)
	}
	if w.wait < verifyMinDelay || w.wait > verifyMaxDelay {
		t.Errorf("asks again in %v, want within [%v, %v]", w.wait, verifyMinDelay, verifyMaxDelay)
	}
	if got := r.batchState(u); got != records.Verifying {
		t.Errorf("batch state %q, want %q", got, records.Verifying)
	}
	p, _ := r.h.progress.Get(context.Background(), job.IdempotencyKey(u))
	if p.State != records.StateVerifying || p.VerifySince.IsZero() {
		t.Fatalf("progress %+v, want verifying with a start time", p)
	}
	before := r.sim.Stats()

	v.set(UploadComplete)
	if err := r.run(u); err != nil {
		t.Fatalf("complete verdict: %v", err)
	}
	after := r.sim.Stats()
	if after.Creates != before.Creates || after.PartsReceived != before.PartsReceived {
		t.Errorf("the follow-up made %d creates and %d part PUTs, want none: it only asks",
			after.Creates-before.Creates, after.PartsReceived-before.PartsReceived)
	}
	if got := r.batchState(u); got != records.Done {
		t.Errorf("batch state %q, want done", got)
	}
	r.complete("v.bin", sum)
}

func TestFailedUploadIsDeletedAndUploadedAgain(t *testing.T) {
	r, _ := verifyRig(t, 2, time.Hour, UploadFailed, UploadComplete)
	u, sum := r.file("f.bin", testPart+3)
	err := r.run(u)
	var re *RetryError
	if !errors.As(err, &re) || !IsFailure(err) {
		t.Fatalf("failed verdict: got %v, want a retry", err)
	}
	if st := r.sim.Stats(); st.Creates != 1 || len(st.Files) != 0 {
		t.Fatalf("after a failed verdict: %d creates, %d live files; want the failed file deleted", st.Creates, len(st.Files))
	}
	if err := r.run(u); err != nil {
		t.Fatalf("second upload: %v", err)
	}
	st := r.sim.Stats()
	if st.Creates != 2 || len(st.Files) != 1 || len(st.Duplicates) != 0 {
		t.Fatalf("%d creates, %d live files, duplicates %v; want 2, 1, none", st.Creates, len(st.Files), st.Duplicates)
	}
	r.complete("f.bin", sum)
	// A later success clears the count, so a re-upload of the file starts afresh.
	if n, _ := r.rdb.Exists(context.Background(), records.ProgressKey(job.IdempotencyKey(u))+":reuploads").Result(); n != 0 {
		t.Errorf("re-upload counter kept after done")
	}
}

func TestUploadFrameioKeepsFailingFailsForGoodWithTheReason(t *testing.T) {
	r, _ := verifyRig(t, 1, time.Hour, UploadFailed)
	u, _ := r.file("bad.bin", 10)
	if err := r.run(u); !IsFailure(err) || errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("first failure: %v, want a retry", err)
	}
	err := r.run(u)
	if !errors.Is(err, asynq.SkipRetry) || classOf(err) != ClassUploadFailed {
		t.Fatalf("second failure: %v (class %s), want terminal %s", err, classOf(err), ClassUploadFailed)
	}
	for _, want := range []string{"Frame.io reported the upload failed", "bad.bin", "2 times", "FRAMEQ_VERIFY_REUPLOADS=1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("reason %q lacks %q", err, want)
		}
	}
	if st := r.sim.Stats(); st.Creates != 2 || len(st.Files) != 0 {
		t.Errorf("%d creates, %d live files; want 2 and none left behind", st.Creates, len(st.Files))
	}
	if got := r.batchState(u); got != records.Failed {
		t.Errorf("batch state %q, want failed", got)
	}
}

func TestVerifyTimeoutCountsAsAFailedUpload(t *testing.T) {
	r, _ := verifyRig(t, 0, time.Millisecond, UploadPending)
	u, _ := r.file("slow.bin", 10)
	err := r.run(u)
	if classOf(err) != ClassUploadFailed || !strings.Contains(err.Error(), "FRAMEQ_VERIFY_TIMEOUT") {
		t.Fatalf("got %v (class %s), want %s naming FRAMEQ_VERIFY_TIMEOUT", err, classOf(err), ClassUploadFailed)
	}
}

func TestWithoutVerifyAFileIsDoneAtItsLastPart(t *testing.T) {
	r := newRig(t)
	v := &verdicts{FrameIO: NewV2(r.client), script: []UploadState{UploadPending}}
	r.h.opts.Accounts["default"].API = v
	u, sum := r.file("n.bin", 10)
	if err := r.run(u); err != nil {
		t.Fatal(err)
	}
	if v.asked != 0 {
		t.Errorf("UploadStatus asked %d times with Verify off", v.asked)
	}
	r.complete("n.bin", sum)
}

func TestRemoteFileIsVerifiedToo(t *testing.T) {
	r, v := verifyRig(t, 2, time.Hour, UploadPending)
	u := &job.Upload{V: 1, Batch: "b", TokenRef: "default", ParentID: r.parent, Path: "r.mov",
		SourceURL: "https://example.com/r.mov", Size: 10}
	b, _ := u.Encode()
	run := func() error {
		return r.h.ProcessTask(context.Background(), asynq.NewTask(job.TypeRemoteUpload, b))
	}
	if err := run(); !errors.Is(err, errVerifying) {
		t.Fatalf("pending remote file: %v, want verifying", err)
	}
	v.set(UploadComplete)
	if err := run(); err != nil {
		t.Fatal(err)
	}
	if st := r.sim.Stats(); st.Creates != 1 {
		t.Errorf("%d creates, want 1", st.Creates)
	}
}
