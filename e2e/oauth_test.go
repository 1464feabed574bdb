package e2e

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/frameq/frameq/frameiosim"
)

// TestUserOAuthChainSharedByTheFleet: three V4 workers on user OAuth
// (web-app credentials and one bootstrap refresh token) upload for about
// 40 s while access tokens live 5 s and every refresh rotates the refresh
// token. Every file arrives intact exactly once, none fails; the simulator
// saw one chain (no refresh token used twice) and about one refresh per
// renewal for the whole fleet, not one per worker; a worker killed mid-run
// and restarted with the original, long revoked bootstrap token takes the
// stored chain and keeps working; and neither the refresh tokens, the
// access tokens, the client secret nor the key is in a log, Redis or the
// metrics.
func TestUserOAuthChainSharedByTheFleet(t *testing.T) {
	t.Parallel()
	const (
		files     = 120 // at 3 creates/s: about 40 s
		lifetime  = 5 * time.Second
		partSize  = 32 << 10
		clientID  = "e2e-web-app"
		secret    = "p8e-E2E-W3BAPP-S3CR3T-8d2c"
		account   = "acct-user"
		secretKey = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGw=" // 32 bytes
	)
	r := newRig(t, frameiosim.Config{
		IMSClients:    map[string]frameiosim.IMSClient{clientID: {Secret: secret, Account: account}},
		TokenLifetime: lifetime, IMSMintLimit: 300,
		V4Limits: map[string]frameiosim.Limit{frameiosim.RouteFileCreate: {Limit: 3, Window: time.Second}},
		PartSize: partSize, Seed: 17,
	}, rigOptions{})
	boot, err := r.sim.IssueRefreshToken(clientID)
	if err != nil {
		t.Fatal(err)
	}
	env := []string{
		"FRAMEQ_API_VERSION=v4", "FRAMEQ_API_URL=" + r.sim.V4URL(), "FRAMEQ_ROUTE_LIMITS=file_create=3/s",
		"FRAMEQ_TOKEN=",
		"FRAMEQ_IMS_URL=" + r.sim.IMSURL(), "FRAMEQ_IMS_CLIENT_ID=" + clientID, "FRAMEQ_IMS_CLIENT_SECRET=" + secret,
		"FRAMEQ_IMS_REFRESH_TOKEN=" + boot, "FRAMEQ_SECRET_KEY=" + secretKey,
	}
	// Without the key user OAuth refuses to start, saying why.
	nokey := r.spawn("nokey", append(append([]string{}, env...), "FRAMEQ_SECRET_KEY=")...)
	if !nokey.waitExit(time.Minute) {
		t.Fatal("a user OAuth worker without FRAMEQ_SECRET_KEY kept running")
	}
	if log := nokey.logText(); !strings.Contains(log, "FRAMEQ_SECRET_KEY is not set") {
		t.Errorf("worker without the key does not say why:\n%s", tail([]byte(log), 2000))
	}

	root := r.sim.RootFolderOfAccount(account)
	tr := makeTree(t, filepath.Join(r.root, "user"), files, partSize, func(i int) int { return 1 + (i*7919)%(3*partSize) })
	workers := []*proc{r.spawn("w1", env...), r.spawn("w2", env...), r.spawn("w3", env...)}
	start := time.Now()
	batch := r.enqueueDir(root, tr.dir)
	time.Sleep(15 * time.Second) // the chain has rotated a few times
	workers[1].signal(syscall.SIGKILL)
	workers[1].waitExit(10 * time.Second)
	restarted := r.spawn("w2-restarted", env...) // the original bootstrap token
	workers = append(workers, restarted)
	if code, report := r.waitBatch(batch, 4*time.Minute); code != 0 {
		t.Fatalf("enqueue wait: exit %d\n%s", code, report)
	}
	took := time.Since(start)
	st := r.sim.Stats()
	checkExactlyOnce(t, st, tr.files)
	if bs := r.status(batch); bs.Counts["failed"] != 0 || len(bs.Failures) != 0 {
		t.Errorf("failed files: %+v", bs.Failures)
	}
	if st.RefreshTokenReuses != 0 {
		t.Errorf("the simulator saw %d refresh tokens used twice: the fleet did not share one chain", st.RefreshTokenReuses)
	}
	// The fleet renews about once per half lifetime in all.
	n, perHalfLife := st.IMSRefreshes[clientID], int(took/(lifetime/2))
	if n < perHalfLife/3 || n > perHalfLife*3/2+3 {
		t.Errorf("%d refreshes in %v of 5 s tokens for the fleet, want about %d", n, took.Round(time.Second), perHalfLife)
	}
	if !strings.Contains(restarted.logText(), "token accepted") || !strings.Contains(restarted.logText(), "ims-user") {
		t.Errorf("the restarted worker did not get going on the stored chain:\n%s", tail([]byte(restarted.logText()), 2000))
	}
	for _, w := range workers {
		if strings.Contains(w.logText(), "token breaker open") || strings.Contains(w.logText(), "log in again") {
			t.Errorf("%s: the chain broke", w.name)
		}
	}
	t.Logf("%d files in %v: %d API calls, %d refreshes for the fleet, %d refresh tokens reused, %d expired-token 401s",
		files, took.Round(time.Second), st.Calls, n, st.RefreshTokenReuses, st.ExpiredTokens)

	haystacks := map[string]string{
		"simulator log": r.simLog.text(),
		"Redis":         dumpRedis(t, r.redis.Client(t)),
		"worker HTTP":   scrapeWorker(t, workers[0], []string{"default"}),
	}
	for _, w := range append(workers, nokey) {
		haystacks[w.name+" log"] = w.logText()
	}
	for where, text := range haystacks {
		for _, s := range []string{secret, secretKey, "sim-rt-", mintedPrefix, "Bearer "} {
			if i := strings.Index(text, s); i >= 0 {
				t.Errorf("%s holds %q: …%s…", where, s, text[max(0, i-120):min(len(text), i+80)])
			}
		}
	}
	if !strings.Contains(haystacks["worker HTTP"], "frameq_ims_refresh_token_days_left") {
		t.Error("no frameq_ims_refresh_token_days_left in the metrics")
	}
}
