package throttle

import (
	"context"
	"math"
	"math/rand/v2"
	"time"
)

// Backoff is base·2^n capped at max, with equal jitter: half fixed, half
// random, so retries of many callers that failed together spread out.
// It is the one back-off of the module; throttle imports nothing of ours,
// so every package may use it.
func Backoff(n int, base, max time.Duration) time.Duration {
	d := time.Duration(float64(base) * math.Pow(2, float64(min(n, 30))))
	if d > max || d <= 0 {
		d = max
	}
	return d/2 + rand.N(d/2+1)
}

// Sleep waits d or until ctx is done, whichever comes first, and returns
// ctx's error in the latter case.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
