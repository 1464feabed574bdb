package throttle

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Staged is a try for one permit sent in a caller's own pipeline (Stage).
// A request that follows a Redis write of the caller's (an upload's create
// claim) then costs no round trip of its own for its permit: on a loopback
// Redis a round trip is most of what a permit costs either side.
type Staged struct {
	l     *Limiter
	r     *request
	cmd   *redis.Cmd // nil: not staged (the local guard holds permits back)
	asked time.Time
	taken atomic.Bool
}

// Stage queues on p a try for one permit of every named limit for scope.
// It is Wait's reservation without Wait's place in the queue: granted only
// if no waiter of any process holds a ticket for the slot, and a refusal
// writes nothing. Carry the result into the request's context with
// WithStaged once p has run: Reserve and Wait under that context take the
// permit if it was granted, and otherwise (refused, Redis failed, p never
// ran) ask Redis as usual. A granted permit nobody takes is a slot left
// unused: capacity lost, never extra traffic.
//
// Stage skips the process-local FIFO that Wait keeps per scope, so several
// staged tries may reach Redis at once; each refused one costs a script
// call within the caller's round trip. It suits a limit that is mostly out
// of the way; at the limit, Wait's queue serves the callers.
//
// The try runs the limiter's script by its SHA. Stage loads the script the
// first time (a round trip of its own, once per Limiter); a Redis that lost
// it since (a restart) fails the try with NOSCRIPT, and the Wait that
// follows loads it again. So read the errors of your own commands, not
// the pipeline's first error: the try's is the try's.
func (l *Limiter) Stage(ctx context.Context, p redis.Pipeliner, scope string, limits ...string) (*Staged, error) {
	r, err := l.newRequest(scope, limits)
	if err != nil {
		return nil, err
	}
	if !l.staging.Load() {
		if err := acquireLua.Load(ctx, l.rdb).Err(); err != nil {
			return nil, fmt.Errorf("throttle: load the acquire script: %w", err)
		}
		l.staging.Store(true)
	}
	s := &Staged{l: l, r: r, asked: time.Now()}
	if l.guardDelay(r, s.asked) == 0 {
		s.cmd = acquireLua.EvalSha(ctx, p, r.keys, l.acquireArgs(r, modeStaged, time.Time{})...)
	}
	return s, nil
}

type stagedKey struct{}

// WithStaged returns ctx carrying s for the request it was staged for: the
// first Reserve or Wait under ctx for the same scope and limits takes its
// permit. A nil s returns ctx.
func WithStaged(ctx context.Context, s *Staged) context.Context {
	if s == nil {
		return ctx
	}
	return context.WithValue(ctx, stagedKey{}, s)
}

// takeStaged returns the permit staged in ctx for scope and limits, if it
// was granted and not taken yet, after sleeping until its slot; nil if
// there is none. It reuses the staged request: a caller without one pays
// a context lookup.
func (l *Limiter) takeStaged(ctx context.Context, scope string, limits []string) (*Permit, error) {
	s, _ := ctx.Value(stagedKey{}).(*Staged)
	if s == nil || s.l != l || s.cmd == nil || s.r.scope != scope || !slices.Equal(s.r.names, uniqueSorted(limits)) ||
		!s.taken.CompareAndSwap(false, true) {
		return nil, nil
	}
	res, err := s.r.parse(s.cmd.Int64Slice())
	if err != nil || !res.granted {
		return nil, nil
	}
	return l.take(ctx, s.r, res, s.asked)
}
