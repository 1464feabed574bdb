package job

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/frameq/frameq/redistest"
	"github.com/frameq/frameq/tasks/records"
)

// TestEnqueueReturnsOnceAReplicaHoldsTheBatch: with Durability, Enqueue
// reports a batch enqueued only once replicas hold it (a failover could
// otherwise lose a batch enqueue said was in). A replica that does not
// acknowledge in time makes it fail with ErrNotReplicated, counting what
// it enqueued; the same batch enqueued again once the replica is back adds
// nothing twice.
func TestEnqueueReturnsOnceAReplicaHoldsTheBatch(t *testing.T) {
	ctx := context.Background()
	master, replicas := redistest.StartReplicated(t, 1, redistest.Options{})
	rdb := master.Client(t)
	e := NewEnqueuer(rdb)
	e.Durability = records.Durability{Replicas: 1, Timeout: 300 * time.Millisecond}
	uploads := func(names ...string) []*Upload {
		var us []*Upload
		for _, n := range names {
			u := validUpload()
			u.Path, u.File = "a/"+n, "/media/a/"+n
			us = append(us, u)
		}
		return us
	}
	if res, err := e.Enqueue(ctx, "B1", uploads("1.mov", "2.mov")); err != nil || res.Enqueued != 2 {
		t.Fatalf("with the replica up: %+v, %v; want 2 enqueued", res, err)
	}

	if err := replicas[0].Pause(); err != nil {
		t.Fatal(err)
	}
	res, err := e.Enqueue(ctx, "B2", uploads("3.mov", "4.mov", "5.mov"))
	if !errors.Is(err, records.ErrNotReplicated) || res.Enqueued != 3 {
		t.Fatalf("with the replica paused: %+v, %v; want 3 enqueued and ErrNotReplicated", res, err)
	}
	if err := replicas[0].Resume(); err != nil {
		t.Fatal(err)
	}
	res, err = e.Enqueue(ctx, "B2", uploads("3.mov", "4.mov", "5.mov"))
	if err != nil || res.Enqueued != 0 {
		t.Fatalf("again, the replica back: %+v, %v; want nothing enqueued twice", res, err)
	}
	in := asynq.NewInspectorFromRedisClient(rdb)
	if q, err := in.GetQueueInfo(SmallQueue("default")); err != nil || q.Pending != 5 {
		t.Errorf("pending %+v, %v; want the 5 files once", q, err)
	}
	on := replicas[0].Client(t)
	if n, err := on.LLen(ctx, asynqPendingKey(SmallQueue("default"))).Result(); err != nil || n != 5 {
		t.Errorf("the replica holds %d pending (%v), want 5", n, err)
	}

	e.Durability.Replicas = 2 // more than there are: never met
	if _, err := e.Enqueue(ctx, "B3", uploads("6.mov")); !errors.Is(err, records.ErrNotReplicated) ||
		!containsAll(err.Error(), "B3", "1 of 2 replicas", fmt.Sprint(300*time.Millisecond)) {
		t.Errorf("two replicas wanted, one there: %v; want ErrNotReplicated naming the batch and 1 of 2", err)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
