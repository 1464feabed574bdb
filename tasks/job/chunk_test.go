package job

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/frameq/frameq/redistest"
	"github.com/frameq/frameq/tasks/records"
)

// chunkScenario is a Redis where files of one batch were already handled
// every way Enqueue must tell apart, and the request that meets them: a
// file recorded done, one queued by another batch under its id, one
// queued by an older producer under its legacy id (in the other lane),
// one listed twice, fresh files of two tokens (two queues each lane), a
// remote upload, and enough files for more than one chunk.
func chunkScenario(t *testing.T, rdb *redis.Client, e *Enqueuer) []*Upload {
	t.Helper()
	ctx := context.Background()
	file := func(token string, i int) *Upload {
		u := validUpload()
		u.TokenRef, u.Path, u.File, u.Size = token, fmt.Sprintf("clips/%04d.mov", i), fmt.Sprintf("/media/clips/%04d.mov", i), int64(1000+i)
		return u
	}
	var ups []*Upload
	for i := range 2*chunk + 10 {
		ups = append(ups, file([]string{"default", "other"}[i%2], i))
	}
	remote := validUpload()
	remote.File, remote.MtimeNS, remote.SourceURL, remote.Path = "", 0, "https://media.example.com/x.mov", "remote/x.mov"
	ups = append(ups, remote)

	done, queued, legacy := ups[3], ups[chunk+5], ups[2*chunk+1]
	ups = append(ups, ups[7]) // listed twice, in another chunk
	if err := records.NewProgresses(rdb).Done(ctx, IdempotencyKey(done), "asset-1"); err != nil {
		t.Fatal(err)
	}
	other := *queued
	small := e.SmallBatch
	e.SmallBatch = 0 // the bulk lane, where NEW's files go: asynq's id check is per queue
	if _, err := e.Enqueue(ctx, "OTHER", []*Upload{&other}); err != nil {
		t.Fatal(err)
	}
	e.SmallBatch = small
	old := *legacy
	old.Batch = "OLD"
	b, _ := old.Encode()
	oldID := legacyTaskIDOf(IdempotencyKey(legacy))
	if err := records.NewBatches(rdb).Add(ctx, "OLD", []string{oldID}); err != nil {
		t.Fatal(err)
	}
	if _, err := asynq.NewClientFromRedisClient(rdb).EnqueueContext(ctx, asynq.NewTask(TypeUpload, b,
		asynq.TaskID(oldID), asynq.Queue(SmallQueue(legacy.TokenRef)), asynq.ProcessIn(time.Hour))); err != nil {
		t.Fatal(err)
	}
	return ups
}

// timeFields hold the clock of whoever wrote them: compared for presence.
var timeFields = map[string]bool{"pending_since": true, "last_add": true}

// dump is every key of rdb with its type and content, TTLs as set or not;
// sorted sets without scores (their scores are times), members sorted.
func dump(t *testing.T, rdb *redis.Client) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	for _, k := range rdb.Keys(ctx, "*").Val() {
		typ := rdb.Type(ctx, k).Val()
		var v any
		switch typ {
		case "hash":
			h := rdb.HGetAll(ctx, k).Val()
			for f := range h {
				if timeFields[f] {
					if _, err := strconv.ParseInt(h[f], 10, 64); err != nil {
						t.Errorf("%s %s = %q, not a time", k, f, h[f])
					}
					h[f] = "(time)"
				}
			}
			v = h
		case "list":
			v = rdb.LRange(ctx, k, 0, -1).Val()
		case "set":
			s := rdb.SMembers(ctx, k).Val()
			slices.Sort(s)
			v = s
		case "zset": // members sorted: by score they are in the order of the clock's seconds
			z := rdb.ZRange(ctx, k, 0, -1).Val()
			slices.Sort(z)
			v = z
		case "string":
			v = rdb.Get(ctx, k).Val()
		}
		out[k] = fmt.Sprintf("%s ttl:%v %q", typ, rdb.TTL(ctx, k).Val() > 0, v)
	}
	return out
}

