package apierr

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"syscall"
	"time"
)

// Classify maps any error to a Class: nil is OK; ErrTokenRejected anywhere
// in the chain is TokenRejected; an *Error anywhere in the chain is
// classified by its status (and a 403 by whether it says the account is
// locked); ErrInvalidInput is Terminal; everything
// else, context.Canceled included (the job was interrupted, e.g. by a
// shutdown), is Retryable.
func Classify(err error) Class {
	if err == nil {
		return OK
	}
	if errors.Is(err, ErrTokenRejected) {
		return TokenRejected
	}
	if e := statusError(err); e != nil {
		return errorClass(e)
	}
	if errors.Is(err, ErrInvalidInput) {
		return Terminal
	}
	return Retryable
}

// WaitOf returns the server-requested wait carried by err (0 if none).
func WaitOf(err error) time.Duration {
	var wait time.Duration
	walk(err, func(err error) bool {
		if e, ok := err.(*Error); ok && e.Wait > 0 {
			wait = e.Wait
			return true
		}
		return false
	})
	return wait
}

// Ambiguous reports whether the failed request may nevertheless have taken
// effect on the server: a 5xx, an undecodable 2xx, a timeout, a reset or EOF
// after the request was written, or an error it cannot tell about. It is
// false for nil, 4xx (429 included), invalid input, refused credentials
// (ErrTokenRejected: no token, so no request), and requests that never
// left: dial errors, refused connections, DNS and TLS verification failures.
// Callers use it to avoid duplicate creates.
func Ambiguous(err error) bool {
	if err == nil || errors.Is(err, ErrInvalidInput) || errors.Is(err, ErrTokenRejected) {
		return false
	}
	if e := statusError(err); e != nil {
		s := e.Status
		return (s >= 200 && s < 300) || s >= 500 || s < 100
	}
	sent := true
	walk(err, func(err error) bool {
		if e, ok := err.(*Error); ok && e.NotSent {
			sent = false
			return true
		}
		return false
	})
	return sent && !notSent(err)
}

// statusError returns the first *Error in err's chain that carries an HTTP
// status.
func statusError(err error) *Error {
	var found *Error
	walk(err, func(err error) bool {
		if e, ok := err.(*Error); ok && e.Status != 0 {
			found = e
			return true
		}
		return false
	})
	return found
}

// notSent reports whether err proves the request never reached the server.
func notSent(err error) bool {
	var (
		op      *net.OpError
		dns     *net.DNSError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
		verify  *tls.CertificateVerificationError
		record  tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &op) && (op.Op == "dial" || op.Op == "proxyconnect"):
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.As(err, &dns):
		return true
	case errors.As(err, &unknown), errors.As(err, &host), errors.As(err, &invalid),
		errors.As(err, &verify), errors.As(err, &record):
		return true
	}
	return false
}

// walk visits err's chain depth first, following Unwrap() error and
// Unwrap() []error, until visit returns true.
func walk(err error, visit func(error) bool) bool {
	for err != nil {
		if visit(err) {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if walk(e, visit) {
					return true
				}
			}
			return false
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		default:
			return false
		}
	}
	return false
}
