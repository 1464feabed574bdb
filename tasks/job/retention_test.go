package job

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/frameq/frameq/redistest"
)

// serveNoop runs an asynq server that completes every upload task at once,
// with a quick janitor so expired completed tasks go within a second.
func serveNoop(t testing.TB, rdb redis.UniversalClient, queue string) {
	t.Helper()
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Queues: map[string]int{queue: 1}, Concurrency: 8, JanitorInterval: 300 * time.Millisecond,
		LogLevel: asynq.ErrorLevel,
	})
	noop := asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return nil })
	if err := srv.Start(noop); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
}

// waitFor polls cond until it holds or a generous deadline passes (the
// machine may be loaded; nothing here measures speed).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

func completedIDs(t testing.TB, in *asynq.Inspector, queue string) []string {
	t.Helper()
	tasks, err := in.ListCompletedTasks(queue, asynq.PageSize(1000))
	if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
		t.Fatal(err)
	}
	ids := make([]string, len(tasks))
	for i, ti := range tasks {
		ids[i] = ti.ID
	}
	return ids
}

// A finished upload shows in asynq's completed list (the dashboard's
// Completed tab) for the retention, and is gone after it.
func TestCompletedTaskIsKeptForTheRetentionThenGone(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	ctx := context.Background()
	e := NewEnqueuer(rdb)
	e.Retention = 3 * time.Second
	u := validUpload()
	if _, err := e.Enqueue(ctx, "b1", []*Upload{u}); err != nil {
		t.Fatal(err)
	}
	in := asynq.NewInspectorFromRedisClient(rdb)
	q, id := SmallQueue(u.TokenRef), TaskID(u)
	serveNoop(t, rdb, q)
	waitFor(t, "the task is in the completed list", func() bool { return slices.Contains(completedIDs(t, in, q), id) })
	info, err := in.GetTaskInfo(q, id)
	if err != nil {
		t.Fatal(err)
	}
	if info.State != asynq.TaskStateCompleted || info.Retention != 3*time.Second {
		t.Errorf("completed task: state %v retention %v; want completed, 3s", info.State, info.Retention)
	}
	waitFor(t, "the task has left the completed list", func() bool { return !slices.Contains(completedIDs(t, in, q), id) })
	if _, err := in.GetTaskInfo(q, id); !errors.Is(err, asynq.ErrTaskNotFound) {
		t.Errorf("after the retention GetTaskInfo = %v; want ErrTaskNotFound", err)
	}
	if left := time.Since(info.CompletedAt); left < 3*time.Second {
		t.Errorf("gone %v after completing, before its 3s retention", left)
	}
}

// Every task carries the Enqueuer's retention: the default, or none.
func TestEnqueuedTaskCarriesTheRetention(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	ctx := context.Background()
	in := asynq.NewInspectorFromRedisClient(rdb)
	for i, r := range []time.Duration{DefaultRetention, 0, 90 * time.Minute} {
		e := NewEnqueuer(rdb)
		if i > 0 {
			e.Retention = r
		}
		u := validUpload()
		u.Path = fmt.Sprintf("r%d.mov", i)
		if _, err := e.Enqueue(ctx, "b1", []*Upload{u}); err != nil {
			t.Fatal(err)
		}
		info, err := in.GetTaskInfo(SmallQueue(u.TokenRef), TaskID(u))
		if err != nil {
			t.Fatal(err)
		}
		if info.Retention != r {
			t.Errorf("Retention %v: the task carries %v", r, info.Retention)
		}
	}
	if DefaultRetention != time.Hour {
		t.Errorf("DefaultRetention %v; README and config say 1h", DefaultRetention)
	}
}

// usedMemory is INFO memory's used_memory.
func usedMemory(tb testing.TB, rdb *redis.Client) int64 {
	tb.Helper()
	info, err := rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return n
		}
	}
	tb.Fatal("INFO memory has no used_memory")
	return 0
}

