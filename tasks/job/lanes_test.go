package job

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/frameq/frameq/redistest"
	"github.com/frameq/frameq/tasks/records"
)

// A file queued under its id in one lane of its token is already queued
// for a batch that would put it in the other lane: asynq checks a task id
// per queue only, so without a lookup of the other lane the same file was
// queued twice (a large batch, then a small one naming it again). Both
// enqueue paths, both directions; the later batch tracks the earlier one's
// task, as for any file another batch queued.
func TestFileQueuedInTheOtherLaneIsNotQueuedAgain(t *testing.T) {
	for _, scripted := range []bool{true, false} {
		for _, firstSmall := range []bool{false, true} {
			t.Run(fmt.Sprintf("scripted=%v first small=%v", scripted, firstSmall), func(t *testing.T) {
				ctx := context.Background()
				rdb := redistest.Start(t).Client(t)
				e := NewEnqueuer(rdb)
				e.scripted = scripted
				u, fresh := validUpload(), validUpload()
				fresh.Path = "a/b/fresh.mov"
				lane := func(small bool) string {
					if small {
						return SmallQueue(u.TokenRef)
					}
					return Queue(u.TokenRef)
				}
				e.SmallBatch = map[bool]int{true: 100, false: 0}[firstSmall]
				if _, err := e.Enqueue(ctx, "FIRST", []*Upload{u}); err != nil {
					t.Fatal(err)
				}
				e.SmallBatch = map[bool]int{true: 0, false: 100}[firstSmall]
				again := *u
				res, err := e.Enqueue(ctx, "SECOND", []*Upload{&again, fresh})
				if err != nil {
					t.Fatal(err)
				}
				if res.Enqueued != 1 || res.Queued != 1 {
					t.Errorf("second batch: %+v; want 1 enqueued (the fresh file), 1 already queued", res)
				}
				in := asynq.NewInspectorFromRedisClient(rdb)
				if _, err := in.GetTaskInfo(lane(!firstSmall), TaskID(u)); !errors.Is(err, asynq.ErrTaskNotFound) {
					t.Errorf("the file is queued in both lanes (err %v)", err)
				}
				if _, err := in.GetTaskInfo(lane(firstSmall), TaskID(u)); err != nil {
					t.Errorf("the first batch's task: %v", err)
				}
				st, err := records.NewBatches(rdb).Status(ctx, "SECOND")
				if err != nil || st.Total() != 2 || st.Counts[records.Pending] != 2 {
					t.Errorf("second batch's status %+v, %v; want 2 pending (its own file and the tracked one)", st.Counts, err)
				}
			})
		}
	}
}

// A retained completed task in the other lane is history, as in the
// file's own lane (TestCompletedTaskDoesNotBlockEnqueueingAgain): a file
// not recorded done is enqueued again, and the finished task dropped.
func TestCompletedTaskInTheOtherLaneDoesNotBlockEnqueueingAgain(t *testing.T) {
	for _, scripted := range []bool{true, false} {
		t.Run(fmt.Sprintf("scripted=%v", scripted), func(t *testing.T) {
			rdb := redistest.Start(t).Client(t)
			ctx := context.Background()
			e := NewEnqueuer(rdb)
			e.scripted = scripted
			u := validUpload()
			if _, err := e.Enqueue(ctx, "b1", []*Upload{u}); err != nil { // the small lane
				t.Fatal(err)
			}
			in := asynq.NewInspectorFromRedisClient(rdb)
			small, bulk, id := SmallQueue(u.TokenRef), Queue(u.TokenRef), TaskID(u)
			serveNoop(t, rdb, small) // completes the task without recording it done
			waitFor(t, "the task is in the completed list", func() bool { return slices.Contains(completedIDs(t, in, small), id) })
			e.SmallBatch = 0
			res, err := e.Enqueue(ctx, "b2", []*Upload{u})
			if err != nil {
				t.Fatal(err)
			}
			if res.Enqueued != 1 || res.Queued != 0 {
				t.Fatalf("enqueue after completion in the other lane: %+v; want 1 enqueued, 0 already queued", res)
			}
			if info, err := in.GetTaskInfo(bulk, id); err != nil || info.State != asynq.TaskStatePending {
				t.Errorf("task in the bulk lane: %+v, %v; want pending", info, err)
			}
			if _, err := in.GetTaskInfo(small, id); !errors.Is(err, asynq.ErrTaskNotFound) {
				t.Errorf("the completed task in the small lane is still there (err %v)", err)
			}
		})
	}
}