// The script writes, key for key and byte for byte, what the per-task path
// writes with asynq's own Client.Enqueue (asynq's task hash and message,
// pending lists in order, asynq:queues; frameq's batch records, counts,
// sizes, tracking of the already-queued), and answers the same counts:
// asynq finds the tasks as if it had enqueued them, and every duplicate
// (done, queued under either id, listed twice) is caught as before.
func TestScriptedEnqueueWritesWhatAsynqWrites(t *testing.T) {
	ctx := context.Background()
	var (
		dumps   [2]map[string]string
		results [2]Result
	)
	for i, scripted := range []bool{true, false} {
		rdb := redistest.Start(t).Client(t)
		e := NewEnqueuer(rdb)
		if !e.scripted {
			t.Fatal("an Enqueuer on one Redis does not take the script path")
		}
		e.scripted = scripted
		e.Concurrency = 1 // asynq's pending lists in the order of the uploads
		ups := chunkScenario(t, rdb, e)
		res, err := e.Enqueue(ctx, "NEW", ups)
		if err != nil {
			t.Fatal(err)
		}
		results[i], dumps[i] = res, dump(t, rdb)
	}
	want := Result{Batch: "NEW", Enqueued: 2*chunk + 11 - 3, Queued: 3, Done: 1}
	if results[0] != want || results[1] != want {
		t.Errorf("Result scripted %+v, per task %+v; want %+v", results[0], results[1], want)
	}
	for _, k := range slices.Sorted(maps.Keys(dumps[1])) {
		if dumps[0][k] != dumps[1][k] {
			t.Errorf("%s:\n scripted %.300s\n per task %.300s", k, dumps[0][k], dumps[1][k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(dumps[0])) {
		if _, ok := dumps[1][k]; !ok {
			t.Errorf("%s: written by the script only: %.300s", k, dumps[0][k])
		}
	}
}

// asynq's Inspector and a server see a scripted task as one asynq
// enqueued: pending, with its payload, id, queue, max retry, timeout and
// retention; its id is taken (asynq refuses a second copy); a server
// hands it to the handler and keeps it completed for the retention.
func TestScriptedTaskIsServedByAsynq(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t).Client(t)
	e := NewEnqueuer(rdb)
	e.MaxRetry, e.Timeout, e.Retention, e.SmallBatch = 7, 90*time.Minute, 2*time.Hour, 0
	u := validUpload()
	if res, err := e.Enqueue(ctx, "b1", []*Upload{u}); err != nil || res.Enqueued != 1 {
		t.Fatalf("Enqueue = %+v, %v", res, err)
	}
	q, id := Queue(u.TokenRef), TaskID(u)
	payload, _ := u.Encode()
	in := asynq.NewInspectorFromRedisClient(rdb)
	info, err := in.GetTaskInfo(q, id)
	if err != nil {
		t.Fatal(err)
	}
	if info.State != asynq.TaskStatePending || info.Type != TypeUpload || string(info.Payload) != string(payload) ||
		info.Queue != q || info.MaxRetry != 7 || info.Timeout != 90*time.Minute || info.Retention != 2*time.Hour ||
		!info.Deadline.IsZero() || info.Retried != 0 {
		t.Errorf("asynq sees %+v", info)
	}
	if qs, err := in.Queues(); err != nil || !slices.Contains(qs, q) {
		t.Errorf("asynq's queues %v, %v; want %s listed", qs, err, q)
	}
	_, err = asynq.NewClientFromRedisClient(rdb).EnqueueContext(ctx, asynq.NewTask(TypeUpload, payload, asynq.TaskID(id), asynq.Queue(q)))
	if err == nil || !errors.Is(err, asynq.ErrTaskIDConflict) {
		t.Errorf("asynq enqueued a second copy under the scripted task's id: %v", err)
	}

	var mu sync.Mutex
	var got []string
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{Queues: map[string]int{q: 1}, Concurrency: 1, LogLevel: asynq.ErrorLevel})
	if err := srv.Start(asynq.HandlerFunc(func(ctx context.Context, task *asynq.Task) error {
		tid, _ := asynq.GetTaskID(ctx)
		qn, _ := asynq.GetQueueName(ctx)
		mr, _ := asynq.GetMaxRetry(ctx)
		dl, _ := ctx.Deadline()
		mu.Lock()
		defer mu.Unlock()
		got = append(got, fmt.Sprint(task.Type(), " ", string(task.Payload()), " ", tid, " ", qn, " ", mr, " ", time.Until(dl).Round(time.Minute)))
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	waitFor(t, "the task is completed", func() bool { return slices.Contains(completedIDs(t, in, q), id) })
	want := fmt.Sprint(TypeUpload, " ", string(payload), " ", id, " ", q, " ", 7, " ", 90*time.Minute)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0] != want {
		t.Errorf("the handler got %q, want [%q]", got, want)
	}
	if info, err := in.GetTaskInfo(q, id); err != nil || info.State != asynq.TaskStateCompleted || info.Retention != 2*time.Hour {
		t.Errorf("after the handler: %+v, %v; want completed, kept 2h", info, err)
	}
}

// A Cluster takes the per-task path: the script's keys span hash slots.
func TestClusterEnqueuesTaskByTask(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.StartCluster(t, 3).Client(t)
	e := NewEnqueuer(rdb)
	if e.scripted {
		t.Fatal("an Enqueuer on a Cluster takes the script path, whose keys span hash slots")
	}
	u := validUpload()
	if res, err := e.Enqueue(ctx, "b1", []*Upload{u, validUpload()}); err != nil || res.Enqueued != 1 || res.Queued != 1 {
		t.Fatalf("Enqueue on a Cluster = %+v, %v; want 1 enqueued, 1 already queued (listed twice)", res, err)
	}
	if _, err := asynq.NewInspectorFromRedisClient(rdb).GetTaskInfo(SmallQueue(u.TokenRef), TaskID(u)); err != nil {
		t.Error(err)
	}
}
