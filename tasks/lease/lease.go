// Package lease hands back to their queue the asynq tasks that a Redis
// outage longer than asynq's 30 s task lease left orphaned.
//
// While Redis is down no worker can extend its tasks' leases. When a lease
// ends, asynq cancels the task in process and, with Redis unreachable,
// cannot record why, so the task stays in the queue's active list with
// nobody running it. asynq's recoverer finds such tasks only once a minute
// (hard-coded in v0.26), 30 s after their lease ended, and charges each a
// retry. A Reclaimer notices the outage itself and, once Redis is back,
// puts those tasks at the head of their pending list within seconds,
// without charging a retry: the outage was not the file's fault, and the
// upload resumes from its progress record.
//
// It relies on asynq v0.26's key layout (asynq:{queue}:active, :lease,
// :pending, :t:<id>) and does what asynq's own Requeue script does; the
// tests run it against the real asynq.
package lease

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// Skew is how long after a lease ended a task may be taken from its owner:
// asynq's own clock-skew margin. The owner's heartbeater cancels a task
// within 5 s of its lease ending, so nobody still runs a task this old.
const Skew = 30 * time.Second

// Reclaimer watches Redis from one worker and requeues the tasks whose
// leases ran out during an outage it saw.
type Reclaimer struct {
	rdb    redis.UniversalClient
	queues []string
	log    zerolog.Logger
	// Tick is how often Redis is pinged (default 1 s).
	Tick time.Duration
	// Skew is the margin after a lease's end (default Skew).
	Skew time.Duration
}

// New returns a Reclaimer for the asynq queues one worker serves.
func New(rdb redis.UniversalClient, queues []string, log zerolog.Logger) *Reclaimer {
	return &Reclaimer{rdb: rdb, queues: queues, log: log, Tick: time.Second, Skew: Skew}
}

// outage is what one worker saw of Redis being down.
type outage struct {
	first, last time.Time // first and last failed pings
}

// Run pings Redis every Tick until ctx ends. After an outage it sweeps
// every Tick until the last lease that could have ended in it is Skew old.
func (r *Reclaimer) Run(ctx context.Context) {
	t := time.NewTicker(r.Tick)
	defer t.Stop()
	var o *outage
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		o = r.step(ctx, o, time.Now())
	}
}

// step is one tick: it returns the outage still being followed, if any.
func (r *Reclaimer) step(ctx context.Context, o *outage, now time.Time) *outage {
	pctx, cancel := context.WithTimeout(ctx, r.Tick)
	err := r.rdb.Ping(pctx).Err()
	cancel()
	switch {
	case err != nil && o == nil:
		r.log.Warn().Err(err).Msg("redis unreachable: will requeue the tasks whose leases end meanwhile")
		return &outage{first: now, last: now}
	case err != nil:
		o.last = now
		return o
	case o == nil:
		return nil
	}
	// A lease that ended up to a tick before the first failed ping ended
	// during the outage too; one that ends after the last could be extended.
	from := o.first.Add(-r.Tick - time.Second)
	to := o.last
	if cut := now.Add(-r.Skew); cut.Before(to) {
		to = cut
	}
	if !to.Before(from) {
		if _, err := r.Sweep(ctx, from, to); err != nil {
			r.log.Warn().Err(err).Msg("orphaned tasks not requeued yet")
			return o
		}
	}
	if now.Sub(o.last) > r.Skew+r.Tick {
		return nil // every lease of the outage has been looked at
	}
	return o
}

// requeue moves one task from active to the head of pending, like asynq's
// Requeue, if its lease still ended within [ARGV[2], ARGV[3]] (unix
// seconds, asynq's unit): checked here, so a task dequeued again meanwhile
// (a new, later lease) is left alone.
var requeue = redis.NewScript(`
local s = redis.call("ZSCORE", KEYS[2], ARGV[1])
if not s or tonumber(s) < tonumber(ARGV[2]) or tonumber(s) > tonumber(ARGV[3]) then
  return 0
end
if redis.call("LREM", KEYS[1], 0, ARGV[1]) == 0 then
  return 0
end
redis.call("ZREM", KEYS[2], ARGV[1])
redis.call("RPUSH", KEYS[3], ARGV[1])
redis.call("HSET", KEYS[4], "state", "pending")
return 1`)

// Sweep requeues the active tasks of r's queues whose leases ended within
// [from, to] and returns how many it moved.
func (r *Reclaimer) Sweep(ctx context.Context, from, to time.Time) (int, error) {
	lo, hi := from.Unix(), to.Unix()
	moved := 0
	for _, q := range r.queues {
		prefix := "asynq:{" + q + "}:"
		ids, err := r.rdb.ZRangeByScore(ctx, prefix+"lease", &redis.ZRangeBy{
			Min: fmt.Sprint(lo), Max: fmt.Sprint(hi),
		}).Result()
		if err != nil {
			return moved, fmt.Errorf("queue %s: list leases: %w", q, err)
		}
		for _, id := range ids {
			keys := []string{prefix + "active", prefix + "lease", prefix + "pending", prefix + "t:" + id}
			n, err := requeue.Run(ctx, r.rdb, keys, id, lo, hi).Int()
			if err != nil {
				return moved, fmt.Errorf("queue %s: requeue task %s: %w", q, id, err)
			}
			if n == 1 {
				moved++
				r.log.Info().Str("queue", q).Str("task_id", id).Msg("orphaned task requeued: its lease ended while redis was down")
			}
		}
	}
	return moved, nil
}
