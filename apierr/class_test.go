package apierr

import "testing"

func TestClassString(t *testing.T) {
	for c, want := range map[Class]string{
		OK: "ok", Retryable: "retryable", RateLimited: "rate_limited",
		Terminal: "terminal", TokenRejected: "token_rejected", Class(42): "Class(42)",
	} {
		if got := c.String(); got != want {
			t.Errorf("Class(%d).String() = %q, want %q", int(c), got, want)
		}
	}
}
