package throttle

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Limit is one rate: Rate permits per Per, with Burst permits allowed at
// once. Burst 0 means 1: permits are spread evenly, Per/Rate apart, which is
// what a sliding-window or leaky-bucket server accepts without a 429.
type Limit struct {
	Rate  int
	Per   time.Duration
	Burst int
}

// interval is the emission interval Per/Rate, the GCRA's unit of time.
func (l Limit) interval() time.Duration { return l.Per / time.Duration(l.Rate) }

// Defaults for the zero values of Config.
const (
	DefaultPrefix       = "frameq:rl"
	DefaultMaxWait      = 10 * time.Second
	DefaultRedisRetries = 5
	DefaultDecrease     = 0.5
	DefaultRecover      = 30 * time.Second
)

// aimdFloor is the lowest fraction of the configured rate that repeated 429s
// can cut a scope to. Above zero so a scope always makes progress; the hold
// written by Penalize, not the rate cut, is what stops traffic outright.
const aimdFloor = 0.1

// Config configures a Limiter. Zero values take the documented defaults.
type Config struct {
	// Limits are the rates by name, e.g. {"calls": {50, time.Second, 1},
	// "creates": {5, time.Second, 1}}. Names become part of Redis keys.
	Limits map[string]Limit
	// Prefix starts every Redis key; default "frameq:rl". Keys are
	// "<prefix>:{<scope>}:<limit>", so one scope lives in one Cluster slot.
	Prefix string
	// Margin in [0, 0.5) runs every limit at (1-Margin)×rate, leaving room
	// for network jitter between the permit and the server's clock; default 0.
	Margin float64
	// MaxWait: Wait returns a *DelayError instead of sleeping longer than
	// this in one go; default 10s.
	MaxWait time.Duration
	// RedisRetries: Wait retries a failing Redis with capped, jittered
	// exponential back-off (50ms doubling to 2s) and gives up after this many
	// consecutive failed attempts (default 5), returning an error that wraps
	// the Redis error. No permit is ever granted without Redis (fail closed).
	RedisRetries int
	// Decrease is the AIMD multiplicative factor applied to a scope's rates
	// on a 429; default 0.5. Halving is TCP's choice and for the same reason:
	// a 429 means something we cannot see (another client of the account, a
	// lowered limit) takes capacity, and halving gets under any limit at
	// least half of ours in one step, while several AIMD clients sharing a
	// limit converge to a fair share. Must be in (0, 1]; 1 disables the cut.
	Decrease float64
	// Recover is the AIMD additive recovery: the time a scope takes to climb
	// linearly from the floor (10% of the configured rate) back to the
	// configured rate; default 30s, so one halving heals in about 17s.
	// Thirty windows of a 1s limit: slow enough that probing back up does not
	// hit the same 429 again within a few windows, fast enough that a single
	// stray 429 costs a few seconds of throughput, not minutes.
	Recover time.Duration
}

// withDefaults validates c and fills its zero values. Errors name the field.
func (c Config) withDefaults() (Config, error) {
	if len(c.Limits) == 0 {
		return c, fmt.Errorf("throttle: Config.Limits: at least one limit is required")
	}
	limits := make(map[string]Limit, len(c.Limits))
	for _, name := range sortedNames(c.Limits) {
		l, err := c.Limits[name].validate(name)
		if err != nil {
			return c, err
		}
		limits[name] = l
	}
	c.Limits = limits
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(c.Prefix, "{}") {
		return c, fmt.Errorf("throttle: Config.Prefix %q: must not contain '{' or '}' (they would move the scope's hash tag)", c.Prefix)
	}
	if c.Margin < 0 || c.Margin >= 0.5 || c.Margin != c.Margin {
		return c, fmt.Errorf("throttle: Config.Margin %v: must be in [0, 0.5)", c.Margin)
	}
	return c.timingDefaults()
}

func (c Config) timingDefaults() (Config, error) {
	switch {
	case c.MaxWait < 0:
		return c, fmt.Errorf("throttle: Config.MaxWait %v: must not be negative", c.MaxWait)
	case c.MaxWait == 0:
		c.MaxWait = DefaultMaxWait
	}
	switch {
	case c.RedisRetries < 0:
		return c, fmt.Errorf("throttle: Config.RedisRetries %d: must not be negative", c.RedisRetries)
	case c.RedisRetries == 0:
		c.RedisRetries = DefaultRedisRetries
	}
	switch {
	case c.Decrease == 0:
		c.Decrease = DefaultDecrease
	case !(c.Decrease > 0 && c.Decrease <= 1):
		return c, fmt.Errorf("throttle: Config.Decrease %v: must be in (0, 1]", c.Decrease)
	}
	switch {
	case c.Recover < 0:
		return c, fmt.Errorf("throttle: Config.Recover %v: must not be negative", c.Recover)
	case c.Recover == 0:
		c.Recover = DefaultRecover
	}
	return c, nil
}

func (l Limit) validate(name string) (Limit, error) {
	field := fmt.Sprintf("throttle: Config.Limits[%q]", name)
	switch {
	case name == "":
		return l, fmt.Errorf("throttle: Config.Limits: empty limit name")
	case name == "hold" || name == "adapt": // the scope's own state keys
		return l, fmt.Errorf("%s: name is reserved for the limiter's own keys", field)
	case l.Rate <= 0:
		return l, fmt.Errorf("%s.Rate %d: must be positive", field, l.Rate)
	case l.Per <= 0:
		return l, fmt.Errorf("%s.Per %v: must be positive", field, l.Per)
	case l.Burst < 0:
		return l, fmt.Errorf("%s.Burst %d: must not be negative", field, l.Burst)
	case l.interval() < time.Microsecond:
		return l, fmt.Errorf("%s: %d per %v is finer than the limiter's 1µs resolution", field, l.Rate, l.Per)
	}
	if l.Burst == 0 {
		l.Burst = 1
	}
	return l, nil
}

func sortedNames(m map[string]Limit) []string {
	return slices.Sorted(maps.Keys(m))
}
