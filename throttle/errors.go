package throttle

import (
	"errors"
	"fmt"
	"time"
)

// ErrUnknownLimit is wrapped by errors for a limit name that is not in
// Config.Limits.
var ErrUnknownLimit = errors.New("unknown limit")

// DelayError says the permit is further away than Config.MaxWait (a long
// hold after a 429, or a very slow limit). Nothing was taken; callers
// usually hand the job back to their queue to run after Wait.
type DelayError struct {
	Wait time.Duration
}

// Error implements error.
func (e *DelayError) Error() string {
	return fmt.Sprintf("throttle: next permit in %v, longer than MaxWait", e.Wait.Round(time.Millisecond))
}
