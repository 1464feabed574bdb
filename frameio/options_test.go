package frameio

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestNewValidatesOptions(t *testing.T) {
	tests := []struct {
		name  string
		o     Options
		field string // the error must name it
	}{
		{"no token", Options{}, "Options.Token"},
		{"token with newline", Options{Token: testToken + "\r\nX-Evil: 1"}, "Options.Token"},
		{"token with spaces", Options{Token: " " + testToken}, "Options.Token"},
		{"ftp base", Options{Token: testToken, BaseURL: "ftp://x/v2"}, "Options.BaseURL"},
		{"relative base", Options{Token: testToken, BaseURL: "/v2"}, "Options.BaseURL"},
		{"unparsable base", Options{Token: testToken, BaseURL: "http://x/%zz"}, "Options.BaseURL"},
		{"base with credentials", Options{Token: testToken, BaseURL: "https://user:" + testToken + "@x/v2"}, "Options.BaseURL"},
		{"base with query", Options{Token: testToken, BaseURL: "https://x/v2?a=1"}, "Options.BaseURL"},
		{"bad user agent", Options{Token: testToken, UserAgent: "a\nb"}, "Options.UserAgent"},
		{"negative timeout", Options{Token: testToken, APITimeout: -time.Second}, "Options.APITimeout"},
		{"negative rate", Options{Token: testToken, UploadMinRate: -1}, "Options.UploadMinRate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.o)
			if err == nil || c != nil {
				t.Fatalf("New = %v, %v; want an error", c, err)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name %s", err, tt.field)
			}
			noLeak(t, err.Error())
		})
	}
}

func TestNewDefaults(t *testing.T) {
	c, err := New(Options{Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.cfg
	if cfg.base.String() != DefaultBaseURL || cfg.userAgent != "frameq/dev" ||
		cfg.apiTimeout != 45*time.Second || cfg.uploadMinRate != 1<<20 {
		t.Errorf("defaults: %v", c)
	}
	if cfg.hc.Timeout != 0 {
		t.Errorf("default client has a global timeout %v", cfg.hc.Timeout)
	}
	tr, ok := cfg.hc.Transport.(*http.Transport)
	if !ok || tr.MaxIdleConnsPerHost < 64 || tr.DisableKeepAlives {
		t.Errorf("default transport not tuned: %#v", cfg.hc.Transport)
	}
	c, err = New(Options{Token: testToken, BaseURL: "http://127.0.0.1:9/v2/"})
	if err != nil || c.cfg.base.String() != "http://127.0.0.1:9/v2" {
		t.Errorf("trailing slash: %v, %v", c, err)
	}
}

func TestPrintingHidesToken(t *testing.T) {
	o := Options{BaseURL: "http://127.0.0.1:9/v2", Token: testToken}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	// Exported fields of a caller's struct are printed through our Format.
	type holder struct {
		Opts   Options
		Client Client
	}
	h := holder{o, *c}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%T %v", "%d"} {
		for _, v := range []any{o, &o, c, *c, h, &h, []Options{o}, map[string]*Client{"c": c}} {
			noLeak(t, fmt.Sprintf(verb, v))
		}
	}
	if s := fmt.Sprint(o); !strings.Contains(s, "Token:[REDACTED]") || !strings.Contains(s, "127.0.0.1:9") {
		t.Errorf("String() = %s", s)
	}
	if s := fmt.Sprint(Options{}); !strings.Contains(s, `Token:""`) {
		t.Errorf("empty token shown as %s", s)
	}
}
