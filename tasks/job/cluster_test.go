package job

import (
	"context"
	"testing"

	"github.com/frameq/frameq/redistest"
	"github.com/frameq/frameq/tasks/records"
)

// TestEnqueueAgainOnCluster: on a Redis Cluster a second batch naming a
// file another batch queued (tracked) and one already uploaded (skipped)
// is enqueued like on a single Redis. The recent-batches index and a
// batch's keys are in different hash slots, so they cannot share a
// transaction there (go-redis refuses it: CROSSSLOT).
func TestEnqueueAgainOnCluster(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.StartCluster(t, 3).Client(t)
	e := NewEnqueuer(rdb)
	queued, done, fresh := validUpload(), validUpload(), validUpload()
	done.Path, fresh.Path = "a/done.mov", "a/fresh.mov"
	if _, err := e.Enqueue(ctx, "FIRST", []*Upload{queued}); err != nil {
		t.Fatal(err)
	}
	if err := records.NewProgresses(rdb).Done(ctx, IdempotencyKey(done), "asset-1"); err != nil {
		t.Fatal(err)
	}
	again := *queued
	res, err := e.Enqueue(ctx, "SECOND", []*Upload{&again, done, fresh})
	if err != nil || res.Enqueued != 1 || res.Queued != 1 || res.Done != 1 {
		t.Fatalf("second batch on Cluster: %+v, %v; want 1 enqueued, 1 already queued, 1 already uploaded", res, err)
	}
	st, err := records.NewBatches(rdb).Status(ctx, "SECOND")
	if err != nil || st.Total() != 3 || st.Counts[records.Skipped] != 1 || st.Counts[records.Pending] != 2 {
		t.Errorf("second batch's status %v, %v; want 2 pending (its own and the tracked one), 1 skipped", st.Counts, err)
	}
}
