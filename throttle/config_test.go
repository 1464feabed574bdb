package throttle

import (
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestNewRejectsBadConfigNamingTheField(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	defer rdb.Close()
	ok := map[string]Limit{"calls": {Rate: 5, Per: time.Second}}
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no limits", Config{}, "Config.Limits"},
		{"empty name", Config{Limits: map[string]Limit{"": {Rate: 1, Per: time.Second}}}, "empty limit name"},
		{"reserved name", Config{Limits: map[string]Limit{"hold": {Rate: 1, Per: time.Second}}}, `Limits["hold"]`},
		{"zero rate", Config{Limits: map[string]Limit{"c": {Per: time.Second}}}, `Limits["c"].Rate`},
		{"zero per", Config{Limits: map[string]Limit{"c": {Rate: 1}}}, `Limits["c"].Per`},
		{"negative burst", Config{Limits: map[string]Limit{"c": {Rate: 1, Per: time.Second, Burst: -1}}}, `Limits["c"].Burst`},
		{"too fine", Config{Limits: map[string]Limit{"c": {Rate: 1e7, Per: time.Second}}}, "resolution"},
		{"braces in prefix", Config{Limits: ok, Prefix: "a{b"}, "Config.Prefix"},
		{"margin high", Config{Limits: ok, Margin: 0.5}, "Config.Margin"},
		{"margin negative", Config{Limits: ok, Margin: -0.1}, "Config.Margin"},
		{"max wait", Config{Limits: ok, MaxWait: -1}, "Config.MaxWait"},
		{"retries", Config{Limits: ok, RedisRetries: -1}, "Config.RedisRetries"},
		{"decrease high", Config{Limits: ok, Decrease: 1.5}, "Config.Decrease"},
		{"decrease negative", Config{Limits: ok, Decrease: -0.5}, "Config.Decrease"},
		{"recover", Config{Limits: ok, Recover: -time.Second}, "Config.Recover"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(rdb, c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New: got %v, want an error naming %q", err, c.want)
			}
		})
	}
	if _, err := New(nil, Config{Limits: ok}); err == nil {
		t.Fatal("New(nil client): no error")
	}
}

func TestNewFillsDefaults(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	l, err := New(rdb, Config{Limits: map[string]Limit{"calls": {Rate: 5, Per: time.Second}}})
	if err != nil {
		t.Fatal(err)
	}
	c := l.cfg
	if c.Prefix != DefaultPrefix || c.MaxWait != DefaultMaxWait || c.RedisRetries != DefaultRedisRetries ||
		c.Decrease != DefaultDecrease || c.Recover != DefaultRecover || c.Limits["calls"].Burst != 1 {
		t.Fatalf("defaults not applied: %+v", c)
	}
	if got := l.key("token:dev", "calls"); got != "frameq:rl:{token:dev}:calls" {
		t.Fatalf("key = %q", got)
	}
}

func TestBadCallArguments(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	l, err := New(rdb, Config{Limits: map[string]Limit{"calls": {Rate: 5, Per: time.Second}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := l.Wait(ctx, "s", "nope"); !errorsIs(err, ErrUnknownLimit) {
		t.Errorf("Wait(unknown limit) = %v, want ErrUnknownLimit", err)
	}
	if _, err := l.Allow(ctx, "s", "calls", "nope"); !errorsIs(err, ErrUnknownLimit) {
		t.Errorf("Allow(unknown limit) = %v, want ErrUnknownLimit", err)
	}
	if err := l.Wait(ctx, "", "calls"); err == nil || !strings.Contains(err.Error(), "scope") {
		t.Errorf("Wait(empty scope) = %v", err)
	}
	if err := l.Wait(ctx, "s"); err == nil || !strings.Contains(err.Error(), "limits") {
		t.Errorf("Wait(no limits) = %v", err)
	}
	if err := l.Observe(ctx, "s", "nope", 5, time.Second); !errorsIs(err, ErrUnknownLimit) {
		t.Errorf("Observe(unknown limit) = %v", err)
	}
	if err := l.Observe(ctx, "s", "calls", 0, time.Second); err == nil || !strings.Contains(err.Error(), "x-ratelimit-limit") {
		t.Errorf("Observe(max 0) = %v", err)
	}
	if err := l.Observe(ctx, "s", "calls", 5, 0); err == nil || !strings.Contains(err.Error(), "x-ratelimit-window") {
		t.Errorf("Observe(window 0) = %v", err)
	}
	if err := l.Penalize(ctx, "s", -time.Second); err == nil || !strings.Contains(err.Error(), "wait") {
		t.Errorf("Penalize(negative) = %v", err)
	}
	if _, err := l.State(ctx, ""); err == nil {
		t.Errorf("State(empty scope): no error")
	}
}

func TestDelayErrorMessage(t *testing.T) {
	e := &DelayError{Wait: 12345 * time.Millisecond}
	if got := e.Error(); !strings.Contains(got, "12.345s") || !strings.Contains(got, "MaxWait") {
		t.Fatalf("Error() = %q", got)
	}
}

func TestRedisBackoffIsBoundedAndGrows(t *testing.T) {
	for n := 1; n <= 20; n++ {
		want := min(50*time.Millisecond<<min(n-1, 6), 2*time.Second)
		for range 50 {
			if d := redisBackoff(n); d < want/2 || d > want {
				t.Fatalf("redisBackoff(%d) = %v, want in [%v, %v]", n, d, want/2, want)
			}
		}
	}
}
