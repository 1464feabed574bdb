package notify

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// metaTTL matches the batch records' lifetime.
const metaTTL = 30 * 24 * time.Hour

// Meta is what the intake records about a batch it created.
type Meta struct {
	// Owner is the name of the API key that created the batch; only that
	// key may read it. Never the key itself.
	Owner string
	// Callback is the URL told when the batch finishes; empty for none.
	Callback string
	// Sealed: every item of the batch is registered, so "all accounted
	// for" means finished, not "the intake is still enqueueing".
	Sealed bool
}

// metaKey shares the batch records' hash slot.
func metaKey(batch string) string { return "frameq:batch:{" + batch + "}:meta" }

// Store keeps batches' intake metadata in Redis.
type Store struct{ rdb redis.UniversalClient }

// NewStore returns a metadata store on rdb.
func NewStore(rdb redis.UniversalClient) *Store { return &Store{rdb: rdb} }

// Open records a new batch's owner and callback, before any of its tasks
// is enqueued: a worker finishing a file must find the callback.
func (s *Store) Open(ctx context.Context, batch, owner, callback string) error {
	key := metaKey(batch)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, "owner", owner, "callback", callback)
		p.Expire(ctx, key, metaTTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("batch %s: record owner: %w", batch, err)
	}
	return nil
}

// Seal marks every item of the batch registered.
func (s *Store) Seal(ctx context.Context, batch string) error {
	if err := s.rdb.HSet(ctx, metaKey(batch), "sealed", "1").Err(); err != nil {
		return fmt.Errorf("batch %s: seal: %w", batch, err)
	}
	return nil
}

// Get reads a batch's metadata; found is false for a batch the intake did
// not create.
func (s *Store) Get(ctx context.Context, batch string) (m Meta, found bool, err error) {
	h, err := s.rdb.HGetAll(ctx, metaKey(batch)).Result()
	if err != nil {
		return Meta{}, false, fmt.Errorf("batch %s: read owner: %w", batch, err)
	}
	if len(h) == 0 {
		return Meta{}, false, nil
	}
	return Meta{Owner: h["owner"], Callback: h["callback"], Sealed: h["sealed"] == "1"}, true, nil
}

// watchersKey lists the batches with a callback that track tasks of
// batch (they were already queued by it): the worker updates only the
// owner's record, so the owner's settled files must wake them too.
func watchersKey(batch string) string { return "frameq:batch:{" + batch + "}:watchers" }

// Watch makes every owner's settled files check watcher too.
func (s *Store) Watch(ctx context.Context, watcher string, owners []string) error {
	if len(owners) == 0 {
		return nil
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, o := range owners {
			p.SAdd(ctx, watchersKey(o), watcher)
			p.Expire(ctx, watchersKey(o), metaTTL)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("batch %s: watch %d owners: %w", watcher, len(owners), err)
	}
	return nil
}

// markNotified records that the webhook task exists, so later checks cost
// one read. Reports whether this call set it.
func (s *Store) markNotified(ctx context.Context, batch string) error {
	return s.rdb.HSet(ctx, metaKey(batch), "notified", "1").Err()
}

// batchState is what Settled reads of a batch.
type batchState struct {
	callback         string
	sealed, notified bool
	watchers         []string
}

// stageState queues the reads of a batch's state on p; read parses them
// once p has run.
func stageState(ctx context.Context, p redis.Pipeliner, batch string) (read func() batchState) {
	hm := p.HMGet(ctx, metaKey(batch), "callback", "sealed", "notified")
	sm := p.SMembers(ctx, watchersKey(batch))
	return func() batchState {
		v := hm.Val()
		str := func(i int) string {
			if i >= len(v) {
				return ""
			}
			s, _ := v[i].(string)
			return s
		}
		return batchState{callback: str(0), sealed: str(1) == "1", notified: str(2) == "1", watchers: sm.Val()}
	}
}

// state reads a batch's state in one round trip.
func (s *Store) state(ctx context.Context, batch string) (batchState, error) {
	var read func() batchState
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		read = stageState(ctx, p, batch)
		return nil
	})
	if err != nil {
		return batchState{}, err
	}
	return read(), nil
}
