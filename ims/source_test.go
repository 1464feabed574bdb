package ims_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frameq/frameq/apierr"
	"github.com/frameq/frameq/frameio"
	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/ims"
)

const (
	clientID = "s2s-client-7"
	secret   = "p8e-CL13NTS3CR3T-must-never-leak-5b9d"
)

// rig is the simulator with an IMS client, behind a front that can answer
// token requests itself (fault injection) and counts them.
type rig struct {
	sim      *frameiosim.Server
	url      string // the front's IMS URL
	v4       string // the front's V4 URL
	imsCalls atomic.Int64
	mu       sync.Mutex
	fault    func(n int64) (status int, header map[string]string) // nil or status 0: pass
	mints    []ims.Mint
}

func newRig(t *testing.T, cfg frameiosim.Config) *rig {
	t.Helper()
	cfg.IMSClients = map[string]frameiosim.IMSClient{clientID: {Secret: secret, Account: "acct-s2s"}}
	r := &rig{sim: frameiosim.New(cfg)}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == frameiosim.IMSPath {
			n := r.imsCalls.Add(1)
			r.mu.Lock()
			fault := r.fault
			r.mu.Unlock()
			if fault != nil {
				if status, h := fault(n); status != 0 {
					for k, v := range h {
						w.Header().Set(k, v)
					}
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(status)
					fmt.Fprintf(w, `{"error":"server_error","error_description":"injected %d"}`, status)
					return
				}
			}
		}
		r.sim.ServeHTTP(w, req)
	}))
	t.Cleanup(func() { front.Close(); r.sim.Close() })
	r.url, r.v4 = front.URL+frameiosim.IMSPath, front.URL+"/v4"
	return r
}

func (r *rig) setFault(f func(n int64) (int, map[string]string)) {
	r.mu.Lock()
	r.fault = f
	r.mu.Unlock()
}

