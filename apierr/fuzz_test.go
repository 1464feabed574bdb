package apierr

import (
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzFromResponse feeds arbitrary statuses, headers and bodies to the
// parser: it must never panic, always say something on one valid line, keep
// waits in range and never print the presigned query.
//
//	go test ./apierr -run '^$' -fuzz FuzzFromResponse -fuzztime 10s
func FuzzFromResponse(f *testing.F) {
	seeds := []string{
		frameioBody(422, "Invalid arguments", "name must not be empty"),
		`{"code":429,"errors":[{"code":429,"title":"Rate Limited"`,
		`{"errors":{"name":["can't be blank"]}}`,
		"<html><title>502</title><script>x</script><p>bad &amp; gateway</p>",
		`<Error><Code>SignatureDoesNotMatch</Code><Message>m</Message><StringToSign>` + secretQuery + `</StringToSign></Error>`,
		`{"message":"` + presigned + `"}`,
		"",
		"\xff\xfe\x00",
		`[[[[[[[[[[`,
	}
	for i, s := range seeds {
		f.Add(400+i*7, "2", "1000", []byte(s))
	}
	f.Add(429, "Wed, 21 Oct 2015 07:28:00 GMT", "abc", []byte(nil))
	f.Add(0, "99999999999999999999", "-5", []byte("x"))
	u := mustURL(f, presigned)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, status int, retryAfter, window string, body []byte) {
		h := http.Header{"Retry-After": {retryAfter}, "X-Ratelimit-Window": {window}}
		e := FromResponse("PUT", u, status, h, body, now)
		msg := e.Error()
		if msg == "" || !utf8.ValidString(msg) || strings.ContainsAny(msg, "\n\r") {
			t.Fatalf("bad message %q", msg)
		}
		assertNoSecret(t, msg)
		if e.Wait < 0 || e.Wait > MaxWait {
			t.Fatalf("wait %v out of range", e.Wait)
		}
		if n := utf8.RuneCountInString(e.Detail); n > maxField {
			t.Fatalf("detail of %d runes", n)
		}
		if Classify(e) == OK {
			t.Fatal("an error classified OK")
		}
	})
}
