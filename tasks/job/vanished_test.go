package job

import (
	"context"
	"fmt"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/frameq/frameq/redistest"
	"github.com/frameq/frameq/tasks/records"
)

// A task deleted with asynq's own Inspector is recorded failed with the
// vanished reason once the grace has passed, and only it: the tasks asynq
// still has keep their state, and the batch finishes.
func TestSweepFailsOnlyTasksAsynqNoLongerHas(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t).Client(t)
	var ups []*Upload
	for i := range 3 {
		u := validUpload()
		u.Path, u.Size = fmt.Sprintf("d/f%d.mov", i), int64(100*(i+1))
		ups = append(ups, u)
	}
	if _, err := NewEnqueuer(rdb).Enqueue(ctx, "b1", ups); err != nil {
		t.Fatal(err)
	}
	gone := TaskID(ups[1])
	if err := asynq.NewInspectorFromRedisClient(rdb).DeleteTask(SmallQueue("default"), gone); err != nil {
		t.Fatal(err)
	}
	s := NewSweeper(rdb)
	if n, err := s.Sweep(ctx, "b1"); err != nil || n != 0 {
		t.Fatalf("within the grace: %d vanished, %v; want none", n, err)
	}
	s.Grace = 0
	if n, err := s.Sweep(ctx, "b1"); err != nil || n != 1 {
		t.Fatalf("after the grace: %d vanished, %v; want 1", n, err)
	}
	if n, err := s.Sweep(ctx, "b1"); err != nil || n != 0 {
		t.Fatalf("second sweep: %d vanished, %v; want 0", n, err)
	}
	b := records.NewBatches(rdb)
	st, _ := b.Status(ctx, "b1")
	if st.Counts[records.Failed] != 1 || st.Counts[records.Pending] != 2 {
		t.Errorf("counts %v, want 1 failed, 2 pending", st.Counts)
	}
	if st.Bytes != (records.Bytes{Total: 600, Failed: 200}) {
		t.Errorf("bytes %+v", st.Bytes)
	}
	fails, _ := b.Failures(ctx, "b1")
	if len(fails) != 1 || fails[0].TaskID != gone || fails[0].Class != ClassVanished || fails[0].Reason != VanishedReason {
		t.Errorf("failures %+v", fails)
	}
	// The rest finish as usual, and so does the batch.
	for _, u := range []*Upload{ups[0], ups[2]} {
		b.Set(ctx, "b1", TaskID(u), records.Done, nil)
	}
	if st, _ := b.Status(ctx, "b1"); !st.Finished() || st.Bytes != (records.Bytes{Total: 600, Done: 400, Failed: 200}) {
		t.Errorf("finished %v, bytes %+v", st.Finished(), st.Bytes)
	}
}
