package chain_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/frameq/frameq/apierr"
	"github.com/frameq/frameq/frameio"
	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/ims"
	"github.com/frameq/frameq/ims/chain"
	"github.com/frameq/frameq/redistest"
)

const (
	clientID = "web-app-client-3"
	secret   = "p8e-W3BAPPS3CR3T-never-in-redis-9f1e"
)

// rig is a Redis, the simulator with a web-app IMS client, and a key.
type rig struct {
	sim  *frameiosim.Server
	rdb  *redis.Client
	url  string
	key  []byte
	boot string // the first refresh token
	mu   sync.Mutex
	seen map[string]bool // every token a source handed out
}

func newRig(t *testing.T, lifetime time.Duration) *rig {
	t.Helper()
	sim := frameiosim.New(frameiosim.Config{
		IMSClients:    map[string]frameiosim.IMSClient{clientID: {Secret: secret, Account: "acct-user"}},
		TokenLifetime: lifetime,
		// The fleet test calls GET /me hundreds of times a second.
		V4Limits: map[string]frameiosim.Limit{frameiosim.RouteAccount: {Limit: 100000, Window: time.Second}},
	})
	front := httptest.NewServer(sim)
	t.Cleanup(func() { front.Close(); sim.Close() })
	boot, err := sim.IssueRefreshToken(clientID)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{sim: sim, rdb: redistest.Start(t).Client(t), url: front.URL, key: make([]byte, chain.KeySize), boot: boot, seen: map[string]bool{}}
	_, _ = rand.Read(r.key)
	return r
}

