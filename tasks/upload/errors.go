package upload

import (
	"errors"
	"time"

	"github.com/hibiken/asynq"

	"github.com/frameq/frameq/apierr"
	"github.com/frameq/frameq/tasks/job"
	"github.com/frameq/frameq/tasks/records"
	"github.com/frameq/frameq/throttle"
)

// Failure classes recorded on a batch, beside apierr's.
const (
	// ClassInput: the payload or the file itself is unusable.
	ClassInput = "input"
	// ClassExhausted: a retryable error outlived MaxRetry.
	ClassExhausted = "retries_exhausted"
)

// terminalError archives a task at once; its message is the reason shown on
// the dashboard's archived tab and by enqueue status.
type terminalError struct {
	class  string
	reason string
}

func (e *terminalError) Error() string { return e.reason }

// Is makes asynq archive the task without retrying.
func (e *terminalError) Is(target error) bool { return target == asynq.SkipRetry }

func terminal(class, reason string) error { return &terminalError{class: class, reason: reason} }

// waitError hands a task back to the queue for a wait the server or the
// limiter asked for. It spends no retry (see IsFailure).
type waitError struct {
	wait  time.Duration
	cause error
}

func (e *waitError) Error() string {
	if isHeld(e.cause) {
		return e.cause.Error() // no "again in": resume, not time, releases it
	}
	if errors.Is(e.cause, errVerifying) || errors.Is(e.cause, errChanging) || errors.Is(e.cause, records.ErrNotReplicated) ||
		errors.Is(e.cause, records.ErrCreateInFlight) || errors.Is(e.cause, records.ErrPastCreating) {
		return e.cause.Error() + "; again in " + e.wait.String()
	}
	return "rate limited, retry in " + e.wait.String() + ": " + e.cause.Error()
}
func (e *waitError) Unwrap() error { return e.cause }

// heldRetry is how often a held job looks again; while its queue is paused
// it just waits in the queue, so this only bounds the delay after resume.
const heldRetry = 5 * time.Second

// held hands a job of token ref back while the ref's breaker is open. It
// is not a failure: the job did nothing wrong. Its message says who holds
// it and the command that releases it, never "rate limited".
func held(ref string) error { return &waitError{wait: heldRetry, cause: &heldError{ref: ref}} }

// heldError is the cause of held's error.
type heldError struct{ ref string }

func (e *heldError) Error() string { return job.HeldReason(e.ref) }

// isHeld reports whether err holds its job for the token breaker.
func isHeld(err error) bool {
	var h *heldError
	return errors.As(err, &h)
}

// IsFailure is asynq's Config.IsFailure: waits for a rate limit are not
// failures, so they neither count against MaxRetry nor skew failure stats.
func IsFailure(err error) bool {
	var w *waitError
	return err != nil && !errors.As(err, &w)
}

// RetryDelay returns asynq's Config.RetryDelayFunc: the wait asked for by a
// rate limit, else exponential back-off from 1 s with equal jitter, capped.
// asynq stores retry times in whole seconds, so waits are rounded up.
func RetryDelay(maxDelay time.Duration) asynq.RetryDelayFunc {
	return func(n int, err error, _ *asynq.Task) time.Duration {
		var w *waitError
		if errors.As(err, &w) {
			return ceilSecond(w.wait)
		}
		return ceilSecond(throttle.Backoff(n, time.Second, maxDelay))
	}
}

func ceilSecond(d time.Duration) time.Duration {
	if d < time.Second {
		return time.Second
	}
	return (d + time.Second - 1).Truncate(time.Second)
}

// RetryError asks for another attempt whatever its cause says: the cause
// (say a refused presigned URL, terminal for the part) was dealt with, and
// a new attempt will not meet it again. The cause stays reachable with
// errors.As for logs; the failure class is Retryable, and the attempt is
// handed back to the queue rather than waited out in process.
type RetryError struct{ Cause error }

func (e *RetryError) Error() string { return e.Cause.Error() }

// Unwrap returns the cause.
func (e *RetryError) Unwrap() error { return e.Cause }

// classOf names the failure class of err for batch records and metrics.
func classOf(err error) string {
	var t *terminalError
	if errors.As(err, &t) {
		return t.class
	}
	var r *RetryError
	if errors.As(err, &r) {
		return apierr.Retryable.String()
	}
	return apierr.Classify(err).String()
}

// delayOf reports whether err asks to wait (a 429, or a limiter wait longer
// than it will sleep), and for how long.
func delayOf(err error) (time.Duration, bool) {
	var r *RetryError
	if errors.As(err, &r) {
		return 0, false
	}
	var w *waitError
	if errors.As(err, &w) {
		return w.wait, true
	}
	var d *throttle.DelayError
	if errors.As(err, &d) {
		return d.Wait, true
	}
	if apierr.Classify(err) == apierr.RateLimited {
		w := apierr.WaitOf(err)
		if w <= 0 {
			w = time.Second
		}
		return w, true
	}
	return 0, false
}