// BenchmarkRetainedCompletedTask measures what FRAMEQ_COMPLETED_RETENTION
// costs: Redis's used_memory after 5,000 uploads completed with retention,
// less before they were enqueued, per task (redis-bytes/task), on a real
// redis-server. Batch records are kept aside: only asynq's keys change.
// The figure is in docs/benchmarks.md and the README.
func BenchmarkRetainedCompletedTask(b *testing.B) {
	const n = 5000
	for _, kind := range []string{"local", "remote-sealed"} {
		b.Run(kind, func(b *testing.B) {
			for range b.N {
				b.ReportMetric(retainedBytes(b, kind, n), "redis-bytes/task")
			}
		})
	}
}

func retainedBytes(b *testing.B, kind string, n int) float64 {
	rdb := redistest.Start(b).Client(b)
	ctx := context.Background()
	e := NewEnqueuer(rdb)
	e.Box, e.SmallBatch = testBox(b, 7), 0
	ups := make([]*Upload, n)
	for i := range ups {
		u := &Upload{V: 1, TokenRef: "default", ParentID: "2f6c3b9e-4a1d-4c8e-9d1f-7b2a5e3c1d0f",
			Path: fmt.Sprintf("shoot-2026-11-25/day1/cam-a/A001C%03d_261125_R1AB.mov", i), Size: 734003200}
		if kind == "local" {
			u.File, u.MtimeNS = "/media/"+u.Path, 1764000000000000000+int64(i)
		} else {
			u.SourceURL = "https://media-bucket.s3.eu-west-1.amazonaws.com/" + u.Path +
				"?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20261125%2Feu-west-1%2Fs3%2Faws4_request" +
				"&X-Amz-Date=20261125T120000Z&X-Amz-Expires=604800&X-Amz-SignedHeaders=host&X-Amz-Signature=" + strings.Repeat("ab", 32)
		}
		ups[i] = u
	}
	before := usedMemory(b, rdb)
	if _, err := e.Enqueue(ctx, "b1", ups); err != nil {
		b.Fatal(err)
	}
	// Batch records (frameq's, not asynq's) are measured apart: drop them.
	keys := rdb.Keys(ctx, "frameq:*").Val()
	if len(keys) > 0 {
		rdb.Del(ctx, keys...)
	}
	in := asynq.NewInspectorFromRedisClient(rdb)
	serveNoop(b, rdb, Queue("default"))
	waitFor(b, "every task is completed", func() bool {
		qi, err := in.GetQueueInfo(Queue("default"))
		return err == nil && qi.Completed == n
	})
	return float64(usedMemory(b, rdb)-before) / float64(n)
}

// A retained completed task is history, not "already queued": a file whose
// done record is gone (enqueue --recheck found its asset deleted in
// Frame.io) is queued again under its id. (Seen: retention made --recheck
// answer "0 enqueued, 1 already queued" and the file never came back.)
func TestCompletedTaskDoesNotBlockEnqueueingAgain(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	ctx := context.Background()
	e := NewEnqueuer(rdb)
	u := validUpload()
	if _, err := e.Enqueue(ctx, "b1", []*Upload{u}); err != nil {
		t.Fatal(err)
	}
	in := asynq.NewInspectorFromRedisClient(rdb)
	q, id := SmallQueue(u.TokenRef), TaskID(u)
	serveNoop(t, rdb, q) // completes the task without recording it done
	waitFor(t, "the task is in the completed list", func() bool { return slices.Contains(completedIDs(t, in, q), id) })
	if err := in.PauseQueue(q); err != nil { // keep the new task pending to look at it
		t.Fatal(err)
	}
	res, err := e.Enqueue(ctx, "b2", []*Upload{u})
	if err != nil {
		t.Fatal(err)
	}
	if res.Enqueued != 1 || res.Queued != 0 {
		t.Fatalf("enqueue after completion: %+v; want 1 enqueued, 0 already queued", res)
	}
	info, err := in.GetTaskInfo(q, id)
	if err != nil || info.State != asynq.TaskStatePending {
		t.Fatalf("task after enqueueing again: %+v, %v; want pending", info, err)
	}
}
