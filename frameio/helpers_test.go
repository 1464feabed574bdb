package frameio

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/frameq/frameq/apierr"
)

// testToken is long and unusual so a leak is unmistakable.
const testToken = "fio-u-T0k3nThatMustNeverLeak-9f8e7d"

// newTestClient serves h on loopback and returns a client for it; mutate
// adjusts the options before New.
func newTestClient(t *testing.T, h http.HandlerFunc, mutate ...func(*Options)) (*Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	o := Options{BaseURL: srv.URL + "/v2", Token: testToken}
	for _, m := range mutate {
		m(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c, srv
}

// asAPIErr asserts err wraps an *apierr.Error that leaks nothing.
func asAPIErr(t *testing.T, err error) *apierr.Error {
	t.Helper()
	var e *apierr.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) does not wrap *apierr.Error", err, err)
	}
	noLeak(t, err.Error())
	return e
}

// noLeak fails if s holds the token or a presigned signature.
func noLeak(t *testing.T, s string) {
	t.Helper()
	for _, secret := range []string{testToken, testSig} {
		if strings.Contains(s, secret) {
			t.Fatalf("secret %q leaked into %q", secret, s)
		}
	}
}

// testSig is the signature of the presigned URLs used in tests.
const testSig = "51gnatur3d0n0tl3ak0123456789"

// writeJSON answers status with body and the rate-limit headers.
func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Ratelimit-Limit", "50")
	w.Header().Set("X-Ratelimit-Remaining", "49")
	w.Header().Set("X-Ratelimit-Window", "1000")
	w.WriteHeader(status)
	w.Write([]byte(body))
}
