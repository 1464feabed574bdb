package lease

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// ErrMayBeLost is the cause of a task context a Guard cancelled: Redis
// has not answered this worker for so long that the task's asynq lease
// may have ended, and another worker may run the task by now.
var ErrMayBeLost = errors.New("redis silent for longer than a task lease is sure to last: the task may be another worker's by now")

// Silence is how long a Guard lets Redis stay silent before it cancels
// the tasks under way. asynq's heartbeater extends every lease by 30 s
// every 5 s, so a lease outlives the worker's last contact with Redis by
// at least 25 s; 20 s leaves a margin. Other workers take a task only
// Skew (30 s) after its lease ended, so a cancelled task has stopped long
// before anyone else may start it.
const Silence = 20 * time.Second

// Guard cancels a worker's tasks once Redis has been silent for Silence:
// cut off from Redis (a partition, not a Redis outage: the others still
// reach it), a worker cannot extend its leases, and asynq's own check
// cannot help: its heartbeater is stuck in the same unanswered commands
// (75 s seen with go-redis's redials) and cancels the tasks only after
// it, when the path may have healed and the task been given to another
// worker. Uploads blocked on Redis would then carry on after the heal
// beside the new owner (seen: an upload recorded done 31 s after its
// lease ended, while another worker ran its next attempt).
//
// It learns of Redis's answers as a go-redis hook (AddHook it to the
// worker's client, which the Reclaimer pings every second): any reply,
// an error reply included, shows the path works.
type Guard struct {
	// Silence is how long Redis may be silent (default Silence).
	Silence time.Duration
	// Tick is how often silence is checked (default 250 ms).
	Tick time.Duration
	// Hold is how long Middleware keeps a cancelled task from asynq
	// (default 15 s): see Middleware.
	Hold time.Duration

	heard atomic.Int64 // unix nanoseconds of the last answer
	mu    sync.Mutex
	tasks map[*guarded]struct{}
}

type guarded struct {
	since  time.Time // Redis answered when the task was handed out
	cancel context.CancelCauseFunc
}

// NewGuard returns a Guard with the default timings.
func NewGuard() *Guard {
	g := &Guard{Silence: Silence, Tick: 250 * time.Millisecond, Hold: 15 * time.Second, tasks: map[*guarded]struct{}{}}
	g.heard.Store(time.Now().UnixNano())
	return g
}

// Run checks for silence every Tick until ctx ends.
func (g *Guard) Run(ctx context.Context) {
	t := time.NewTicker(g.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			g.check(now)
		}
	}
}

// check cancels every task for which Redis has been silent for Silence:
// since its last answer, or since the task was handed out if later (asynq
// dequeued it through its own client, so Redis answered then).
func (g *Guard) check(now time.Time) {
	heard := time.Unix(0, g.heard.Load())
	g.mu.Lock()
	defer g.mu.Unlock()
	for t := range g.tasks {
		if now.Sub(maxTime(heard, t.since)) > g.Silence {
			t.cancel(ErrMayBeLost)
			delete(g.tasks, t)
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Wrap returns ctx cancelled with ErrMayBeLost once Redis has been silent
// for Silence. stop releases it.
func (g *Guard) Wrap(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	t := &guarded{since: time.Now(), cancel: cancel}
	g.mu.Lock()
	g.tasks[t] = struct{}{}
	g.mu.Unlock()
	return ctx, func() {
		g.mu.Lock()
		delete(g.tasks, t)
		g.mu.Unlock()
		cancel(context.Canceled)
	}
}

// Lost reports whether a Guard cancelled ctx: the task must record
// nothing more, in Redis or Frame.io.
func Lost(ctx context.Context) bool { return errors.Is(context.Cause(ctx), ErrMayBeLost) }

// Middleware runs each task under Wrap. A task the Guard cancelled is
// kept from asynq until asynq gives it up itself (its context ends: the
// heartbeater found the lease over) or Hold passes, by when the lease has
// ended in process: asynq then writes nothing. Handed back at once, its
// failure would be written with a still valid lease by a command that
// sits unanswered and may land after the heal, moving the task out of
// the active list of the worker that runs it by then.
func (g *Guard) Middleware(h asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		gctx, stop := g.Wrap(ctx)
		defer stop()
		err := h.ProcessTask(gctx, t)
		if Lost(gctx) {
			select {
			case <-ctx.Done():
			case <-time.After(g.Hold):
			}
			if err == nil {
				err = ErrMayBeLost
			}
		}
		return err
	})
}

// DialHook passes dials through.
func (g *Guard) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook notes an answer.
func (g *Guard) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		g.noteAnswer(err)
		return err
	}
}

// ProcessPipelineHook notes an answer.
func (g *Guard) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		g.noteAnswer(err)
		return err
	}
}

// noteAnswer records now if err shows Redis answered: no error, nil, or
// an error reply (a network error or timeout is no answer).
func (g *Guard) noteAnswer(err error) {
	var reply redis.Error
	if err == nil || errors.Is(err, redis.Nil) || errors.As(err, &reply) {
		g.heard.Store(time.Now().UnixNano())
	}
}
