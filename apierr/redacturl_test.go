package apierr

import (
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:pw@media.example.com/a.mov?sig=s3cr3tsig": "https://[REDACTED]@media.example.com/a.mov?[REDACTED]",
		"https://h.example.com/p/q%20r":                         "https://h.example.com/p/q%20r",
		"https://h.example.com/p?":                              "https://h.example.com/p?[REDACTED]",
		"https://h.example.com/p#access_token=abc":              "https://h.example.com/p#[REDACTED]",
		"redis://:s3cr3tpw@10.0.0.2:6379/0":                     "redis://[REDACTED]@10.0.0.2:6379/0",
		"rediss://default:s3cr3tpw@r.example.com:6380":          "rediss://[REDACTED]@r.example.com:6380",
		"unix:///run/redis.sock?password=s3cr3tpw&db=1":         "unix:///run/redis.sock?[REDACTED]",
		"/v2/assets/a1": "/v2/assets/a1",
		// Not parsable by net/url: still shown, still without secrets.
		"http://x/%zz":                             "http://x/%zz",
		"redis://u:s3cr3tpw@h:badport/0":           "redis://[REDACTED]@h:badport/0",
		"redis://u:s3cr3 tpw@h:6379/0?dial=1":      "redis://[REDACTED]@h:6379/0?[REDACTED]",
		"redis://u:pa?s3cr3tpw@h:badport":          "redis://[REDACTED]@h:badport",
		"u:s3cr3tpw@h:6379":                        "[REDACTED]@h:6379",
		"see https://h/p?sig=s3cr3tpw for details": "see https://h/p?[REDACTED]",
	} {
		got := RedactURL(in)
		if got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
		if strings.Contains(got, "s3cr3t") {
			t.Errorf("RedactURL(%q) leaks: %q", in, got)
		}
	}
}
