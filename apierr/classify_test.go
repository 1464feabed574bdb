package apierr

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestClassifyAndAmbiguousOnChains(t *testing.T) {
	e429 := &Error{Status: 429, Wait: 3 * time.Second}
	e503 := &Error{Status: 503}
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	read := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	tests := []struct {
		name      string
		err       error
		class     Class
		ambiguous bool
		wait      time.Duration
	}{
		{"nil", nil, OK, false, 0},
		{"plain", errors.New("boom"), Retryable, true, 0},
		{"canceled", context.Canceled, Retryable, true, 0},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), Retryable, true, 0},
		{"os deadline", os.ErrDeadlineExceeded, Retryable, true, 0},
		{"eof", io.ErrUnexpectedEOF, Retryable, true, 0},
		{"wrapped 429", fmt.Errorf("create: %w", e429), RateLimited, false, 3 * time.Second},
		{"joined", errors.Join(errors.New("a"), e503), Retryable, true, 0},
		{"joined 429 wait", errors.Join(io.EOF, e429), RateLimited, false, 3 * time.Second},
		{"status 0 wrapping a 401", &Error{Err: fmt.Errorf("before call: %w", &Error{Status: 401})}, TokenRejected, false, 0},
		{"credentials rejected", fmt.Errorf("token: %w", ErrTokenRejected), TokenRejected, false, 0},
		{"not sent, credentials rejected", &Error{NotSent: true, Err: fmt.Errorf("ims: %w", ErrTokenRejected)}, TokenRejected, false, 0},
		{"credentials rejected beside a 400", errors.Join(ErrTokenRejected, &Error{Status: 400}), TokenRejected, false, 0},
		{"status 0 wrapping a 429", &Error{Err: e429}, RateLimited, false, 3 * time.Second},
		{"dial refused", &Error{Err: dial}, Retryable, false, 0},
		{"bare refused", syscall.ECONNREFUSED, Retryable, false, 0},
		{"dns", &net.DNSError{Err: "no such host", Name: "api.frame.io", IsNotFound: true}, Retryable, false, 0},
		{"x509", &Error{Err: x509.UnknownAuthorityError{}}, Retryable, false, 0},
		{"reset after write", &Error{Err: read}, Retryable, true, 0},
		{"not sent flag", &Error{Err: context.Canceled, NotSent: true}, Retryable, false, 0},
		{"invalid input", &Error{Err: fmt.Errorf("%w: empty id", ErrInvalidInput), NotSent: true}, Terminal, false, 0},
		{"bare invalid input", ErrInvalidInput, Terminal, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.err); got != tt.class {
				t.Errorf("Classify = %v, want %v", got, tt.class)
			}
			if got := Ambiguous(tt.err); got != tt.ambiguous {
				t.Errorf("Ambiguous = %v, want %v", got, tt.ambiguous)
			}
			if got := WaitOf(tt.err); got != tt.wait {
				t.Errorf("WaitOf = %v, want %v", got, tt.wait)
			}
		})
	}
}

func TestFromTransportMarksNotSent(t *testing.T) {
	u := mustURL(t, "http://127.0.0.1:1/x")
	if e := FromTransport("POST", u, &net.OpError{Op: "dial", Err: errors.New("i/o timeout")}); !e.NotSent {
		t.Error("dial timeout: NotSent false")
	}
	if e := FromTransport("POST", u, &net.OpError{Op: "read", Err: syscall.ECONNRESET}); e.NotSent {
		t.Error("read reset: NotSent true")
	}
}
