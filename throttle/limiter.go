package throttle

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// Limiter hands out permits shared by every process that uses the same
// Redis and Config. It is safe for concurrent use.
type Limiter struct {
	rdb redis.UniversalClient
	cfg Config

	mu     sync.Mutex
	gates  map[string]*gate
	guards map[string]*rate.Limiter // by scope and limit name
	seen   map[string]observation   // last Observe written, by adapt field
	rooms  map[string]time.Time     // last room report written, by adapt field
	// staging is set once Stage has loaded the acquire script.
	staging atomic.Bool

	// onGrant, when set (tests only), sees every grant: the Redis time it is
	// for and the Redis time it was decided.
	onGrant func(scope string, slot, decided time.Time)
}

// New returns a Limiter over rdb. It validates cfg and returns an error
// naming the offending field; it does not contact Redis.
func New(rdb redis.UniversalClient, cfg Config) (*Limiter, error) {
	if rdb == nil {
		return nil, errors.New("throttle: redis client: must not be nil")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Limiter{
		rdb:    rdb,
		cfg:    cfg,
		gates:  make(map[string]*gate),
		guards: make(map[string]*rate.Limiter),
		seen:   make(map[string]observation),
		rooms:  make(map[string]time.Time),
	}, nil
}

// Wait blocks until every named limit grants one permit for scope (all or
// nothing), or ctx ends.
//
// Within a process, callers for the same scope and limits queue in FIFO
// order and only the head of the queue asks Redis, so N goroutines cost
// nothing there. When the next permit is at most one interval (of the
// slowest limit named) away, Redis reserves it for the head, which sleeps
// exactly until it: waking late on a busy machine then costs no
// throughput. Otherwise Redis gives the head a ticket, a place in a queue
// shared by every process, and the head sleeps exactly until its slot comes
// within reach (plus a little jitter): it never polls, processes are served
// in order, and a permit costs at most about two script calls (ticket, then
// reservation) however many processes wait.
// Because of that reservation, a Penalize can be followed by at most about
// one permit per limit that was reserved just before it.
// If one wait would exceed Config.MaxWait, Wait returns a *DelayError so
// the caller can hand its job back to the queue instead of holding a slot.
// Scope must not be a secret: it is part of Redis key names.
func (l *Limiter) Wait(ctx context.Context, scope string, limits ...string) error {
	_, err := l.Reserve(ctx, scope, limits...)
	return err
}

// Reserve is Wait, and returns the permit so that the caller can tell the
// limiter when the request it was for really left (Permit.Sent). A permit
// staged for the same scope and limits and carried in ctx (WithStaged) is
// taken without asking Redis, if it was granted.
func (l *Limiter) Reserve(ctx context.Context, scope string, limits ...string) (*Permit, error) {
	if p, err := l.takeStaged(ctx, scope, limits); p != nil || err != nil {
		return p, err
	}
	r, err := l.newRequest(scope, limits)
	if err != nil {
		return nil, err
	}
	g := l.gate(r.gate)
	defer l.dropGate(r.gate, g)
	if err := g.lock(ctx); err != nil {
		return nil, fmt.Errorf("throttle: wait %v: %w", r.names, err)
	}
	defer g.unlock()
	return l.waitHead(ctx, r)
}

// Permit is a permit Reserve granted.
type Permit struct {
	l      *Limiter
	r      *request
	due    time.Time // its slot on the local clock, never before the real one
	roomy  uint64
	pushed []int64
}

// Sent tells the limiter when the request the permit was for was written
// to the connection. Wait measures lateness when the permit is taken, but
// a process starved between then and the write (a loaded machine: seen
// ~200 ms with the race detector at load 17 on 2 cores) sends its request
// that much closer to the next ones, unseen, and a strict server window
// then holds one too many. Sent pushes the schedule back by the lateness
// Margin cannot absorb, less what was pushed since the grant (the late
// permit itself included), like a permit taken late. It costs a script call
// only when the request left that late. Best effort, like the push-back of
// Wait.
func (p *Permit) Sent(ctx context.Context, at time.Time) {
	if p == nil {
		return
	}
	p.l.pushBackIfLate(ctx, p.r, at.Sub(p.due), p.roomy, p.pushed)
}

// waitHead is Wait for the caller at the head of the local queue.
func (l *Limiter) waitHead(ctx context.Context, r *request) (*Permit, error) {
	failures := 0
	var ticket time.Time
	for {
		asked := time.Now()
		res, err := l.acquire(ctx, r, true, ticket)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, fmt.Errorf("throttle: wait %v: %w", r.names, ctx.Err())
		case err != nil:
			failures++
			if failures >= l.cfg.RedisRetries {
				return nil, fmt.Errorf("throttle: redis failed %d times in a row, no permit: %w", failures, err)
			}
			err = Sleep(ctx, redisBackoff(failures))
		case res.granted:
			return l.take(ctx, r, res, asked)
		case res.wait > l.cfg.MaxWait:
			return nil, &DelayError{Wait: res.wait}
		default:
			// Come back when the ticket's slot is within reach.
			failures, ticket = 0, res.slot
			d := res.wait - res.ahead
			err = Sleep(ctx, d+jitter(d))
		}
		if err != nil {
			return nil, fmt.Errorf("throttle: wait %v: %w", r.names, err)
		}
	}
}

