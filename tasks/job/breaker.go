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
)

// Breaker stops work on a token that Frame.io rejected (401, 402): every
// job on it would fail the same way, so instead of archiving thousands of
// jobs one by one, the token's queue is paused and its jobs are held until
// an operator fixes the token and resumes (enqueue resume --token-ref X).
// Both of the token's queues (Queues) are paused.
//
// State lives in Redis (the paused asynq queue and a reason key), so every
// worker and the enqueue CLI see the same breaker.
type Breaker struct {
	rdb  redis.UniversalClient
	insp *asynq.Inspector
	// OnChange, if set, is told when this process sees a breaker open or close.
	OnChange func(ref string, open bool)

	mu    sync.Mutex
	cache map[string]breakerState
	ttl   time.Duration
}

type breakerState struct {
	open bool
	at   time.Time
}

// NewBreaker returns a breaker on rdb.
func NewBreaker(rdb redis.UniversalClient) *Breaker {
	return &Breaker{rdb: rdb, insp: asynq.NewInspectorFromRedisClient(rdb), cache: map[string]breakerState{}, ttl: 500 * time.Millisecond}
}

func breakerKey(ref string) string { return "frameq:breaker:{" + ref + "}" }

// Open reports whether ref's breaker is open. It asks Redis at most every
// half second, so a task started on any worker after a trip makes no call.
func (b *Breaker) Open(ctx context.Context, ref string) bool {
	b.mu.Lock()
	st, ok := b.cache[ref]
	b.mu.Unlock()
	if ok && time.Since(st.at) < b.ttl {
		return st.open
	}
	n, err := b.rdb.Exists(ctx, breakerKey(ref)).Result()
	if err != nil {
		return st.open // keep the last answer while Redis is away
	}
	b.remember(ref, n == 1)
	return n == 1
}

func (b *Breaker) remember(ref string, open bool) {
	b.mu.Lock()
	prev, seen := b.cache[ref]
	b.cache[ref] = breakerState{open: open, at: time.Now()}
	b.mu.Unlock()
	if b.OnChange != nil && (!seen || prev.open != open) {
		b.OnChange(ref, open)
	}
}

// Trip opens ref's breaker with a reason and pauses its queue.
func (b *Breaker) Trip(ctx context.Context, ref, reason string) error {
	ctx = context.WithoutCancel(ctx)
	if err := b.rdb.Set(ctx, breakerKey(ref), reason, 0).Err(); err != nil {
		return fmt.Errorf("trip breaker %s: %w", ref, err)
	}
	b.remember(ref, true)
	for _, q := range Queues(ref) {
		if err := b.insp.PauseQueue(q); err != nil && !alreadyPaused(err) {
			return fmt.Errorf("pause queue %s: %w", q, err)
		}
	}
	return nil
}

// Reason returns why ref's breaker is open, or "" if it is closed.
func (b *Breaker) Reason(ctx context.Context, ref string) (string, error) {
	r, err := b.rdb.Get(ctx, breakerKey(ref)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return r, err
}

// Resume closes ref's breaker and unpauses its queue, so held jobs run.
func (b *Breaker) Resume(ctx context.Context, ref string) error {
	if err := b.rdb.Del(ctx, breakerKey(ref)).Err(); err != nil {
		return fmt.Errorf("resume %s: %w", ref, err)
	}
	for _, q := range Queues(ref) {
		if err := b.insp.UnpauseQueue(q); err != nil && !notPaused(err) {
			return fmt.Errorf("unpause queue %s: %w", q, err)
		}
	}
	b.remember(ref, false)
	return nil
}

// HeldReason says that ref's jobs are held by its token breaker and how to
// release them: the one wording for the task's error (as asynq stores it),
// the batch's held record, the worker's log, enqueue status and wait.
func HeldReason(ref string) string {
	return fmt.Sprintf("held by the token breaker of token ref %q (Frame.io rejected the token, 401/402/account locked): fix the token, then run: enqueue resume --token-ref %s", ref, ref)
}

// asynq reports these as plain errors; pausing twice is not a failure.
func alreadyPaused(err error) bool { return strings.Contains(err.Error(), "already paused") }
func notPaused(err error) bool     { return strings.Contains(err.Error(), "not paused") }
