package apierr

import "testing"

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:pw@media.example.com/a.mov?sig=s3cr3tsig": "https://[REDACTED]@media.example.com/a.mov?[REDACTED]",
		"https://h.example.com/p/q%20r":                         "https://h.example.com/p/q%20r",
		"https://h.example.com/p?":                              "https://h.example.com/p?[REDACTED]",
		"http://x/%zz":                                          "[unparsable URL]",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
