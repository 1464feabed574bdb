package upload

import (
	"context"
	"fmt"
	"testing"

	"github.com/frameq/frameq/redistest"
	"github.com/frameq/frameq/tasks/job"
	"github.com/frameq/frameq/tasks/records"
)

func rerunUploads(n int) []*job.Upload {
	out := make([]*job.Upload, n)
	for i := range out {
		out[i] = &job.Upload{V: 1, TokenRef: "default", ParentID: "root-1",
			Path: fmt.Sprintf("a/f%d.mov", i), File: fmt.Sprintf("/media/a/f%d.mov", i), Size: 10, MtimeNS: 1}
	}
	return out
}

// A batch whose files were all uploaded before is finished at once, with
// every file counted as skipped.
func TestEnqueuerRerunOfUploadedFilesFinishesWithSkipped(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t).Client(t)
	ups := rerunUploads(7)
	p := records.NewProgresses(rdb)
	for _, u := range ups {
		if err := p.Done(ctx, job.IdempotencyKey(u), "asset"); err != nil {
			t.Fatal(err)
		}
	}
	res, err := job.NewEnqueuer(rdb).Enqueue(ctx, "B2", ups)
	if err != nil || res.Done != 7 || res.Enqueued != 0 {
		t.Fatalf("enqueue: %+v %v", res, err)
	}
	st, err := records.NewBatches(rdb).Status(ctx, "B2")
	if err != nil {
		t.Fatal(err)
	}
	if !st.Finished() || st.Counts[records.Skipped] != 7 || st.Total() != 7 {
		t.Errorf("status %+v: finished %v total %d, want finished with 7 skipped", st.Counts, st.Finished(), st.Total())
	}
}

// B2 asks for files B1 already queued: B2 tracks them and finishes when
// the worker's completion of B1's tasks is recorded, not before.
func TestEnqueuerAlreadyQueuedFilesFinishWithTheirOwner(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t).Client(t)
	e := job.NewEnqueuer(rdb)
	if _, err := e.Enqueue(ctx, "B1", rerunUploads(3)); err != nil {
		t.Fatal(err)
	}
	ups := rerunUploads(4) // three already queued, one new
	res, err := e.Enqueue(ctx, "B2", ups)
	if err != nil || res.Queued != 3 || res.Enqueued != 1 {
		t.Fatalf("second enqueue: %+v %v", res, err)
	}
	b := records.NewBatches(rdb)
	st, _ := b.Status(ctx, "B2")
	if st.Total() != 4 || st.Counts[records.Pending] != 4 || st.Finished() {
		t.Fatalf("B2 before work: %+v", st.Counts)
	}
	// Mark done the way the worker does (Handler.complete: one pipeline).
	h := &Handler{progress: records.NewProgresses(rdb), batches: b}
	for _, u := range ups {
		owner := "B1"
		if u.Path == "a/f3.mov" {
			owner = "B2"
		}
		u.Batch = owner
		if err := h.complete(ctx, &attempt{u: u, taskID: job.TaskID(u), key: job.IdempotencyKey(u)}, "asset"); err != nil {
			t.Fatal(err)
		}
		if st, _ := b.Status(ctx, "B2"); st.Finished() != (u.Path == "a/f3.mov") {
			t.Fatalf("after %s: B2 finished=%v %+v", u.Path, st.Finished(), st.Counts)
		}
	}
	st, _ = b.Status(ctx, "B2")
	if st.Counts[records.Done] != 4 {
		t.Errorf("B2 done %d, want 4: %+v", st.Counts[records.Done], st.Counts)
	}
}
