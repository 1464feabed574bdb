package job

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/frameq/frameq/redistest"
	"github.com/frameq/frameq/tasks/records"
	"github.com/hibiken/asynq"
)

func TestTaskIDHasNoDashNearTheFront(t *testing.T) {
	id := TaskID(validUpload())
	if !strings.HasPrefix(id, "up_") || len(id) != 35 || strings.Contains(id, "-") {
		t.Errorf("TaskID = %q, want up_ and 32 hex digits, no \"-\" (asynqmon shows an id up to its first \"-\")", id)
	}
	if legacyTaskIDOf(IdempotencyKey(validUpload())) == id {
		t.Error("legacy and current ids are the same")
	}
}

// A file an older producer queued as "up-<key>" is not queued again as
// "up_<key>", whatever state or lane its task is in; the new batch follows
// the old task to its end. Runs against a real redis-server and asynq.
func TestLegacyIDIsFoundInEveryState(t *testing.T) {
	states := []struct {
		name  string
		small bool
		opts  []asynq.Option
		after func(*asynq.Inspector, string, string) error
	}{
		{name: "pending"},
		{name: "pending in the small lane", small: true},
		{name: "scheduled", opts: []asynq.Option{asynq.ProcessIn(time.Hour)}},
		{name: "archived", after: func(in *asynq.Inspector, q, id string) error { return in.ArchiveTask(q, id) }},
	}
	for _, st := range states {
		t.Run(st.name, func(t *testing.T) {
			ctx := context.Background()
			rdb := redistest.Start(t).Client(t)
			client := asynq.NewClientFromRedisClient(rdb)
			insp := asynq.NewInspectorFromRedisClient(rdb)
			batches := records.NewBatches(rdb)

			u := validUpload()
			u.Batch = "OLD"
			key := IdempotencyKey(u)
			oldID := legacyTaskIDOf(key)
			q := Queue(u.TokenRef)
			if st.small {
				q = SmallQueue(u.TokenRef)
			}
			// What an older producer did: register the old id, then enqueue under it.
			if err := batches.Add(ctx, "OLD", []string{oldID}); err != nil {
				t.Fatal(err)
			}
			b, _ := u.Encode()
			if _, err := client.EnqueueContext(ctx, asynq.NewTask(TypeUpload, b,
				append(st.opts, asynq.TaskID(oldID), asynq.Queue(q))...)); err != nil {
				t.Fatal(err)
			}
			if st.after != nil {
				if err := st.after(insp, q, oldID); err != nil {
					t.Fatal(err)
				}
			}

			fresh := validUpload()
			fresh.Path = "a/b/other.mov"
			res, err := NewEnqueuer(rdb).Enqueue(ctx, "NEW", []*Upload{validUpload(), fresh})
			if err != nil || res.Queued != 1 || res.Enqueued != 1 {
				t.Fatalf("Enqueue = %+v, %v; want 1 already queued (the legacy task), 1 enqueued", res, err)
			}
			for _, lane := range Queues(u.TokenRef) {
				if _, err := insp.GetTaskInfo(lane, TaskIDOf(key)); !errors.Is(err, asynq.ErrTaskNotFound) && !errors.Is(err, asynq.ErrQueueNotFound) {
					t.Errorf("%s: the file is queued a second time under its new id (err %v)", lane, err)
				}
			}
			if _, err := insp.GetTaskInfo(SmallQueue(fresh.TokenRef), TaskID(fresh)); err != nil {
				t.Errorf("the other file is not queued under its new id: %v", err)
			}

			// NEW tracks the old task: unfinished until OLD's record says done.
			stNew, err := batches.Status(ctx, "NEW")
			if err != nil || stNew.Total() != 2 || stNew.Counts[records.Pending] != 2 {
				t.Fatalf("NEW status %+v %v, want 2 pending (its own task and the tracked legacy one)", stNew.Counts, err)
			}
			if err := batches.Set(ctx, "OLD", oldID, records.Done, nil); err != nil {
				t.Fatal(err)
			}
			if err := batches.Set(ctx, "NEW", TaskID(fresh), records.Done, nil); err != nil {
				t.Fatal(err)
			}
			if stNew, err = batches.Status(ctx, "NEW"); err != nil || !stNew.Finished() || stNew.Counts[records.Done] != 2 {
				t.Errorf("NEW status %+v %v, want finished with 2 done once the legacy task is done", stNew.Counts, err)
			}
		})
	}
}

// On Redis Cluster the two lanes hash to different slots: the legacy
// lookup must still find a task in either, and the lookup of the other
// lane a task under the current id there. (It checks splitLegacy alone:
// records.Batches.Track, which Enqueue calls next for any already-queued
// file, fails on Cluster with CROSSSLOT whatever the id form.)
func TestLegacyIDIsFoundOnCluster(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.StartCluster(t, 3).Client(t)
	client := asynq.NewClientFromRedisClient(rdb)
	var todo []keyed
	for _, q := range append(Queues("default"), "") {
		u := validUpload()
		u.Path = "lane/" + q + ".mov"
		todo = append(todo, keyed{u, IdempotencyKey(u)})
		if q == "" {
			continue // the third file is queued nowhere
		}
		b, _ := u.Encode()
		if _, err := client.EnqueueContext(ctx, asynq.NewTask(TypeUpload, b,
			asynq.TaskID(legacyTaskIDOf(IdempotencyKey(u))), asynq.Queue(q))); err != nil {
			t.Fatal(err)
		}
	}
	small := validUpload() // queued in the small lane under its current id
	small.Path = "lane/small-current.mov"
	todo = append(todo, keyed{small, IdempotencyKey(small)})
	b, _ := small.Encode()
	if _, err := client.EnqueueContext(ctx, asynq.NewTask(TypeUpload, b,
		asynq.TaskID(TaskID(small)), asynq.Queue(SmallQueue("default")))); err != nil {
		t.Fatal(err)
	}
	fresh, legacy, other, err := NewEnqueuer(rdb).splitLegacy(ctx, todo, false)
	if err != nil || len(legacy) != 2 || len(fresh) != 1 || fresh[0].u != todo[2].u || len(other) != 1 || other[0].u != small {
		t.Fatalf("splitLegacy: %d fresh, %d legacy, %d other lane, %v; want the two legacy files found, the third fresh, the fourth in the other lane",
			len(fresh), len(legacy), len(other), err)
	}
	for i, q := range legacy {
		if q.id != legacyTaskIDOf(todo[i].key) {
			t.Errorf("legacy[%d] id %q, want %q", i, q.id, legacyTaskIDOf(todo[i].key))
		}
	}
}
