package upload

import (
	"errors"
	"fmt"
	"testing"

	"github.com/frameq/frameq/apierr"
)

// TestRetryErrorIsRetryableButKeepsItsCause: a RetryError over a terminal
// or rate-limit cause is retried (not archived, not waited out in process)
// and its cause is still there to inspect.
func TestRetryErrorIsRetryableButKeepsItsCause(t *testing.T) {
	for _, status := range []int{403, 429} {
		cause := &apierr.Error{Method: "PUT", Path: "/part", Status: status}
		err := fmt.Errorf("asset deleted: %w", &RetryError{Cause: cause})
		if got := classOf(err); got != apierr.Retryable.String() {
			t.Errorf("%d: class %s, want %s", status, got, apierr.Retryable)
		}
		if _, wait := delayOf(err); wait {
			t.Errorf("%d: waited out in process", status)
		}
		var e *apierr.Error
		if !errors.As(err, &e) || e.Status != status {
			t.Errorf("%d: cause not reachable through RetryError", status)
		}
	}
}
