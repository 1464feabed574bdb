package worker

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"

	"github.com/frameq/frameq/apierr"
	"github.com/frameq/frameq/config"
	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/redistest"
)

// flakyFront answers the first fail requests with a proxy's 502 page and
// passes the rest to the simulator; it counts the requests.
type flakyFront struct {
	sim      *frameiosim.Server
	fail     int32
	requests atomic.Int32
}

func (f *flakyFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.requests.Add(1) <= f.fail {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html><body><h1>502 Bad Gateway</h1></body></html>"))
		return
	}
	f.sim.ServeHTTP(w, r)
}

// newTestWorker builds a worker whose ref "default" holds token, against
// front's API version api.
func newTestWorker(t *testing.T, front *httptest.Server, api, token string) *Worker {
	t.Helper()
	cfg := config.Default()
	cfg.APIVersion, cfg.APIURL = api, front.URL+"/"+api
	cfg.Tokens = map[string]string{"default": token}
	cfg.HTTPAddr, cfg.UploadRoot = "127.0.0.1:0", t.TempDir()
	w, err := New(cfg, redistest.Start(t).Client(t), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.ln.Close() })
	return w
}

// TestCheckTokensRetriesTransientErrors: a 502 from a proxy at start-up is
// not the token's fault: the check tries again and the worker starts. A
// rejected token (401) is not retried, and neither is a choice the
// operator must make (several V4 accounts).
func TestCheckTokensRetriesTransientErrors(t *testing.T) {
	sim := frameiosim.New(frameiosim.Config{})
	t.Cleanup(func() { sim.Close() })
	ctx := context.Background()
	for _, api := range []string{"v4", "v2"} {
		f := &flakyFront{sim: sim, fail: 2}
		front := httptest.NewServer(f)
		t.Cleanup(front.Close)
		if err := newTestWorker(t, front, api, frameiosim.DefaultToken).CheckTokens(ctx); err != nil {
			t.Errorf("%s: two 502s, then the token is fine: %v", api, err)
		}
		if n := f.requests.Load(); n != 3 {
			t.Errorf("%s: %d requests, want 3 (two 502s, one answer)", api, n)
		}
	}

	f := &flakyFront{sim: sim}
	front := httptest.NewServer(f)
	t.Cleanup(front.Close)
	err := newTestWorker(t, front, "v4", "no-such-token").CheckTokens(ctx)
	if err == nil || !strings.Contains(err.Error(), "401") || f.requests.Load() != 1 {
		t.Errorf("rejected token: %v after %d requests; want the 401 after one", err, f.requests.Load())
	}
	if err == nil || !strings.Contains(err.Error(), "FRAMEQ_LEGACY_TOKEN_AUTH=true") || apierr.Classify(err) != apierr.TokenRejected {
		t.Errorf("a V4 401 without legacy auth: %v; want a rejected token, hinting FRAMEQ_LEGACY_TOKEN_AUTH", err)
	}

	several := frameiosim.New(frameiosim.Config{MoreAccounts: map[string][]string{frameiosim.DefaultToken: {"acct-more"}}})
	t.Cleanup(func() { several.Close() })
	f = &flakyFront{sim: several}
	front = httptest.NewServer(f)
	t.Cleanup(front.Close)
	w := newTestWorker(t, front, "v4", frameiosim.DefaultToken)
	err = w.CheckTokens(ctx)
	var cerr *ConfigError
	if !errors.As(err, &cerr) || f.requests.Load() != 1 {
		t.Errorf("several accounts: %v after %d requests; want a ConfigError after one", err, f.requests.Load())
	}
}
