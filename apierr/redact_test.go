package apierr

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

const presigned = "https://s3cr3tuser:s3cr3tpw@bucket.s3.example.com/assets/abc/part-0?" + secretQuery

func TestPathNeverCarriesQueryOrUserinfo(t *testing.T) {
	e := FromResponse("PUT", mustURL(t, presigned), 403, nil, nil, time.Now())
	if e.Path != "/assets/abc/part-0" {
		t.Errorf("Path = %q", e.Path)
	}
	assertNoSecret(t, e.Error())
	if strings.Contains(e.Error(), "s3cr3tuser") {
		t.Errorf("userinfo leaked: %q", e.Error())
	}
}

func TestBodyEchoingTheQueryIsScrubbed(t *testing.T) {
	bodies := []string{
		// S3's SignatureDoesNotMatch echoes the signature; truncated so the
		// XML does not parse and the raw text becomes the excerpt.
		`<Error><Code>SignatureDoesNotMatch</Code><SignatureProvided>` + secretSig + `</SignatureProvided><CanonicalRequest>PUT /assets ` + secretQuery,
		`{"message":"expired: ` + presigned + `"}`,
		`{"errors":[{"title":"bad","detail":"credential AKIAFRAMEQTEST/20250101/us-east-1/s3/aws4_request rejected"}]}`,
		`see <a href="https://other.example.com/x?token=abcdefghijkl&sig=zzz">here</a> ` + secretSig,
		`<p>5ecre7519nature&#48;ff1ce4c0ffee</p>`, // becomes the signature once unescaped
	}
	for _, b := range bodies {
		e := FromResponse("PUT", mustURL(t, presigned), 403, nil, []byte(b), time.Now())
		assertNoSecret(t, e.Error())
		if strings.Contains(e.Error(), "abcdefghijkl") {
			t.Errorf("foreign URL query leaked: %q", e.Error())
		}
		if !strings.Contains(e.Error(), redacted) {
			t.Errorf("nothing redacted in %q", e.Error())
		}
	}
}

func TestFromTransportUnwrapsURLError(t *testing.T) {
	cause := errors.New("connection reset by peer")
	uerr := &url.Error{Op: "Put", URL: presigned, Err: cause}
	e := FromTransport("PUT", mustURL(t, presigned), uerr)
	if got, want := e.Error(), "PUT /assets/abc/part-0: connection reset by peer"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if e.Err != cause || !errors.Is(e, cause) {
		t.Errorf("Err = %#v, want the cause itself", e.Err)
	}
}

func TestFromTransportScrubsNestedURLs(t *testing.T) {
	// A url.Error buried under other wrapping, and a redirect error quoting
	// a Location: the message is scrubbed, the chain still unwraps.
	inner := &url.Error{Op: "Get", URL: presigned, Err: errors.New("EOF")}
	wrapped := fmt.Errorf("read part: %w", inner)
	e := FromTransport("PUT", mustURL(t, presigned), wrapped)
	assertNoSecret(t, e.Error())
	if !errors.Is(e, inner) {
		t.Error("scrubbing broke the chain")
	}
	loc := fmt.Errorf("failed to parse Location header %q: bad", "https://elsewhere.example/x?sig=topsecretvalue")
	e = FromTransport("GET", mustURL(t, "https://api.example/v2/me"), loc)
	if strings.Contains(e.Error(), "topsecretvalue") {
		t.Errorf("Location query leaked: %q", e.Error())
	}
}

func TestRedactMethod(t *testing.T) {
	const token = "fio-u-verysecrettoken"
	e := &Error{Method: "GET", Path: "/v2/me", Status: 401, Title: "Unauthorized",
		Detail: "bad header: Bearer " + token, Err: errors.New("echo " + token)}
	e.Redact(token, "")
	if strings.Contains(e.Error(), token) || fmt.Sprintf("%+v", e) == "" || strings.Contains(fmt.Sprintf("%+v", *e), token) {
		t.Errorf("token leaked: %q", e.Error())
	}
	if !strings.Contains(e.Detail, "Bearer "+redacted) {
		t.Errorf("Detail = %q", e.Detail)
	}
}

func TestScrubKeepsPlainURLs(t *testing.T) {
	r := redactor{}
	if got := r.apply("see https://api.frame.io/v2/me now"); got != "see https://api.frame.io/v2/me now" {
		t.Errorf("got %q", got)
	}
	if got := r.apply("at http://u:p@h/x?y=1#f"); got != "at http://"+redacted+"@h/x?"+redacted+"#f" {
		t.Errorf("got %q", got)
	}
}

// A URL quoted in free text reads as RedactURL shows it, even when its
// userinfo holds a stray '@' that net/url refuses.
func TestFreeTextURLsReadAsRedactURL(t *testing.T) {
	r := redactor{}
	for in, want := range map[string]string{
		"redirect to https://u:pw@h.example.com/x?sig=abc then": "redirect to https://[REDACTED]@h.example.com/x?[REDACTED] then",
		"see https://a:s3cr3t@pw@h.example.com/x":               "see https://[REDACTED]@h.example.com/x",
	} {
		if got := r.apply(in); got != want {
			t.Errorf("apply(%q) = %q, want %q", in, got, want)
		}
	}
}
