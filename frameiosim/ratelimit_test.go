package frameiosim

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSlidingWindowHammer is the proof the limiter's tests rely on: many
// goroutines create as fast as they can, and no interval of one window
// ever holds more than the limit; every 429 is counted.
func TestSlidingWindowHammer(t *testing.T) {
	const limit, window = 5, 200 * time.Millisecond
	s := StartTest(t, Config{CreateLimit: limit, CallLimit: 10000, Window: window, Enforcement: SlidingWindow})
	root := s.RootFolder(DefaultToken)
	var ok, limited atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(5 * window)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newTC(t, s, DefaultToken)
			for i := 0; i < 1000 && time.Now().Before(deadline); i++ {
				time.Sleep(time.Millisecond) // bounds the request count, not the pressure
				r := c.create(root, map[string]any{"type": "folder", "name": fmt.Sprint(g, "-", i)})
				switch r.status {
				case http.StatusCreated:
					ok.Add(1)
				case http.StatusTooManyRequests:
					limited.Add(1)
					checkRateLimited(t, r, limit)
				default:
					t.Errorf("create: %d %s", r.status, r.body)
				}
			}
		}()
	}
	wg.Wait()
	st := s.Stats()
	if got := s.MaxCreatesInWindow(DefaultToken, window); got > limit || got < 1 {
		t.Fatalf("max creates in a %v window = %d, limit %d", window, got, limit)
	}
	if int64(st.Creates) != ok.Load() || int64(st.RateLimited) != limited.Load() || len(st.CreatesByScope[DefaultToken]) != st.Creates {
		t.Fatalf("stats %d creates %d 429s, clients saw %d and %d", st.Creates, st.RateLimited, ok.Load(), limited.Load())
	}
	if limited.Load() == 0 {
		t.Fatal("no 429 under a hammer")
	}
	t.Logf("%d created, %d rate limited, max %d per %v; %v", ok.Load(), limited.Load(), s.MaxCreatesInWindow(DefaultToken, window), window, time.Since(deadline))
}

