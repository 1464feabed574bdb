package main

import (
	"context"
	"fmt"
	"time"

	"github.com/frameq/frameq/throttle"
	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// The three limiters compared, by name.
const (
	implThrottle  = "throttle"
	implRedisRate = "redis_rate"
	implXRate     = "x/time/rate"
)

var implNames = []string{implThrottle, implRedisRate, implXRate}

// acquirer is one way to get a permit for a create.
type acquirer interface {
	// try makes one attempt.
	try(ctx context.Context) (bool, error)
	// wait blocks until a permit or ctx ends.
	wait(ctx context.Context) error
}

// newAcquirer returns the named limiter at perSec creates per second,
// keyed under prefix so that phases do not share state. margin is
// throttle's Config.Margin; the others have no such setting.
func newAcquirer(name string, rdb *redis.Client, prefix string, perSec int, margin float64) (acquirer, error) {
	switch name {
	case implThrottle:
		l, err := throttle.New(rdb, throttle.Config{Prefix: prefix, Margin: margin, Limits: map[string]throttle.Limit{
			"calls":   {Rate: 10 * perSec, Per: time.Second},
			"creates": {Rate: perSec, Per: time.Second},
		}})
		return ours{l}, err
	case implRedisRate:
		// Its documented default: burst equal to the rate.
		return redisRate{redis_rate.NewLimiter(rdb), prefix + ":creates", redis_rate.PerSecond(perSec)}, nil
	case implXRate:
		return xRate{rate.NewLimiter(rate.Limit(perSec), 1)}, nil
	}
	return nil, fmt.Errorf("unknown limiter %q", name)
}

type ours struct{ l *throttle.Limiter }

func (o ours) try(ctx context.Context) (bool, error) {
	w, err := o.l.Allow(ctx, "token:dev", "calls", "creates")
	return err == nil && w == 0, err
}

func (o ours) wait(ctx context.Context) error { return o.l.Wait(ctx, "token:dev", "calls", "creates") }

type redisRate struct {
	l     *redis_rate.Limiter
	key   string
	limit redis_rate.Limit
}

func (r redisRate) try(ctx context.Context) (bool, error) {
	res, err := r.l.Allow(ctx, r.key, r.limit)
	return err == nil && res.Allowed > 0, err
}

// wait is redis_rate's documented pattern: sleep RetryAfter, ask again.
func (r redisRate) wait(ctx context.Context) error {
	for {
		res, err := r.l.Allow(ctx, r.key, r.limit)
		if err != nil {
			return err
		}
		if res.Allowed > 0 {
			return nil
		}
		select {
		case <-time.After(res.RetryAfter):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

type xRate struct{ l *rate.Limiter }

func (x xRate) try(context.Context) (bool, error) { return x.l.Allow(), nil }

func (x xRate) wait(ctx context.Context) error { return x.l.Wait(ctx) }
