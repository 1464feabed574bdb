package frameiosim

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"empty token", Config{Tokens: map[string]string{"": "a"}}, "Tokens"},
		{"token with space", Config{Tokens: map[string]string{"a b": "a"}}, "Tokens"},
		{"empty account", Config{Tokens: map[string]string{"t": ""}}, "Tokens"},
		{"negative call limit", Config{CallLimit: -1}, "CallLimit"},
		{"negative create limit", Config{CreateLimit: -1}, "CreateLimit"},
		{"negative window", Config{Window: -time.Second}, "Window"},
		{"tiny window", Config{Window: time.Microsecond}, "Window"},
		{"negative part size", Config{PartSize: -1}, "PartSize"},
		{"negative expiry", Config{URLExpiry: -1}, "URLExpiry"},
		{"enforcement", Config{Enforcement: "fixed"}, "Enforcement"},
		{"probability > 1", Config{Faults: Faults{LostCreate: 1.5}}, "Faults.LostCreate"},
		{"NaN probability", Config{Faults: Faults{SlowProb: math.NaN()}}, "Faults.SlowProb"},
		{"negative latency", Config{Faults: Faults{Latency: -1}}, "Faults.Latency"},
		{"upload_failed > 1", Config{Faults: Faults{UploadFailed: 2}}, "Faults.UploadFailed"},
		{"api", Config{API: "v3"}, "API"},
		{"negative complete after", Config{CompleteAfter: -time.Second}, "CompleteAfter"},
		{"unknown V4 route", Config{V4Limits: map[string]Limit{"uploads": {Limit: 1}}}, "V4Limits"},
		{"negative V4 limit", Config{V4Limits: map[string]Limit{RouteFileCreate: {Limit: -1}}}, "V4Limits"},
		{"tiny V4 window", Config{V4Limits: map[string]Limit{RouteFileCreate: {Window: time.Microsecond}}}, "V4Limits"},
		{"legacy token with space", Config{LegacyTokens: map[string]string{"a b": "x"}}, "LegacyTokens"},
		{"legacy token also current", Config{Tokens: map[string]string{"t": "a"}, LegacyTokens: map[string]string{"t": "a"}}, "LegacyTokens"},
		{"account with slash", Config{Tokens: map[string]string{"t": "a/b"}}, "Tokens"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), tt.field) {
				t.Fatalf("Validate() = %v, want an error naming %s", err, tt.field)
			}
			s := New(tt.cfg)
			defer s.Close()
			if err := s.Start("127.0.0.1:0"); err == nil || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("Start() = %v, want an error naming %s", err, tt.field)
			}
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v2/me", nil))
			if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "misconfigured") {
				t.Fatalf("misconfigured server answered %d %s", rec.Code, rec.Body)
			}
		})
	}
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero Config: %v", err)
	}
}

func TestStartTwiceFails(t *testing.T) {
	s := StartTest(t, Config{})
	if err := s.Start("127.0.0.1:0"); err == nil {
		t.Fatal("second Start succeeded")
	}
	if err := New(Config{}).Start("256.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "256.0.0.1") {
		t.Fatalf("bad addr: %v", err)
	}
}

func TestFaultsJSONRoundTrip(t *testing.T) {
	f := Faults{Create500: 0.1, LostCreate: 0.2, ResetCreate: 0.3, PartFail: 0.4, Latency: 5 * time.Millisecond,
		SlowProb: 0.5, SlowDelay: time.Minute, HTMLError: 0.6, ForbiddenFolders: []string{"a"}, PaymentRequiredFolders: []string{"b"}}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var g Faults
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if gb, _ := json.Marshal(g); string(gb) != string(b) {
		t.Fatalf("round trip:\n%s\n%s", b, gb)
	}
	if !strings.Contains(string(b), `"slow_delay":"1m0s"`) {
		t.Fatalf("durations as strings: %s", b)
	}
}

// TestServesAsPlainHandler mounts the Server in httptest: upload URLs use
// the host the client reached.
func TestServesAsPlainHandler(t *testing.T) {
	s := New(Config{})
	defer s.Close()
	hs := httptest.NewServer(s)
	defer hs.Close()
	c := &tc{t: t, base: hs.URL + "/v2", token: DefaultToken, hc: hs.Client()}
	f := c.file(s.RootFolder(DefaultToken), "a.mp4", 2)
	if !strings.HasPrefix(f.UploadURLs[0], hs.URL+"/upload/") {
		t.Fatalf("upload url %s not on %s", f.UploadURLs[0], hs.URL)
	}
	if r := put(t, f.UploadURLs[0], []byte("ab"), "video/mp4", nil); r.status != 200 {
		t.Fatalf("put: %d", r.status)
	}
	if s.URL() != "" {
		t.Fatalf("URL() before Start = %q", s.URL())
	}
}
