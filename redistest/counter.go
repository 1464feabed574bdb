package redistest

import (
	"context"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// Counter is a go-redis hook that counts what a client sends: Commands
// counts every command (a pipeline's each), RoundTrips counts network
// exchanges (a pipeline or a MULTI block is one). Add it with AddHook;
// it is safe for concurrent use.
type Counter struct {
	commands   atomic.Int64
	roundTrips atomic.Int64
}

// Commands is the number of commands sent since the last Reset.
func (c *Counter) Commands() int64 { return c.commands.Load() }

// RoundTrips is the number of exchanges with the server since the last Reset.
func (c *Counter) RoundTrips() int64 { return c.roundTrips.Load() }

// Reset sets both counts to zero, e.g. after a warm-up.
func (c *Counter) Reset() {
	c.commands.Store(0)
	c.roundTrips.Store(0)
}

// DialHook passes dials through uncounted.
func (c *Counter) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook counts one command and one round trip.
func (c *Counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.commands.Add(1)
		c.roundTrips.Add(1)
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook counts each command of the pipeline and one round trip.
func (c *Counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.commands.Add(int64(len(cmds)))
		c.roundTrips.Add(1)
		return next(ctx, cmds)
	}
}