// source returns a Source for the rig's client (secret s), recording mints.
func (r *rig) source(t *testing.T, s string) *ims.Source {
	t.Helper()
	src, err := ims.New(ims.Config{
		Ref: "main", URL: r.url, ClientID: clientID, ClientSecret: s,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		OnMint: func(m ims.Mint) {
			r.mu.Lock()
			r.mints = append(r.mints, m)
			r.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// minted is the number of successful mints OnMint saw.
func (r *rig) minted() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.mints {
		if m.Err == nil {
			n++
		}
	}
	return n
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestManyCallersOneMint: 50 concurrent first calls share one mint, and the
// token is cached after it.
func TestManyCallersOneMint(t *testing.T) {
	r := newRig(t, frameiosim.Config{})
	src := r.source(t, secret)
	toks := make([]string, 50)
	var wg sync.WaitGroup
	for i := range toks {
		wg.Go(func() {
			tok, err := src.Token(ctxFor(t, 10*time.Second))
			if err != nil {
				t.Error(err)
			}
			toks[i] = tok
		})
	}
	wg.Wait()
	for i := 0; i < 20; i++ {
		if tok, _ := src.Token(context.Background()); tok != toks[0] {
			t.Fatal("a cached token was replaced long before its refresh time")
		}
	}
	for _, tok := range toks {
		if tok != toks[0] || tok == "" {
			t.Fatalf("callers got different tokens: %q vs %q", tok, toks[0])
		}
	}
	if n := r.sim.Stats().IMSMints[clientID]; n != 1 || r.minted() != 1 {
		t.Errorf("IMS minted %d (OnMint saw %d), want 1", n, r.minted())
	}
}

// TestRenewsBeforeExpiry: a 2 s token is replaced after half its life (the
// floor of RefreshAfter), without waiting for a 401, and each new token
// works on the API.
func TestRenewsBeforeExpiry(t *testing.T) {
	r := newRig(t, frameiosim.Config{TokenLifetime: 2 * time.Second})
	src := r.source(t, secret)
	v4, err := frameio.NewV4(frameio.Options{BaseURL: r.v4, Tokens: src})
	if err != nil {
		t.Fatal(err)
	}
	first, _ := src.Token(ctxFor(t, 5*time.Second))
	start := time.Now()
	seen := map[string]bool{}
	for time.Since(start) < 4500*time.Millisecond {
		if _, err := v4.Me(ctxFor(t, 5*time.Second)); err != nil {
			t.Fatalf("GET /me at %v: %v", time.Since(start).Round(time.Millisecond), err)
		}
		tok, _ := src.Token(context.Background())
		seen[tok] = true
		time.Sleep(100 * time.Millisecond)
	}
	st := r.sim.Stats()
	// 4.5 s of 2 s tokens renewed every 1 s: about 5 mints, never one per
	// call (45 calls).
	if n := st.IMSMints[clientID]; n < 4 || n > 7 {
		t.Errorf("%d mints in 4.5 s of 2 s tokens, want about 5", n)
	}
	if st.ExpiredTokens != 0 {
		t.Errorf("%d calls went out with an expired token", st.ExpiredTokens)
	}
	if !seen[first] && len(seen) < 4 {
		t.Errorf("tokens used: %d distinct", len(seen))
	}
	if got := ims.RefreshAfter(24 * time.Hour); got != 24*time.Hour*4/5 {
		t.Errorf("RefreshAfter(24h) = %v, want 80 %%", got)
	}
	if got := ims.RefreshAfter(10 * time.Minute); got != 5*time.Minute {
		t.Errorf("RefreshAfter(10m) = %v, want 5 minutes before", got)
	}
}

// TestRenewSingleFlight: 100 calls that all saw the same token refused
// cause one mint, and all get the same new token; a late Renew for the old
// token gets the new one without minting.
func TestRenewSingleFlight(t *testing.T) {
	r := newRig(t, frameiosim.Config{})
	src := r.source(t, secret)
	old, err := src.Token(ctxFor(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, 100)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() {
			tok, err := src.Renew(ctxFor(t, 10*time.Second), old)
			if err != nil {
				t.Error(err)
			}
			got[i] = tok
		})
	}
	wg.Wait()
	for _, tok := range got {
		if tok == old || tok != got[0] {
			t.Fatalf("Renew gave %q (old %q, first %q)", tok, old, got[0])
		}
	}
	if tok, _ := src.Renew(context.Background(), old); tok != got[0] {
		t.Error("a late Renew of the old token did not get the current one")
	}
	if n := r.sim.Stats().IMSMints[clientID]; n != 2 {
		t.Errorf("%d mints, want 2 (the first and one renewal)", n)
	}
}

// TestRejectedCredentials: IMS refusing the secret is TokenRejected, names
// the ref and the client id, never the secret, and is not retried at once.
func TestRejectedCredentials(t *testing.T) {
	r := newRig(t, frameiosim.Config{})
	src := r.source(t, "wrong-"+secret)
	_, err := src.Token(ctxFor(t, 5*time.Second))
	if apierr.Classify(err) != apierr.TokenRejected {
		t.Fatalf("Classify(%v) = %v, want token_rejected", err, apierr.Classify(err))
	}
	var e *ims.Error
	if !errors.As(err, &e) || !e.Rejected || e.Status != 401 || e.Code != "invalid_client" {
		t.Errorf("error %#v, want a rejected 401 invalid_client", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, `"main"`) || !strings.Contains(msg, clientID) {
		t.Errorf("%q does not name the ref and the client id", msg)
	}
	if _, err := src.Renew(context.Background(), "x"); apierr.Classify(err) != apierr.TokenRejected {
		t.Errorf("Renew during the back-off: %v", err)
	}
	if n := r.imsCalls.Load(); n != 1 {
		t.Errorf("%d IMS calls, want 1: a rejection is not hammered", n)
	}
	for _, s := range []string{msg, fmt.Sprint(src), fmt.Sprintf("%#v", src), fmt.Sprintf("%+v", src),
		fmt.Sprintf("%v", ims.Config{ClientSecret: secret}), fmt.Sprintf("%#v", ims.Config{ClientSecret: secret})} {
		if strings.Contains(s, secret) {
			t.Errorf("secret leaked: %s", s)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.mints) != 1 || r.mints[0].Err == nil || r.mints[0].Ref != "main" {
		t.Errorf("OnMint saw %+v, want one failure of ref main", r.mints)
	}
}

// TestIMS429BacksOff: 429s with Retry-After are waited out (shared by every
// caller: no stampede), then the mint succeeds; no token meanwhile.
func TestIMS429BacksOff(t *testing.T) {
	r := newRig(t, frameiosim.Config{})
	r.setFault(func(n int64) (int, map[string]string) {
		if n <= 2 {
			return 429, map[string]string{"Retry-After": "1"}
		}
		return 0, nil
	})
	src := r.source(t, secret)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Go(func() {
			if _, err := src.Token(ctxFor(t, 10*time.Second)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if took := time.Since(start); took < 1800*time.Millisecond {
		t.Errorf("got a token after %v: two Retry-After: 1 were not waited out", took)
	}
	if n := r.imsCalls.Load(); n != 3 {
		t.Errorf("%d IMS calls for 20 callers and two 429s, want 3", n)
	}
}

// TestIMSOutage: while IMS answers 503, a still-valid token keeps being
// used; once it has expired no token is returned (the call waits, then
// fails retryable when its context ends); when IMS is back, a token again.
func TestIMSOutage(t *testing.T) {
	r := newRig(t, frameiosim.Config{TokenLifetime: 2 * time.Second})
	src := r.source(t, secret)
	first, err := src.Token(ctxFor(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	r.setFault(func(int64) (int, map[string]string) { return 503, nil })
	time.Sleep(1200 * time.Millisecond) // past the refresh time, before expiry
	if tok, err := src.Token(ctxFor(t, 5*time.Second)); err != nil || tok != first {
		t.Errorf("during the outage before expiry: %v; want the cached token", err)
	}
	time.Sleep(time.Second) // expired
	_, err = src.Token(ctxFor(t, 500*time.Millisecond))
	if err == nil {
		t.Fatal("an expired token was handed out")
	}
	if c := apierr.Classify(err); c != apierr.Retryable {
		t.Errorf("Classify(%v) = %v, want retryable", err, c)
	}
	r.setFault(nil)
	if tok, err := src.Token(ctxFor(t, 5*time.Second)); err != nil || tok == first {
		t.Errorf("after the outage: %v", err)
	}
}

func TestConfigChecks(t *testing.T) {
	for name, c := range map[string]ims.Config{
		"no id":      {ClientSecret: secret},
		"no secret":  {ClientID: clientID},
		"bad url":    {URL: "ftp://x", ClientID: clientID, ClientSecret: secret},
		"url creds":  {URL: "https://u:" + secret + "@x/t", ClientID: clientID, ClientSecret: secret},
		"space in s": {ClientID: clientID, ClientSecret: "a b" + secret},
	} {
		_, err := ims.New(c)
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error quotes the secret: %v", name, err)
		}
	}
}

// TestFrameioRenewsAnExpiredTokenOnce: a token that dies early on the
// server (ExpireIMSTokens: clock skew, revocation) gets one 401; the V4
// client renews through the Source once and the call succeeds.
func TestFrameioRenewsAnExpiredTokenOnce(t *testing.T) {
	r := newRig(t, frameiosim.Config{})
	src := r.source(t, secret)
	v4, err := frameio.NewV4(frameio.Options{BaseURL: r.v4, Tokens: src})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v4.Me(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	r.sim.ExpireIMSTokens()
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Go(func() {
			if _, err := v4.Me(ctxFor(t, 5*time.Second)); err != nil {
				t.Errorf("GET /me after the token expired: %v", err)
			}
		})
	}
	wg.Wait()
	st := r.sim.Stats()
	if st.IMSMints[clientID] != 2 || st.ExpiredTokens < 1 || st.ExpiredTokens > 10 {
		t.Errorf("%d mints and %d expired-token 401s; want 2 mints (one renewal for all ten calls)", st.IMSMints[clientID], st.ExpiredTokens)
	}
}
