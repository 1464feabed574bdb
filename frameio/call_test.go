package frameio

import (
	"net/http"
	"testing"
	"time"
)

func TestParseRateLimit(t *testing.T) {
	h := func(l, r, w string) http.Header {
		out := http.Header{}
		for k, v := range map[string]string{"X-Ratelimit-Limit": l, "X-Ratelimit-Remaining": r, "X-Ratelimit-Window": w} {
			if v != "-" {
				out.Set(k, v)
			}
		}
		return out
	}
	tests := []struct {
		name string
		h    http.Header
		want RateLimit
	}{
		{"all", h("5", "3", "1000"), RateLimit{5, 3, time.Second, true}},
		{"spaces", h(" 50 ", "0", "60000"), RateLimit{50, 0, time.Minute, true}},
		{"none", http.Header{}, RateLimit{}},
		{"missing window", h("5", "3", "-"), RateLimit{Limit: 5, Remaining: 3}},
		{"malformed window", h("5", "3", "1s"), RateLimit{Limit: 5, Remaining: 3}},
		{"zero window", h("5", "3", "0"), RateLimit{Limit: 5, Remaining: 3}},
		{"huge window", h("5", "3", "999999999999"), RateLimit{Limit: 5, Remaining: 3}},
		{"negative", h("-5", "3", "1000"), RateLimit{Remaining: 3, Window: time.Second}},
		{"plus sign", h("+5", "3", "1000"), RateLimit{Remaining: 3, Window: time.Second}},
		{"float", h("5.0", "3", "1000"), RateLimit{Remaining: 3, Window: time.Second}},
		{"overflow", h("99999999999999999999", "3", "1000"), RateLimit{Remaining: 3, Window: time.Second}},
	}
	for _, tt := range tests {
		if got := ParseRateLimit(tt.h); got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
