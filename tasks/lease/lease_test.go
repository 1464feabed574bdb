package lease

import (
	"context"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/frameq/frameq/redistest"
)

const queue = "q"

// orphan enqueues a task with the real asynq client, then does what
// asynq's dequeue does (pending → active, lease at leaseEnd) and what an
// outage leaves behind: nobody runs it and nobody records why.
func orphan(t *testing.T, rdb *redis.Client, c *asynq.Client, id string, leaseEnd time.Time) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.Enqueue(asynq.NewTask("t", []byte(id)), asynq.Queue(queue), asynq.TaskID(id)); err != nil {
		t.Fatal(err)
	}
	p := "asynq:{" + queue + "}:"
	if err := rdb.LRem(ctx, p+"pending", 0, id).Err(); err != nil {
		t.Fatal(err)
	}
	rdb.LPush(ctx, p+"active", id)
	rdb.ZAdd(ctx, p+"lease", redis.Z{Score: float64(leaseEnd.Unix()), Member: id})
	rdb.HSet(ctx, p+"t:"+id, "state", "active")
}

func state(t *testing.T, insp *asynq.Inspector, id string) asynq.TaskState {
	t.Helper()
	info, err := insp.GetTaskInfo(queue, id)
	if err != nil {
		t.Fatal(err)
	}
	return info.State
}

// TestSweepRequeuesOnlyLeasesEndedInTheOutage: of four active tasks, the
// two whose leases ended within the outage's window go back to pending
// (asynq's inspector agrees, no retry charged) and a real asynq server then
// runs each once; a lease that ended before the window (a crash, left to
// asynq's recoverer) and one still running are left alone.
func TestSweepRequeuesOnlyLeasesEndedInTheOutage(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	c := asynq.NewClientFromRedisClient(rdb)
	insp := asynq.NewInspectorFromRedisClient(rdb)
	now := time.Now()
	from, to := now.Add(-90*time.Second), now.Add(-30*time.Second)
	orphan(t, rdb, c, "in1", now.Add(-80*time.Second))
	orphan(t, rdb, c, "in2", now.Add(-40*time.Second))
	orphan(t, rdb, c, "crashed", now.Add(-5*time.Minute))
	orphan(t, rdb, c, "running", now.Add(20*time.Second))

	r := New(rdb, []string{"other", queue}, zerolog.Nop())
	n, err := r.Sweep(context.Background(), from, to)
	if err != nil || n != 2 {
		t.Fatalf("Sweep = %d, %v; want 2 requeued", n, err)
	}
	for id, want := range map[string]asynq.TaskState{"in1": asynq.TaskStatePending, "in2": asynq.TaskStatePending, "crashed": asynq.TaskStateActive, "running": asynq.TaskStateActive} {
		if got := state(t, insp, id); got != want {
			t.Errorf("%s: %v, want %v", id, got, want)
		}
	}
	if n, err := r.Sweep(context.Background(), from, to); err != nil || n != 0 {
		t.Errorf("second Sweep = %d, %v; want 0 (nothing left to move)", n, err)
	}

	ran := make(chan string, 4)
	s := asynq.NewServerFromRedisClient(rdb, asynq.Config{Queues: map[string]int{queue: 1}, Concurrency: 2, LogLevel: asynq.FatalLevel})
	if err := s.Start(asynq.HandlerFunc(func(_ context.Context, task *asynq.Task) error {
		if r, _ := asynq.GetRetryCount(context.Background()); r != 0 {
			t.Errorf("retry count %d", r)
		}
		ran <- string(task.Payload())
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	got := map[string]int{}
	for range 2 {
		select {
		case id := <-ran:
			got[id]++
		case <-time.After(10 * time.Second):
			t.Fatalf("requeued tasks not run: %v", got)
		}
	}
	if got["in1"] != 1 || got["in2"] != 1 {
		t.Errorf("ran %v, want in1 and in2 once each", got)
	}
}

// TestStepFollowsAnOutage drives step through an outage of a real
// redis-server: nothing moves while Redis is down; afterwards only a lease
// that ended during it and at least Skew ago is requeued, and the follow-up
// ends once no lease of the outage can still come of age.
func TestStepFollowsAnOutage(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{AppendOnly: true})
	rdb := srv.Client(t)
	c := asynq.NewClientFromRedisClient(rdb)
	insp := asynq.NewInspectorFromRedisClient(rdb)
	ctx := context.Background()
	r := New(rdb, []string{queue}, zerolog.Nop())
	r.Skew = 3 * time.Second

	t0 := time.Now()
	orphan(t, rdb, c, "ended", t0.Add(time.Second))
	orphan(t, rdb, c, "young", t0.Add(6*time.Second))
	srv.Stop()
	o := r.step(ctx, nil, t0)
	if o == nil {
		t.Fatal("no outage noticed with Redis down")
	}
	o = r.step(ctx, o, t0.Add(4*time.Second))
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	// Back, but "ended" is only 1 s past its lease: too young to take.
	if o = r.step(ctx, o, t0.Add(2*time.Second)); o == nil || state(t, insp, "ended") != asynq.TaskStateActive {
		t.Fatal("a lease 1 s old was taken, or the outage forgotten")
	}
	if o = r.step(ctx, o, t0.Add(5*time.Second)); o == nil {
		t.Fatal("outage forgotten before its last lease came of age")
	}
	if state(t, insp, "ended") != asynq.TaskStatePending || state(t, insp, "young") != asynq.TaskStateActive {
		t.Fatalf("after 4 s: ended %v (want pending), young %v (want active)", state(t, insp, "ended"), state(t, insp, "young"))
	}
	// "young" ended after the last failed ping: its owner may have
	// extended it, so it is never taken; the follow-up ends.
	if o = r.step(ctx, o, t0.Add(9*time.Second)); o != nil {
		t.Error("still following the outage Skew + Tick after its last failed ping")
	}
	if state(t, insp, "young") != asynq.TaskStateActive {
		t.Error("a lease that ended after the outage was taken")
	}
}
