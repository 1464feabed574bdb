package e2e

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/tasks/job"
)

// Distinctive IMS credentials: a hit anywhere is a leak.
const (
	imsClientID = "e2e-s2s-client"
	imsSecret   = "p8e-E2E-CL13NT-S3CR3T-3f9a1c7e"
	imsAccount  = "acct-s2s"
	// mintedPrefix starts every access token the simulator mints.
	mintedPrefix = "sim-ims-"
)

// TestServerToServerTokensRenewDuringUpload: three V4 workers with Adobe IMS
// server-to-server credentials upload for about 45 s while access tokens
// live 5 s. Every file arrives intact exactly once, none fails or is
// archived by a 401; each worker mints about once per half token lifetime
// (its renewal point), not per request, and tokens that die early are
// renewed on the 401 without failing anything; credentials IMS stops
// accepting mid-run open the ref's breaker (jobs held, none failed); and
// neither the client secret nor
// any access token is in a worker log, the simulator log, Redis or a
// worker's metrics. A worker whose secret IMS refuses exits 1 at start,
// naming the ref.
func TestServerToServerTokensRenewDuringUpload(t *testing.T) {
	t.Parallel()
	const (
		files    = 130 // at 3 creates/s: about 45 s
		lifetime = 5 * time.Second
		partSize = 32 << 10
	)
	r := newRig(t, frameiosim.Config{
		IMSClients:    map[string]frameiosim.IMSClient{imsClientID: {Secret: imsSecret, Account: imsAccount}},
		TokenLifetime: lifetime, IMSMintLimit: 300,
		V4Limits: map[string]frameiosim.Limit{frameiosim.RouteFileCreate: {Limit: 3, Window: time.Second}},
		PartSize: partSize, Seed: 13,
	}, rigOptions{})
	auth := []string{
		"FRAMEQ_API_VERSION=v4", "FRAMEQ_API_URL=" + r.sim.V4URL(), "FRAMEQ_ROUTE_LIMITS=file_create=3/s",
		"FRAMEQ_TOKEN=", // no static token: the ref's tokens come from IMS only
		"FRAMEQ_IMS_URL=" + r.sim.IMSURL(), "FRAMEQ_IMS_CLIENT_ID=" + imsClientID,
	}
	good := append(append([]string{}, auth...), "FRAMEQ_IMS_CLIENT_SECRET="+imsSecret)

	// Credentials IMS refuses: exit 1 at start, naming the ref, not the secret.
	wrong := r.spawn("wrong", append(append([]string{}, auth...), "FRAMEQ_IMS_CLIENT_SECRET=wrong-"+imsSecret)...)
	if !wrong.waitExit(time.Minute) {
		t.Fatal("a worker whose IMS credentials are refused kept running")
	}
	var ee *exec.ExitError
	if !errors.As(wrong.err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("refused credentials: exit %v, want 1", wrong.err)
	}
	if log := wrong.logText(); !strings.Contains(log, `token ref \"default\"`) || !strings.Contains(log, "invalid_client") {
		t.Errorf("refused worker's log does not name the ref and the reason:\n%s", tail([]byte(log), 2000))
	}

	root := r.sim.RootFolderOfAccount(imsAccount)
	tr := makeTree(t, filepath.Join(r.root, "s2s"), files, partSize, func(i int) int { return 1 + (i*7919)%(3*partSize) })
	workers := []*proc{r.spawn("w1", good...), r.spawn("w2", good...), r.spawn("w3", good...)}
	start := time.Now()
	batch := r.enqueueDir(root, tr.dir)
	// Twice mid-run every token dies early (clock skew, revocation): the
	// next call of each worker gets a 401, renews once and goes on.
	for _, at := range []time.Duration{12 * time.Second, 25 * time.Second} {
		timer := time.AfterFunc(at, r.sim.ExpireIMSTokens)
		defer timer.Stop()
	}
	if code, report := r.waitBatch(batch, 4*time.Minute); code != 0 {
		t.Fatalf("enqueue wait: exit %d\n%s", code, report)
	}
	took := time.Since(start)
	st := r.sim.Stats()
	checkExactlyOnce(t, st, tr.files)
	if bs := r.status(batch); bs.Counts["failed"] != 0 || len(bs.Failures) != 0 {
		t.Errorf("failed files: %+v", bs.Failures)
	}

	// Mints: per worker about one per half lifetime of uploading, never
	// one per request.
	total := 0
	for _, w := range workers {
		n := scrapeMints(t, w)
		total += n
		perHalfLife := int(took / (lifetime / 2))
		if n < perHalfLife/3 || n > perHalfLife*3/2+3 {
			t.Errorf("%s minted %d tokens in %v of 5 s tokens, want about %d", w.name, n, took.Round(time.Second), perHalfLife)
		}
		if strings.Contains(w.logText(), "token breaker open") {
			t.Errorf("%s opened the token breaker", w.name)
		}
	}
	if st.IMSMints[imsClientID] < total || total == 0 {
		t.Errorf("simulator minted %d, the workers count %d", st.IMSMints[imsClientID], total)
	}
	if st.Calls < 4*total {
		t.Errorf("%d API calls for %d mints: minting is not rare", st.Calls, total)
	}
	if st.ExpiredTokens == 0 {
		t.Error("no call met an expired token: the 401 renewal was not exercised")
	}
	t.Logf("%d files in %v: %d API calls, %d mints (the simulator: %d; 1 refused), %d calls refused with an expired token and renewed",
		files, took.Round(time.Second), st.Calls, total, st.IMSMints[imsClientID], st.ExpiredTokens)

	// Mid-run, IMS stops accepting the secret (rotated by an admin): the
	// ref's breaker holds its jobs with the reason; nothing fails.
	if err := r.sim.SetIMSSecret(imsClientID, "rotated-"+imsSecret); err != nil {
		t.Fatal(err)
	}
	r.sim.ExpireIMSTokens()
	held := makeTree(t, filepath.Join(r.root, "held"), 3, partSize, func(i int) int { return 100 + i })
	heldBatch := r.enqueueDir(root, held.dir)
	breaker := job.NewBreaker(r.redis.Client(t))
	var reason string
	if !pollUntil(context.Background(), time.Minute, 200*time.Millisecond, func() bool {
		reason, _ = breaker.Reason(context.Background(), "default")
		return reason != ""
	}) {
		t.Fatal("refused credentials mid-run did not open the token breaker")
	}
	if !strings.Contains(reason, "IMS refused the credentials") || !strings.Contains(reason, imsClientID) {
		t.Errorf("breaker reason %q does not say IMS refused the client's credentials", reason)
	}
	time.Sleep(2 * time.Second) // let the held jobs settle
	if bs := r.status(heldBatch); bs.Counts["failed"] != 0 || len(bs.Failures) != 0 || bs.Counts["done"] != 0 {
		t.Errorf("with refused credentials: %+v, want every file held, none failed or done", bs.Counts)
	}

	haystacks := map[string]string{
		"simulator log": r.simLog.text(),
		"Redis":         dumpRedis(t, r.redis.Client(t)),
		"worker HTTP":   scrapeWorker(t, workers[0], []string{"default"}),
	}
	for _, w := range append(workers, wrong) {
		haystacks[w.name+" log"] = w.logText()
	}
	for where, text := range haystacks {
		for _, secret := range []string{imsSecret, mintedPrefix, "Bearer "} {
			if i := strings.Index(text, secret); i >= 0 {
				t.Errorf("%s holds %q: …%s…", where, secret, text[max(0, i-120):min(len(text), i+80)])
			}
		}
	}
	if !strings.Contains(r.simLog.text(), frameiosim.IMSPath) {
		t.Error("the simulator log shows no IMS call: the scan proved nothing")
	}
}

// scrapeMints reads frameq_ims_mints_total{token_ref="default"} from w.
func scrapeMints(t *testing.T, w *proc) int {
	t.Helper()
	m := regexp.MustCompile(`"http":"([^"]+)"`).FindStringSubmatch(w.logText())
	if m == nil {
		t.Fatalf("%s did not log its HTTP address", w.name)
	}
	_, body := get(t, "http://"+m[1]+"/metrics")
	v := regexp.MustCompile(`(?m)^frameq_ims_mints_total\{token_ref="default"\} (\S+)$`).FindStringSubmatch(body)
	if v == nil {
		t.Fatalf("%s: no frameq_ims_mints_total in /metrics", w.name)
	}
	n, err := strconv.ParseFloat(v[1], 64)
	if err != nil {
		t.Fatal(fmt.Errorf("%s: %w", w.name, err))
	}
	return int(n)
}
