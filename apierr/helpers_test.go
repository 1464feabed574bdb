package apierr

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// secretQuery is a presigned-style query string: it must never show up in
// an error message.
const (
	secretSig     = "5ecre7519nature0ff1ce4c0ffee"
	secretCred    = "AKIAFRAMEQTEST/20250101/us-east-1/s3/aws4_request"
	secretCredRaw = "AKIAFRAMEQTEST%2F20250101%2Fus-east-1%2Fs3%2Faws4_request"
	secretQuery   = "X-Amz-Credential=AKIAFRAMEQTEST%2F20250101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=" + secretSig + "&x-amz-acl=private"
)

// assertNoSecret fails if s contains a whole secret of the presigned URL
// (a body may of course contain a prefix of one by chance).
func assertNoSecret(t testing.TB, s string) {
	t.Helper()
	for _, secret := range []string{secretSig, secretCred, secretCredRaw, secretQuery, "s3cr3tpw"} {
		if strings.Contains(s, secret) {
			t.Fatalf("secret %q leaked into %q", secret, s)
		}
	}
}

// roundTrip sends method to path on a loopback server running h, with the
// secret query appended, and returns the failure as the client would build
// it: FromTransport for transport errors (including body reads),
// FromResponse for non-2xx statuses, nil for 2xx.
func roundTrip(t *testing.T, hc *http.Client, method, path string, h http.HandlerFunc) *Error {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return do(t, hc, method, srv.URL+path+"?"+secretQuery)
}

// do performs one request and converts its failure to an *Error.
func do(t *testing.T, hc *http.Client, method, rawURL string) *Error {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, strings.NewReader(`{"name":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	return doReq(hc, req)
}

func doReq(hc *http.Client, req *http.Request) *Error {
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return FromTransport(req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 300 {
		return FromResponse(req.Method, req.URL, resp.StatusCode, resp.Header, body, time.Now())
	}
	if err != nil {
		return FromTransport(req.Method, req.URL, err)
	}
	return nil
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
