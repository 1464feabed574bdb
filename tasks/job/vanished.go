package job

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
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
	insp    *asynq.Inspector
	batches *records.Batches
	// Grace: see DefaultVanishGrace.
	Grace time.Duration
	// Concurrency is how many tasks are looked up at once.
	Concurrency int
}

// NewSweeper returns a Sweeper on rdb.
func NewSweeper(rdb redis.UniversalClient) *Sweeper {
	return &Sweeper{insp: asynq.NewInspectorFromRedisClient(rdb), batches: records.NewBatches(rdb),
		Grace: DefaultVanishGrace, Concurrency: 8}
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
	ids, err := s.batches.Unfinished(ctx, batch, 0)
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

// missing returns the ids asynq has in none of queues. The queue a task
// was last found in is tried first, so a batch (mostly one lane of one
// token) costs about one lookup per task.
func (s *Sweeper) missing(ctx context.Context, ids, queues []string) ([]string, error) {
	var (
		mu    sync.Mutex
		gone  []string
		first error
		hint  string
		wg    sync.WaitGroup
		next  = make(chan string)
	)
	for range max(1, s.Concurrency) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range next {
				mu.Lock()
				h := hint
				mu.Unlock()
				q, err := s.find(id, h, queues)
				mu.Lock()
				switch {
				case err != nil && first == nil:
					first = err
				case err == nil && q == "":
					gone = append(gone, id)
				case err == nil:
					hint = q
				}
				mu.Unlock()
			}
		}()
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		next <- id
	}
	close(next)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return gone, first
}

// find returns the queue holding task id ("" if none), trying hint first.
// Any error but "not found" stops the sweep: a task is never recorded
// vanished because Redis failed to answer.
func (s *Sweeper) find(id, hint string, queues []string) (string, error) {
	order := queues
	if hint != "" {
		order = append([]string{hint}, queues...)
	}
	for _, q := range order {
		_, err := s.insp.GetTaskInfo(q, id)
		switch {
		case err == nil:
			return q, nil
		case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
		default:
			return "", fmt.Errorf("look up task %s in %s: %w", id, q, err)
		}
	}
	return "", nil
}
