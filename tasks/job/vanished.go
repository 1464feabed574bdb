package job

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/frameq/frameq/tasks/records"
)

// VanishedReason is the failure reason of a batch task asynq no longer has.
const VanishedReason = "vanished from the queue: deleted outside frameq? (enqueue the file again to upload it)"

// ClassVanished is the failure class of such a task.
const ClassVanished = "vanished"

// DefaultVanishGrace is how long after a batch's last enqueue its missing
// tasks are left alone: the enqueuer records a task in its batch just
// before asynq has it.
const DefaultVanishGrace = 30 * time.Second

// Sweeper finds a batch's tasks that asynq no longer has (deleted with
// asynq's own tools, or a queue deleted) and records them failed, so the
// batch's counts finish and enqueue wait returns.
type Sweeper struct {
	rdb     redis.UniversalClient
	insp    *asynq.Inspector
	batches *records.Batches
	// Grace: see DefaultVanishGrace.
	Grace time.Duration
}

// NewSweeper returns a Sweeper on rdb.
func NewSweeper(rdb redis.UniversalClient) *Sweeper {
	return &Sweeper{rdb: rdb, insp: asynq.NewInspectorFromRedisClient(rdb), batches: records.NewBatches(rdb),
		Grace: DefaultVanishGrace}
}

// Sweep checks the batch's unfinished tasks against asynq, once the grace
// after its last enqueue has passed, and records each one asynq has in
// none of its upload queues as failed (ClassVanished). A task a worker
// finishes meanwhile keeps its state. It returns how many it recorded.
func (s *Sweeper) Sweep(ctx context.Context, batch string) (int, error) {
	last, now, err := s.batches.LastAdd(ctx, batch)
	if err != nil || last.IsZero() || now.Sub(last) < s.Grace {
		return 0, err
	}
	ids, err := s.batches.Unfinished(ctx, batch)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	queues, err := s.uploadQueues()
	if err != nil {
		return 0, err
	}
	gone, err := s.missing(ctx, ids, queues)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range gone {
		f := &records.Failure{Class: ClassVanished, Reason: VanishedReason, At: time.Now().Unix()}
		moved, err := s.batches.Vanish(ctx, batch, id, f)
		if err != nil {
			return n, err
		}
		if moved {
			n++
		}
	}
	return n, nil
}

// uploadQueues lists asynq's queues that hold uploads (both lanes of every
// token ref).
func (s *Sweeper) uploadQueues() ([]string, error) {
	all, err := s.insp.Queues()
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	prefix := Queue("")
	var out []string
	for _, q := range all {
		if strings.HasPrefix(q, prefix) {
			out = append(out, q)
		}
	}
	return out, nil
}

// missing returns the ids asynq has in none of queues: one pipelined
// EXISTS per task and queue, a round trip per chunk of vanishChunk tasks,
// as splitLegacy looks for legacy ids. Any error stops the sweep: a task is
// never recorded vanished because Redis failed to answer.
func (s *Sweeper) missing(ctx context.Context, ids, queues []string) ([]string, error) {
	var gone []string
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), vanishChunk)]
		ids = ids[len(chunk):]
		cmds := make([][]*redis.IntCmd, len(chunk))
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range chunk {
				for _, q := range queues {
					cmds[i] = append(cmds[i], p.Exists(ctx, asynqTaskKey(q, id)))
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("look up tasks in asynq: %w", err)
		}
		for i, id := range chunk {
			var held int64
			for _, c := range cmds[i] {
				held += c.Val()
			}
			if held == 0 {
				gone = append(gone, id)
			}
		}
	}
	return gone, nil
}

// vanishChunk bounds the tasks one pipeline looks up.
const vanishChunk = 1000