// source is one "process": its own Source on the shared Redis.
func (r *rig) source(t *testing.T, boot string, key []byte, onRefresh func(chain.Refresh)) *chain.Source {
	t.Helper()
	src, err := chain.New(chain.Config{
		Client: ims.RefreshConfig{Ref: "main", URL: r.url + frameiosim.IMSPath, ClientID: clientID, ClientSecret: secret},
		Redis:  r.rdb, Key: key, Bootstrap: boot, Poll: 20 * time.Millisecond,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		OnRefresh: onRefresh,
	})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func (r *rig) saw(tok string) {
	r.mu.Lock()
	r.seen[tok] = true
	r.mu.Unlock()
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestFleetRefreshesOnceAndNeverReusesAToken: three processes with 2 s
// access tokens, each with eight busy callers for 5.5 s, refresh the chain
// once per renewal between them (about every second, not three times as
// often), the simulator sees no refresh token used twice, and no call goes
// out with an expired token.
func TestFleetRefreshesOnceAndNeverReusesAToken(t *testing.T) {
	r := newRig(t, 2*time.Second)
	var refreshes atomic.Int64
	var wg sync.WaitGroup
	var calls atomic.Int64
	start := time.Now()
	for p := 0; p < 3; p++ {
		src := r.source(t, r.boot, r.key, func(x chain.Refresh) {
			if x.Err == nil {
				refreshes.Add(1)
			}
		})
		v4, err := frameio.NewV4(frameio.Options{BaseURL: r.url + "/v4", Tokens: src})
		if err != nil {
			t.Fatal(err)
		}
		for g := 0; g < 8; g++ {
			wg.Go(func() {
				for time.Since(start) < 5500*time.Millisecond {
					if _, err := v4.Me(ctxFor(t, 10*time.Second)); err != nil {
						t.Errorf("process %d: GET /me at %v: %v", p, time.Since(start).Round(time.Millisecond), err)
						return
					}
					calls.Add(1)
					tok, _ := src.Token(context.Background())
					r.saw(tok)
					time.Sleep(30 * time.Millisecond)
				}
			})
		}
	}
	wg.Wait()
	st := r.sim.Stats()
	n := st.IMSRefreshes[clientID]
	t.Logf("%d calls, %d refreshes (OnRefresh %d), %d reuses, %d expired, %d distinct tokens", calls.Load(), n, refreshes.Load(), st.RefreshTokenReuses, st.ExpiredTokens, len(r.seen))
	if st.RefreshTokenReuses != 0 {
		t.Errorf("the simulator saw %d refresh tokens used twice", st.RefreshTokenReuses)
	}
	// 5.5 s of 2 s tokens renewed after 1 s: about 6 refreshes for the fleet.
	if n < 4 || n > 8 || int64(n) != refreshes.Load() {
		t.Errorf("%d refreshes (OnRefresh saw %d) in 5.5 s of 2 s tokens for 3 processes, want about 6", n, refreshes.Load())
	}
	if st.ExpiredTokens != 0 {
		t.Errorf("%d calls went out with an expired token", st.ExpiredTokens)
	}
	if len(r.seen) < 4 {
		t.Errorf("%d distinct access tokens used: the processes did not renew", len(r.seen))
	}
	r.assertNoPlaintext(t)
}

// TestStaleBootstrapUsesTheStoredChain: after the chain rotated, a process
// started with the original (revoked) bootstrap token uses the stored
// chain — also when it must refresh — and never sends the revoked one.
func TestStaleBootstrapUsesTheStoredChain(t *testing.T) {
	r := newRig(t, time.Hour)
	first := r.source(t, r.boot, r.key, nil)
	tok, err := first.Token(ctxFor(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // two more rotations
		if tok, err = first.Renew(ctxFor(t, 5*time.Second), tok); err != nil {
			t.Fatal(err)
		}
	}
	restarted := r.source(t, r.boot, r.key, nil)
	got, err := restarted.Token(ctxFor(t, 5*time.Second))
	if err != nil || got != tok {
		t.Fatalf("restarted process: %v; want the chain's current token", err)
	}
	renewed, err := restarted.Renew(ctxFor(t, 5*time.Second), got)
	if err != nil || renewed == got {
		t.Fatalf("restarted process renewing: %v", err)
	}
	st := r.sim.Stats()
	if st.RefreshTokenReuses != 0 || st.IMSRefreshes[clientID] != 4 {
		t.Errorf("%d reuses, %d refreshes; want 0 and 4", st.RefreshTokenReuses, st.IMSRefreshes[clientID])
	}
	if got, err := first.Renew(ctxFor(t, 5*time.Second), tok); err != nil || got != renewed {
		t.Errorf("the first process after the restart's refresh: %v (got the chain's token: %v)", err, got == renewed)
	}
	r.saw(tok)
	r.saw(renewed)
	r.assertNoPlaintext(t)
}

// assertNoPlaintext scans every Redis key and value for the tokens the
// sources handed out, the chain's current refresh token, the bootstrap
// token, the client secret and the key.
func (r *rig) assertNoPlaintext(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	st, err := chain.Load(ctx, r.rdb, r.key, "main")
	if err != nil || st == nil {
		t.Fatalf("Load: %v %v", st, err)
	}
	secrets := []string{r.boot, st.RefreshToken, st.AccessToken, secret, string(r.key)}
	r.mu.Lock()
	for tok := range r.seen {
		secrets = append(secrets, tok)
	}
	r.mu.Unlock()
	keys, err := r.rdb.Keys(ctx, "*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("keys: %v %v", keys, err)
	}
	for _, k := range keys {
		v := value(t, r.rdb, k)
		for _, s := range secrets {
			if s != "" && (strings.Contains(k, s) || strings.Contains(v, s)) {
				t.Errorf("a secret (%d bytes) is in Redis key %q or its value", len(s), k)
			}
		}
	}
}

// TestWrongKey: a process with another FRAMEQ_SECRET_KEY gets a clear
// error naming the variable, not garbage, and does not touch the chain; a
// key of the wrong size is refused at New.
func TestWrongKey(t *testing.T) {
	r := newRig(t, time.Hour)
	if _, err := r.source(t, r.boot, r.key, nil).Token(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	other := make([]byte, chain.KeySize)
	_, _ = rand.Read(other)
	_, err := r.source(t, r.boot, other, nil).Token(ctxFor(t, 5*time.Second))
	if err == nil || !strings.Contains(err.Error(), "FRAMEQ_SECRET_KEY") || !strings.Contains(err.Error(), "cannot be decrypted") {
		t.Errorf("wrong key: %v", err)
	}
	if apierr.Classify(err) != apierr.TokenRejected {
		t.Errorf("wrong key classified %v, want token_rejected (held for an operator)", apierr.Classify(err))
	}
	if n := r.sim.Stats().IMSRefreshes[clientID]; n != 1 {
		t.Errorf("%d refreshes, want 1: a wrong key must not restart the chain", n)
	}
	_, err = chain.New(chain.Config{Client: ims.RefreshConfig{Ref: "main", ClientID: clientID}, Redis: r.rdb, Key: r.key[:16], Bootstrap: r.boot})
	if err == nil || !strings.Contains(err.Error(), "FRAMEQ_SECRET_KEY") {
		t.Errorf("a 16-byte key: %v", err)
	}
}

// TestRejectedRefreshSaysLogInAgain: a refresh token IMS refuses is
// TokenRejected with "log in again"; a second process learns it from the
// chain without asking IMS; an import starts a new chain that works.
func TestRejectedRefreshSaysLogInAgain(t *testing.T) {
	r := newRig(t, time.Hour)
	a := r.source(t, "sim-rt-bogus", r.key, nil)
	_, err := a.Token(ctxFor(t, 5*time.Second))
	if apierr.Classify(err) != apierr.TokenRejected || !strings.Contains(err.Error(), chain.LoginAgain) {
		t.Fatalf("rejected refresh: %v (%v)", err, apierr.Classify(err))
	}
	if strings.Contains(err.Error(), "sim-rt-bogus") {
		t.Errorf("the error quotes the refresh token: %v", err)
	}
	b := r.source(t, r.boot, r.key, nil) // a good bootstrap, but the chain exists
	if _, err := b.Token(ctxFor(t, 5*time.Second)); !strings.Contains(fmtErr(err), chain.LoginAgain) {
		t.Errorf("second process: %v", err)
	}
	if n := r.sim.Stats().IMSRefreshes[clientID]; n != 0 {
		t.Errorf("%d refreshes", n)
	}
	if err := chain.Import(context.Background(), r.rdb, r.key, "main", r.boot, time.Second); err != nil {
		t.Fatal(err)
	}
	c := r.source(t, "", r.key, nil)
	if _, err := c.Token(ctxFor(t, 5*time.Second)); err != nil {
		t.Errorf("after the import: %v", err)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// value is a key's contents as text, whatever its type (not DUMP: RDB
// compresses long strings, which would hide plaintext).
func value(t *testing.T, rdb *redis.Client, k string) string {
	t.Helper()
	ctx := context.Background()
	typ, err := rdb.Type(ctx, k).Result()
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	switch typ {
	case "string":
		v, err := rdb.Get(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		parts = []string{v}
	case "hash":
		for f, v := range rdb.HGetAll(ctx, k).Val() {
			parts = append(parts, f, v)
		}
	case "list":
		parts = rdb.LRange(ctx, k, 0, -1).Val()
	case "set":
		parts = rdb.SMembers(ctx, k).Val()
	case "zset":
		parts = rdb.ZRange(ctx, k, 0, -1).Val()
	default:
		t.Fatalf("key %q of type %s", k, typ)
	}
	return strings.Join(parts, "\n")
}

// TestIMSOutageKeepsTheChain: while IMS answers 503 to refreshes, a still
// valid access token keeps serving and the chain is not marked rejected;
// once IMS is back the next refresh uses the stored refresh token (no
// reuse, no "log in again").
func TestIMSOutageKeepsTheChain(t *testing.T) {
	r := newRig(t, 2*time.Second)
	var down atomic.Bool
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if down.Load() && req.URL.Path == frameiosim.IMSPath {
			http.Error(w, `{"error":"server_error"}`, http.StatusServiceUnavailable)
			return
		}
		r.sim.ServeHTTP(w, req)
	}))
	t.Cleanup(front.Close)
	r.url = front.URL
	src := r.source(t, r.boot, r.key, nil)
	first, err := src.Token(ctxFor(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	down.Store(true)
	time.Sleep(1200 * time.Millisecond) // due, not expired
	if tok, err := src.Token(ctxFor(t, 5*time.Second)); err != nil || tok != first {
		t.Errorf("during the outage, before expiry: %v; want the valid token", err)
	}
	time.Sleep(time.Second) // expired
	if _, err := src.Token(ctxFor(t, 300*time.Millisecond)); err == nil || apierr.Classify(err) != apierr.Retryable {
		t.Errorf("expired during the outage: %v (%v), want a retryable error", err, apierr.Classify(err))
	}
	down.Store(false)
	tok, err := src.Token(ctxFor(t, 5*time.Second))
	if err != nil || tok == first {
		t.Fatalf("after the outage: %v", err)
	}
	if st := r.sim.Stats(); st.RefreshTokenReuses != 0 || st.IMSRefreshes[clientID] != 2 {
		t.Errorf("%d reuses, %d refreshes; want 0 and 2", st.RefreshTokenReuses, st.IMSRefreshes[clientID])
	}
}
