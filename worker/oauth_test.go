package worker

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/frameq/frameq/config"
	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/ims/chain"
	"github.com/frameq/frameq/redistest"
)

// TestUserOAuthRef: a ref with web-app credentials whose chain was
// imported (no bootstrap token) runs on user OAuth; without
// FRAMEQ_SECRET_KEY it refuses to start, saying why; a refresh token with
// under 3 days left is a warning and the days-left metric.
func TestUserOAuthRef(t *testing.T) {
	const clientID, secret = "web-w", "p8e-W0RK3R-S3CR3T-21"
	sim := frameiosim.New(frameiosim.Config{IMSClients: map[string]frameiosim.IMSClient{clientID: {Secret: secret, Account: "acct-u"}}})
	front := httptest.NewServer(sim)
	t.Cleanup(func() { front.Close(); sim.Close() })
	rt, err := sim.IssueRefreshToken(clientID)
	if err != nil {
		t.Fatal(err)
	}
	srv := redistest.Start(t)
	key := make([]byte, chain.KeySize)
	_, _ = rand.Read(key)
	if err := chain.Import(context.Background(), srv.Client(t), key, "default", rt, time.Second); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.APIURL, cfg.IMSURL = front.URL+"/v4", front.URL+frameiosim.IMSPath
	cfg.IMSClients = map[string]config.IMSCredentials{"default": {ClientID: clientID, ClientSecret: secret}}
	cfg.HTTPAddr, cfg.UploadRoot = "127.0.0.1:0", t.TempDir()

	_, err = New(cfg, srv.Client(t), zerolog.Nop())
	var cerr *ConfigError
	if !errors.As(err, &cerr) || !strings.Contains(err.Error(), "FRAMEQ_SECRET_KEY is not set") {
		t.Errorf("user OAuth without the key: %v; want a ConfigError saying FRAMEQ_SECRET_KEY is not set", err)
	}

	cfg.SecretKey = key
	var logs bytes.Buffer
	w, err := New(cfg, srv.Client(t), zerolog.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.ln.Close() })
	if err := w.CheckTokens(context.Background()); err != nil {
		t.Fatal(err)
	}
	if w.authKind("default") != "ims-user" || sim.Stats().IMSRefreshes[clientID] != 1 {
		t.Errorf("auth %s, %d refreshes; want ims-user and 1", w.authKind("default"), sim.Stats().IMSRefreshes[clientID])
	}
	w.chainDaysLeft("default", chain.Summary{LoginAt: time.Now().Add(-12*24*time.Hour - time.Hour)})
	if !strings.Contains(logs.String(), "lapses soon") || !strings.Contains(logs.String(), "enqueue auth import --token-ref default") {
		t.Errorf("no warning for under 3 days left:\n%s", logs.String())
	}
	rec := httptest.NewRecorder()
	w.metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	m := regexp.MustCompile(`frameq_ims_refresh_token_days_left\{token_ref="default"\} (1\.9\d*)`).FindString(rec.Body.String())
	if m == "" {
		t.Errorf("days left not published as about 1.96")
	}
	for _, s := range []string{logs.String(), rec.Body.String()} {
		if strings.Contains(s, rt) || strings.Contains(s, secret) || strings.Contains(s, "sim-ims-") || strings.Contains(s, "sim-rt-") {
			t.Errorf("a secret in the logs or metrics")
		}
	}
}
