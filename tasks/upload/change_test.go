package upload

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/frameq/frameq/apierr"
	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/tasks/job"
	"github.com/frameq/frameq/tasks/records"
)

// appending is a FrameIO that appends to a local file right after the
// first PUT of part `after`, like a copy still being written.
type appending struct {
	FrameIO
	path  string
	after int
	extra []byte
	once  sync.Once
}

func (a *appending) PutPart(ctx context.Context, f *File, p Part, r io.ReaderAt) error {
	err := a.FrameIO.PutPart(ctx, f, p, r)
	if err == nil && p.Number == a.after {
		a.once.Do(func() {
			w, oerr := os.OpenFile(a.path, os.O_APPEND|os.O_WRONLY, 0)
			if oerr == nil {
				_, _ = w.Write(a.extra)
				w.Close()
			}
		})
	}
	return err
}

func sha(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// growingRig is a V4 rig whose handler appends 1000 bytes to the file after
// part 0 of its first upload; partConcurrency 1 stops the parts at the
// change, 4 (the default) sends them all and relies on the final check.
func growingRig(t *testing.T, partConcurrency int) (*v4rig, *job.Upload) {
	r := newV4Rig(t, frameiosim.Config{})
	u, _ := r.nested("card/A001.mov", 3*testPart+100)
	api := &appending{FrameIO: r.api, path: u.File, extra: make([]byte, 1000)}
	r.h = r.handler(api, nil)
	r.h.opts.Settle = 400 * time.Millisecond
	r.h.opts.PartConcurrency = partConcurrency
	return r, u
}

// TestFileAppendedBetweenPartsIsNeverDoneMixed: a file that grows after its
// first part went in is not recorded done with bytes of two versions: the
// half-made file is deleted, the task waits (no retry spent) while the file
// is younger than Settle, and once it has been still it is uploaded whole,
// once, and recorded done under both its versions' keys.
func TestFileAppendedBetweenPartsIsNeverDoneMixed(t *testing.T) {
	for _, pc := range []int{1, 4} {
		t.Run("parts at once "+strconv.Itoa(pc), func(t *testing.T) {
			r, u := growingRig(t, pc)
			ctx := context.Background()
			err := r.run(u)
			var w *waitError
			if !errors.Is(err, errChanging) || !errors.As(err, &w) || IsFailure(err) {
				t.Fatalf("first attempt: %v; want a wait for the file to settle, not a failure", err)
			}
			st := r.sim.Stats()
			creates := func() int { return r.sim.Stats().CallsByRoute[frameiosim.RouteFileCreate] }
			if len(st.Files) != 0 || st.Deleted != 1 || creates() != 1 {
				t.Fatalf("after the change: %d live files, %d deleted, %d file creates; want 0, the 1 made deleted", len(st.Files), st.Deleted, creates())
			}
			if p, _ := r.h.progress.Get(ctx, job.IdempotencyKey(u)); p.State == records.StateDone {
				t.Fatal("recorded done with bytes of two versions")
			}
			// Still young: it waits, and asks Frame.io nothing.
			if err := r.run(u); !errors.Is(err, errChanging) || creates() != 1 {
				t.Fatalf("attempt while the file is younger than Settle: %v, %d file creates; want a wait and no create", err, creates())
			}
			time.Sleep(r.h.opts.Settle)
			if err := r.run(u); err != nil {
				t.Fatalf("attempt once still: %v", err)
			}
			r.once(u.Path, sha(t, u.File))
			info, _ := os.Stat(u.File)
			now := *u
			now.Size, now.MtimeNS = info.Size(), info.ModTime().UnixNano()
			for _, key := range []string{job.IdempotencyKey(u), job.IdempotencyKey(&now)} {
				if p, _ := r.h.progress.Get(ctx, key); p.State != records.StateDone {
					t.Errorf("progress %s: %v, want done", key, p.State)
				}
			}
			if n, _ := r.rdb.Exists(ctx, changingKey(job.IdempotencyKey(u))).Result(); n != 0 {
				t.Error("change record left behind")
			}
		})
	}
}

// TestFileChangedBetweenAttemptsWithPartsInStartsOver: parts of the
// enqueued version are in when the next attempt finds the file changed (a
// crash, then a write): that upload is deleted, never resumed.
func TestFileChangedBetweenAttemptsWithPartsInStartsOver(t *testing.T) {
	r := newV4Rig(t, frameiosim.Config{})
	r.h.opts.Settle = 300 * time.Millisecond
	u, _ := r.nested("card/A002.mov", 3*testPart)
	r.created(r.api, u, 0)
	if err := os.WriteFile(u.File, make([]byte, 3*testPart+5), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.run(u); !errors.Is(err, errChanging) {
		t.Fatalf("attempt after the change: %v; want a wait for the file to settle", err)
	}
	if st := r.sim.Stats(); len(st.Files) != 0 || st.Deleted != 1 {
		t.Fatalf("%d live files, %d deleted; want the half-made one deleted", len(st.Files), st.Deleted)
	}
	time.Sleep(r.h.opts.Settle)
	if err := r.run(u); err != nil {
		t.Fatal(err)
	}
	r.once(u.Path, sha(t, u.File))
}

// TestFileChangingForOverAnHourIsArchivedWithTheReason: the bound.
func TestFileChangingForOverAnHourIsArchivedWithTheReason(t *testing.T) {
	r, u := growingRig(t, 4)
	key := changingKey(job.IdempotencyKey(u))
	if err := r.rdb.HSet(context.Background(), key, "since", time.Now().Add(-maxChanging-time.Minute).UnixNano(), "n", 7).Err(); err != nil {
		t.Fatal(err)
	}
	err := r.run(u)
	var term *terminalError
	if !errors.As(err, &term) || term.class != ClassInput {
		t.Fatalf("got %v; want archived as input", err)
	}
	want := "kept changing for over 1h0m0s (8 changes seen while uploading"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("reason %q does not say %q", err, want)
	}
	if st := r.sim.Stats(); len(st.Files) != 0 || st.Deleted != 1 {
		t.Errorf("%d live files, %d deleted; want nothing left half-made", len(st.Files), st.Deleted)
	}
}

// TestFileChangedBeforeItsUploadBeganStaysRefused: with no sign of a change
// mid-upload, a file that differs from its payload is refused as before
// (enqueue it again), with no API call.
func TestFileChangedBeforeItsUploadBeganStaysRefused(t *testing.T) {
	r := newV4Rig(t, frameiosim.Config{})
	u, _ := r.file("late.mov", testPart)
	if err := os.WriteFile(u.File, make([]byte, testPart+1), 0o644); err != nil {
		t.Fatal(err)
	}
	calls := r.sim.Stats().Calls
	err := r.run(u)
	if !errors.Is(err, asynq.SkipRetry) || !strings.Contains(err.Error(), "changed since it was enqueued") {
		t.Fatalf("got %v; want refused as changed since enqueued", err)
	}
	if n := r.sim.Stats().Calls - calls; n != 0 {
		t.Errorf("%d API calls", n)
	}
}

// losingCreates is a FrameIO whose file creates take effect but whose
// answers are lost (a 502 after the fact), like a reset connection.
type losingCreates struct{ FrameIO }

func (l losingCreates) CreateFile(ctx context.Context, folderID string, in NewFile) (*File, error) {
	if _, err := l.FrameIO.CreateFile(ctx, folderID, in); err != nil {
		return nil, err
	}
	return nil, &apierr.Error{Method: "POST", Path: "/files", Status: 502, Title: "Bad Gateway"}
}

// TestFileChangedAfterALostCreateAnswerLeavesNoHalfMadeFile: a create
// whose answer was lost made a file frameq has no id for; the file then
// changes. The next attempt finds that file by name and time and deletes
// it before waiting for the file to settle, whichever version the create
// was of: the one enqueued, or the one uploaded as it is after an earlier
// change (the soak's case). Forgetting it left a half-made file beside the
// one uploaded next: a duplicate name in Frame.io.
func TestFileChangedAfterALostCreateAnswerLeavesNoHalfMadeFile(t *testing.T) {
	for _, earlier := range []bool{false, true} {
		t.Run("after an earlier change "+strconv.FormatBool(earlier), func(t *testing.T) {
			r := newV4Rig(t, frameiosim.Config{})
			r.h.opts.Settle = 300 * time.Millisecond
			u, _ := r.nested("card/A004.mov", 3*testPart)
			grow := func() {
				w, err := os.OpenFile(u.File, os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = w.Write(make([]byte, 500))
				w.Close()
			}
			if earlier { // seen changing mid-upload, now still: uploaded as it is
				r.created(r.api, u, 0)
				grow()
				if err := r.run(u); !errors.Is(err, errChanging) {
					t.Fatalf("attempt after the first change: %v; want a wait", err)
				}
				time.Sleep(r.h.opts.Settle)
			}
			deleted := r.sim.Stats().Deleted
			r.h = r.handler(losingCreates{r.api}, nil)
			r.h.opts.Settle = 300 * time.Millisecond
			if err := r.run(u); err == nil || errors.Is(err, errChanging) {
				t.Fatalf("attempt with the create's answer lost: %v; want a retryable error", err)
			}
			if st := r.sim.Stats(); len(st.Files) != 1 || st.Files[0].Complete {
				t.Fatalf("%d live files after the lost answer; want the 1 the create made, awaiting bytes", len(st.Files))
			}
			grow()
			r.h = r.handler(r.api, nil)
			r.h.opts.Settle = 300 * time.Millisecond
			if err := r.run(u); !errors.Is(err, errChanging) {
				t.Fatalf("attempt after the change: %v; want a wait for the file to settle", err)
			}
			if st := r.sim.Stats(); len(st.Files) != 0 || st.Deleted != deleted+1 {
				t.Fatalf("%d live files, %d deleted since the lost answer; want the file it made deleted", len(st.Files), st.Deleted-deleted)
			}
			time.Sleep(r.h.opts.Settle)
			if err := r.run(u); err != nil {
				t.Fatal(err)
			}
			r.once(u.Path, sha(t, u.File))
			if st := r.sim.Stats(); len(st.Duplicates) != 0 {
				t.Errorf("duplicates: %+v", st.Duplicates)
			}
		})
	}
}
