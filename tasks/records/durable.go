package records

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Durability asks that the progress writes guarding against a duplicate
// create (the "creating" mark and the asset id) reach replicas before the
// API call they guard is made. Redis replicates asynchronously: a write the
// master acknowledged but had not yet sent is lost when a replica is
// promoted, and a lost "creating" mark makes the next attempt create the
// file again. WAIT closes that window at one round trip per guarded write.
type Durability struct {
	// Replicas is how many replicas must hold a guard write; 0 turns WAIT
	// off (a single Redis, or a Cluster without replicas).
	Replicas int
	// Timeout bounds each WAIT. A write fewer replicas acknowledged in time
	// is reported as ErrNotReplicated: the caller must not make the API call
	// it guards (a failover now could lose the record), and tries later.
	Timeout time.Duration
}

// ErrNotReplicated is returned (wrapped in a *NotReplicatedError) when a
// guard write was not acknowledged by enough replicas within the timeout.
var ErrNotReplicated = errors.New("progress record not replicated")

// NotReplicatedError says how many replicas acknowledged a guard write.
type NotReplicatedError struct {
	Acked, Wanted int
	Timeout       time.Duration
}

func (e *NotReplicatedError) Error() string {
	return fmt.Sprintf("%v: %d of %d replicas acknowledged it within %v", ErrNotReplicated, e.Acked, e.Wanted, e.Timeout)
}

// Is makes errors.Is(err, ErrNotReplicated) true.
func (e *NotReplicatedError) Is(target error) bool { return target == ErrNotReplicated }

// replaceHash sets a hash to exactly the given field/value pairs: DEL and
// HSET in one step, like the MULTI it replaces. A script rather than MULTI
// because WAIT must follow on the same connection, and inside MULTI Redis
// answers WAIT at once instead of blocking.
const replaceHash = `redis.call('DEL', KEYS[1])
return redis.call('HSET', KEYS[1], unpack(ARGV))`

var replaceScript = redis.NewScript(replaceHash)

// pipeliner is what a guard write needs of a client: one connection for
// its pipeline, so WAIT counts the replicas that hold this write; and the
// scripts loaded where they run.
type pipeliner interface {
	Pipelined(ctx context.Context, fn func(redis.Pipeliner) error) ([]redis.Cmder, error)
	redis.Scripter
}

// replace sets key's hash to fields and, with Durability on, waits until
// enough replicas hold it.
func (s *Progresses) replace(ctx context.Context, key string, fields ...any) error {
	_, err := s.guarded(ctx, key, replaceScript, nil, fields...)
	return err
}

// guarded runs script on key (by its SHA: the body is not sent, nor hashed
// by Redis, on every call) and, with Durability on, a WAIT after it on the
// same connection; it fails with a *NotReplicatedError if fewer replicas
// acknowledged it in time. It returns the script's reply. stage, if not
// nil, queues a batch record's write (setState, by SHA too) before it, in
// the same round trip. A Redis that has not seen the scripts yet
// (NOSCRIPT) gets them loaded and the pipeline again: every write in it is
// idempotent, the script's own included (a claim is the run's again, a
// record replaced again is the same).
func (s *Progresses) guarded(ctx context.Context, key string, script *redis.Script, stage func(redis.Pipeliner), args ...any) (*redis.Cmd, error) {
	return s.guardedAlso(ctx, key, script, stage, nil, args...)
}

// guardedAlso is guarded with the caller's commands (also) at the end of
// the pipeline; their errors are left to the caller.
func (s *Progresses) guardedAlso(ctx context.Context, key string, script *redis.Script, stage, also func(redis.Pipeliner), args ...any) (*redis.Cmd, error) {
	c, err := s.guardConn(ctx, key)
	if err != nil {
		return nil, err
	}
	res, err := s.guardedOn(ctx, c, key, script, stage, also, args)
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		err = script.Load(ctx, c).Err()
		if err == nil && stage != nil {
			err = setState.Load(ctx, c).Err()
		}
		if err == nil {
			res, err = s.guardedOn(ctx, c, key, script, stage, also, args)
		}
	}
	return res, err
}

// guardConn is where a guard write on key goes.
func (s *Progresses) guardConn(ctx context.Context, key string) (pipeliner, error) {
	var c pipeliner = s.rdb
	if cc, ok := s.rdb.(*redis.ClusterClient); ok && s.dur.Replicas > 0 {
		// A Cluster pipeline sends a keyless WAIT to a random node; send
		// both commands to the key's master instead.
		node, err := cc.MasterForKey(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("find master of %s: %w", key, err)
		}
		c = node
	}
	return c, nil
}

func (s *Progresses) guardedOn(ctx context.Context, c pipeliner, key string, script *redis.Script, stage, also func(redis.Pipeliner), args []any) (*redis.Cmd, error) {
	var res, acked *redis.Cmd
	own := 0
	cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		if stage != nil {
			stage(p)
		}
		res = script.EvalSha(ctx, p, []string{key}, args...)
		if s.dur.Replicas > 0 {
			acked = p.Do(ctx, "wait", s.dur.Replicas, s.dur.Timeout.Milliseconds())
		}
		if own = p.Len(); also != nil {
			also(p)
		}
		return nil
	})
	if err != nil && !theirs(cmds, own, err) {
		return res, err
	}
	if acked == nil {
		return res, nil
	}
	if n, err := acked.Int(); err != nil || n < s.dur.Replicas {
		return res, errors.Join(&NotReplicatedError{Acked: n, Wanted: s.dur.Replicas, Timeout: s.dur.Timeout}, err)
	}
	return res, nil
}

// theirs reports whether err, a pipeline's first error, is one of the
// caller's commands' (cmds[own:]) alone: none of the first own failed.
// An error no command holds (a hook's, say) is not theirs.
func theirs(cmds []redis.Cmder, own int, err error) bool {
	if own > len(cmds) {
		return false
	}
	for _, c := range cmds[:own] {
		if c.Err() != nil {
			return false
		}
	}
	for _, c := range cmds[own:] {
		if c.Err() == err {
			return true
		}
	}
	return false
}

// stampAdd stamps a batch's last Add with Redis's clock.
//
//	KEYS[1]  the batch's bytes hash (batchKeys[4])
const stampAdd = `return redis.call('HSET', KEYS[1], 'last_add', redis.call('TIME')[1])`

var stampScript = redis.NewScript(stampAdd)

// Replicated returns once d.Replicas replicas hold every write made to
// this Redis before the call, by any connection: it stamps batch's last
// Add and WAITs on the same connection. Replication is one ordered
// stream, so the replicas that hold the stamp hold all that came before
// it. A *NotReplicatedError if fewer acknowledged within d.Timeout; with
// d.Replicas 0, nothing. For a single Redis (or a Sentinel-managed one):
// a Cluster's writes are on several masters.
func (b *Batches) Replicated(ctx context.Context, batch string, d Durability) error {
	if d.Replicas <= 0 {
		return nil
	}
	var acked *redis.Cmd
	_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		stampScript.Eval(ctx, p, []string{batchKeys(batch)[4]})
		acked = p.Do(ctx, "wait", d.Replicas, d.Timeout.Milliseconds())
		return nil
	})
	if err != nil {
		return fmt.Errorf("batch %s: wait for replicas: %w", batch, err)
	}
	if n, err := acked.Int(); err != nil || n < d.Replicas {
		return fmt.Errorf("batch %s: %w", batch, errors.Join(&NotReplicatedError{Acked: n, Wanted: d.Replicas, Timeout: d.Timeout}, err))
	}
	return nil
}
