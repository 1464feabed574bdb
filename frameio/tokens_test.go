package frameio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/frameq/frameq/apierr"
)

// Tokens of the fake source: long and unusual, so that a leak is certain.
const (
	oldTok = "ims-OLD-acc3ss-7a6b5c4d3e2f1a0b"
	newTok = "ims-NEW-acc3ss-0f1e2d3c4b5a6978"
)

// fakeSource hands out oldTok until renewed, then newTok.
type fakeSource struct {
	mu       sync.Mutex
	cur      string
	renewals []string // the rejected tokens Renew was given
	err      error    // returned by Token when set
}

func (s *fakeSource) Token(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return "", s.err
	}
	return s.cur, nil
}

func (s *fakeSource) Renew(_ context.Context, rejected string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.renewals = append(s.renewals, rejected)
	s.cur = newTok
	return s.cur, nil
}

// authServer answers GET /v4/me 200 for accepted tokens and 401 echoing the
// token otherwise (a server that quotes what it refused), counting requests
// and remembering the tokens it saw.
func authServer(t *testing.T, accepted ...string) (*V4, *fakeSource, *atomic.Int64, *[]string) {
	t.Helper()
	var n atomic.Int64
	var mu sync.Mutex
	var sent []string
	src := &fakeSource{cur: oldTok}
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		mu.Lock()
		sent = append(sent, tok)
		mu.Unlock()
		for _, a := range accepted {
			if tok == a {
				writeJSON(w, 200, `{"data":{"id":"user-1","name":"N","email":"e@x"}}`)
				return
			}
		}
		writeJSON(w, 401, fmt.Sprintf(`{"errors":[{"title":"Unauthorized","detail":"token %s has expired"}]}`, tok))
	}, func(o *Options) { o.Token, o.Tokens, o.BaseURL = "", src, strings.Replace(o.BaseURL, "/v2", "/v4", 1) })
	return &V4{c: c}, src, &n, &sent
}

// TestTokenSourceRenewsOnceOn401: a call whose token has expired (401)
// renews it once, passing the refused token, and succeeds with the new one.
func TestTokenSourceRenewsOnceOn401(t *testing.T) {
	v, src, n, sent := authServer(t, newTok)
	me, err := v.Me(context.Background())
	if err != nil {
		t.Fatalf("Me after renewal: %v", err)
	}
	if me.ID != "user-1" {
		t.Errorf("Me = %+v", me)
	}
	if got := strings.Join(*sent, ","); got != oldTok+","+newTok {
		t.Errorf("tokens sent %q, want the old then the renewed one", got)
	}
	if len(src.renewals) != 1 || src.renewals[0] != oldTok {
		t.Errorf("Renew calls %q, want one with the refused token", src.renewals)
	}
	// The next call takes the source's current token: no 401, no renewal.
	if _, err := v.Me(context.Background()); err != nil || n.Load() != 3 || len(src.renewals) != 1 {
		t.Errorf("second call: err %v, %d requests, %d renewals; want nil, 3, 1", err, n.Load(), len(src.renewals))
	}
}

// TestTokenSourceSecond401IsReturned: when the renewed token is refused too,
// the 401 goes back to the caller as TokenRejected after exactly two
// requests, with neither token in the error.
func TestTokenSourceSecond401IsReturned(t *testing.T) {
	v, src, n, _ := authServer(t) // accepts nothing
	_, err := v.Me(context.Background())
	if c := apierr.Classify(err); c != apierr.TokenRejected {
		t.Fatalf("Classify = %v (%v), want token_rejected", c, err)
	}
	if n.Load() != 2 || len(src.renewals) != 1 {
		t.Errorf("%d requests and %d renewals, want 2 and 1", n.Load(), len(src.renewals))
	}
	for _, tok := range []string{oldTok, newTok} {
		if strings.Contains(err.Error(), tok) {
			t.Errorf("error leaks a token: %v", err)
		}
	}
	if !strings.Contains(err.Error(), "[REDACTED]") {
		t.Errorf("error %q: the echoed token was not visibly redacted", err)
	}
	for _, s := range []string{fmt.Sprint(v), fmt.Sprintf("%#v", v), fmt.Sprintf("%+v", *v.c), fmt.Sprint(Options{Tokens: src})} {
		if strings.Contains(s, oldTok) || strings.Contains(s, newTok) {
			t.Errorf("printing leaks a token: %s", s)
		}
	}
}

// TestTokenSourceOtherErrorsDoNotRenew: a 403 is not a token problem.
func TestTokenSourceOtherErrorsDoNotRenew(t *testing.T) {
	src := &fakeSource{cur: oldTok}
	var n atomic.Int64
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		writeJSON(w, 403, `{"errors":[{"title":"Forbidden","detail":"no"}]}`)
	}, func(o *Options) { o.Token, o.Tokens = "", src })
	if _, err := c.Me(context.Background()); apierr.Classify(err) != apierr.Terminal {
		t.Fatalf("err %v, want terminal", err)
	}
	if n.Load() != 1 || len(src.renewals) != 0 {
		t.Errorf("%d requests, %d renewals; want 1, 0", n.Load(), len(src.renewals))
	}
}

// TestTokenSourceFailureSendsNothing: without a token no request goes out,
// and the source's verdict survives: refused credentials are TokenRejected.
func TestTokenSourceFailureSendsNothing(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want apierr.Class
	}{
		{fmt.Errorf("ims: client id %q: %w", "abc", apierr.ErrTokenRejected), apierr.TokenRejected},
		{context.DeadlineExceeded, apierr.Retryable},
	} {
		src := &fakeSource{cur: oldTok, err: tc.err}
		var n atomic.Int64
		c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { n.Add(1) },
			func(o *Options) { o.Token, o.Tokens = "", src })
		_, err := c.Me(context.Background())
		var e *apierr.Error
		if !errors.As(err, &e) || !e.NotSent || apierr.Classify(err) != tc.want || apierr.Ambiguous(err) {
			t.Errorf("source error %v: got %v (class %v, ambiguous %t); want not sent, %v", tc.err, err, apierr.Classify(err), apierr.Ambiguous(err), tc.want)
		}
		if n.Load() != 0 {
			t.Errorf("%d requests went out without a token", n.Load())
		}
	}
}

func TestTokenAndTokensAreExclusive(t *testing.T) {
	if _, err := New(Options{Token: testToken, Tokens: &fakeSource{}}); err == nil || !strings.Contains(err.Error(), "Options.Tokens") {
		t.Errorf("both set: %v", err)
	}
	if _, err := New(Options{}); err == nil || !strings.Contains(err.Error(), "Options.Token") {
		t.Errorf("neither set: %v", err)
	}
	if _, err := New(Options{Tokens: &fakeSource{}}); err != nil {
		t.Errorf("source alone: %v", err)
	}
}