// take is the permit res granted for r: it sleeps until the slot
// (takeReserved) and returns the permit.
func (l *Limiter) take(ctx context.Context, r *request, res result, asked time.Time) (*Permit, error) {
	if err := l.takeReserved(ctx, r, res, asked); err != nil {
		return nil, err
	}
	return &Permit{l: l, r: r, due: asked.Add(res.wait), roomy: res.roomy, pushed: res.pushed}, nil
}

// takeReserved sleeps until the reserved slot, then past the local guard.
// A caller whose context ends meanwhile leaves the slot unused: wasted
// capacity, never extra traffic.
//
// asked is when the script call that granted res was sent. Redis decided
// the slot at some instant after asked and before its answer arrived, so
// the sleep, which starts once the answer is in, never ends before the
// slot, and lateness counted from asked+wait is never less than the real
// lateness. Counting from the answer instead would miss every delay
// between Redis's decision and the answer reaching us: an fsync of the
// append-only file (appendfsync always answers only after it), a slow
// network, a stalled process. Such a permit, used that much late, crowds
// the next ones into one window of a strict server, which answers 429.
// Counting from asked costs the round trip itself, taken for lateness:
// nothing on a local network (far below lateFloor); a distant Redis needs
// a Margin whose tolerance covers its round trip.
func (l *Limiter) takeReserved(ctx context.Context, r *request, res result, asked time.Time) error {
	if err := Sleep(ctx, res.wait); err != nil {
		return fmt.Errorf("throttle: wait %v: %w", r.names, err)
	}
	if d := l.takeGuards(r, time.Now()); d > 0 {
		if err := Sleep(ctx, d); err != nil {
			return fmt.Errorf("throttle: wait %v: %w", r.names, err)
		}
	}
	l.pushBackIfLate(ctx, r, time.Since(asked.Add(res.wait)), res.roomy, res.pushed)
	if l.onGrant != nil {
		l.onGrant(r.scope, res.slot, res.slot.Add(-res.wait))
	}
	return nil
}

// Allow makes one attempt: wait == 0 means granted; otherwise nothing was
// taken and wait is how long until the permit could be granted (if no
// waiter queued in Wait takes it first: Allow never jumps that queue).
// A Redis failure is returned as is, without retries and without a permit.
func (l *Limiter) Allow(ctx context.Context, scope string, limits ...string) (wait time.Duration, err error) {
	r, err := l.newRequest(scope, limits)
	if err != nil {
		return 0, err
	}
	if d := l.guardDelay(r, time.Now()); d > 0 {
		return d, nil
	}
	asked := time.Now()
	res, err := l.acquire(ctx, r, false, time.Time{})
	if err != nil {
		return 0, err
	}
	if !res.granted {
		return res.wait, nil
	}
	l.takeGuards(r, time.Now())
	// The permit was for the instant Redis decided: an answer that took
	// long is a permit used late (see takeReserved).
	l.pushBackIfLate(ctx, r, time.Since(asked), res.roomy, res.pushed)
	if l.onGrant != nil {
		l.onGrant(r.scope, res.slot, res.slot)
	}
	return 0, nil
}

// takeGuards takes a token from each guard of r at now and returns how long
// until all of them would have had one (0 unless Redis lost its state).
func (l *Limiter) takeGuards(r *request, now time.Time) time.Duration {
	var d time.Duration
	for i, name := range r.names {
		res := l.guard(r.scope, name, r.limits[i]).ReserveN(now, 1)
		d = max(d, res.DelayFrom(now))
	}
	return d
}

// guard is a process-local x/time/rate limiter at the configured rate of
// one limit for one scope. Redis alone decides permits; the guard only
// delays a grant that would put this process over the configured rate on
// its own, which can happen only when Redis lost its state (a restart
// without persistence, eviction, a flush). It never speeds anything up.
func (l *Limiter) guard(scope, name string, lim Limit) *rate.Limiter {
	k := scope + "\x00" + name
	l.mu.Lock()
	defer l.mu.Unlock()
	g, ok := l.guards[k]
	if !ok {
		g = rate.NewLimiter(rate.Every(lim.interval()), lim.Burst)
		l.guards[k] = g
	}
	return g
}

// guardDelay is how long until every guard of r has a token at now.
func (l *Limiter) guardDelay(r *request, now time.Time) time.Duration {
	var d time.Duration
	for i, name := range r.names {
		g := l.guard(r.scope, name, r.limits[i])
		if missing := 1 - g.TokensAt(now); missing > 0 {
			d = max(d, time.Duration(missing*float64(r.limits[i].interval())))
		}
	}
	return d
}

// redisBackoff is the sleep after the n-th consecutive Redis failure:
// 50ms doubling up to 2s, with equal jitter so restarts don't synchronise.
func redisBackoff(n int) time.Duration {
	return Backoff(n-1, 50*time.Millisecond, 2*time.Second)
}

// jitter spreads wake-ups of processes told the same wait, but stays small
// (at most 1/64 of the wait, capped at 1ms) because every microsecond a
// winner arrives late is a microsecond of the limit lost for good.
func jitter(wait time.Duration) time.Duration {
	j := min(wait/64, time.Millisecond)
	if j <= 0 {
		return 0
	}
	return rand.N(j)
}