func checkRateLimited(t testing.TB, r resp, limit int) {
	t.Helper()
	wantAPIError(t, r, http.StatusTooManyRequests, "rate limit")
	ra, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || ra < 1 {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	if r.header.Get("x-ratelimit-limit") != fmt.Sprint(limit) || r.header.Get("x-ratelimit-remaining") != "0" || r.header.Get("x-ratelimit-window") == "" {
		t.Errorf("429 rate headers: %v", r.header)
	}
}

// A long window keeps these deterministic on a loaded machine: nothing
// refills between two calls of the test.
const longWindow = 60 * time.Second

func TestLeakyBucketOverHTTP(t *testing.T) {
	s := StartTest(t, Config{CreateLimit: 3, Window: longWindow}) // one create per 20s
	c := newTC(t, s, DefaultToken)
	root := s.RootFolder(DefaultToken)
	for i := range 3 {
		r := c.create(root, map[string]any{"type": "folder", "name": fmt.Sprint(i)})
		if r.status != http.StatusCreated || r.header.Get("x-ratelimit-remaining") != fmt.Sprint(2-i) ||
			r.header.Get("x-ratelimit-limit") != "3" || r.header.Get("x-ratelimit-window") != "60000" {
			t.Fatalf("create %d: %d %v", i, r.status, r.header)
		}
	}
	r := c.create(root, map[string]any{"type": "folder", "name": "x"})
	checkRateLimited(t, r, 3)
	if ra, _ := strconv.Atoi(r.header.Get("Retry-After")); ra < 19 || ra > 20 {
		t.Fatalf("Retry-After %d, want the 20s drip interval", ra)
	}
	// Other calls still go: they only take from the call limit.
	if r := c.do(http.MethodGet, "/me", nil); r.status != http.StatusOK || r.header.Get("x-ratelimit-limit") != "50" {
		t.Fatalf("me after creates exhausted: %d %v", r.status, r.header)
	}
}

func TestCallLimitCoversEveryCall(t *testing.T) {
	for _, e := range []Enforcement{LeakyBucket, SlidingWindow} {
		t.Run(string(e), func(t *testing.T) {
			s := StartTest(t, Config{CallLimit: 3, CreateLimit: 10, Window: longWindow, Enforcement: e})
			c := newTC(t, s, DefaultToken)
			root := s.RootFolder(DefaultToken)
			c.do(http.MethodGet, "/me", nil)
			c.do(http.MethodGet, "/assets/"+root, nil)
			// A create's tightest rule is now calls (3 < 10).
			if r := c.create(root, map[string]any{"type": "folder", "name": "a"}); r.status != 201 || r.header.Get("x-ratelimit-limit") != "3" || r.header.Get("x-ratelimit-remaining") != "0" {
				t.Fatalf("3rd call: %d %v", r.status, r.header)
			}
			checkRateLimited(t, c.do(http.MethodGet, "/assets/nope", nil), 3)
			checkRateLimited(t, c.create(root, map[string]any{"type": "folder", "name": "b"}), 3)
			if st := s.Stats(); st.Calls != 3 || st.RateLimited != 2 || st.Creates != 1 {
				t.Fatalf("stats: %+v", st)
			}
		})
	}
}

func TestNoRetryAfter(t *testing.T) {
	s := StartTest(t, Config{CreateLimit: 1, Window: longWindow, NoRetryAfter: true})
	c := newTC(t, s, DefaultToken)
	root := s.RootFolder(DefaultToken)
	c.folder(root, "a")
	r := c.create(root, map[string]any{"type": "folder", "name": "b"})
	wantAPIError(t, r, http.StatusTooManyRequests, "rate limit")
	if _, has := r.header["Retry-After"]; has || r.header.Get("x-ratelimit-remaining") != "0" || r.header.Get("x-ratelimit-window") != "60000" {
		t.Fatalf("headers: %v", r.header)
	}
}

func TestLimitScopeTokenOrAccount(t *testing.T) {
	tokens := map[string]string{"tok-1": "acct", "tok-2": "acct"}
	for _, perAccount := range []bool{false, true} {
		t.Run(fmt.Sprint("perAccount=", perAccount), func(t *testing.T) {
			s := StartTest(t, Config{Tokens: tokens, LimitPerAccount: perAccount, CreateLimit: 1, Window: longWindow, Enforcement: SlidingWindow})
			root := s.RootFolder("tok-1")
			newTC(t, s, "tok-1").folder(root, "a")
			r := newTC(t, s, "tok-2").create(root, map[string]any{"type": "folder", "name": "b"})
			scopes := s.Stats().Scopes()
			switch {
			case perAccount && (r.status != http.StatusTooManyRequests || fmt.Sprint(scopes) != "[acct]"):
				t.Fatalf("per account: second token got %d, scopes %v", r.status, scopes)
			case !perAccount && (r.status != http.StatusCreated || fmt.Sprint(scopes) != "[tok-1 tok-2]"):
				t.Fatalf("per token: second token got %d, scopes %v", r.status, scopes)
			}
		})
	}
}

func TestSetLimitsAtRuntime(t *testing.T) {
	s := StartTest(t, Config{CreateLimit: 1, Window: longWindow, Enforcement: SlidingWindow})
	c := newTC(t, s, DefaultToken)
	root := s.RootFolder(DefaultToken)
	c.folder(root, "a")
	checkRateLimited(t, c.create(root, map[string]any{"type": "folder", "name": "b"}), 1)
	s.SetLimits(0, 3)
	r := c.create(root, map[string]any{"type": "folder", "name": "c"})
	if r.status != http.StatusCreated || r.header.Get("x-ratelimit-limit") != "3" || r.header.Get("x-ratelimit-remaining") != "1" {
		t.Fatalf("after SetLimits: %d %v", r.status, r.header)
	}
}

// TestLeakyBucketHammer checks the leaky bucket over HTTP: a burst of the
// limit, then never faster than the drip. The bound uses the test's own
// elapsed time, which spans the server's, so it holds on a slow machine.
func TestLeakyBucketHammer(t *testing.T) {
	const limit, window = 5, 200 * time.Millisecond // one drip per 40ms
	s := StartTest(t, Config{CreateLimit: limit, CallLimit: 10000, Window: window})
	root := s.RootFolder(DefaultToken)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(2 * window)
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newTC(t, s, DefaultToken)
			for i := 0; i < 1000 && time.Now().Before(deadline); i++ {
				time.Sleep(time.Millisecond)
				if r := c.create(root, map[string]any{"type": "folder", "name": fmt.Sprint(g, i)}); r.status != 201 && r.status != 429 {
					t.Errorf("create: %d", r.status)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	created := s.Stats().Creates
	if bound := limit + int(elapsed/(window/limit)) + 1; created > bound || created < limit {
		t.Fatalf("%d creates in %v: want between the burst %d and %d", created, elapsed, limit, bound)
	}
}
