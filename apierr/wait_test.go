package apierr

import (
	"net/http"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"3", 3 * time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"86400", MaxWait, true},
		{"99999999999999999999999", MaxWait, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(30 * time.Second).Format(time.RFC850), 30 * time.Second, true},
		{now.Add(5 * time.Second).Format(time.ANSIC), 5 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{now.Add(48 * time.Hour).Format(http.TimeFormat), MaxWait, true},
		{"", 0, false},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"Wed, 99 Foo 2025", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestWaitFromHeaders(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name   string
		status int
		h      http.Header
		want   time.Duration
	}{
		{"retry-after wins", 429, http.Header{"Retry-After": {"3"}, "X-Ratelimit-Window": {"1000"}}, 3 * time.Second},
		{"http-date", 429, http.Header{"Retry-After": {now.Add(4 * time.Second).Format(http.TimeFormat)}}, 4 * time.Second},
		{"window fallback", 429, http.Header{"X-Ratelimit-Window": {"1500"}}, 1500 * time.Millisecond},
		{"malformed retry-after falls back", 429, http.Header{"Retry-After": {"later"}, "X-Ratelimit-Window": {"60000"}}, time.Minute},
		{"malformed window", 429, http.Header{"X-Ratelimit-Window": {"1s"}}, 0},
		{"huge window capped", 429, http.Header{"X-Ratelimit-Window": {"999999999999999999999"}}, MaxWait},
		{"nothing", 429, http.Header{}, 0},
		{"window ignored off 429", 500, http.Header{"X-Ratelimit-Window": {"1000"}}, 0},
		{"retry-after on 503", 503, http.Header{"Retry-After": {"10"}}, 10 * time.Second},
	}
	for _, tt := range tests {
		e := FromResponse("GET", nil, tt.status, tt.h, nil, now)
		if e.Wait != tt.want || WaitOf(e) != tt.want {
			t.Errorf("%s: Wait = %v, want %v", tt.name, e.Wait, tt.want)
		}
	}
}
