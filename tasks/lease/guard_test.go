package lease

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/frameq/frameq/redistest"
)

// testGuard is a Guard with short timings on a client of srv that fails
// fast while srv is down.
func testGuard(t *testing.T, srv *redistest.Server) (*Guard, *redis.Client) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, DialerRetries: 1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	g := NewGuard()
	g.Silence, g.Tick, g.Hold = time.Second, 20*time.Millisecond, 10*time.Second
	rdb.AddHook(g)
	go g.Run(t.Context())
	return g, rdb
}

// pinging pings every 100 ms until ctx ends, as the Reclaimer does.
func pinging(ctx context.Context, rdb *redis.Client) {
	for ctx.Err() == nil {
		_ = rdb.Ping(ctx).Err()
		time.Sleep(100 * time.Millisecond)
	}
}

// TestGuardCancelsTasksOnceRedisIsSilent: while Redis answers, a task runs
// on past Silence; once it stops answering, the task's context ends with
// ErrMayBeLost within Silence (plus a tick), not before; a task handed out
// meanwhile gets its own Silence from then.
func TestGuardCancelsTasksOnceRedisIsSilent(t *testing.T) {
	srv := redistest.Start(t)
	g, rdb := testGuard(t, srv)
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	go pinging(ctx, rdb)

	task, done := g.Wrap(t.Context())
	defer done()
	time.Sleep(2 * g.Silence)
	if task.Err() != nil {
		t.Fatalf("task cancelled while Redis answered: %v", context.Cause(task))
	}
	srv.Stop()
	down := time.Now()
	time.Sleep(g.Silence / 2)
	late, lateDone := g.Wrap(t.Context()) // handed out during the silence
	defer lateDone()
	select {
	case <-task.Done():
	case <-time.After(3 * g.Silence):
		t.Fatal("task not cancelled with Redis silent")
	}
	if took := time.Since(down); took < g.Silence-200*time.Millisecond || !Lost(task) {
		t.Errorf("cancelled %v after Redis fell silent, cause %v; want about %v, ErrMayBeLost", took, context.Cause(task), g.Silence)
	}
	if late.Err() != nil {
		t.Errorf("a task handed out %v into the silence was cancelled with the older one", g.Silence/2)
	}
	select {
	case <-late.Done():
	case <-time.After(3 * g.Silence):
		t.Fatal("the later task not cancelled")
	}
	if !Lost(late) {
		t.Errorf("later task: cause %v", context.Cause(late))
	}
	ended, endedDone := g.Wrap(t.Context())
	endedDone()
	if Lost(ended) {
		t.Error("a task that ended on its own counts as lost")
	}
}

// TestGuardMiddlewareKeepsALostTaskFromAsynq: a task the Guard cancelled
// is handed back to asynq only once asynq's own context ends (its
// heartbeater gave the lease up), so asynq writes nothing for it; a task
// that ends normally is handed back at once.
func TestGuardMiddlewareKeepsALostTaskFromAsynq(t *testing.T) {
	srv := redistest.Start(t)
	g, _ := testGuard(t, srv)
	h := g.Middleware(asynq.HandlerFunc(func(ctx context.Context, _ *asynq.Task) error {
		<-ctx.Done()
		return ctx.Err()
	}))
	srv.Stop() // nothing pings: silent from now
	parent, cancelParent := context.WithCancel(t.Context())
	returned := make(chan error, 1)
	go func() { returned <- h.ProcessTask(parent, asynq.NewTask("t", nil)) }()
	time.Sleep(g.Silence + time.Second)
	select {
	case err := <-returned:
		t.Fatalf("lost task handed back (%v) while asynq's context still runs", err)
	default:
	}
	cancelParent()
	select {
	case err := <-returned:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("handler error %v", err)
		}
	case <-time.After(time.Second):
		t.Fatal("lost task not handed back once asynq's context ended")
	}

	quick := g.Middleware(asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return nil }))
	if err := quick.ProcessTask(t.Context(), asynq.NewTask("t", nil)); err != nil {
		t.Errorf("a task that ends normally: %v", err)
	}
}
