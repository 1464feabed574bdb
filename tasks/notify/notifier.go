package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/frameq/frameq/tasks/records"
)

// TypeWebhook is the task that POSTs a finished batch's summary to its
// callback URL.
const TypeWebhook = "frameq:webhook"

// Queue holds the webhook tasks; every worker serves it, beside its
// tokens' upload queues, and the dashboard shows what is pending.
const Queue = "frameq:webhook"

// DeliveryWindow is how long a webhook is retried before it is archived.
const DeliveryWindow = 24 * time.Hour

// retention keeps a delivered webhook task's id, so a late second notice
// of the same finish cannot enqueue it again.
const retention = 7 * 24 * time.Hour

// maxRetry bounds attempts; with the back-off of RetryDelay (capped at an
// hour) the delivery window ends first.
const maxRetry = 200

// Payload is the webhook task's payload. The URL is read from the batch's
// metadata at delivery, so a payload never carries it.
type Payload struct {
	Batch string `json:"batch"`
	// Since is when the batch finished (Unix seconds): the delivery window
	// counts from it.
	Since int64 `json:"since"`
}

// TaskID is the webhook task's id for a batch: one per batch.
func TaskID(batch string) string { return "wh-" + batch }

// Notifier enqueues a batch's webhook once the batch has finished.
type Notifier struct {
	store   *Store
	batches *records.Batches
	client  *asynq.Client
}

// NewNotifier returns a Notifier on rdb, which stays the caller's to close.
func NewNotifier(rdb redis.UniversalClient) *Notifier {
	return &Notifier{store: NewStore(rdb), batches: records.NewBatches(rdb), client: asynq.NewClientFromRedisClient(rdb)}
}

// Close is a no-op kept for symmetry: the Notifier holds nothing but rdb,
// which asynq's client on a shared connection never closes.
func (n *Notifier) Close() error { return nil }

// Settled is called after a file of batch reached a final state (done or
// failed), and by the intake after it sealed a batch. If the batch has a
// callback, is sealed and finished, and was not notified, it enqueues the
// webhook. It reports whether this call enqueued it. Any number of
// processes may call it at once: the task id makes one enqueue win.
func (n *Notifier) Settled(ctx context.Context, batch string) (bool, error) {
	st, err := n.store.state(ctx, batch)
	if err != nil {
		return false, err
	}
	return n.settled(ctx, batch, st)
}

// Stage queues on p the reads Settled would make, for a caller that
// already sends a pipeline when a file settles (the upload handler's
// "done" write): the check then costs no round trip of its own unless
// the batch has a callback or watchers. The returned func is Settled's
// remainder, to call once p has run.
func (n *Notifier) Stage(ctx context.Context, p redis.Pipeliner, batch string) func(context.Context) (bool, error) {
	read := stageState(ctx, p, batch)
	return func(ctx context.Context) (bool, error) { return n.settled(ctx, batch, read()) }
}

func (n *Notifier) settled(ctx context.Context, batch string, st batchState) (bool, error) {
	var errs []error
	for _, w := range st.watchers { // batches that track this one's tasks
		if w != batch {
			_, err := n.settledOwn(ctx, w)
			errs = append(errs, err)
		}
	}
	if st.callback == "" || !st.sealed || st.notified {
		return false, errors.Join(errs...)
	}
	won, err := n.enqueueIfFinished(ctx, batch)
	return won, errors.Join(append(errs, err)...)
}

// settledOwn is Settled for a watcher, without following its watchers.
func (n *Notifier) settledOwn(ctx context.Context, batch string) (bool, error) {
	st, err := n.store.state(ctx, batch)
	if err != nil || st.callback == "" || !st.sealed || st.notified {
		return false, err
	}
	return n.enqueueIfFinished(ctx, batch)
}

// enqueueIfFinished enqueues the webhook of a finished batch.
func (n *Notifier) enqueueIfFinished(ctx context.Context, batch string) (bool, error) {
	st, err := n.batches.Status(ctx, batch)
	if err != nil || !st.Finished() {
		return false, err
	}
	b, _ := json.Marshal(Payload{Batch: batch, Since: time.Now().Unix()})
	t := asynq.NewTask(TypeWebhook, b, asynq.TaskID(TaskID(batch)), asynq.Queue(Queue),
		asynq.MaxRetry(maxRetry), asynq.Retention(retention), asynq.Timeout(time.Minute))
	_, err = n.client.EnqueueContext(ctx, t)
	won := err == nil
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return false, fmt.Errorf("batch %s: enqueue webhook: %w", batch, err)
	}
	if err := n.store.markNotified(ctx, batch); err != nil {
		return won, fmt.Errorf("batch %s: mark notified: %w", batch, err)
	}
	return won, nil
}

// RetryDelay is the webhook's back-off: 1 s doubling per attempt, capped
// at one hour, so a receiver down for a day is still reached.
func RetryDelay(n int) time.Duration {
	if n > 12 {
		return time.Hour
	}
	return min(time.Duration(1<<n)*time.Second, time.Hour)
}
